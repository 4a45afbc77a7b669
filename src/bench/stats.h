// Latency statistics of a benchmark's timed runs.
//
// Percentiles interpolate linearly between the two nearest ranks (NumPy's
// default, "linear": position q * (n - 1) in the sorted samples). stddev is
// the population standard deviation. jitter is the mean absolute difference
// between consecutive runs, in run order (how much one inference's time
// differs from the previous one's: what an audio callback feels), so the
// samples must be given in the order they were measured.
#pragma once

#include <cstdint>
#include <vector>

namespace rtml::bench {

struct LatencyStats {
  double min = 0, mean = 0, median = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, stddev = 0, jitter = 0;
};

// Throws rtml::Error on an empty sample.
LatencyStats summarize(const std::vector<double>& samples_in_run_order);

// q in [0, 1] over ascending `sorted`.
double percentile(const std::vector<double>& sorted, double q);

// Counts per bin over [min, max] of the samples, `bins` bins with
// logarithmically spaced edges (latency tails are long; log bins keep the
// body readable); one bin when all samples are equal. edges has bins + 1
// entries; a sample equal to an edge falls in the bin above it, except the
// last edge, which belongs to the last bin.
struct Histogram {
  std::vector<double> edges;
  std::vector<int64_t> counts;
};
Histogram histogram(const std::vector<double>& samples, int bins = 30);

}  // namespace rtml::bench
