// `rtml bench`: latency, memory, heap and accuracy of models on runtimes.
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "backends/backend.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "cli/cli.h"
#include "compile/bench_target.h"
#include "compile/qemu_runner.h"
#include "cli/options.h"
#include "tune/tune.h"
#include "core/error.h"
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

using nlohmann::json;

namespace rtml::cli {

namespace {

const char* kAbout =
    "Measures each model on each backend: init and first-run time, latency over warm-up and timed runs\n"
    "(min, mean, median, p90, p99, p99.9, max, stddev, jitter), resident memory (sampled by a thread),\n"
    "heap allocations per inference, accuracy against the test data beside the model, and in real-time\n"
    "mode missed deadlines. A MODEL is an .onnx file (or a .tflite file, for armnn); a FOLDER is a zoo\n"
    "(holding manifest.json), a model folder (model.onnx) or a folder of those. One model failing on one\n"
    "backend is an error row; the sweep goes on.";

}  // namespace

const char* const kBenchExitStatus =
    "Exit status: 0 if every run succeeded and passed its accuracy check, 1 otherwise, 2 for usage errors.";

void add_bench_run_options(OptionTable& t, BenchArgs& b) {
  t.positionals("MODEL|FOLDER|manifest.json", b.paths)
      .custom("--backend", "LIST",
              "comma-separated: native, handwritten, compiled (the generated C, built with cc), and\n"
              "the plugins torch, onnxruntime, xnnpack, armnn (default: native); handwritten covers\n"
              "only the streaming models and armnn only .tflite files: the others are listed as not covered",
              [&b](const std::string& v) {
                b.backends = split(v, ',');
                if (b.backends.empty()) throw UsageError("--backend needs at least one name (native, handwritten, compiled, torch, onnxruntime, xnnpack, armnn)");
              })
      .repeatable("--filter", "SUBSTR", b.filter, "only models whose name contains SUBSTR (repeatable)")
      .number("--warmup", "N", b.warmup, 0, "warm-up runs (default 50; stops early after 2 s)")
      .number("--runs", "N", b.runs, 1, "timed runs (default: up to 1000 runs within 2 s, at least 10)")
      .number("--seconds", "S", b.seconds, 0.001, "... or timed runs for S seconds (at most 2 million runs)");
  add_threads_option(t, b.threads);
  t.number("--tolerance", "T", b.tolerance, 0, "accuracy: an element passes if |a-e| <= T or <= T*|e| (default 1e-4)")
      .flag("--samples", b.samples, "keep every timed run's latency (samples_us) in the report");
}

void add_bench_output_options(OptionTable& t, BenchArgs& b) {
  t.section("real-time mode:")
      .number("--block", "N", b.block, 1, "one inference per N-sample audio block at --rate HZ\n(e.g. --block 16 --rate 44100)")
      .number("--rate", "HZ", b.rate, 1, "the sample rate for --block")
      .number("--period-us", "US", b.period_us, 1, "... or one inference per period of US microseconds; counts deadline misses")
      .flag("--rt", b.rt, "ask for SCHED_FIFO (--priority N) and mlockall; says if refused")
      .number("--priority", "N", b.priority, 1, "the SCHED_FIFO priority for --rt (default 80)")
      .number("--cpu", "N", b.cpu, 0, "pin to CPU N")
      .section("output:")
      .value("--json", "FILE", b.json_path, "the report (schema rtml.bench/1, docs/bench-report.md)")
      .value("--csv", "FILE", b.csv_path, "one row per run")
      .flag("--markdown", b.markdown, "print the table as Markdown")
      .value("--db", "PATH", b.db_path, "results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)")
      .flag("--no-db", b.no_db, "do not record the runs in a results database");
}

void check_bench_args(BenchArgs& b) {
  if (b.runs && b.seconds) throw UsageError("--runs and --seconds both given: choose one");
  if (b.block.has_value() != b.rate.has_value())
    throw UsageError("--block and --rate go together (e.g. --block 16 --rate 44100)");
  if (b.block && b.period_us) throw UsageError("--block/--rate and --period-us both given: choose one");
  if (b.block) b.period_us = *b.block * 1e6 / *b.rate;
  if (!b.db_path.empty() && b.no_db) throw UsageError("--db and --no-db both given");
}

void write_bench_outputs(const nlohmann::json& report, const BenchArgs& b, const std::string& command,
                         const std::string& target) {
  const std::string who = "rtml " + command;
  std::fputs("\n", stdout);
  std::fputs(bench::format_table(report, b.markdown).c_str(), stdout);
  std::fflush(stdout);  // the table before the notes that follow on stderr
  if (!b.json_path.empty()) {
    // (replace: a model folder's name need not be UTF-8)
    write_text_file(b.json_path, report.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
    std::fprintf(stderr, "%s: report written to %s\n", who.c_str(), b.json_path.c_str());
  }
  if (!b.csv_path.empty()) {
    write_text_file(b.csv_path, bench::format_csv(report));
    std::fprintf(stderr, "%s: CSV written to %s\n", who.c_str(), b.csv_path.c_str());
  }
  if (b.no_db) return;
#ifdef RTML_WITH_SQLITE
  std::string path = b.db_path.empty() ? results::default_db_path() : b.db_path;
  auto db = results::ResultsDb::open(path);
  int64_t n = db.add_report(report);
  if (target.empty())
    std::fprintf(stderr, "%s: %lld runs recorded in %s (rtml runs --db %s lists them)\n", who.c_str(),
                 static_cast<long long>(n), path.c_str(), path.c_str());
  else
    std::fprintf(stderr, "%s: %lld runs on %s recorded in %s (rtml runs --db %s --target %s lists them)\n",
                 who.c_str(), static_cast<long long>(n), target.c_str(), path.c_str(), path.c_str(), target.c_str());
#else
  (void)target;
  if (!b.db_path.empty())
    throw Error("this rtml was built without SQLite: --db is not available (install libsqlite3-dev and rebuild)");
  std::fprintf(stderr, "%s: built without SQLite; runs not recorded in a database\n", who.c_str());
#endif
}

namespace {

// rtml bench --target cortex-m*: each model compiled, built and run under QEMU
// (compile/bench_target.h), in the same report.
int bench_targets(const BenchArgs& b, const std::string& target, std::optional<kernels::KernelSet> kernel_set,
                  const std::string& keep_project, const bench::BenchOptions& opt, const std::string& test_data,
                  const std::string& cmsis_nn_dir, uint64_t ram_bytes,
                  const std::vector<plan::MemoryLevel>& memory_levels, const std::string& tuning) {
  if (target != "host") compile::find_cortexm_target(target);  // an unknown name fails before any work
  if (b.backends != std::vector<std::string>{"native"})
    throw UsageError("--target runs the compiled model, not a backend: leave out --backend");
  compile::TargetBenchOptions to;
  to.target = target;
  to.kernels = kernel_set.value_or(target == "host" ? kernels::KernelSet::Simd : kernels::KernelSet::CortexM);
  if (opt.runs) to.runs = *opt.runs;
  if (target != "host" && to.kernels == kernels::KernelSet::Simd)
    throw UsageError("--kernels simd runs on Linux targets only; " + target + " takes cortex-m, cmsis-nn or reference");
  check_cmsis_nn_options(to.kernels, cmsis_nn_dir);
  to.cmsis_nn_dir = cmsis_nn_dir;
  to.tolerance = opt.tolerance;
  to.accuracy = opt.accuracy;
  to.keep_dir = keep_project;
  to.ram_bytes = ram_bytes;
  to.memory_levels = memory_levels;
  std::vector<bench::ModelSpec> models = bench::find_models(b.paths, b.filter);
  if (models.empty()) throw Error("no models matched (check the paths and --filter)");
  if (!keep_project.empty() && models.size() != 1)
    throw UsageError("--keep-project keeps one model's project, but " + std::to_string(models.size()) + " models were given");
  if (!test_data.empty()) {
    if (models.size() != 1)
      throw Error("--test-data names the data of one model, but " + std::to_string(models.size()) + " models were given");
    models[0].test_data = test_data;
  }
  if (!tuning.empty()) {
    if (models.size() != 1)
      throw UsageError("--tuning applies one model's record, but " + std::to_string(models.size()) + " models were given");
    to.schedule = tuning_schedule(tuning, models[0].path, target, to.kernels, &to.tuning);
  }
  json options = {{"warmup", 0},          {"runs", nullptr},          {"seconds", nullptr},
                  {"threads", 1},         {"tolerance", opt.tolerance}, {"memory_interval_us", opt.memory_interval_us},
                  {"target", target},     {"kernels", kernels::kernel_set_name(to.kernels)}};
  json report = bench::new_report(bench::host_info(), options);
  const bool tty = ::isatty(STDERR_FILENO);
  bool all_good = true;
  for (size_t k = 0; k < models.size(); ++k) {
    const std::string head = "[" + std::to_string(k + 1) + "/" + std::to_string(models.size()) + "] " +
                             models[k].name + " on " + target;
    json run = compile::bench_on_target(models[k], to, [&](const std::string& phase) {
      if (tty) std::fprintf(stderr, "\r\033[K%s: %s...", head.c_str(), phase.c_str());
    });
    std::fprintf(stderr, "%s%s: %s\n", tty ? "\r\033[K" : "", head.c_str(), compile::emulated_summary(run).c_str());
    if (run["status"] != "ok" || (run["accuracy"].is_object() && !run["accuracy"].value("passed", false)))
      all_good = false;
    bench::add_run(report, std::move(run));
  }
  write_bench_outputs(report, b, "bench", "");
  if (!to.tuning.empty()) std::printf("tuning: %s applied\n", to.tuning.c_str());
  return all_good ? 0 : 1;
}

}  // namespace

int cmd_bench(const Args& args) {
  bench::BenchOptions opt;
  BenchArgs b;
  std::string test_data;
  bool no_accuracy = false, no_samples = false;
  OptionTable table("bench", "MODEL|FOLDER|manifest.json... [options]", kAbout);
  add_bench_run_options(table, b);
  add_memory_option(table);
  std::optional<kernels::KernelSet> kernel_set;
  add_kernels_option(table, [&](kernels::KernelSet k) {
    opt.kernels = kernels::kernel_set_name(k);
    kernel_set = k;
  });
  std::string target, keep_project, cmsis_nn_dir, tuning;
  uint64_t ram_bytes = 0;
  std::vector<plan::MemoryLevel> memory_levels;
  add_tuning_option(table, tuning);
  table.value("--target", "NAME",
              target, "run each model compiled to C (rtml compile): host (built with cc, timed: --runs\n"
              "runs, default 1000) or an emulated microcontroller under QEMU: cortex-m7, cortex-m4,\n"
              "cortex-m55 (needs arm-none-eabi-gcc and qemu-system-arm; reports instructions per\n"
              "inference and per step, flash and RAM, accuracy; no times)")
      .value("--keep-project", "DIR", keep_project, "with --target: keep the generated project in DIR (one model)")
      .value("--cmsis-nn", "DIR", cmsis_nn_dir, "with --target and --kernels cmsis-nn: the CMSIS-NN source tree to build");
  add_ram_options(table, ram_bytes, memory_levels,
                  "with --target: compile with a RAM budget for the arena (rtml compile --ram:\n"
                  "the first layers in row bands, docs/tiling.md); --memory likewise");
  table
      .flag("--no-samples", no_samples, "leave out every timed run's latency (samples_us, kept by default)")
      .value("--test-data", "DIR", test_data,
             "test data for the (one) model given: test_data_set_N folders with .pb files,\n"
             "or inputs/NAME.npy + expected/NAME.npy (default: found beside the model)")
      .flag("--no-accuracy", no_accuracy, "skip the test data")
      .value("--torch-model", "FILE", opt.torch_model,
             "TorchScript file for the torch backend (default: model.pt beside the .onnx)")
      .number("--memory-interval-us", "N", opt.memory_interval_us, 10, "resident-memory sampling interval (default 1000)");
  add_bench_output_options(table, b);
  table.notes(kBenchExitStatus);
  if (!table.parse(args)) return 0;
  check_bench_args(b);
  opt.warmup = b.warmup.value_or(opt.warmup);
  opt.runs = b.runs;
  opt.seconds = b.seconds;
  opt.threads = resolved_threads(b.threads);
  opt.tolerance = b.tolerance.value_or(opt.tolerance);
  opt.period_us = b.period_us;
  opt.keep_samples = b.samples || !no_samples;
  opt.accuracy = !no_accuracy;
  if (target.empty() && !cmsis_nn_dir.empty()) throw UsageError("--cmsis-nn DIR is for --target with --kernels cmsis-nn");
  if (target.empty() && (ram_bytes || !memory_levels.empty()))
    throw UsageError(std::string(ram_bytes ? "--ram" : "--memory") + " is for --target (the compiled model)");
  if (!target.empty())
    return bench_targets(b, target, kernel_set, keep_project, opt, test_data, cmsis_nn_dir, ram_bytes, memory_levels,
                         tuning);
  for (const auto& name : b.backends) backends::create(name);  // unknown names fail before any work

  std::vector<bench::ModelSpec> models = bench::find_models(b.paths, b.filter);
  if (models.empty()) throw Error("no models matched (check the paths and --filter)");
  if (!test_data.empty()) {
    if (models.size() != 1)
      throw Error("--test-data names the data of one model, but " + std::to_string(models.size()) + " models were given");
    models[0].test_data = test_data;
  }
  if (!tuning.empty()) {
    if (models.size() != 1)
      throw UsageError("--tuning applies one model's record, but " + std::to_string(models.size()) + " models were given");
    opt.schedule = tuning_schedule(tuning, models[0].path, tune::local_target(),
                                   kernel_set.value_or(kernels::KernelSet::Simd), &opt.tuning);
  }

  bench::RealtimeSetup rts = bench::apply_realtime(b.rt, b.priority.value_or(80), b.cpu, opt.threads);
  if (b.rt || b.cpu) std::fprintf(stderr, "rtml bench: scheduler %s; mlockall %s; cpu %s\n", rts.scheduler.c_str(),
                              rts.mlockall.c_str(), rts.cpu.c_str());
  if (opt.period_us && opt.threads > 1)
    std::fprintf(stderr,
                 "rtml bench: real-time mode with --threads %d: the engine's run() wakes its worker threads "
                 "(FUTEX_WAKE) when they have parked and may wait for a late one (FUTEX_WAIT); with one thread "
                 "it makes no system call (ARCHITECTURE.md, \"Threads\")\n",
                 opt.threads);

  json options = {{"warmup", opt.warmup},
                  {"runs", opt.runs ? json(*opt.runs) : json(nullptr)},
                  {"seconds", opt.seconds ? json(*opt.seconds) : json(nullptr)},
                  {"threads", opt.threads},
                  {"tolerance", opt.tolerance},
                  {"memory_interval_us", opt.memory_interval_us},
                  {"rt", b.rt},
                  {"period_us", opt.period_us ? json(*opt.period_us) : json(nullptr)},
                  {"backends", b.backends}};
  json report = bench::new_report(bench::host_info(), options);

  const bool tty = ::isatty(STDERR_FILENO);
  const size_t total = models.size() * b.backends.size();
  size_t k = 0;
  bool all_good = true;
  for (const auto& m : models)
    for (const auto& backend : b.backends) {
      ++k;
      char prefix[64];
      std::snprintf(prefix, sizeof prefix, "[%zu/%zu] ", k, total);
      std::string head = prefix + m.name + " on " + backend;
      auto progress = [&](const std::string& phase) {
        if (tty) std::fprintf(stderr, "\r\033[K%s: %s...", head.c_str(), phase.c_str());
      };
      json run = bench::bench_model(m, backend, opt, rts, progress);
      std::fprintf(stderr, "%s%s: %s\n", tty ? "\r\033[K" : "", head.c_str(), bench::summary_line(run).c_str());
      if (!bench::is_not_covered(run) &&
          (run["status"] != "ok" ||
           (run.contains("accuracy") && run["accuracy"].is_object() && !run["accuracy"].value("passed", false))))
        all_good = false;
      bench::add_run(report, std::move(run));
    }

  write_bench_outputs(report, b, "bench", "");
  if (!opt.tuning.empty()) std::printf("tuning: %s applied to the native runs\n", opt.tuning.c_str());
  return all_good ? 0 : 1;
}

}  // namespace rtml::cli
