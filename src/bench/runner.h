// bench/runner: measures one model on one backend and returns the run as
// JSON in the documented report shape (docs/bench-report.md, schema
// rtml.bench/1). What was not measured is null or absent, never 0.
//
// Order of one run:
//   rss baseline -> open + prepare (init_us) -> rss after load -> inputs
//   (test set 0's, else seeded noise) -> first run -> warm-up -> timed runs
//   (free-running, or one per period on an absolute clock in real-time mode)
//   with the memory sampler and the heap counter on -> accuracy over every
//   test data set (after timing, so it cannot disturb it) -> close.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/stats.h"
#include "data/test_data.h"

namespace rtml::bench {

// The real-time loop's clock: monotonic nanoseconds and a sleep until an
// absolute time. nullptr in BenchOptions: CLOCK_MONOTONIC and
// clock_nanosleep. Tests give a virtual clock, so deadline accounting is
// checked exactly, whatever the machine's load.
struct PeriodClock {
  virtual ~PeriodClock() = default;
  virtual int64_t now_ns() = 0;
  virtual void sleep_until_ns(int64_t t_ns) = 0;
};

struct BenchOptions {
  int warmup = 50;                 // warm-up runs (stops early after warmup_max_seconds)
  double warmup_max_seconds = 2;
  std::optional<int> runs;         // timed runs; else...
  std::optional<double> seconds;   // ...run for this long; else up to default_runs within default_seconds
  int default_runs = 1000;
  double default_seconds = 2;
  int threads = 1;
  double tolerance = 1e-4;
  double memory_interval_us = 1000;
  bool keep_samples = true;        // raw samples_us in the report (--no-samples: null)
  int memory_timeline_points = 2000;  // at most this many points in memory.timeline
  int histogram_bins = 30;
  std::optional<double> period_us;  // real-time mode: one inference per period
  PeriodClock* period_clock = nullptr;  // real-time mode's clock (nullptr: the system's)
  std::string torch_model;          // torch backend: explicit TorchScript file
  std::string kernels = "simd";     // native backend: the kernel set (`--kernels`)
  // native backend: a tuning record's schedule (`--tuning`), and the run's
  // "tuning" field naming the record ("" = none: null).
  std::map<std::string, std::map<std::string, std::string>> schedule;
  std::string tuning;
  bool accuracy = true;             // compare with the test data when there is some
};

struct ModelSpec {
  std::string name;       // manifest name, or the file's stem / folder name
  std::string path;       // the .onnx (or .tflite) file
  std::string family;     // from a zoo manifest, else empty
  std::string test_data;  // folder with test_data_set_N, or empty
  std::optional<double> flops;
};

// The process-wide real-time setup: SCHED_FIFO, mlockall, CPU affinity
// (`cpu` .. cpu + threads - 1: a core for each of the engine's threads,
// which inherit the set). Each is tried when asked for; what was refused
// says why, and the bench goes on. The strings go into each run's
// "realtime" section.
struct RealtimeSetup {
  std::string scheduler = "SCHED_OTHER (not requested)";
  std::string mlockall = "not requested";
  std::string cpu = "any";
};
RealtimeSetup apply_realtime(bool rt, int priority, std::optional<int> cpu, int threads = 1);

// Phase names as the run goes ("load", "warm-up", "timing", "accuracy").
using Progress = std::function<void(const std::string& phase)>;

// Measures `spec` on a fresh backend of the given name. Never throws for a
// model or backend failure: the run comes back with status "error".
nlohmann::json bench_model(const ModelSpec& spec, const std::string& backend, const BenchOptions& options,
                           const RealtimeSetup& rt, const Progress& progress = {});
// The same on a backend instance the caller made (tests use their own).
nlohmann::json bench_backend(backends::Backend& backend, const std::string& backend_name, const ModelSpec& spec,
                             const BenchOptions& options, const RealtimeSetup& rt, const Progress& progress = {});

// A run's "latency_us" section.
nlohmann::json latency_json(const LatencyStats& s);

// A run's "accuracy" section: `actual` holds, per set, each output's bytes
// (dense, as `outputs` describes them), compared with the sets' expected
// outputs and labels. For runs that produce their outputs elsewhere (a
// compiled model under QEMU) as well as for backends.
nlohmann::json accuracy_json(const std::string& dir, const std::vector<data::TestSet>& sets,
                             const std::vector<data::TensorSpec>& outputs,
                             const std::vector<std::vector<std::vector<uint8_t>>>& actual, double tolerance);

// hostname, arch, os, kernel, cpu_model, cores, memory_bytes, rtml_version, compiler.
nlohmann::json host_info();

// The inputs a bench run uses, written into an opened and prepared backend:
// test set 0's when `spec` has test data (and `use_test_data`), else seeded
// normal noise (float inputs; others zero). Throws rtml::Error for test data
// that does not fit the model.
void set_bench_inputs(backends::Backend& backend, const ModelSpec& spec, bool use_test_data = true);

// Models named on the command line: .onnx (or .tflite) files, zoo manifests
// (manifest.json, or a folder holding one), a model folder (holding
// model.onnx), or a folder of those (searched one level deep, then for
// *.onnx files). `filter` keeps models whose name contains one of the
// substrings (empty: all). Throws rtml::Error for a path that is none of
// these, naming it.
std::vector<ModelSpec> find_models(const std::vector<std::string>& paths, const std::vector<std::string>& filter = {});

}  // namespace rtml::bench
