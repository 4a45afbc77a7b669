// Resident memory of this process, read from /proc/self/statm.
//
// MemorySampler runs a thread that samples it every `interval_us` between
// start() and stop(), and reports the peak and mean of those samples (plus
// one sample taken at start and one at stop, so a short window still has
// two). It also keeps a timeline of at most `max_points` (time, RSS) points:
// when the buffer fills, every other point is dropped and from then on only
// every second (fourth, ...) sample is kept, so the points stay evenly
// spaced over the whole window; the sample taken at stop() is always last.
// The sampling thread never allocates once started (it reads with pread into
// a fixed buffer, and the timeline is allocated by the constructor), so it
// does not disturb heap counts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace rtml::bench {

// Current resident set size in bytes; 0 if /proc is unavailable.
int64_t resident_bytes();

class MemorySampler {
 public:
  explicit MemorySampler(double interval_us = 1000, int max_points = 2000);
  ~MemorySampler();
  MemorySampler(const MemorySampler&) = delete;
  MemorySampler& operator=(const MemorySampler&) = delete;

  void start();
  void stop();
  int64_t peak_bytes() const { return peak_; }
  int64_t mean_bytes() const { return samples_ ? static_cast<int64_t>(sum_ / static_cast<double>(samples_)) : 0; }
  int64_t samples() const { return samples_; }
  double interval_us() const { return interval_us_; }

  // When start() took its first sample: timeline times count from here.
  std::chrono::steady_clock::time_point started() const { return started_; }
  // The timeline, after stop(): microseconds since started(), and RSS bytes.
  std::vector<double> timeline_t_us() const;
  std::vector<int64_t> timeline_rss_bytes() const;

 private:
  void take(bool last = false);
  double interval_us_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  int64_t peak_ = 0, samples_ = 0;
  double sum_ = 0;
  std::chrono::steady_clock::time_point started_{};
  // Timeline: points_ of capacity max_points_, one point per `stride_` samples.
  std::vector<double> t_us_;
  std::vector<int64_t> rss_;
  size_t points_ = 0, max_points_;
  int64_t stride_ = 1;
};

}  // namespace rtml::bench
