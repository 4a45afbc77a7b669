// profile/sampler: call-stack sampling with Linux perf, stack folding, and
// per-thread CPU time. CONTRACT (implemented in sampler.cpp, threads.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rtml::profile {

// ---- folded stacks ---------------------------------------------------------
// One folded stack: frames root first ("main;rtml::engine::Session::run;gemm_f32"),
// and how many samples (or the summed sample period, see FoldOptions) ended there.
struct FoldedStacks {
  std::map<std::string, int64_t> counts;  // stack -> weight, sorted by stack text
  int64_t samples = 0;                    // samples read
  int64_t skipped = 0;                    // samples dropped by the filters
  std::string event;                      // the event named in the samples ("cpu-clock")
};

struct FoldOptions {
  std::string comm;              // keep samples of this command only ("" = all)
  bool include_kernel = true;    // frames in [kernel.kallsyms]; false drops them
  bool weight_by_period = false; // add the sample's period instead of 1
};

// Parses the text `perf script` prints (default fields, with call chains):
//   rtml 12345/12346 13066.705165:    1001001 cpu-clock:
//   \tffffffff82200809 _raw_spin_unlock_irqrestore+0x19 ([kernel.kallsyms])
//   \t           224b6 strcmp+0x16 (/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2)
//   <blank line>
// Frames are leaf first in the input; folded root first. "+0x.." offsets are
// dropped; "[unknown]" frames become "[unknown] (dso basename)" — or
// "[unknown]" when there is no dso. rtml::Error on text that is not
// perf script output (names the line number).
FoldedStacks fold_perf_script(const std::string& text, const FoldOptions& options = {});
// "stack count\n" lines, sorted by stack (Brendan Gregg's folded format).
std::string folded_text(const FoldedStacks& folded);

// ---- sampling with perf ----------------------------------------------------
struct SampleOptions {
  int frequency_hz = 2000;
  std::string perf = "perf";     // the perf executable (PATH lookup)
  std::string workdir;           // where perf.data goes ("" = a temp folder, removed after)
  std::string call_graph = "fp"; // perf record --call-graph: "fp" (frame pointers) or "dwarf"
};

struct SampleResult {
  bool ok = false;
  std::string tool;        // "perf 6.1.187"
  std::string event;       // the event used: "cycles" when the hardware has it, else "cpu-clock"
  std::string call_graph;  // "fp" or "dwarf"
  std::string error;       // why there are no samples (perf missing, refused by perf_event_paranoid...)
  std::vector<std::string> notes;  // e.g. "cycles not supported: fell back to cpu-clock"
  FoldedStacks folded;
  double seconds = 0;      // wall time sampled
};

// Samples this process (all its threads) with `perf record -g` while
// `work` runs, then resolves symbols with `perf script` and folds the
// stacks. Never throws for perf being absent or refused: ok=false, error says why.
// work() runs only once perf is recording (so not at all when perf is missing
// or refuses); an exception from work() stops perf and propagates.
SampleResult sample_with_perf(const std::function<void()>& work, const SampleOptions& options = {});

// ---- per-thread CPU time ---------------------------------------------------
struct ThreadTimes {
  int64_t tid = 0;
  std::string name;      // /proc/self/task/TID/comm
  double cpu_us = 0;     // utime + stime
};
// Every thread of this process now (from /proc/self/task/*/stat).
std::vector<ThreadTimes> thread_times();
// Per thread: CPU time between two snapshots and its share of `wall_us`
// (utilisation, 0..1 per thread); threads that appeared in between count from 0.
struct ThreadUse {
  int64_t tid = 0;
  std::string name;
  double cpu_us = 0;
  double utilisation = 0;
};
std::vector<ThreadUse> thread_use(const std::vector<ThreadTimes>& before, const std::vector<ThreadTimes>& after,
                                  double wall_us);

}  // namespace rtml::profile
