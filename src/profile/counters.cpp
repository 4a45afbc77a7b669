// profile/counters: perf_event_open counters with a fallback chain
// (group -> single -> task-clock -> clock). See counters.h.
//
// Kernel counting: events are first opened counting user and kernel space;
// when the kernel refuses that (EACCES/EPERM: perf_event_paranoid >= 2 for a
// process without CAP_PERFMON), they are reopened with exclude_kernel and
// exclude_hv set, and a note says the counts are user space only.
//
// Multiplexing: every event is read with PERF_FORMAT_TOTAL_TIME_ENABLED and
// _RUNNING. When the kernel has more events than hardware counters (or another
// perf user holds some), it time-shares them, and time_running < time_enabled.
// read() scales each *interval between two reads* by that interval's own
// enabled/running ratio and adds it to a running total, so
//  - without multiplexing (the usual case: 4 hardware events fit the PMU) the
//    values are the exact kernel counts;
//  - totals never decrease, and the difference of two reads a few
//    microseconds apart is that interval's estimate, not the noise that
//    rescaling the whole total by a changing global ratio would add;
//  - an interval in which the event never ran adds nothing;
//    running_fraction() says how much of the enabled time was counted.
#include "profile/counters.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/syscall.h>
#endif

#include "core/error.h"

namespace rtml::profile {

const char* level_name(CounterLevel level) {
  switch (level) {
    case CounterLevel::Group: return "group";
    case CounterLevel::Single: return "single";
    case CounterLevel::TaskClock: return "task-clock";
    case CounterLevel::Clock: return "clock";
  }
  return "?";
}

std::optional<CounterLevel> parse_level(const std::string& name) {
  if (name == "auto") return std::nullopt;
  for (CounterLevel l : {CounterLevel::Group, CounterLevel::Single, CounterLevel::TaskClock, CounterLevel::Clock})
    if (name == level_name(l)) return l;
  throw Error("unknown counter level '" + name + "' (expected auto, group, single, task-clock or clock)");
}

const char* counter_name(int counter) {
  switch (counter) {
    case kCycles: return "cycles";
    case kInstructions: return "instructions";
    case kCacheMisses: return "cache_misses";
    case kBranchMisses: return "branch_misses";
    case kTaskClockNs: return "task_clock_ns";
    default: return "?";
  }
}

#if defined(__linux__)

namespace {

class RealPerfSys final : public PerfSys {
 public:
  int open(perf_event_attr* attr, int group_fd) override {
#ifdef SYS_perf_event_open
    return static_cast<int>(::syscall(SYS_perf_event_open, attr, 0, -1, group_fd, PERF_FLAG_FD_CLOEXEC));
#else
    errno = ENOSYS;
    return -1;
#endif
  }
  long read(int fd, void* buf, size_t bytes) override { return ::read(fd, buf, bytes); }
  int ioctl(int fd, unsigned long request, unsigned long arg) override { return ::ioctl(fd, request, arg); }
  int close(int fd) override { return ::close(fd); }
};

// The perf event of each counter, and its name as perf spells it (for notes).
struct EventSpec {
  uint32_t type;
  uint64_t config;
  const char* perf_name;
};
constexpr EventSpec kEvents[kNumCounters] = {
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, "cycles"},
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, "instructions"},
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, "cache-misses"},
    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES, "branch-misses"},
    {PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, "task-clock"},
};
constexpr int kHardware[] = {kCycles, kInstructions, kCacheMisses, kBranchMisses};

constexpr uint64_t kTimes = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;

std::string paranoid_value() {
  std::ifstream f("/proc/sys/kernel/perf_event_paranoid");
  std::string v;
  if (!(f >> v)) return "?";
  return v;
}

// Why perf_event_open said no, in words (appended to strerror).
std::string hint(int err, bool hardware) {
  switch (err) {
    case ENOENT:
      return hardware ? " (no hardware counters: a virtual machine, or no PMU driver)" : " (no such event)";
    case EOPNOTSUPP: return hardware ? " (not supported by this CPU's PMU)" : " (not supported)";
    case ENODEV: return " (no such PMU)";
    case EACCES:
    case EPERM:
      return " (perf_event_paranoid=" + paranoid_value() +
             "; run as root or lower it: sudo sysctl kernel.perf_event_paranoid=1)";
    case ENOSYS: return " (this kernel has no perf events: CONFIG_PERF_EVENTS is off)";
    case EMFILE: return " (too many open files)";
    case EBUSY: return " (the counter is held exclusively by another user)";
    default: return "";
  }
}

std::string refusal(const char* level, const char* event, const char* call, int err, bool hardware) {
  return std::string(level) + ": " + event + ": " + call + ": " + std::strerror(err) + hint(err, hardware);
}

}  // namespace

PerfSys& real_perf_sys() {
  static RealPerfSys sys;
  return sys;
}

struct CounterSet::Impl {
  PerfSys* sys = nullptr;
  bool exclude_kernel = false;      // switched on when the kernel refuses kernel counting
  bool noted_user_only = false;

  int fd[kNumCounters];             // Single/TaskClock: one fd per counter; Group: members (leader in fd[kCycles])
  int leader = -1;                  // Group: the fd read with PERF_FORMAT_GROUP
  int group_pos[kNumCounters];      // Group: position of each counter in the group read, -1 if absent
  int group_size = 0;
  bool measured[kNumCounters] = {};

  // interval scaling state (see the top of this file)
  uint64_t last_raw[kNumCounters] = {};
  uint64_t last_enabled[kNumCounters] = {};
  uint64_t last_running[kNumCounters] = {};
  double total[kNumCounters] = {};
  double enabled_sum[kNumCounters] = {}, running_sum[kNumCounters] = {};

  clockid_t clock = CLOCK_THREAD_CPUTIME_ID;  // Clock level: the constructing thread's CPU clock
  int64_t clock_base_ns = 0;

  Impl() {
    for (int i = 0; i < kNumCounters; ++i) fd[i] = group_pos[i] = -1;
  }

  void close_all() {
    for (int i = 0; i < kNumCounters; ++i)
      if (fd[i] >= 0) {
        sys->close(fd[i]);
        fd[i] = -1;
      }
    leader = -1;
    group_size = 0;
    for (int i = 0; i < kNumCounters; ++i) {
      group_pos[i] = -1;
      measured[i] = false;
      last_raw[i] = last_enabled[i] = last_running[i] = 0;
      total[i] = enabled_sum[i] = running_sum[i] = 0;
    }
  }

  // perf_event_open for one counter; on EACCES/EPERM while counting the
  // kernel too, retries user-space only. Returns the fd, or -1 with errno.
  int open_event(int counter, uint64_t read_format, bool disabled, int group_fd, std::vector<std::string>& notes) {
    for (;;) {
      perf_event_attr attr;
      std::memset(&attr, 0, sizeof attr);
      attr.size = sizeof attr;
      attr.type = kEvents[counter].type;
      attr.config = kEvents[counter].config;
      attr.read_format = read_format;
      attr.disabled = disabled ? 1 : 0;
      attr.exclude_kernel = exclude_kernel ? 1 : 0;
      attr.exclude_hv = exclude_kernel ? 1 : 0;
      int f = sys->open(&attr, group_fd);
      if (f >= 0) {
        if (exclude_kernel && !noted_user_only) {
          notes.push_back(std::string("counting user space only: the kernel refuses kernel counting (perf_event_paranoid=") +
                          paranoid_value() + ")");
          noted_user_only = true;
        }
        return f;
      }
      int err = errno;
      if ((err == EACCES || err == EPERM) && !exclude_kernel) {
        exclude_kernel = true;
        continue;
      }
      errno = err;
      return -1;
    }
  }

  // Adds the interval since the previous read of this counter to its total.
  void add(int counter, uint64_t raw, uint64_t enabled, uint64_t running) noexcept {
    uint64_t d_raw = raw - last_raw[counter];
    uint64_t d_en = enabled - last_enabled[counter];
    uint64_t d_run = running - last_running[counter];
    last_raw[counter] = raw;
    last_enabled[counter] = enabled;
    last_running[counter] = running;
    if (d_run == 0 || d_en == d_run)
      total[counter] += static_cast<double>(d_raw);
    else
      total[counter] += static_cast<double>(d_raw) * (static_cast<double>(d_en) / static_cast<double>(d_run));
    enabled_sum[counter] += static_cast<double>(d_en);
    running_sum[counter] += static_cast<double>(d_run);
  }

  // Reads every open counter into the totals; marks in `ok` which were read.
  void sample(bool ok[kNumCounters]) noexcept {
    for (int i = 0; i < kNumCounters; ++i) ok[i] = false;
    if (leader >= 0) {  // the group level: one read for all
      uint64_t buf[3 + kNumCounters];
      const size_t want = sizeof(uint64_t) * static_cast<size_t>(3 + group_size);
      long n = sys->read(leader, buf, want);
      if (n != static_cast<long>(want) || buf[0] != static_cast<uint64_t>(group_size)) return;
      for (int i = 0; i < kNumCounters; ++i)
        if (group_pos[i] >= 0) {
          add(i, buf[3 + group_pos[i]], buf[1], buf[2]);
          ok[i] = true;
        }
      return;
    }
    for (int i = 0; i < kNumCounters; ++i) {
      if (fd[i] < 0) continue;
      uint64_t buf[3];
      if (sys->read(fd[i], buf, sizeof buf) != static_cast<long>(sizeof buf)) continue;
      add(i, buf[0], buf[1], buf[2]);
      ok[i] = true;
    }
  }

  // Takes the baseline: totals restart at 0. False if nothing could be read.
  bool baseline() {
    bool ok[kNumCounters];
    errno = 0;
    sample(ok);
    for (int i = 0; i < kNumCounters; ++i) {
      if (measured[i] && !ok[i]) return false;
      total[i] = enabled_sum[i] = running_sum[i] = 0;
    }
    return true;
  }

  bool try_group(std::vector<std::string>& notes) {
    const uint64_t rf = PERF_FORMAT_GROUP | kTimes;
    const int order[] = {kCycles, kInstructions, kCacheMisses, kBranchMisses, kTaskClockNs};
    for (int c : order) {
      int f = open_event(c, rf, c == kCycles, c == kCycles ? -1 : leader, notes);
      if (f < 0) {
        notes.push_back(refusal("group", kEvents[c].perf_name, "perf_event_open", errno, c != kTaskClockNs));
        close_all();
        return false;
      }
      fd[c] = f;
      if (c == kCycles) leader = f;
      group_pos[c] = group_size++;
      measured[c] = true;
    }
    if (sys->ioctl(leader, PERF_EVENT_IOC_RESET, PERF_IOC_FLAG_GROUP) != 0 ||
        sys->ioctl(leader, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP) != 0) {
      notes.push_back(refusal("group", "cycles", "ioctl(PERF_EVENT_IOC_ENABLE)", errno, true));
      close_all();
      return false;
    }
    if (!baseline()) {
      notes.push_back(std::string("group: read of the group failed") +
                      (errno ? std::string(": ") + std::strerror(errno) : std::string()));
      close_all();
      return false;
    }
    return true;
  }

  // Each counter on its own (enabled at open). With hardware = false only
  // task-clock is opened (the task-clock level).
  bool try_single(bool hardware, std::vector<std::string>& notes) {
    const char* lname = hardware ? "single" : "task-clock";
    int opened_hw = 0;
    if (hardware)
      for (int c : kHardware) {
        int f = open_event(c, kTimes, false, -1, notes);
        if (f < 0) {
          notes.push_back(refusal(lname, kEvents[c].perf_name, "perf_event_open", errno, true));
          continue;
        }
        fd[c] = f;
        measured[c] = true;
        ++opened_hw;
      }
    if (hardware && opened_hw == 0) {
      notes.push_back("single: the kernel refused every hardware counter");
      close_all();
      return false;
    }
    int f = open_event(kTaskClockNs, kTimes, false, -1, notes);
    if (f < 0) {
      notes.push_back(refusal(lname, "task-clock", "perf_event_open", errno, false));
      if (!hardware) {
        close_all();
        return false;
      }
    } else {
      fd[kTaskClockNs] = f;
      measured[kTaskClockNs] = true;
    }
    if (!baseline()) {
      notes.push_back(std::string(lname) + ": reading the counters failed" +
                      (errno ? std::string(": ") + std::strerror(errno) : std::string()));
      close_all();
      return false;
    }
    return true;
  }

  void start_clock() {
    clockid_t c;
    if (::pthread_getcpuclockid(::pthread_self(), &c) == 0) clock = c;
    timespec ts{};
    ::clock_gettime(clock, &ts);
    clock_base_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    measured[kTaskClockNs] = true;
  }
};

CounterSet::CounterSet(std::optional<CounterLevel> want, PerfSys& sys) : impl_(std::make_unique<Impl>()) {
  impl_->sys = &sys;
  const CounterLevel start = want.value_or(CounterLevel::Group);
  if (start == CounterLevel::Group && impl_->try_group(notes_))
    level_ = CounterLevel::Group;
  else if (start <= CounterLevel::Single && impl_->try_single(true, notes_))
    level_ = CounterLevel::Single;
  else if (start <= CounterLevel::TaskClock && impl_->try_single(false, notes_))
    level_ = CounterLevel::TaskClock;
  else {
    level_ = CounterLevel::Clock;
    impl_->start_clock();
  }
}

CounterSet::~CounterSet() {
  if (impl_) impl_->close_all();
}

bool CounterSet::measures(int counter) const {
  return counter >= 0 && counter < kNumCounters && impl_->measured[counter];
}

double CounterSet::running_fraction() const {
  const Impl& m = *impl_;
  double fraction = 1.0;
  for (int i = 0; i < kNumCounters; ++i)
    if (m.measured[i] && m.enabled_sum[i] > 0) fraction = std::min(fraction, m.running_sum[i] / m.enabled_sum[i]);
  return fraction;
}

void CounterSet::read(CounterValues& out) noexcept {
  for (auto& v : out) v.reset();
  Impl& m = *impl_;
  if (level_ == CounterLevel::Clock) {
    timespec ts{};
    if (::clock_gettime(m.clock, &ts) == 0)
      out[kTaskClockNs] = static_cast<double>(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec - m.clock_base_ns);
    return;
  }
  bool ok[kNumCounters];
  m.sample(ok);
  for (int i = 0; i < kNumCounters; ++i)
    if (ok[i]) out[i] = m.total[i];
}

#else  // not Linux: only the thread CPU clock

namespace {
class NoPerfSys final : public PerfSys {
 public:
  int open(perf_event_attr*, int) override { errno = ENOSYS; return -1; }
  long read(int, void*, size_t) override { errno = ENOSYS; return -1; }
  int ioctl(int, unsigned long, unsigned long) override { errno = ENOSYS; return -1; }
  int close(int) override { return 0; }
};
}  // namespace

PerfSys& real_perf_sys() {
  static NoPerfSys sys;
  return sys;
}

struct CounterSet::Impl {
  int64_t base_ns = 0;
};

CounterSet::CounterSet(std::optional<CounterLevel>, PerfSys&) : impl_(std::make_unique<Impl>()) {
  level_ = CounterLevel::Clock;
  notes_.push_back("group: perf_event_open exists on Linux only");
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  impl_->base_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
CounterSet::~CounterSet() = default;
bool CounterSet::measures(int counter) const { return counter == kTaskClockNs; }
double CounterSet::running_fraction() const { return 1.0; }
void CounterSet::read(CounterValues& out) noexcept {
  for (auto& v : out) v.reset();
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    out[kTaskClockNs] = static_cast<double>(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec - impl_->base_ns);
}

#endif

}  // namespace rtml::profile
