// profile/profiler: `rtml profile` — where the time of one model on one
// backend goes, as rtml.profile/1 JSON (docs/profile-report.md).
//
// On a fresh backend: open + prepare, the bench's inputs (test set 0, else
// seeded noise), one first run and the warm-up, then separate passes, so that
// timing, counting and sampling do not disturb one another:
//   1. timing      `runs` runs with a steady clock around every step
//                  (Backend::run_observed; native) or under the runtime's own
//                  profiler (Backend::profile_op_timeline; torch), with the
//                  memory sampler and per-thread CPU times around them; the
//                  first `trace_runs` runs' op calls are kept as a timeline.
//                  The per-step samples are allocated before the pass.
//   2. op counters the CounterSet read around every step (native only)
//   3. run counters the CounterSet read around whole runs
//   4. perf        with `perf`: Linux perf samples call stacks over a
//                  steady-state loop of `perf_seconds`
// Exports of the result (Chrome trace, speedscope, folded stacks) are in
// profile/exports.h.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/runner.h"
#include "profile/counters.h"
#include "profile/sampler.h"

namespace rtml::profile {

constexpr const char* kProfileSchema = "rtml.profile/1";

struct ProfileOptions {
  int runs = 200;                        // profiled runs per pass (after the warm-up)
  int warmup = 20;
  std::optional<CounterLevel> counters;  // nullopt: the best level available ("auto")
  bool perf = false;
  double perf_seconds = 2;
  int perf_frequency_hz = 2000;
  std::string perf_executable = "perf";
  int trace_runs = 20;                   // runs kept as a per-op timeline (at most `runs`)
  int top_frames = 20;                   // perf.top entries
  double memory_interval_us = 1000;
  int threads = 1;
  std::string kernels = "simd";  // native backend: the kernel set (`--kernels`)
  std::map<std::string, std::map<std::string, std::string>> schedule;  // native: `--tuning`'s (plan/schedule.h)
  std::string torch_model;               // torch: explicit TorchScript file
  bool use_test_data = true;             // inputs from test set 0 when the model has test data
};

using Progress = std::function<void(const std::string& phase)>;

struct ProfileResult {
  nlohmann::json report;               // rtml.profile/1; run_id null (the caller fills it)
  std::optional<FoldedStacks> folded;  // with perf, when it produced samples
};

// Profiles `spec` on a fresh backend of that name. Throws rtml::Error when the
// model cannot be loaded or run, or the backend can neither show its steps
// nor profile itself. Perf being absent or refused is not an error: the
// report's perf.ok is false and perf.error says why.
ProfileResult profile_model(const bench::ModelSpec& spec, const std::string& backend, const ProfileOptions& options,
                            const Progress& progress = {});
// The same on a backend instance the caller made (closed at the end).
ProfileResult profile_backend(backends::Backend& backend, const std::string& backend_name,
                              const bench::ModelSpec& spec, const ProfileOptions& options,
                              const Progress& progress = {});

// The frames with the most samples in `folded`: self = samples whose leaf is
// the frame, total = samples with the frame anywhere in their stack (once per
// stack). Sorted by self, then total, then name; at most `k`.
struct FrameCount {
  std::string frame;
  int64_t self = 0, total = 0;
};
std::vector<FrameCount> top_frames(const FoldedStacks& folded, int k);

}  // namespace rtml::profile
