#include "bench/stats.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace rtml::bench {

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) throw Error("percentile of an empty sample");
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

LatencyStats summarize(const std::vector<double>& samples) {
  if (samples.empty()) throw Error("no timed runs to summarize");
  LatencyStats s;
  double sum = 0, jitter = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    sum += samples[i];
    if (i) jitter += std::fabs(samples[i] - samples[i - 1]);
  }
  double n = static_cast<double>(samples.size());
  s.mean = sum / n;
  double var = 0;
  for (double x : samples) var += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(var / n);
  s.jitter = samples.size() > 1 ? jitter / (n - 1) : 0;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = percentile(sorted, 0.5);
  s.p90 = percentile(sorted, 0.9);
  s.p99 = percentile(sorted, 0.99);
  s.p999 = percentile(sorted, 0.999);
  return s;
}

Histogram histogram(const std::vector<double>& samples, int bins) {
  Histogram h;
  if (samples.empty()) return h;
  auto [lo_it, hi_it] = std::minmax_element(samples.begin(), samples.end());
  double lo = *lo_it, hi = *hi_it;
  if (!(hi > lo) || bins < 1) {
    h.edges = {lo, hi};
    h.counts = {static_cast<int64_t>(samples.size())};
    return h;
  }
  // Log spacing needs positive edges; shift by the smallest sample when it is <= 0.
  double shift = lo > 0 ? 0 : 1 - lo;
  double a = std::log(lo + shift), b = std::log(hi + shift);
  h.edges.resize(static_cast<size_t>(bins) + 1);
  for (int i = 0; i <= bins; ++i) h.edges[i] = std::exp(a + (b - a) * i / bins) - shift;
  h.edges.front() = lo;
  h.edges.back() = hi;
  h.counts.assign(static_cast<size_t>(bins), 0);
  for (double x : samples) {
    size_t k = static_cast<size_t>(std::upper_bound(h.edges.begin(), h.edges.end(), x) - h.edges.begin());
    k = k == 0 ? 0 : k - 1;
    if (k >= h.counts.size()) k = h.counts.size() - 1;
    ++h.counts[k];
  }
  return h;
}

}  // namespace rtml::bench
