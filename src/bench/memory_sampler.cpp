#include "bench/memory_sampler.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace rtml::bench {

namespace {
// statm: "size resident shared text lib data dt", in pages.
int64_t read_resident(int fd) {
  char buf[128];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  char* p = buf;
  std::strtoll(p, &p, 10);                 // size
  long long pages = std::strtoll(p, &p, 10);  // resident
  static const long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<int64_t>(pages) * page;
}

int statm_fd() {
  static int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  return fd;
}
}  // namespace

int64_t resident_bytes() {
  int fd = statm_fd();
  return fd < 0 ? 0 : read_resident(fd);
}

MemorySampler::MemorySampler(double interval_us, int max_points)
    : interval_us_(interval_us > 0 ? interval_us : 1000),
      t_us_(static_cast<size_t>(std::max(2, max_points))),
      rss_(static_cast<size_t>(std::max(2, max_points))),
      max_points_(static_cast<size_t>(std::max(2, max_points))) {}

MemorySampler::~MemorySampler() { stop(); }

void MemorySampler::take(bool last) {
  int64_t r = resident_bytes();
  auto now = std::chrono::steady_clock::now();
  if (r > peak_) peak_ = r;
  sum_ += static_cast<double>(r);
  const int64_t k = samples_++;  // this sample's number since start()
  if (k == 0) started_ = now;    // the timeline counts from the first reading
  if (!last && k % stride_ != 0) return;
  if (points_ == max_points_) {  // full: keep every other point, halve the rate
    for (size_t i = 0; 2 * i < points_; ++i) {
      t_us_[i] = t_us_[2 * i];
      rss_[i] = rss_[2 * i];
    }
    points_ = (points_ + 1) / 2;
    stride_ *= 2;
    if (!last && k % stride_ != 0) return;
  }
  t_us_[points_] = std::chrono::duration<double, std::micro>(now - started_).count();
  rss_[points_] = r;
  ++points_;
}

void MemorySampler::start() {
  stop();
  peak_ = samples_ = 0;
  sum_ = 0;
  points_ = 0;
  stride_ = 1;
  statm_fd();  // opened before the thread runs, outside any counted window
  take();
  running_ = true;
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "rtml-memory");  // prctl: no allocation
    auto period = std::chrono::nanoseconds(static_cast<int64_t>(interval_us_ * 1000));
    auto next = std::chrono::steady_clock::now() + period;
    while (running_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_until(next);
      next += period;
      take();
    }
  });
}

void MemorySampler::stop() {
  if (!thread_.joinable()) return;
  running_ = false;
  thread_.join();
  take(true);
}

std::vector<double> MemorySampler::timeline_t_us() const {
  return std::vector<double>(t_us_.begin(), t_us_.begin() + static_cast<std::ptrdiff_t>(points_));
}

std::vector<int64_t> MemorySampler::timeline_rss_bytes() const {
  return std::vector<int64_t>(rss_.begin(), rss_.begin() + static_cast<std::ptrdiff_t>(points_));
}

}  // namespace rtml::bench
