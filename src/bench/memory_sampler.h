// Resident memory of this process, read from /proc/self/statm.
//
// MemorySampler runs a thread that samples it every `interval_us` between
// start() and stop(), and reports the peak and mean of those samples (plus
// one sample taken at start and one at stop, so a short window still has
// two). The sampling thread never allocates once started (it reads with
// pread into a fixed buffer), so it does not disturb heap counts.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace rtml::bench {

// Current resident set size in bytes; 0 if /proc is unavailable.
int64_t resident_bytes();

class MemorySampler {
 public:
  explicit MemorySampler(double interval_us = 1000);
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;

  void start();
  void stop();
  int64_t peak_bytes() const { return peak_; }
  int64_t mean_bytes() const { return samples_ ? static_cast<int64_t>(sum_ / static_cast<double>(samples_)) : 0; }
  int64_t samples() const { return samples_; }
  double interval_us() const { return interval_us_; }

 private:
  void take();
  double interval_us_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  int64_t peak_ = 0, samples_ = 0;
  double sum_ = 0;
};

}  // namespace rtml::bench
