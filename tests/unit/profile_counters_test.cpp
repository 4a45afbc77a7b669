// profile/counters: the fallback chain against fake kernels (with hardware
// counters, without, refusing groups, refusing everything) and the real one.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include <linux/perf_event.h>
#include <sys/resource.h>

#include "error_of.h"
#include "profile/counters.h"

using namespace rtml::profile;

namespace {

// A kernel in a box. Events are keyed by (type, config); each open fd keeps
// its attr. The test sets `count` per event; reads serve them in the layout
// the fd's read_format asks for (the real perf ABI), counting only while
// enabled.
class FakeKernel : public PerfSys {
 public:
  struct Event {
    perf_event_attr attr;
    int group_fd;
    bool enabled;
  };
  std::map<std::pair<uint32_t, uint64_t>, int> refuse;  // event -> errno
  int refuse_grouping = 0;                               // errno for any open with group_fd != -1
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> count;
  uint64_t time_enabled = 1000, time_running = 1000;
  std::map<int, Event> fds;
  std::vector<perf_event_attr> opened;  // every successful open, in order
  int open_calls = 0, reads = 0, closes = 0;
  int next_fd = 100;

  static std::pair<uint32_t, uint64_t> key(uint32_t type, uint64_t config) { return {type, config}; }

  int open(perf_event_attr* attr, int group_fd) override {
    ++open_calls;
    auto k = key(attr->type, attr->config);
    if (auto it = refuse.find(k); it != refuse.end()) {
      errno = it->second;
      return -1;
    }
    if (group_fd != -1 && refuse_grouping) {
      errno = refuse_grouping;
      return -1;
    }
    if (group_fd != -1 && !fds.count(group_fd)) {
      errno = EBADF;
      return -1;
    }
    Event e{*attr, group_fd, !attr->disabled};
    fds[next_fd] = e;
    opened.push_back(*attr);
    return next_fd++;
  }

  uint64_t value(const Event& e) {
    if (!enabled(e)) return 0;
    return count[key(e.attr.type, e.attr.config)];
  }
  bool enabled(const Event& e) {
    if (e.group_fd != -1) return fds[e.group_fd].enabled;
    return e.enabled;
  }

  long read(int fd, void* buf, size_t bytes) override {
    ++reads;
    auto it = fds.find(fd);
    if (it == fds.end()) {
      errno = EBADF;
      return -1;
    }
    const Event& e = it->second;
    std::vector<uint64_t> out;
    const uint64_t rf = e.attr.read_format;
    if (rf & PERF_FORMAT_GROUP) {
      std::vector<int> members = {fd};
      for (auto& [f, m] : fds)
        if (m.group_fd == fd) members.push_back(f);
      out.push_back(members.size());
      if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) out.push_back(time_enabled);
      if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) out.push_back(time_running);
      for (int f : members) out.push_back(value(fds[f]));
    } else {
      out.push_back(value(e));
      if (rf & PERF_FORMAT_TOTAL_TIME_ENABLED) out.push_back(time_enabled);
      if (rf & PERF_FORMAT_TOTAL_TIME_RUNNING) out.push_back(time_running);
    }
    size_t n = out.size() * sizeof(uint64_t);
    if (bytes < n) {
      errno = ENOSPC;
      return -1;
    }
    std::memcpy(buf, out.data(), n);
    return static_cast<long>(n);
  }

  int ioctl(int fd, unsigned long request, unsigned long arg) override {
    auto it = fds.find(fd);
    if (it == fds.end()) {
      errno = EBADF;
      return -1;
    }
    if (request == PERF_EVENT_IOC_ENABLE) it->second.enabled = true;
    else if (request == PERF_EVENT_IOC_DISABLE) it->second.enabled = false;
    else if (request != PERF_EVENT_IOC_RESET) {
      errno = EINVAL;
      return -1;
    }
    return 0;
  }

  int close(int fd) override {
    ++closes;
    fds.erase(fd);
    return 0;
  }

  void set(uint64_t cycles, uint64_t instructions, uint64_t cache_misses, uint64_t branch_misses, uint64_t task_ns) {
    count[key(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES)] = cycles;
    count[key(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS)] = instructions;
    count[key(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES)] = cache_misses;
    count[key(PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES)] = branch_misses;
    count[key(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK)] = task_ns;
  }
  void refuse_hardware(int err) {
    for (uint64_t c : {PERF_COUNT_HW_CPU_CYCLES, PERF_COUNT_HW_INSTRUCTIONS, PERF_COUNT_HW_CACHE_MISSES,
                       PERF_COUNT_HW_BRANCH_MISSES})
      refuse[key(PERF_TYPE_HARDWARE, c)] = err;
  }
};

std::string joined(const std::vector<std::string>& notes) {
  std::string s;
  for (const auto& n : notes) s += n + "\n";
  return s;
}

// This thread's CPU time from getrusage (a source independent of perf and of
// clock_gettime), in ns.
double rusage_thread_ns() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

// Burns `ms` milliseconds of this thread's CPU time (however loaded the
// machine is); returns the CPU time getrusage saw go by, in ns.
// How far a CPU-time counter may run ahead of getrusage's figure for the same
// burn. getrusage(RUSAGE_THREAD) splits the thread's exact runtime by tick
// samples and never lets the parts go backwards, so on a loaded machine it can
// lag the exact runtime by a few ticks (4 ms each at HZ=250): a fixed 5 ms
// failed about once in three runs with seven other builds on two cores. A
// counter of wall time still fails this bound when the thread waits for a core
// for longer than that (as on a loaded machine).
constexpr double kCpuSlack = 1.2;
constexpr double kCpuSlackNs = 12e6;

double burn_cpu(int ms) {
  volatile double x = 1;
  const double start = rusage_thread_ns();
  double now = start;
  while (now - start < ms * 1e6) {
    for (int i = 0; i < 1000; ++i) x = x * 1.0000001 + 1e-9;
    now = rusage_thread_ns();
  }
  return now - start;
}

}  // namespace

TEST(ProfileCounters, NamesAndLevels) {
  EXPECT_STREQ(level_name(CounterLevel::Group), "group");
  EXPECT_STREQ(level_name(CounterLevel::Single), "single");
  EXPECT_STREQ(level_name(CounterLevel::TaskClock), "task-clock");
  EXPECT_STREQ(level_name(CounterLevel::Clock), "clock");
  EXPECT_FALSE(parse_level("auto").has_value());
  EXPECT_EQ(parse_level("single"), CounterLevel::Single);
  EXPECT_EQ(parse_level("task-clock"), CounterLevel::TaskClock);
  EXPECT_NE(error_of([] { parse_level("cycles"); }).find("unknown counter level 'cycles'"), std::string::npos);
  EXPECT_STREQ(counter_name(kCacheMisses), "cache_misses");
  EXPECT_STREQ(counter_name(kTaskClockNs), "task_clock_ns");
}

TEST(ProfileCounters, GroupOnAKernelWithHardwareCounters) {
  FakeKernel k;
  k.set(5, 5, 5, 5, 5);  // counts before construction: reset by the baseline
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::Group) << joined(cs.notes());
  EXPECT_TRUE(cs.notes().empty()) << joined(cs.notes());
  for (int c = 0; c < kNumCounters; ++c) EXPECT_TRUE(cs.measures(c)) << counter_name(c);
  // One leader (cycles, disabled until the group is enabled) with four members,
  // all read with PERF_FORMAT_GROUP and the enabled/running times.
  ASSERT_EQ(k.opened.size(), 5u);
  EXPECT_EQ(k.opened[0].config, static_cast<uint64_t>(PERF_COUNT_HW_CPU_CYCLES));
  EXPECT_TRUE(k.opened[0].disabled);
  for (const auto& a : k.opened)
    EXPECT_EQ(a.read_format, static_cast<uint64_t>(PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED |
                                                   PERF_FORMAT_TOTAL_TIME_RUNNING));

  k.set(1005, 2505, 15, 25, 700005);
  k.time_enabled = k.time_running = 2000;
  CounterValues a;
  const int reads_before = k.reads;
  cs.read(a);
  EXPECT_EQ(k.reads, reads_before + 1) << "the group is read with one read()";
  EXPECT_EQ(a[kCycles], 1000);
  EXPECT_EQ(a[kInstructions], 2500);
  EXPECT_EQ(a[kCacheMisses], 10);
  EXPECT_EQ(a[kBranchMisses], 20);
  EXPECT_EQ(a[kTaskClockNs], 700000);

  k.set(4005, 8505, 18, 26, 1900005);
  k.time_enabled = k.time_running = 3000;
  CounterValues b;
  cs.read(b);
  EXPECT_EQ(*b[kCycles] - *a[kCycles], 3000);
  EXPECT_EQ(*b[kInstructions] - *a[kInstructions], 6000);
  EXPECT_EQ(*b[kCacheMisses] - *a[kCacheMisses], 3);
  EXPECT_EQ(*b[kBranchMisses] - *a[kBranchMisses], 1);
  EXPECT_EQ(*b[kTaskClockNs] - *a[kTaskClockNs], 1200000);
  EXPECT_DOUBLE_EQ(cs.running_fraction(), 1.0);
}

TEST(ProfileCounters, MultiplexedIntervalsAreScaledByTheirOwnRatio) {
  FakeKernel k;
  k.set(0, 0, 0, 0, 0);
  k.time_enabled = k.time_running = 0;
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::Group);
  // Interval 1: enabled 1000 ns, running 1000 ns: exact.
  k.set(100, 100, 100, 100, 1000);
  k.time_enabled = 1000;
  k.time_running = 1000;
  CounterValues v;
  cs.read(v);
  EXPECT_EQ(v[kCycles], 100);
  // Interval 2: enabled 1000 ns more, the group ran 250 ns of it and counted
  // 50 cycles: estimate 50 * 1000 / 250 = 200 for the interval.
  k.set(150, 150, 150, 150, 1250);
  k.time_enabled = 2000;
  k.time_running = 1250;
  cs.read(v);
  EXPECT_EQ(v[kCycles], 300);
  // Interval 3: not scheduled at all: adds nothing, the total does not drop.
  k.time_enabled = 3000;
  cs.read(v);
  EXPECT_EQ(v[kCycles], 300);
  EXPECT_DOUBLE_EQ(cs.running_fraction(), 1250.0 / 3000.0);
}

TEST(ProfileCounters, NoHardwareCountersFallsToTaskClock) {
  FakeKernel k;
  k.refuse_hardware(ENOENT);
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::TaskClock) << joined(cs.notes());
  std::string notes = joined(cs.notes());
  EXPECT_NE(notes.find("group: cycles: perf_event_open: No such file or directory"), std::string::npos) << notes;
  EXPECT_NE(notes.find("no hardware counters"), std::string::npos) << notes;
  EXPECT_NE(notes.find("single: cycles: perf_event_open: No such file or directory"), std::string::npos) << notes;
  EXPECT_NE(notes.find("single: branch-misses: perf_event_open"), std::string::npos) << notes;
  EXPECT_FALSE(cs.measures(kCycles));
  EXPECT_TRUE(cs.measures(kTaskClockNs));
  k.set(0, 0, 0, 0, 123456);
  CounterValues v;
  cs.read(v);
  EXPECT_FALSE(v[kCycles].has_value());
  EXPECT_FALSE(v[kInstructions].has_value());
  EXPECT_FALSE(v[kCacheMisses].has_value());
  EXPECT_FALSE(v[kBranchMisses].has_value());
  EXPECT_EQ(v[kTaskClockNs], 123456);
  EXPECT_EQ(k.fds.size(), 1u) << "only task-clock stays open";
}

TEST(ProfileCounters, GroupRefusedSinglesAccepted) {
  FakeKernel k;
  k.refuse_grouping = EINVAL;
  k.refuse[FakeKernel::key(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES)] = EOPNOTSUPP;
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::Single) << joined(cs.notes());
  std::string notes = joined(cs.notes());
  EXPECT_NE(notes.find("group: instructions: perf_event_open: Invalid argument"), std::string::npos) << notes;
  EXPECT_NE(notes.find("single: cache-misses: perf_event_open: Operation not supported"), std::string::npos) << notes;
  EXPECT_TRUE(cs.measures(kCycles));
  EXPECT_TRUE(cs.measures(kInstructions));
  EXPECT_FALSE(cs.measures(kCacheMisses));
  EXPECT_TRUE(cs.measures(kBranchMisses));
  EXPECT_TRUE(cs.measures(kTaskClockNs));
  EXPECT_EQ(k.fds.size(), 4u) << "the failed group's leader is closed";

  k.set(700, 900, 33, 11, 5000);
  CounterValues v;
  cs.read(v);
  EXPECT_EQ(v[kCycles], 700);
  EXPECT_EQ(v[kInstructions], 900);
  EXPECT_FALSE(v[kCacheMisses].has_value());
  EXPECT_EQ(v[kBranchMisses], 11);
  EXPECT_EQ(v[kTaskClockNs], 5000);
}

TEST(ProfileCounters, EverythingRefusedFallsToTheThreadClock) {
  FakeKernel k;
  k.refuse_hardware(EACCES);
  k.refuse[FakeKernel::key(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK)] = EACCES;
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::Clock);
  std::string notes = joined(cs.notes());
  EXPECT_NE(notes.find("task-clock: task-clock: perf_event_open: Permission denied (perf_event_paranoid="),
            std::string::npos)
      << notes;
  EXPECT_TRUE(k.fds.empty());
  EXPECT_EQ(k.closes, 0);
  EXPECT_TRUE(cs.measures(kTaskClockNs));
  EXPECT_FALSE(cs.measures(kCycles));
  CounterValues a, b;
  cs.read(a);
  const double burned = burn_cpu(30);
  cs.read(b);
  ASSERT_TRUE(a[kTaskClockNs] && b[kTaskClockNs]);
  EXPECT_FALSE(b[kCycles].has_value());
  EXPECT_GT(*b[kTaskClockNs] - *a[kTaskClockNs], 0.9 * burned) << "getrusage saw " << burned << " ns";
  EXPECT_LT(*b[kTaskClockNs] - *a[kTaskClockNs], kCpuSlack * burned + kCpuSlackNs) << "getrusage saw " << burned << " ns";
}

TEST(ProfileCounters, KernelCountingRefusedRetriesUserSpaceOnly) {
  // A paranoid kernel: accepts events only with exclude_kernel set.
  struct Paranoid : FakeKernel {
    int open(perf_event_attr* attr, int group_fd) override {
      if (!attr->exclude_kernel) {
        ++open_calls;
        errno = EACCES;
        return -1;
      }
      return FakeKernel::open(attr, group_fd);
    }
  } k;
  CounterSet cs(std::nullopt, k);
  ASSERT_EQ(cs.level(), CounterLevel::Group) << joined(cs.notes());
  for (const auto& a : k.opened) {
    EXPECT_TRUE(a.exclude_kernel);
    EXPECT_TRUE(a.exclude_hv);
  }
  EXPECT_NE(joined(cs.notes()).find("counting user space only"), std::string::npos) << joined(cs.notes());
}

TEST(ProfileCounters, ExplicitLevelsAreHonoured) {
  {
    FakeKernel k;
    CounterSet cs(CounterLevel::Single, k);
    EXPECT_EQ(cs.level(), CounterLevel::Single);
    EXPECT_EQ(k.opened.size(), 5u);
    for (const auto& a : k.opened) EXPECT_EQ(a.read_format & PERF_FORMAT_GROUP, 0u);
    EXPECT_TRUE(cs.notes().empty());
  }
  {
    FakeKernel k;
    CounterSet cs(CounterLevel::TaskClock, k);
    EXPECT_EQ(cs.level(), CounterLevel::TaskClock);
    ASSERT_EQ(k.opened.size(), 1u);
    EXPECT_EQ(k.opened[0].type, static_cast<uint32_t>(PERF_TYPE_SOFTWARE));
    EXPECT_EQ(k.opened[0].config, static_cast<uint64_t>(PERF_COUNT_SW_TASK_CLOCK));
    EXPECT_FALSE(cs.measures(kCycles));
  }
  {
    FakeKernel k;
    CounterSet cs(CounterLevel::Clock, k);
    EXPECT_EQ(cs.level(), CounterLevel::Clock);
    EXPECT_EQ(k.open_calls, 0) << "the clock level makes no perf_event_open call";
    EXPECT_TRUE(cs.notes().empty());
  }
  {  // asked for single on a kernel without hardware counters: falls on to task-clock
    FakeKernel k;
    k.refuse_hardware(ENOENT);
    CounterSet cs(CounterLevel::Single, k);
    EXPECT_EQ(cs.level(), CounterLevel::TaskClock);
    EXPECT_EQ(joined(cs.notes()).find("group:"), std::string::npos) << "the group level was not tried";
  }
}

TEST(ProfileCounters, FdsAreClosedOnDestruction) {
  FakeKernel k;
  {
    CounterSet cs(std::nullopt, k);
    EXPECT_EQ(k.fds.size(), 5u);
  }
  EXPECT_TRUE(k.fds.empty());
}

TEST(ProfileCounters, RealKernel) {
  CounterSet cs;
  std::string notes = joined(cs.notes());
  std::printf("[ info ] counters on this machine: level %s%s%s", level_name(cs.level()), notes.empty() ? "" : "; ",
              notes.empty() ? "\n" : ("\n" + notes).c_str());
  ASSERT_TRUE(cs.measures(kTaskClockNs)) << "every level but single-without-task-clock measures CPU time";
  CounterValues a, b;
  cs.read(a);
  const double burned = burn_cpu(50);
  cs.read(b);
  ASSERT_TRUE(a[kTaskClockNs] && b[kTaskClockNs]);
  const double ns = *b[kTaskClockNs] - *a[kTaskClockNs];
  EXPECT_GT(ns, 0.9 * burned) << "getrusage saw " << burned << " ns of CPU time";
  EXPECT_LT(ns, kCpuSlack * burned + kCpuSlackNs) << "getrusage saw " << burned << " ns of CPU time";
  if (cs.measures(kCycles) && cs.measures(kInstructions)) {
    ASSERT_TRUE(b[kCycles] && b[kInstructions]);
    EXPECT_GT(*b[kCycles] - *a[kCycles], 1e6);
    EXPECT_GT(*b[kInstructions] - *a[kInstructions], 1e6);
  } else {
    std::printf("[ info ] hardware cycles/instructions are not available here (level %s): not checked\n",
                level_name(cs.level()));
    EXPECT_FALSE(b[kCycles].has_value());
  }
  // Every reachable level: explicit levels at or below the reached one work.
  for (CounterLevel l : {CounterLevel::TaskClock, CounterLevel::Clock}) {
    CounterSet s(l);
    EXPECT_GE(static_cast<int>(s.level()), static_cast<int>(l));
    CounterValues x, y;
    s.read(x);
    const double burned_here = burn_cpu(20);
    s.read(y);
    ASSERT_TRUE(x[kTaskClockNs] && y[kTaskClockNs]) << level_name(s.level());
    EXPECT_GT(*y[kTaskClockNs] - *x[kTaskClockNs], 0.9 * burned_here) << level_name(s.level());
  }
}
