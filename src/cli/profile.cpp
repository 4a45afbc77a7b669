// `rtml profile`: where one model's inference time goes, operator by operator.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "backends/backend.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "cli/cli.h"
#include "compile/bench_target.h"
#include "cli/options.h"
#include "tune/tune.h"
#include "core/error.h"
#include "profile/exports.h"
#include "profile/profiler.h"
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

using nlohmann::json;

namespace rtml::cli {

namespace {

const char* kAbout =
    "Benchmarks MODEL as rtml bench does (the run goes to the results database), then profiles it on a\n"
    "fresh instance of the backend: time per operator (mean, median, share, FLOPs and GFLOP/s, output\n"
    "bytes), a summary by op type, hardware counters per operator and per run where the kernel allows\n"
    "them (else the best of: counter group, single counters, task-clock, thread clock; \"n/a\" for what\n"
    "was not measured), per-thread CPU time, and with --perf the hottest functions from Linux perf.\n"
    "MODEL is an .onnx file or a zoo model folder (holding model.onnx). Report form: docs/profile-report.md.";

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A measured value, or "n/a" (null in the JSON: not measured).
std::string num(const json& v, const char* format = "%.2f") { return v.is_number() ? fmt(format, v.get<double>()) : "n/a"; }
std::string count(const json& v) { return v.is_number() ? format_count(v.get<double>()) : "n/a"; }
std::string bytes(const json& v) { return v.is_number() ? format_bytes(v.get<double>()) : "n/a"; }

void print_ops(const json& p, int top) {
  const json& ops = p["ops"];
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ops[a]["total_us"].get<double>() > ops[b]["total_us"].get<double>();
  });
  if (top > 0 && order.size() > static_cast<size_t>(top)) order.resize(static_cast<size_t>(top));
  bool native = p["counters"].value("per_op", false);
  std::vector<std::vector<std::string>> rows = {{"#", "node", "op type", "calls", "mean µs", "median µs", "%",
                                                 "cum %", "FLOPs", "GFLOP/s", "out bytes", "cycles", "instr",
                                                 "cache miss", "br miss", "cpu µs"}};
  for (size_t k : order) {
    const json& o = ops[k];
    const json& c = o["counters"];
    std::string node = o["node"].get<std::string>();
    if (node.size() > 48) node = "…" + node.substr(node.size() - 47);
    rows.push_back({std::to_string(o["index"].get<int>()), node, o["op_type"].get<std::string>(),
                    std::to_string(o["calls"].get<int64_t>()), num(o["mean_us"], "%.3f"),
                    num(o["median_us"], "%.3f"), num(o["percent"], "%.1f"), num(o["cumulative_percent"], "%.1f"),
                    count(o["flops"]), num(o["gflops"], "%.2f"), bytes(o["output_bytes"]), count(c["cycles"]),
                    count(c["instructions"]), count(c["cache_misses"]), count(c["branch_misses"]),
                    c["task_clock_ns"].is_number() ? fmt("%.3f", c["task_clock_ns"].get<double>() / 1e3) : "n/a"});
  }
  std::printf("\nOperators, most expensive first (%zu of %zu%s; # is the %s; counters and CPU time per call):\n", order.size(),
              ops.size(), order.size() < ops.size() ? ", --top 0 shows all" : "",
              native ? "step's place in the run" : "rank");
  std::fputs(format_table(rows, {true, false, false, true, true, true, true, true, true, true, true, true, true, true,
                                 true, true})
                 .c_str(),
             stdout);
}

void print_by_type(const json& p) {
  const int runs = p["runs"].get<int>();
  std::vector<std::vector<std::string>> rows = {
      {"op type", "nodes", "calls", "µs per run", "mean µs", "%", "FLOPs/run", "GFLOP/s"}};
  for (const auto& t : p["by_type"])
    rows.push_back({t["op_type"].get<std::string>(), std::to_string(t["nodes"].get<int>()),
                    std::to_string(t["calls"].get<int64_t>()), fmt("%.3f", t["total_us"].get<double>() / runs),
                    num(t["mean_us"], "%.3f"), num(t["percent"], "%.1f"), count(t["flops"]), num(t["gflops"])});
  std::printf("\nBy op type:\n");
  std::fputs(format_table(rows, {false, true, true, true, true, true, true, true}).c_str(), stdout);
}

void print_summary(const json& p) {
  const json& c = p["counters"];
  std::printf("\nCounters: level %s%s\n", c["level"].get<std::string>().c_str(),
              c.value("per_op", false) ? " (per call above, per run here)" : " (per run; none per operator)");
  for (const auto& note : c["notes"]) std::printf("  note: %s\n", note.get<std::string>().c_str());
  const json& r = c["per_run"];
  std::printf("  per run: cycles %s, instructions %s, IPC %s, cache misses %s, branch misses %s, task-clock %s µs\n",
              count(r["cycles"]).c_str(), count(r["instructions"]).c_str(), num(c["ipc"]).c_str(),
              count(r["cache_misses"]).c_str(), count(r["branch_misses"]).c_str(),
              r["task_clock_ns"].is_number() ? fmt("%.2f", r["task_clock_ns"].get<double>() / 1e3).c_str() : "n/a");

  std::printf("\nThreads over the timed pass (%.0f µs wall):\n", p["threads_wall_us"].get<double>());
  std::vector<std::vector<std::string>> rows = {{"tid", "name", "cpu µs", "utilisation"}};
  for (const auto& t : p["threads"])
    rows.push_back({std::to_string(t["tid"].get<int64_t>()), t["name"].get<std::string>(),
                    fmt("%.0f", t["cpu_us"].get<double>()), fmt("%.0f%%", t["utilisation"].get<double>() * 100)});
  std::fputs(format_table(rows, {true, false, true, true}).c_str(), stdout);
  double busiest = 0;
  for (const auto& t : p["threads"]) busiest = std::max(busiest, t["utilisation"].get<double>());
  if (busiest < 0.9 && !p["threads"].empty())
    std::printf("  note: no thread had more than %.0f%% of a CPU over the timed pass: other processes took the rest, "
                "so means carry their interruptions; the medians are the steadier figures\n",
                busiest * 100);

  const json& perf = p["perf"];
  if (perf.is_object()) {
    if (!perf["ok"].get<bool>()) {
      std::printf("\nperf: no samples: %s\n", perf["error"].get<std::string>().c_str());
    } else {
      std::printf("\nperf (%s): event %s, %s call graph, %lld samples (%lld skipped) over %.1f s:\n",
                  perf["tool"].is_string() ? perf["tool"].get<std::string>().c_str() : "perf",
                  perf["event"].is_string() ? perf["event"].get<std::string>().c_str() : "?",
                  perf["call_graph"].is_string() ? perf["call_graph"].get<std::string>().c_str() : "?",
                  static_cast<long long>(perf["samples"].get<int64_t>()),
                  static_cast<long long>(perf["skipped"].get<int64_t>()), perf["seconds"].get<double>());
      double samples = std::max<double>(1, static_cast<double>(perf["samples"].get<int64_t>()));
      std::vector<std::vector<std::string>> top = {{"self %", "total %", "frame"}};
      int shown = 0;
      for (const auto& f : perf["top"]) {
        if (++shown > 15) break;
        top.push_back({fmt("%.1f", f["self"].get<double>() / samples * 100),
                       fmt("%.1f", f["total"].get<double>() / samples * 100), f["frame"].get<std::string>()});
      }
      std::fputs(format_table(top, {true, true, false}).c_str(), stdout);
    }
    for (const auto& note : perf["notes"]) std::printf("  note: %s\n", note.get<std::string>().c_str());
  }
}

// rtml profile --target: the per-step instruction counts of a compiled model
// on an emulated board (no times: QEMU has no timing model).
void print_emulated(const json& p, int top) {
  const json& ops = p["ops"];
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ops[a]["percent"].get<double>() > ops[b]["percent"].get<double>();
  });
  if (top > 0 && order.size() > static_cast<size_t>(top)) order.resize(static_cast<size_t>(top));
  std::vector<std::vector<std::string>> rows = {
      {"#", "node", "op type", "kernel", "instructions", "%", "cum %", "FLOPs", "instr/FLOP"}};
  for (size_t k : order) {
    const json& o = ops[k];
    const double n = o["counters"]["instructions"].get<double>(), flops = o["flops"].get<double>();
    rows.push_back({std::to_string(o["index"].get<int>()), o["node"].get<std::string>(), o["op_type"].get<std::string>(),
                    o["kernel"].get<std::string>(), fmt("%.0f", n), num(o["percent"], "%.1f"),
                    num(o["cumulative_percent"], "%.1f"), count(o["flops"]), flops > 0 ? fmt("%.2f", n / flops) : "n/a"});
  }
  const json& e = p["emulated"];
  std::printf("%s on %s (%s, kernels %s): %.0f instructions per inference (QEMU counts executed instructions; it has\n"
              "no timing model, so there are no times)\n",
              p["model"].get<std::string>().c_str(), p["target"].get<std::string>().c_str(),
              e["core"].get<std::string>().c_str(), e["kernels"].get<std::string>().c_str(),
              e["instructions"]["median"].get<double>());
  std::printf("\nSteps, most instructions first (%zu of %zu; instructions of one inference, test set 0):\n", order.size(),
              ops.size());
  std::fputs(format_table(rows, {true, false, false, false, true, true, true, true, true}).c_str(), stdout);
  std::vector<std::vector<std::string>> types = {{"op type", "nodes", "instructions", "%", "FLOPs"}};
  for (const auto& t : p["by_type"])
    types.push_back({t["op_type"].get<std::string>(), std::to_string(t["nodes"].get<int>()),
                     fmt("%.0f", t["instructions"].get<double>()), num(t["percent"], "%.1f"), count(t["flops"])});
  std::printf("\nBy op type:\n");
  std::fputs(format_table(types, {false, true, true, true, true}).c_str(), stdout);
  const json& f = e["flash"];
  const json& r = e["ram"];
  std::printf("\nflash %s (weights %s, kernel library %s); RAM %s (arena %s, stack %s measured, static %s)\n",
              bytes(f["total_bytes"]).c_str(), bytes(f["weights_bytes"]).c_str(), bytes(f["kernel_library_bytes"]).c_str(),
              bytes(r["total_bytes"]).c_str(), bytes(r["arena_bytes"]).c_str(), bytes(r["stack_bytes"]).c_str(),
              bytes(r["static_bytes"]).c_str());
  if (r.contains("levels"))
    std::printf("--memory%s; copies between levels %s per inference\n", compile::levels_text(r).substr(8).c_str(),
                bytes(r["level_copy_bytes"]).c_str());
}

}  // namespace

int cmd_profile(const Args& args) {
  profile::ProfileOptions opt;
  std::string target, cmsis_nn_dir, tuning;
  std::string model_arg, backend = "native", json_path, trace_path, speedscope_path, folded_path, db_path;
  bool no_db = false, by_type_only = false;
  int top = 20;
  uint64_t ram_bytes = 0;
  std::vector<plan::MemoryLevel> memory_levels;
  std::optional<int> threads;
  OptionTable table("profile", "MODEL [options]", kAbout);
  add_memory_option(table);
  add_kernels_option(table, [&opt](kernels::KernelSet k) { opt.kernels = kernels::kernel_set_name(k); });
  table.positional("MODEL", model_arg)
      .value("--backend", "NAME", backend,
             "native (steps timed one by one), torch (LibTorch's profiler) or onnxruntime\n"
             "(its own JSON trace); default native")
      .number("--runs", "N", opt.runs, 1, "profiled runs per pass (default 200)")
      .number("--warmup", "N", opt.warmup, 0, "runs before profiling (default 20)")
      .custom("--counters", "LEVEL", "auto, group, single, task-clock or clock (default auto: the best available)",
              [&opt](const std::string& v) { opt.counters = profile::parse_level(v); })
      .flag("--perf", opt.perf, "sample call stacks with Linux perf over a steady-state loop")
      .number("--perf-seconds", "S", opt.perf_seconds, 0.1, "length of that loop (default 2)")
      .number("--trace-runs", "N", opt.trace_runs, 0, "runs kept as a per-op timeline for the trace exports (default 20)");
  add_threads_option(table, threads);
  add_tuning_option(table, tuning);
  table.value("--torch-model", "FILE", opt.torch_model,
             "TorchScript file for the torch backend (default: model.pt beside the .onnx)")
      .value("--target", "NAME", target,
             "compile the model for an emulated microcontroller (cortex-m7, cortex-m4, cortex-m55) and\n"
             "count each step's executed instructions under QEMU (no times: QEMU has no timing model)")
      .value("--cmsis-nn", "DIR", cmsis_nn_dir, "with --target and --kernels cmsis-nn: the CMSIS-NN source tree to build");
  add_ram_options(table, ram_bytes, memory_levels,
                  "with --target: compile with a RAM budget for the arena (rtml compile --ram: the first\n"
                  "layers in row bands, docs/tiling.md); each band is a step of the profile; --memory\n"
                  "likewise (each copy between levels is a step)");
  table.number("--top", "K", top, 0, "operators in the printed table, most expensive first (default 20; 0: all)")
      .flag("--by-type-only", by_type_only, "print only the summary by op type")
      .section("output (the database keeps the profile, the Chrome trace, the speedscope file and the folded stacks):")
      .value("--json", "FILE", json_path, "the profile (schema rtml.profile/1)")
      .value("--chrome-trace", "FILE", trace_path,
             "Chrome trace event JSON (open in https://ui.perfetto.dev or chrome://tracing)")
      .value("--speedscope", "FILE", speedscope_path, "speedscope JSON (open in https://www.speedscope.app)")
      .value("--folded", "FILE", folded_path,
             "folded call stacks from perf, one 'frame;frame;leaf COUNT' per line (needs --perf)")
      .value("--db", "PATH", db_path, "results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)")
      .flag("--no-db", no_db, "do not record the run and its profile in a results database");
  if (!table.parse(args)) return 0;
  opt.threads = resolved_threads(threads);
  if (!db_path.empty() && no_db) throw UsageError("--db and --no-db both given");
  if (!folded_path.empty() && !opt.perf) throw UsageError("--folded writes perf's call stacks: add --perf");
  try {
    backends::create(backend);  // an unknown name fails before any work, listing the available ones
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
#ifndef RTML_WITH_SQLITE
  if (!db_path.empty())
    throw UsageError("this rtml was built without SQLite: --db is not available (install libsqlite3-dev and rebuild)");
#endif

  std::vector<bench::ModelSpec> models = bench::find_models({model_arg});
  if (models.size() != 1)
    throw UsageError(model_arg + " holds " + std::to_string(models.size()) +
                     " models; rtml profile takes one (an .onnx file or a model folder)");
  const bench::ModelSpec& spec = models[0];
  if (!tuning.empty() && backend != "native") throw UsageError("--tuning applies to the native backend (rtml's plan)");
  if (target.empty() && (ram_bytes || !memory_levels.empty()))
    throw UsageError(std::string(ram_bytes ? "--ram" : "--memory") + " is for --target (the compiled model)");
  if (!target.empty()) {
    if (opt.perf || !trace_path.empty() || !speedscope_path.empty() || !folded_path.empty())
      throw UsageError("--target counts instructions under QEMU: --perf and the trace exports do not apply");
    compile::TargetBenchOptions to;
    to.target = target;
    to.kernels = opt.kernels == "reference" ? kernels::KernelSet::Reference
                 : opt.kernels == "cmsis-nn"  ? kernels::KernelSet::CmsisNn
                                              : kernels::KernelSet::CortexM;
    check_cmsis_nn_options(to.kernels, cmsis_nn_dir);
    to.cmsis_nn_dir = cmsis_nn_dir;
    to.ram_bytes = ram_bytes;
    to.memory_levels = memory_levels;
    to.schedule = tuning_schedule(tuning, spec.path, target, to.kernels, &to.tuning);
    std::fprintf(stderr, "rtml profile: %s on %s: compiling, building, running under QEMU...\n", spec.name.c_str(),
                 target.c_str());
    json run = compile::bench_on_target(spec, to);
    json p = compile::profile_from_emulated(run);  // throws with the run's error
    print_emulated(p, top);
    std::fflush(stdout);
    if (!json_path.empty()) {
      write_text_file(json_path, p.dump(1) + "\n");
      std::fprintf(stderr, "rtml profile: profile written to %s\n", json_path.c_str());
    }
#ifdef RTML_WITH_SQLITE
    if (!no_db) {
      json report = bench::new_report(bench::host_info(), {{"warmup", 0}, {"runs", nullptr}, {"seconds", nullptr},
                                                           {"threads", 1}, {"tolerance", to.tolerance},
                                                           {"memory_interval_us", 1000}, {"target", target},
                                                           {"command", "profile"}});
      report["runs"].push_back(run);
      results::ResultsDb db(db_path.empty() ? results::default_db_path() : db_path);
      std::vector<int64_t> ids;
      db.add_report(report, nullptr, &ids);
      p["run_id"] = ids.at(0);
      db.add_profile(ids.at(0), "profile", p.dump());
      std::fprintf(stderr, "rtml profile: run %lld and its profile recorded in %s (rtml runs --show %lld)\n",
                   static_cast<long long>(ids.at(0)), db.path().c_str(), static_cast<long long>(ids.at(0)));
    }
#endif
    return 0;
  }
  const std::string head = spec.name + " on " + backend;

  // 1. The benchmark run the profile belongs to.
  bench::BenchOptions bo;
  bo.threads = opt.threads;
  bo.torch_model = opt.torch_model;
  bo.kernels = opt.kernels;
  opt.schedule = bo.schedule =
      tuning_schedule(tuning, spec.path, tune::local_target(), kernels::parse_kernel_set(opt.kernels), &bo.tuning);
  if (!bo.tuning.empty()) std::fprintf(stderr, "rtml profile: tuning %s\n", bo.tuning.c_str());
  bo.keep_samples = true;
  std::fprintf(stderr, "rtml profile: %s: benchmarking...\n", head.c_str());
  json run = bench::bench_model(spec, backend, bo, bench::RealtimeSetup{});
  if (run["status"] != "ok") throw Error(head + ": " + run.value("error", std::string("the benchmark failed")));
  std::fprintf(stderr, "rtml profile: %s: %s\n", head.c_str(), bench::summary_line(run).c_str());
  const double bench_median = run["latency_us"]["median"].get<double>();

  json run_id = nullptr;
#ifdef RTML_WITH_SQLITE
  std::optional<results::ResultsDb> db;
  if (!no_db) {
    json options = {{"warmup", bo.warmup},
                    {"runs", nullptr},
                    {"seconds", nullptr},
                    {"threads", bo.threads},
                    {"tolerance", bo.tolerance},
                    {"memory_interval_us", bo.memory_interval_us},
                    {"rt", false},
                    {"period_us", nullptr},
                    {"backends", {backend}},
                    {"command", "profile"}};
    json report = bench::new_report(bench::host_info(), options);
    report["runs"].push_back(run);
    std::string path = db_path.empty() ? results::default_db_path() : db_path;
    db.emplace(path);
    std::vector<int64_t> run_ids;
    db->add_report(report, nullptr, &run_ids);
    run_id = run_ids.at(0);
  }
#endif

  // 2. The profile, on a fresh backend.
  profile::ProfileResult result = profile::profile_model(spec, backend, opt, [&](const std::string& phase) {
    std::fprintf(stderr, "rtml profile: %s: %s...\n", head.c_str(), phase.c_str());
  });
  json& p = result.report;
  p["run_id"] = run_id;
  p["bench_median_us"] = bench_median;

  // 3. The tables.
  const json& total = p["total_us"];
  std::printf("%s: %d profiled runs; inference %s µs mean, %s µs median (the benchmark's median: %.3f µs)\n",
              head.c_str(), p["runs"].get<int>(), num(total["mean"], "%.3f").c_str(),
              num(total["median"], "%.3f").c_str(), bench_median);
  if (p["ops_us"].is_number())
    std::printf("operators %.3f µs per run; %s %s µs\n", p["ops_us"].get<double>(),
                backend == "native" ? "engine overhead (loop, output copies, state links, timing)"
                                    : "outside any operator (interpreter)",
                num(p["overhead_us"], "%.3f").c_str());
  if (const json& e = p["engine_overhead"]; e.is_object())
    std::printf("engine overhead without the step clocks: %.3f µs (plain-run median %.3f µs - kernels %.3f µs)\n",
                e["overhead_us"].get<double>(), e["plain_median_us"].get<double>(), e["kernels_us"].get<double>());
  if (!by_type_only) print_ops(p, top);
  print_by_type(p);
  print_summary(p);
  std::fflush(stdout);  // the tables before the notes that follow on stderr

  // 4. Files and the database.
  json trace = profile::chrome_trace(p);
  json scope = profile::speedscope(p, result.folded ? &*result.folded : nullptr);
  if (!json_path.empty()) {
    write_text_file(json_path, p.dump(1) + "\n");
    std::fprintf(stderr, "rtml profile: profile written to %s\n", json_path.c_str());
  }
  if (!trace_path.empty()) {
    write_text_file(trace_path, trace.dump() + "\n");
    std::fprintf(stderr, "rtml profile: Chrome trace written to %s (open it in https://ui.perfetto.dev)\n",
                 trace_path.c_str());
  }
  if (!speedscope_path.empty()) {
    write_text_file(speedscope_path, scope.dump() + "\n");
    std::fprintf(stderr, "rtml profile: speedscope file written to %s (open it in https://www.speedscope.app)\n",
                 speedscope_path.c_str());
  }
  if (!folded_path.empty()) {
    if (result.folded) {
      write_text_file(folded_path, profile::folded_text(*result.folded));
      std::fprintf(stderr, "rtml profile: folded stacks written to %s\n", folded_path.c_str());
    } else {
      std::fprintf(stderr, "rtml profile: no folded stacks to write to %s: perf gave no samples\n",
                   folded_path.c_str());
    }
  }
#ifdef RTML_WITH_SQLITE
  if (db) {
    int64_t id = run_id.get<int64_t>();
    db->add_profile(id, "profile", p.dump());
    db->add_profile(id, "chrome-trace", trace.dump());
    db->add_profile(id, "speedscope", scope.dump());
    if (result.folded) db->add_profile(id, "folded", profile::folded_text(*result.folded));
    std::fprintf(stderr, "rtml profile: run %lld and its profiles recorded in %s (rtml runs --show %lld)\n",
                 static_cast<long long>(id), db->path().c_str(), static_cast<long long>(id));
  }
#else
  if (!no_db) std::fprintf(stderr, "rtml profile: built without SQLite; nothing recorded in a database\n");
#endif
  return 0;
}

}  // namespace rtml::cli
