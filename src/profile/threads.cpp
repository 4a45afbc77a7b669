// profile/threads: CPU time of every thread of this process. See sampler.h.
//
// Sources, most precise first:
//  1. the thread's CPU clock through clock_gettime: Linux names the clock of
//     thread TID ((~TID) << 3) | 6 (CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED, the
//     id glibc's pthread_getcpuclockid builds); nanoseconds, and current even
//     for a thread that is running right now;
//  2. /proc/self/task/TID/schedstat: nanoseconds, but for a running thread
//     only up to its last scheduler tick;
//  3. /proc/self/task/TID/stat: utime + stime in clock ticks (usually 10 ms).
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

#include <dirent.h>
#include <unistd.h>

#include "profile/sampler.h"

namespace rtml::profile {

namespace {

std::string read_small(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string s;
  if (!f) return s;
  char buf[1024];
  f.read(buf, sizeof buf);
  s.assign(buf, static_cast<size_t>(f.gcount()));
  return s;
}

bool clock_cpu_us(int64_t tid, double& us) {
#if defined(__linux__)
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6u);
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return false;
  us = static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  return true;
#else
  return false;
#endif
}

// "run_ns wait_ns timeslices"
bool schedstat_cpu_us(const std::string& dir, double& us) {
  std::string s = read_small(dir + "/schedstat");
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long ns = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str() || errno != 0) return false;
  us = static_cast<double>(ns) / 1e3;
  return true;
}

// utime is field 14, stime 15; the comm (field 2) may hold spaces and ')'.
bool stat_cpu_us(const std::string& dir, double& us) {
  std::string s = read_small(dir + "/stat");
  size_t close = s.rfind(')');
  if (close == std::string::npos) return false;
  const char* p = s.c_str() + close + 1;
  // fields 3.. follow: state(3) ppid(4) ... utime(14) stime(15)
  char* end = nullptr;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15; ++field) {
    while (*p == ' ') ++p;
    if (!*p) return false;
    if (field == 14 || field == 15) {
      unsigned long long v = std::strtoull(p, &end, 10);
      if (end == p) return false;
      (field == 14 ? utime : stime) = v;
      p = end;
    } else {
      while (*p && *p != ' ') ++p;
    }
  }
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  us = static_cast<double>(utime + stime) * 1e6 / static_cast<double>(ticks > 0 ? ticks : 100);
  return true;
}

}  // namespace

std::vector<ThreadTimes> thread_times() {
  std::vector<ThreadTimes> out;
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long long tid = std::strtoll(e->d_name, &end, 10);
    if (end == e->d_name || *end != 0 || tid <= 0) continue;
    const std::string dir = std::string("/proc/self/task/") + e->d_name;
    ThreadTimes t;
    t.tid = tid;
    double us = 0;
    if (clock_cpu_us(tid, us) || schedstat_cpu_us(dir, us) || stat_cpu_us(dir, us))
      t.cpu_us = us;
    else
      continue;  // the thread ended while we looked
    t.name = read_small(dir + "/comm");
    while (!t.name.empty() && (t.name.back() == '\n' || t.name.back() == ' ')) t.name.pop_back();
    out.push_back(std::move(t));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const ThreadTimes& a, const ThreadTimes& b) { return a.tid < b.tid; });
  return out;
}

std::vector<ThreadUse> thread_use(const std::vector<ThreadTimes>& before, const std::vector<ThreadTimes>& after,
                                  double wall_us) {
  std::vector<ThreadUse> out;
  out.reserve(after.size());
  for (const ThreadTimes& a : after) {
    double start = 0;
    for (const ThreadTimes& b : before)
      if (b.tid == a.tid) {
        start = b.cpu_us;
        break;
      }
    ThreadUse u;
    u.tid = a.tid;
    u.name = a.name;
    u.cpu_us = std::max(0.0, a.cpu_us - start);
    u.utilisation = wall_us > 0 ? u.cpu_us / wall_us : 0;
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace rtml::profile
