// `rtml remote HOST:PORT bench|info`: runs benchmarks on a board through its
// `rtml agent` (docs/remote-protocol.md, src/remote/client.h) and keeps the
// board's reports here: table, --json/--csv, the local results database.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "bench/report.h"
#include "bench/runner.h"
#include "cli/cli.h"
#include "core/error.h"
#ifdef RTML_WITH_REMOTE
#include "remote/client.h"
#endif
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

using nlohmann::json;

namespace rtml::cli {

namespace {

const char* kUsage =
    "usage: rtml remote HOST:PORT [--token-file FILE] info [--json]\n"
    "       rtml remote HOST:PORT [--token-file FILE] bench MODEL|FOLDER|manifest.json... [options]\n"
    "Runs rtml bench on a board through the `rtml agent` listening at HOST:PORT, and keeps the board's\n"
    "reports here. Each model (with model.pt and the test_data_set_N folders beside it) is one job: its\n"
    "files are hashed and only those the agent lacks are uploaded; the job runs every --backend on the\n"
    "board, one job at a time; progress shows as it goes.\n"
    "\n"
    "  --token-file FILE     the agent's token (first line); default $RTML_TOKEN_FILE, else none\n"
    "info: the agent's name, board, rtml version, backends and limits (--json: GET /v1/info as is)\n"
    "bench options (as rtml bench; the defaults are the board's rtml bench defaults):\n"
    "  --backend LIST        comma-separated: native, torch, handwritten (default: native)\n"
    "  --filter SUBSTR       only models whose name contains SUBSTR (repeatable)\n"
    "  --warmup N            warm-up runs (default 50)\n"
    "  --runs N | --seconds S  timed runs (default: up to 1000 runs within 2 s)\n"
    "  --threads N           intra-op threads (default 1)\n"
    "  --tolerance T         accuracy tolerance (default 1e-4)\n"
    "  --samples             keep every timed run's latency in the report\n"
    "  --block N --rate HZ | --period-us US   real-time mode: one inference per period, deadline misses\n"
    "  --rt [--priority N]   SCHED_FIFO (default priority 80) and mlockall on the board\n"
    "  --cpu N               pin to CPU N on the board\n"
    "  --json FILE           the report (rtml.bench/1; host is the board's, host.target the agent's name)\n"
    "  --csv FILE            one row per run\n"
    "  --markdown            print the table as Markdown\n"
    "  --db PATH | --no-db   local results database (default: $RTML_DB, else ~/.local/share/rtml/results.db);\n"
    "                        the runs are marked with the target (rtml runs --target NAME)\n"
    "Exit status: 0 if every run succeeded and passed its accuracy check, 1 otherwise, 2 for usage errors.";

#ifdef RTML_WITH_REMOTE


struct BenchArgs {
  std::vector<std::string> paths, filter;
  remote::JobOptions job;
  std::optional<int> block;
  std::optional<double> rate;
  std::string json_path, csv_path, db_path;
  bool markdown = false, no_db = false;
};

BenchArgs parse_bench(const Args& args, size_t i, std::string& token_file) {
  BenchArgs b;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value (see rtml remote --help)");
      return args[++i];
    };
    if (a == "--backend") {
      b.job.backends = split_commas(value());
      if (b.job.backends.empty()) throw UsageError("--backend needs at least one name (native, torch)");
    } else if (a == "--filter") {
      b.filter.push_back(value());
    } else if (a == "--warmup") {
      b.job.warmup = parse_int(a, value(), 0);
    } else if (a == "--runs") {
      b.job.runs = parse_int(a, value(), 1);
    } else if (a == "--seconds") {
      b.job.seconds = parse_number(a, value(), 0.001);
    } else if (a == "--threads") {
      b.job.threads = parse_int(a, value(), 1);
    } else if (a == "--tolerance") {
      b.job.tolerance = parse_number(a, value(), 0);
    } else if (a == "--samples") {
      b.job.samples = true;
    } else if (a == "--block") {
      b.block = parse_int(a, value(), 1);
    } else if (a == "--rate") {
      b.rate = parse_number(a, value(), 1);
    } else if (a == "--period-us") {
      b.job.period_us = parse_number(a, value(), 1);
    } else if (a == "--rt") {
      b.job.rt = true;
    } else if (a == "--priority") {
      b.job.priority = parse_int(a, value(), 1);
    } else if (a == "--cpu") {
      b.job.cpu = parse_int(a, value(), 0);
    } else if (a == "--json") {
      b.json_path = value();
    } else if (a == "--csv") {
      b.csv_path = value();
    } else if (a == "--markdown") {
      b.markdown = true;
    } else if (a == "--db") {
      b.db_path = value();
    } else if (a == "--no-db") {
      b.no_db = true;
    } else if (a == "--token-file") {
      token_file = value();
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "' for rtml remote bench (see rtml remote --help)");
    } else {
      b.paths.push_back(a);
    }
  }
  if (b.paths.empty()) throw UsageError("no model given (usage: rtml remote HOST:PORT bench MODEL|FOLDER... [options])");
  if (b.job.runs && b.job.seconds) throw UsageError("--runs and --seconds both given: choose one");
  if (b.block.has_value() != b.rate.has_value())
    throw UsageError("--block and --rate go together (e.g. --block 16 --rate 44100)");
  if (b.block && b.job.period_us) throw UsageError("--block/--rate and --period-us both given: choose one");
  if (b.block) b.job.period_us = *b.block * 1e6 / *b.rate;
  if (!b.db_path.empty() && b.no_db) throw UsageError("--db and --no-db both given");
  return b;
}

int run_info(remote::Client& client, bool as_json) {
  const json& info = client.info();
  if (as_json) {
    std::printf("%s\n", info.dump(2).c_str());
    return 0;
  }
  auto text = [](const json& j, const char* key) {
    return j.is_object() && j.contains(key) && !j[key].is_null()
               ? (j[key].is_string() ? j[key].get<std::string>() : j[key].dump())
               : std::string("-");
  };
  const json host = info.contains("host") ? info["host"] : json::object();
  std::string backends;
  if (info.contains("backends") && info["backends"].is_array())
    for (const auto& b : info["backends"]) backends += (backends.empty() ? "" : ", ") + b.get<std::string>();
  std::printf("agent       %s at %s (protocol %s, rtml %s)\n", text(info, "name").c_str(),
              client.endpoint().text().c_str(), text(info, "protocol").c_str(), text(info, "rtml_version").c_str());
  std::printf("board       %s: %s, %s cores, %s\n", text(host, "hostname").c_str(), text(host, "cpu_model").c_str(),
              text(host, "cores").c_str(),
              host.contains("memory_bytes") && host["memory_bytes"].is_number()
                  ? format_bytes(host["memory_bytes"].get<double>()).c_str()
                  : "-");
  std::printf("system      %s %s, %s\n", text(host, "os").c_str(), text(host, "kernel").c_str(),
              text(host, "arch").c_str());
  std::printf("backends    %s\n", backends.empty() ? "-" : backends.c_str());
  if (info.contains("limits") && info["limits"].is_object()) {
    const json& l = info["limits"];
    auto bytes = [&](const char* k) {
      return l.contains(k) && l[k].is_number() ? format_bytes(l[k].get<double>()) : std::string("-");
    };
    std::printf("limits      body %s, model %s, job %s s, queue %s\n", bytes("max_body_bytes").c_str(),
                bytes("max_model_bytes").c_str(), text(l, "job_timeout_s").c_str(), text(l, "max_queue").c_str());
  }
  return 0;
}

// Error rows for a job the agent did not finish, one per backend (as rtml
// bench records a model that fails).
void add_error_runs(json& runs, const bench::ModelSpec& m, const remote::JobOptions& job, const std::string& error) {
  for (const auto& b : job.backends)
    runs.push_back({{"model", m.name},
                    {"model_path", m.path},
                    {"family", m.family.empty() ? json(nullptr) : json(m.family)},
                    {"backend", b},
                    {"status", "error"},
                    {"error", error}});
}

int run_bench(remote::Client& client, const BenchArgs& b) {
  std::vector<bench::ModelSpec> models = bench::find_models(b.paths, b.filter);
  if (models.empty()) throw Error("no models matched (check the paths and --filter)");
  const std::string agent = client.name();
  const bool tty = ::isatty(STDERR_FILENO);

  json report;  // the first report the agent sends; every job's runs go into it
  json runs = json::array();
  json not_covered = json::array();
  bool all_good = true;
  for (size_t k = 0; k < models.size(); ++k) {
    const bench::ModelSpec& m = models[k];
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "[%zu/%zu] ", k + 1, models.size());
    const std::string head = prefix + m.name + " on " + agent;
    remote::ModelFiles files = remote::collect_model_files(m);
    if (!files.note.empty()) std::fprintf(stderr, "rtml remote: note: %s\n", files.note.c_str());
    auto progress = [&](const std::string& text) {
      if (tty)
        std::fprintf(stderr, "\r\033[K%s: %s", head.c_str(), text.c_str());
      else
        std::fprintf(stderr, "%s: %s\n", head.c_str(), text.c_str());
    };
    const int64_t uploaded_before = client.stats().blobs_uploaded;
    json r;
    try {
      r = client.bench(files, b.job, progress);
    } catch (const remote::JobError& e) {
      std::fprintf(stderr, "%s%s: error: %s\n", tty ? "\r\033[K" : "", head.c_str(), e.what());
      add_error_runs(runs, m, b.job, std::string("remote job ") + e.state() + ": " + e.what());
      all_good = false;
      continue;
    } catch (...) {
      if (tty) std::fputs("\n", stderr);  // keep the live line above the error
      throw;
    }
    if (tty) std::fputs("\r\033[K", stderr);
    if (client.stats().blobs_uploaded == uploaded_before)
      std::fprintf(stderr, "%s: every file was already on the agent\n", head.c_str());
    for (auto& run : r["runs"]) {
      run["model"] = m.name;
      if (!m.family.empty()) run["family"] = m.family;
      if (m.flops && (!run.contains("flops") || run["flops"].is_null())) run["flops"] = *m.flops;
      std::string backend = run.value("backend", std::string("?"));
      std::fprintf(stderr, "%s (%s): %s\n", head.c_str(), backend.c_str(), bench::summary_line(run).c_str());
      if (run["status"] != "ok" ||
          (run.contains("accuracy") && run["accuracy"].is_object() && !run["accuracy"].value("passed", false)))
        all_good = false;
      runs.push_back(run);
    }
    if (r.contains("not_covered") && r["not_covered"].is_array())
      for (auto& n : r["not_covered"]) {
        n["model"] = m.name;
        std::fprintf(stderr, "%s (%s): n/a (this backend does not cover the model)\n", head.c_str(),
                     n.value("backend", std::string("?")).c_str());
        not_covered.push_back(n);
      }
    if (report.is_null()) report = std::move(r);
  }
  if (report.is_null()) {
    // Every job failed: a report around the error rows, with the board's host.
    json host = client.info().contains("host") && client.info()["host"].is_object() ? client.info()["host"]
                                                                                    : json::object();
    host["target"] = agent;
    json options = b.job.to_json();
    bench::BenchOptions defaults;
    options["warmup"] = b.job.warmup.value_or(defaults.warmup);
    options["threads"] = b.job.threads.value_or(defaults.threads);
    options["tolerance"] = b.job.tolerance.value_or(defaults.tolerance);
    options["memory_interval_us"] = defaults.memory_interval_us;
    report = bench::new_report(host, options);
  }
  report["runs"] = std::move(runs);
  if (!not_covered.empty()) report["not_covered"] = std::move(not_covered);
  else report.erase("not_covered");

  const remote::UploadStats& s = client.stats();
  std::fprintf(stderr, "rtml remote: %lld of %lld blobs uploaded to %s (%s); the rest were already there\n",
               static_cast<long long>(s.blobs_uploaded),
               static_cast<long long>(s.blobs_checked), agent.c_str(),
               format_bytes(static_cast<double>(s.bytes_uploaded)).c_str());
  std::fputs("\n", stdout);
  std::fputs(bench::format_table(report, b.markdown).c_str(), stdout);
  std::fflush(stdout);
  if (!b.json_path.empty()) {
    write_text_file(b.json_path, report.dump(1) + "\n");
    std::fprintf(stderr, "rtml remote: report written to %s\n", b.json_path.c_str());
  }
  if (!b.csv_path.empty()) {
    write_text_file(b.csv_path, bench::format_csv(report));
    std::fprintf(stderr, "rtml remote: CSV written to %s\n", b.csv_path.c_str());
  }
  if (!b.no_db) {
#ifdef RTML_WITH_SQLITE
    std::string path = b.db_path.empty() ? results::default_db_path() : b.db_path;
    auto db = results::ResultsDb::open(path);
    int64_t n = db.add_report(report);
    std::fprintf(stderr, "rtml remote: %lld runs on %s recorded in %s (rtml runs --db %s --target %s lists them)\n",
                 static_cast<long long>(n), agent.c_str(), path.c_str(), path.c_str(), agent.c_str());
#else
    if (!b.db_path.empty())
      throw Error("this rtml was built without SQLite: --db is not available (install libsqlite3-dev and rebuild)");
    std::fprintf(stderr, "rtml remote: built without SQLite; runs not recorded in a database\n");
#endif
  }
  return all_good ? 0 : 1;
}

#endif  // RTML_WITH_REMOTE

}  // namespace

int cmd_remote(const Args& args) {
  try {
    if (args.empty()) throw UsageError("no agent given (usage: rtml remote HOST:PORT bench|info ...)");
    if (args[0] == "-h" || args[0] == "--help") {
      std::puts(kUsage);
      return 0;
    }
    for (const auto& a : args)
      if (a == "-h" || a == "--help") {
        std::puts(kUsage);
        return 0;
      }
#ifndef RTML_WITH_REMOTE
    throw Error("this rtml was built without cpp-httplib: rtml remote is not available (install libcpp-httplib-dev "
                "and rebuild)");
#else
    remote::Endpoint endpoint;
    try {
      endpoint = remote::parse_endpoint(args[0]);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    std::string token_file;
    size_t i = 1;
    while (i < args.size() && args[i] == "--token-file") {
      if (i + 1 >= args.size()) throw UsageError("--token-file needs a value (a file holding the agent's token)");
      token_file = args[i + 1];
      i += 2;
    }
    if (i >= args.size()) throw UsageError("no command after " + args[0] + " (bench or info)");
    const std::string sub = args[i++];
    if (sub != "bench" && sub != "info")
      throw UsageError("unknown remote command '" + sub + "' (bench or info; see rtml remote --help)");
    BenchArgs bench_args;
    bool info_json = false;
    if (sub == "bench") {
      bench_args = parse_bench(args, i, token_file);
    } else {
      for (; i < args.size(); ++i) {
        if (args[i] == "--json") info_json = true;
        else if (args[i] == "--token-file" && i + 1 < args.size()) token_file = args[++i];
        else throw UsageError("unknown argument '" + args[i] + "' for rtml remote info");
      }
    }
    if (token_file.empty())
      if (const char* env = std::getenv("RTML_TOKEN_FILE"); env && *env) token_file = env;
    std::string token = token_file.empty() ? std::string() : remote::read_token_file(token_file);
    remote::Client client(endpoint, token);
    return sub == "info" ? run_info(client, info_json) : run_bench(client, bench_args);
#endif
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rtml remote: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace rtml::cli
