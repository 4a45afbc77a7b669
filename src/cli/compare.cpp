// `rtml compare A.json B.json`: two `rtml bench` reports side by side, with a
// verdict per (model, backend) that ignores changes within the noise. The
// judging is bench/compare.h; this file reads the files and prints.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "bench/compare.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"

namespace rtml::cli {

namespace {

const char* kAbout =
    "Compares two rtml bench reports (A: before, B: after). For every (model, backend) in both:\n"
    "median and p99 latency before and after, the change in %, and a verdict: faster, slower, or\n"
    "same (within noise). Runs only in A or only in B are listed as removed or added; runs that\n"
    "failed in either report are listed as errors.\n"
    "\n"
    "When a change counts (docs/bench-compare.md): |after - before| must exceed BOTH\n"
    "  - the threshold: PCT% of the before value (--threshold, default 5), and\n"
    "  - the noise band: for the median, max(p90 - median) of the two runs (the spread of\n"
    "    typical runs); for p99, max(p999 - p99) of the two runs.\n"
    "  - and, when both runs carry their raw samples (samples_us), a two-sided Mann-Whitney U\n"
    "    test (normal approximation, ties corrected) must give p < 0.01 for a median verdict;\n"
    "    the p-value is printed.\n"
    "Otherwise the verdict is 'same (within noise)'.";

const char* kNotes =
    "Exit status: 0 no regression; 1 a median got slower (beyond threshold and noise), or a\n"
    "run that was ok in A fails in B; 2 bad input (a usage error, or an unreadable file, not JSON,\n"
    "not an rtml bench report: the message names the file and the problem).";

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string pct(double v) {
  if (std::isinf(v)) return v > 0 ? "+inf%" : "-inf%";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f%%", v);
  return buf;
}

std::string p_text(const std::optional<double>& p) {
  if (!p) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2g", *p);
  return buf;
}

std::string verdict_text(const bench::MetricChange& m) { return bench::verdict_name(m.verdict); }

std::string key_text(const bench::CompareRow& r) {
  std::string s = r.model + " (" + r.backend + ")";
  if (r.occurrence > 1) s += " #" + std::to_string(r.occurrence);
  return s;
}

nlohmann::ordered_json metric_json(const std::optional<bench::MetricChange>& m) {
  if (!m) return nullptr;
  nlohmann::ordered_json j = {
      {"before_us", m->before},
      {"after_us", m->after},
      {"change_pct", std::isfinite(m->change_pct) ? nlohmann::ordered_json(m->change_pct) : nlohmann::ordered_json()},
      {"threshold_us", m->threshold_us},
      {"noise_us", m->noise_us},
      {"p_value", m->p_value ? nlohmann::ordered_json(*m->p_value) : nlohmann::ordered_json()},
      {"verdict", m->verdict == bench::Verdict::Same ? "same" : bench::verdict_name(m->verdict)},
      {"reason", bench::same_reason_name(m->reason)}};
  return j;
}

struct Options {
  std::string a, b;
  bench::CompareOptions compare;
  bool json = false;
};

void print_table(const Options& o, const nlohmann::json& ra, const nlohmann::json& rb,
                 const bench::CompareResult& res) {
  std::printf("A: %s (%s)\nB: %s (%s)\n", o.a.c_str(), ra["created"].get<std::string>().c_str(), o.b.c_str(),
              rb["created"].get<std::string>().c_str());
  std::printf(
      "A change is called when it exceeds %g%% of A's value and the noise band (p90 - median for the\n"
      "median, p999 - p99 for p99; with samples in both, Mann-Whitney p < %g too).\n\n",
      o.compare.threshold_pct, o.compare.alpha);
  std::vector<std::vector<std::string>> table = {{"model (backend)", "median µs A → B", "change", "noise ±", "p",
                                                  "median", "p99 µs A → B", "change", "noise ±", "p99"}};
  for (const auto& r : res.rows) {
    if (r.kind != bench::RowKind::Compared) continue;
    const auto& m = *r.median;
    const auto& q = *r.p99;
    table.push_back({key_text(r), num(m.before) + " → " + num(m.after), pct(m.change_pct), num(m.noise_us),
                     p_text(m.p_value), verdict_text(m), num(q.before) + " → " + num(q.after), pct(q.change_pct),
                     num(q.noise_us), verdict_text(q)});
  }
  if (table.size() > 1)
    std::fputs(format_table(table, {false, true, true, true, true, false, true, true, true, false}).c_str(), stdout);
  else
    std::puts("No (model, backend) was timed in both reports.");

  auto list = [&](bench::RowKind kind, const char* title) {
    bool first = true;
    for (const auto& r : res.rows) {
      if (r.kind != kind) continue;
      if (first) std::printf("\n%s:\n", title);
      first = false;
      std::printf("  %s", key_text(r).c_str());
      if (kind == bench::RowKind::Error) {
        if (r.broke)
          std::printf(": ok in A, fails in B: %s", r.error_b.c_str());
        else if (r.error_b.empty())
          std::printf(": failed in A (%s), ok in B", r.error_a.c_str());
        else
          std::printf(": fails in both (A: %s; B: %s)", r.error_a.c_str(), r.error_b.c_str());
      }
      std::printf("\n");
    }
  };
  list(bench::RowKind::Error, "errors");
  list(bench::RowKind::Added, "only in B (added)");
  list(bench::RowKind::Removed, "only in A (removed)");
  list(bench::RowKind::NotTimed, "not timed in A or B (no latency_us)");
  for (const auto& n : res.notes) std::printf("\nnote: %s", n.c_str());
  if (!res.notes.empty()) std::printf("\n");

  std::printf("\nmedian: %zu faster, %zu slower, %zu same; %zu added, %zu removed, %zu error%s\n",
              res.count(bench::Verdict::Faster), res.count(bench::Verdict::Slower), res.count(bench::Verdict::Same),
              res.count(bench::RowKind::Added), res.count(bench::RowKind::Removed), res.count(bench::RowKind::Error),
              res.count(bench::RowKind::Error) == 1 ? "" : "s");
  if (res.regression()) {
    std::printf("REGRESSION:");
    for (const auto& r : res.rows) {
      if (r.median && r.median->verdict == bench::Verdict::Slower)
        std::printf(" %s median %s;", key_text(r).c_str(), pct(r.median->change_pct).c_str());
      if (r.broke) std::printf(" %s fails;", key_text(r).c_str());
    }
    std::printf("\n");
  } else {
    std::printf("no regression\n");
  }
}

nlohmann::ordered_json result_json(const Options& o, const nlohmann::json& ra, const nlohmann::json& rb,
                                   const bench::CompareResult& res) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& r : res.rows) {
    nlohmann::ordered_json j = {{"model", r.model},
                                {"backend", r.backend},
                                {"occurrence", r.occurrence},
                                {"kind", bench::row_kind_name(r.kind)},
                                {"median", metric_json(r.median)},
                                {"p99", metric_json(r.p99)}};
    if (r.kind == bench::RowKind::Error) {
      j["error_a"] = r.error_a.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.error_a);
      j["error_b"] = r.error_b.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.error_b);
      j["broke"] = r.broke;
    }
    rows.push_back(std::move(j));
  }
  return {{"schema", "rtml.compare/1"},
          {"a", {{"file", o.a}, {"created", ra["created"]}}},
          {"b", {{"file", o.b}, {"created", rb["created"]}}},
          {"threshold_pct", o.compare.threshold_pct},
          {"alpha", o.compare.alpha},
          {"rows", rows},
          {"summary",
           {{"faster", res.count(bench::Verdict::Faster)},
            {"slower", res.count(bench::Verdict::Slower)},
            {"same", res.count(bench::Verdict::Same)},
            {"added", res.count(bench::RowKind::Added)},
            {"removed", res.count(bench::RowKind::Removed)},
            {"errors", res.count(bench::RowKind::Error)},
            {"not_timed", res.count(bench::RowKind::NotTimed)}}},
          {"notes", res.notes},
          {"regression", res.regression()}};
}

}  // namespace

int cmd_compare(const Args& args) {
  Options o;
  OptionTable table("compare", "A.json B.json [--threshold PCT] [--json]", kAbout);
  table.positional("A.json", o.a)
      .positional("B.json", o.b)
      .number("--threshold", "PCT", o.compare.threshold_pct, 0,
              "smallest change that counts, in % of the before value (default 5)")
      .flag("--json", o.json, "the comparison as JSON (schema rtml.compare/1)")
      .notes(kNotes);
  if (!table.parse(args)) return 0;
  nlohmann::json ra, rb;
  try {
    ra = bench::read_report_file(o.a);
    rb = bench::read_report_file(o.b);
  } catch (const Error& e) {
    std::fprintf(stderr, "rtml compare: error: %s\n", e.what());
    return 2;
  }
  bench::CompareResult res = bench::compare_reports(ra, rb, o.compare);
  if (o.json)
    std::printf("%s\n", result_json(o, ra, rb, res).dump(2).c_str());
  else
    print_table(o, ra, rb, res);
  return res.regression() ? 1 : 0;
}

}  // namespace rtml::cli
