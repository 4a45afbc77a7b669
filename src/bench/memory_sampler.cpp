#include "bench/memory_sampler.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
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

MemorySampler::MemorySampler(double interval_us) : interval_us_(interval_us > 0 ? interval_us : 1000) {}

MemorySampler::~MemorySampler() { stop(); }

void MemorySampler::take() {
  int64_t r = resident_bytes();
  if (r > peak_) peak_ = r;
  sum_ += static_cast<double>(r);
  ++samples_;
}

void MemorySampler::start() {
  stop();
  peak_ = samples_ = 0;
  sum_ = 0;
  statm_fd();  // opened before the thread runs, outside any counted window
  take();
  running_ = true;
  thread_ = std::thread([this] {
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
  take();
}

}  // namespace rtml::bench
