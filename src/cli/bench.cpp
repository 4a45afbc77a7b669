// `rtml bench`: latency, memory, heap and accuracy of models on runtimes.
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "backends/backend.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "cli/cli.h"
#include "core/error.h"
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

using nlohmann::json;

namespace rtml::cli {

namespace {

const char* kUsage =
    "usage: rtml bench MODEL|FOLDER|manifest.json... [options]\n"
    "Measures each model on each backend: init and first-run time, latency over warm-up and timed runs\n"
    "(min, mean, median, p90, p99, p99.9, max, stddev, jitter), resident memory (sampled by a thread),\n"
    "heap allocations per inference, accuracy against the test data beside the model, and in real-time\n"
    "mode missed deadlines. A FOLDER is a zoo (holding manifest.json), a model folder (model.onnx) or a\n"
    "folder of those. One model failing on one backend is an error row; the sweep goes on.\n"
    "\n"
    "  --backend LIST        comma-separated: native, torch, handwritten (default: native); handwritten\n"
    "                        covers only the streaming models: the others are listed as not covered\n"
    "  --filter SUBSTR       only models whose name contains SUBSTR (repeatable)\n"
    "  --warmup N            warm-up runs (default 50; stops early after 2 s)\n"
    "  --runs N | --seconds S  timed runs (default: up to 1000 runs within 2 s, at least 10; at most 2 million)\n"
    "  --threads N           intra-op threads for every backend (default 1)\n"
    "  --tolerance T         accuracy: an element passes if |a-e| <= T or <= T*|e| (default 1e-4)\n"
    "  --test-data DIR       test data for the (one) model given: test_data_set_N folders with .pb files,\n"
    "                        or inputs/NAME.npy + expected/NAME.npy (default: found beside the model)\n"
    "  --no-accuracy         skip the test data\n"
    "  --torch-model FILE    TorchScript file for the torch backend (default: model.pt beside the .onnx)\n"
    "  --memory-interval-us N  resident-memory sampling interval (default 1000)\n"
    "  --no-samples          leave out every timed run's latency (samples_us, kept by default; --samples\n"
    "                        is accepted and keeps them)\n"
    "real-time mode:\n"
    "  --block N --rate HZ   one inference per N-sample audio block at HZ (e.g. --block 16 --rate 44100)\n"
    "  --period-us US        ... or per period of US microseconds; counts deadline misses\n"
    "  --rt                  ask for SCHED_FIFO (--priority N, default 80) and mlockall; says if refused\n"
    "  --cpu N               pin to CPU N\n"
    "output:\n"
    "  --json FILE           the report (schema rtml.bench/1, docs/bench-report.md)\n"
    "  --csv FILE            one row per run\n"
    "  --markdown            print the table as Markdown\n"
    "  --db PATH | --no-db   results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)\n"
    "Exit status: 0 if every run succeeded and passed its accuracy check, 1 otherwise.";

}  // namespace

int cmd_bench(const Args& args) {
  bench::BenchOptions opt;
  std::vector<std::string> paths, filter, backends_list = {"native"};
  std::string json_path, csv_path, db_path, test_data;
  bool markdown = false, no_db = false, rt = false, accuracy = true;
  int priority = 80;
  std::optional<int> cpu, block;
  std::optional<double> rate;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw Error(a + " needs a value (see rtml bench --help)");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::puts(kUsage);
      return 0;
    } else if (a == "--backend") {
      backends_list = split_commas(value());
      if (backends_list.empty()) throw Error("--backend needs at least one name (native, torch, handwritten)");
    } else if (a == "--filter") {
      filter.push_back(value());
    } else if (a == "--warmup") {
      opt.warmup = parse_int(a, value(), 0);
    } else if (a == "--runs") {
      opt.runs = parse_int(a, value(), 1);
    } else if (a == "--seconds") {
      opt.seconds = parse_number(a, value(), 0.001);
    } else if (a == "--threads") {
      opt.threads = parse_int(a, value(), 1);
    } else if (a == "--tolerance") {
      opt.tolerance = parse_number(a, value(), 0);
    } else if (a == "--test-data") {
      test_data = value();
    } else if (a == "--no-accuracy") {
      accuracy = false;
    } else if (a == "--torch-model") {
      opt.torch_model = value();
    } else if (a == "--memory-interval-us") {
      opt.memory_interval_us = parse_number(a, value(), 10);
    } else if (a == "--samples") {
      opt.keep_samples = true;
    } else if (a == "--no-samples") {
      opt.keep_samples = false;
    } else if (a == "--block") {
      block = parse_int(a, value(), 1);
    } else if (a == "--rate") {
      rate = parse_number(a, value(), 1);
    } else if (a == "--period-us") {
      opt.period_us = parse_number(a, value(), 1);
    } else if (a == "--rt") {
      rt = true;
    } else if (a == "--priority") {
      priority = parse_int(a, value(), 1);
    } else if (a == "--cpu") {
      cpu = parse_int(a, value(), 0);
    } else if (a == "--json") {
      json_path = value();
    } else if (a == "--csv") {
      csv_path = value();
    } else if (a == "--markdown") {
      markdown = true;
    } else if (a == "--db") {
      db_path = value();
    } else if (a == "--no-db") {
      no_db = true;
    } else if (!a.empty() && a[0] == '-') {
      throw Error("unknown option '" + a + "' (see rtml bench --help)");
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) throw Error("no model given (usage: rtml bench MODEL|FOLDER|manifest.json... [options])");
  if (opt.runs && opt.seconds) throw Error("--runs and --seconds both given: choose one");
  if (block.has_value() != rate.has_value()) throw Error("--block and --rate go together (e.g. --block 16 --rate 44100)");
  if (block && opt.period_us) throw Error("--block/--rate and --period-us both given: choose one");
  if (block) opt.period_us = *block * 1e6 / *rate;
  if (!db_path.empty() && no_db) throw Error("--db and --no-db both given");
  opt.accuracy = accuracy;
  for (const auto& b : backends_list) backends::create(b);  // unknown names fail before any work

  std::vector<bench::ModelSpec> models = bench::find_models(paths, filter);
  if (models.empty()) throw Error("no models matched (check the paths and --filter)");
  if (!test_data.empty()) {
    if (models.size() != 1)
      throw Error("--test-data names the data of one model, but " + std::to_string(models.size()) + " models were given");
    models[0].test_data = test_data;
  }

  bench::RealtimeSetup rts = bench::apply_realtime(rt, priority, cpu);
  if (rt || cpu) std::fprintf(stderr, "rtml bench: scheduler %s; mlockall %s; cpu %s\n", rts.scheduler.c_str(),
                              rts.mlockall.c_str(), rts.cpu.c_str());

  json options = {{"warmup", opt.warmup},
                  {"runs", opt.runs ? json(*opt.runs) : json(nullptr)},
                  {"seconds", opt.seconds ? json(*opt.seconds) : json(nullptr)},
                  {"threads", opt.threads},
                  {"tolerance", opt.tolerance},
                  {"memory_interval_us", opt.memory_interval_us},
                  {"rt", rt},
                  {"period_us", opt.period_us ? json(*opt.period_us) : json(nullptr)},
                  {"backends", backends_list}};
  json report = bench::new_report(bench::host_info(), options);

  const bool tty = ::isatty(STDERR_FILENO);
  const size_t total = models.size() * backends_list.size();
  size_t k = 0;
  bool all_good = true;
  for (const auto& m : models)
    for (const auto& b : backends_list) {
      ++k;
      char prefix[64];
      std::snprintf(prefix, sizeof prefix, "[%zu/%zu] ", k, total);
      std::string head = prefix + m.name + " on " + b;
      auto progress = [&](const std::string& phase) {
        if (tty) std::fprintf(stderr, "\r\033[K%s: %s...", head.c_str(), phase.c_str());
      };
      json run = bench::bench_model(m, b, opt, rts, progress);
      std::fprintf(stderr, "%s%s: %s\n", tty ? "\r\033[K" : "", head.c_str(), bench::summary_line(run).c_str());
      if (!bench::is_not_covered(run) &&
          (run["status"] != "ok" ||
           (run.contains("accuracy") && run["accuracy"].is_object() && !run["accuracy"].value("passed", false))))
        all_good = false;
      bench::add_run(report, std::move(run));
    }

  std::fputs("\n", stdout);
  std::fputs(bench::format_table(report, markdown).c_str(), stdout);
  std::fflush(stdout);  // the table before the notes that follow on stderr
  if (!json_path.empty()) {
    // (replace: a model folder's name need not be UTF-8)
    write_text_file(json_path, report.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
    std::fprintf(stderr, "rtml bench: report written to %s\n", json_path.c_str());
  }
  if (!csv_path.empty()) {
    write_text_file(csv_path, bench::format_csv(report));
    std::fprintf(stderr, "rtml bench: CSV written to %s\n", csv_path.c_str());
  }
  if (!no_db) {
#ifdef RTML_WITH_SQLITE
    std::string path = db_path.empty() ? results::default_db_path() : db_path;
    auto db = results::ResultsDb::open(path);
    int64_t n = db.add_report(report);
    std::fprintf(stderr, "rtml bench: %lld runs recorded in %s (rtml runs --db %s lists them)\n",
                 static_cast<long long>(n), path.c_str(), path.c_str());
#else
    if (!db_path.empty()) throw Error("this rtml was built without SQLite: --db is not available (install libsqlite3-dev and rebuild)");
    std::fprintf(stderr, "rtml bench: built without SQLite; runs not recorded in a database\n");
#endif
  }
  return all_good ? 0 : 1;
}

}  // namespace rtml::cli
