// `rtml runs`: the results database (src/results/db.h) as a table, as JSON,
// one run as a report (--show), or reports added from files (--add).
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "bench/compare.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

namespace rtml::cli {

namespace {

const char* kAbout =
    "Lists the benchmark runs kept in the results database, newest first: id, date (UTC), model,\n"
    "backend, status, median and p99 latency, peak RSS, heap allocations per run, top-1 accuracy\n"
    "and deadline misses ('-' where not measured).";

#ifdef RTML_WITH_SQLITE
std::string fixed(const std::optional<double>& v, const char* fmt) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, *v);
  return buf;
}

// Heap allocations per run: whole numbers as such, fractions with 2 decimals.
std::string allocs(const std::optional<double>& v) { return fixed(v, v && *v != std::floor(*v) ? "%.2f" : "%.0f"); }

std::string date_of(const std::string& created) {
  std::string d = created.substr(0, 16);  // 2024-05-01T12:34
  if (d.size() > 10 && d[10] == 'T') d[10] = ' ';
  return d;
}

#endif

}  // namespace

int cmd_runs(const Args& args) {
  std::string db_path, model, backend, since, target;
  bool json = false;
  std::vector<std::string> add;
  std::optional<int> show;
  int limit = 20;
  OptionTable options("runs",
                      "[--db PATH] [--model SUBSTR] [--backend NAME] [--since YYYY-MM-DD] [--target NAME] [--limit N]"
                      " [--json]\n"
                      "[--db PATH] --show ID\n"
                      "[--db PATH] --add REPORT.json...",
                      kAbout);
  options
      .value("--db", "PATH", db_path,
             "the database; default $RTML_DB, else $XDG_DATA_HOME/rtml/results.db,\n"
             "else ~/.local/share/rtml/results.db")
      .value("--model", "SUBSTR", model, "runs whose model name contains SUBSTR (any case)")
      .value("--backend", "NAME", backend, "runs of that backend only")
      .value("--since", "DATE", since, "runs measured on or after DATE (YYYY-MM-DD, UTC)")
      .value("--target", "NAME", target, "runs measured on that remote target ('local': on this machine)")
      .number("--limit", "N", limit, 0, "at most N runs (default 20; 0: all)")
      .flag("--json", json, "the rows as a JSON array (same fields, null where not measured)")
      .number("--show", "ID", show, 1,
              "run ID as a one-run rtml.bench/1 report (JSON, with its host and\n"
              "options): save it and give it to rtml compare")
      .multi("--add", "FILE", add,
             "store report files written by rtml bench (e.g. measured on another\n"
             "machine); each file in one transaction")
      .notes("Runs get into the database with rtml bench ... --db.");
  if (!options.parse(args)) return 0;
#ifndef RTML_WITH_SQLITE
  throw Error(
      "this rtml was built without SQLite, so it has no results database: install libsqlite3-dev "
      "(scripts/install-deps.sh) and rebuild");
#else
  if (db_path.empty()) db_path = results::default_db_path();
  results::RunFilter filter;
  filter.model = model;
  filter.backend = backend;
  filter.since = since;
  if (!target.empty()) filter.target = target == "local" ? std::string() : target;
  filter.limit = limit;

  if (!add.empty()) {
    // Check every file first: a typo in the third file stores nothing.
    std::vector<nlohmann::json> reports;
    for (const auto& f : add) reports.push_back(bench::read_report_file(f));
    results::ResultsDb db(db_path);
    for (size_t k = 0; k < add.size(); ++k) {
      int64_t report_id = 0;
      int64_t n = db.add_report(reports[k], &report_id);
      std::printf("%s: stored %lld run%s as report %lld in %s\n", add[k].c_str(), static_cast<long long>(n),
                  n == 1 ? "" : "s", static_cast<long long>(report_id), db_path.c_str());
    }
    return 0;
  }

  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    if (show) throw Error("there is no results database at " + db_path + " (so no run " + std::to_string(*show) + ")");
    if (json) {
      std::puts("[]");
      return 0;
    }
    std::printf("No results database at %s yet.\nRecord runs with: rtml bench MODEL... --db %s\n", db_path.c_str(),
                db_path.c_str());
    return 0;
  }
  results::ResultsDb db(db_path);

  if (show) {
    std::printf("%s\n", db.get_run(*show).dump(2).c_str());
    return 0;
  }

  std::vector<results::RunRow> rows = db.list(filter);
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& r : rows) out.push_back(results::to_json(r));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (rows.empty()) {
    int64_t total = db.count_runs();
    if (total == 0)
      std::printf("No runs in %s yet.\nRecord some with: rtml bench MODEL... --db %s\n", db_path.c_str(),
                  db_path.c_str());
    else
      std::printf("No runs match (%s holds %lld run%s; rtml runs without filters lists the newest).\n", db_path.c_str(),
                  static_cast<long long>(total), total == 1 ? "" : "s");
    return 0;
  }

  bool any_target = false;
  for (const auto& r : rows) any_target |= r.target.has_value();
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head = {"id",     "date (UTC)", "model",      "backend", "status", "median µs",
                                   "p99 µs", "peak RSS",   "allocs/run", "top-1",   "misses"};
  if (any_target) head.insert(head.begin() + 4, "target");
  table.push_back(head);
  for (const auto& r : rows) {
    std::vector<std::string> row = {std::to_string(r.id),
                                    date_of(r.created),
                                    r.model,
                                    r.backend,
                                    r.status,
                                    fixed(r.median_us, "%.1f"),
                                    fixed(r.p99_us, "%.1f"),
                                    r.rss_peak_bytes ? format_bytes(static_cast<double>(*r.rss_peak_bytes)) : "-",
                                    allocs(r.allocations_per_run),
                                    r.top1 ? fixed(*r.top1 * 100, "%.1f%%") : "-",
                                    r.deadline_misses ? std::to_string(*r.deadline_misses) : "-"};
    if (any_target) row.insert(row.begin() + 4, r.target ? *r.target : "local");
    table.push_back(std::move(row));
  }
  std::vector<bool> right(head.size(), false);
  right[0] = true;
  for (size_t c = head.size() - 6; c < head.size(); ++c) right[c] = true;
  std::fputs(format_table(table, right).c_str(), stdout);
  for (const auto& r : rows)
    if (r.status == "error")
      std::printf("run %lld (%s, %s) failed: %s\n", static_cast<long long>(r.id), r.model.c_str(), r.backend.c_str(),
                  r.error ? r.error->c_str() : "(no message)");
  if (filter.limit > 0 && static_cast<int64_t>(rows.size()) == filter.limit)
    std::printf("(the newest %lld shown; --limit 0 shows all)\n", static_cast<long long>(filter.limit));
  return 0;
#endif
}

}  // namespace rtml::cli
