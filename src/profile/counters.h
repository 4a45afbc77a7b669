// profile/counters: hardware and software counters through perf_event_open,
// with a fallback chain. CONTRACT (implemented in counters.cpp).
//
// Levels, tried in this order (or starting from the one asked for):
//   group       one perf event group: cycles (leader), instructions,
//               cache-misses, branch-misses + task-clock, read atomically
//               with PERF_FORMAT_GROUP
//   single      each hardware counter opened on its own (the ones the
//               kernel refuses are "n/a"), plus task-clock
//   task-clock  the software task-clock only (CPU time of this thread, ns)
//   clock       no perf_event_open at all: clock_gettime(CLOCK_THREAD_CPUTIME_ID)
// The level reached and why the levels above it were refused
// (errno text per event) are reported; what was not measured is nullopt,
// never 0.
//
// The system calls go through a PerfSys interface so tests can play a
// kernel that has (or lacks) hardware counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct perf_event_attr;

namespace rtml::profile {

enum class CounterLevel { Group, Single, TaskClock, Clock };
const char* level_name(CounterLevel level);  // "group", "single", "task-clock", "clock"
// "auto" -> nullopt (try from Group); else the level; rtml::Error for anything else.
std::optional<CounterLevel> parse_level(const std::string& name);

enum Counter : int { kCycles = 0, kInstructions, kCacheMisses, kBranchMisses, kTaskClockNs, kNumCounters };
const char* counter_name(int counter);  // "cycles", "instructions", "cache_misses", "branch_misses", "task_clock_ns"

// Values of every counter; nullopt = not measured at this level.
using CounterValues = std::array<std::optional<double>, kNumCounters>;

// The kernel interface, replaceable in tests.
class PerfSys {
 public:
  virtual ~PerfSys() = default;
  // perf_event_open(attr, pid=0, cpu=-1, group_fd, flags): fd, or -1 with errno set.
  virtual int open(perf_event_attr* attr, int group_fd) = 0;
  virtual long read(int fd, void* buf, size_t bytes) = 0;
  virtual int ioctl(int fd, unsigned long request, unsigned long arg) = 0;
  virtual int close(int fd) = 0;
};
PerfSys& real_perf_sys();

class CounterSet {
 public:
  // Opens counters for the calling thread at `want` (or the best level
  // available, from Group down, when nullopt). Falls back level by level;
  // never throws for a refusal (Clock always works).
  explicit CounterSet(std::optional<CounterLevel> want = std::nullopt, PerfSys& sys = real_perf_sys());
  ~CounterSet();
  CounterSet(const CounterSet&) = delete;
  CounterSet& operator=(const CounterSet&) = delete;

  CounterLevel level() const { return level_; }
  // Why the levels above level() were not used, e.g.
  // "group: cycles: perf_event_open: No such file or directory (no hardware counters)".
  const std::vector<std::string>& notes() const { return notes_; }
  // Which counters this level measures.
  bool measures(int counter) const;

  // Current totals since construction (monotonic; subtract two reads).
  // No allocation, no exceptions: safe between operator steps.
  void read(CounterValues& out) noexcept;

  // Multiplexing: the smallest share of enabled time in which a counter was
  // really counting (time_running / time_enabled, over the reads so far);
  // 1.0 when nothing was multiplexed (and at the clock level). read() scales
  // each interval between two reads by its own ratio (see counters.cpp).
  double running_fraction() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  CounterLevel level_ = CounterLevel::Clock;
  std::vector<std::string> notes_;
};

}  // namespace rtml::profile
