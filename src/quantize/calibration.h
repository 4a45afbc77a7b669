// quantize/calibration: the arithmetic of post-training quantization, apart
// from any graph: value ranges, histograms, the three ways to pick a clipping
// range, scales and zero points, weight quantization, SQNR.
//
// Conventions (docs/quantization.md, "rtml quantize"):
//   - activations: asymmetric per tensor. The range is widened to hold 0,
//     scale = (hi - lo) / (qmax - qmin), zero point = round(qmin - lo / scale)
//     clamped to [qmin, qmax]; int8 [-128, 127] or uint8 [0, 255].
//   - weights: symmetric, zero point 0, scale = max |w| / 127 per output
//     channel (or per tensor), values round(w / scale) clamped to [-127, 127].
//   - bias: int32, scale = input scale x weight scale (per channel), zero
//     point 0.
//   - rounding is half away from zero (std::round), as TFLite's quantizer; a
//     scale is computed in double and stored as float32. A range of width 0
//     (a tensor that is always 0, an all-zero channel) gets scale 1.
//
// Clipping ranges (the calibration methods):
//   minmax      the smallest and largest value seen.
//   percentile  the central P% of the values: the (100-P)/2 and 100-(100-P)/2
//               percentiles, read from a histogram over [min, max] with linear
//               interpolation inside a bin.
//   mse         the range [lo*i/K, hi*j/K] (i, j = 1..K) whose quantize ->
//               dequantize round trip has the least squared error over the
//               histogram (each bin's count at its centre); K = 64, ties keep
//               the wider range. Clipping the rare outliers buys resolution
//               for the bulk of the values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace rtml::quantize {

struct Range {
  double lo = 0, hi = 0;
};

// Counts of values over [lo, hi] in equal bins (the last bin holds hi).
struct Histogram {
  double lo = 0, hi = 0;
  std::vector<double> counts;

  Histogram() = default;
  Histogram(double lo, double hi, int bins);
  void add(const float* values, int64_t n);
  double bin_width() const { return (hi - lo) / static_cast<double>(counts.size()); }
  double center(size_t bin) const { return lo + (static_cast<double>(bin) + 0.5) * bin_width(); }
  double total() const;
};

// A quantized tensor's parameters: real = (q - zero_point) * scale.
struct QuantParams {
  float scale = 1;
  int32_t zero_point = 0;
};

// qmin and qmax of int8, uint8 or int32 (Error for other types).
void integer_range(DType t, int32_t& qmin, int32_t& qmax);

// Asymmetric parameters for an activation range (widened to hold 0).
QuantParams activation_params(Range r, DType t);

// The value of `real` after quantize -> dequantize with `p` into [qmin, qmax].
double round_trip(double real, const QuantParams& p, int32_t qmin, int32_t qmax);

// percent in (0, 100]: the central part of the histogram's values.
Range percentile_range(const Histogram& h, double percent);
// The range with the least quantization MSE for type t (see above).
Range mse_range(const Histogram& h, DType t);
// The squared error summed over the histogram for a range (what mse_range minimises).
double histogram_mse(const Histogram& h, Range r, DType t);

// Symmetric int8 weights: `w` has `channels` slices along axis `axis` of
// `shape` (channels = 1: per tensor). Fills one scale per channel and the int8
// values (same layout as w).
struct QuantizedWeights {
  std::vector<float> scales;
  std::vector<int8_t> values;
};
QuantizedWeights quantize_weights(const float* w, const Shape& shape, int axis, bool per_channel);

// int32 bias for scales input_scale * weight_scales[c] (one scale for all
// channels when weight_scales has one entry); values saturate to int32.
struct QuantizedBias {
  std::vector<float> scales;
  std::vector<int32_t> values;
};
QuantizedBias quantize_bias(const float* b, int64_t n, float input_scale, const std::vector<float>& weight_scales);

// 10 log10(signal / noise) in dB, from sums of squares; +inf when noise is 0.
double sqnr_db(double signal_sum_squares, double noise_sum_squares);

}  // namespace rtml::quantize
