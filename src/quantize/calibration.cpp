#include "quantize/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace rtml::quantize {

Histogram::Histogram(double lo_, double hi_, int bins) : lo(lo_), hi(hi_), counts(static_cast<size_t>(std::max(bins, 1)), 0.0) {
  if (!(hi > lo)) hi = lo + 1;  // a constant tensor: one value, any width holds it
}

void Histogram::add(const float* values, int64_t n) {
  const double scale = static_cast<double>(counts.size()) / (hi - lo);
  const size_t last = counts.size() - 1;
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) continue;
    const double pos = (v - lo) * scale;
    const size_t bin = pos <= 0 ? 0 : pos >= static_cast<double>(last) ? last : static_cast<size_t>(pos);
    counts[bin] += 1;
  }
}

double Histogram::total() const {
  double t = 0;
  for (double c : counts) t += c;
  return t;
}

void integer_range(DType t, int32_t& qmin, int32_t& qmax) {
  switch (t) {
    case DType::I8: qmin = -128; qmax = 127; return;
    case DType::U8: qmin = 0; qmax = 255; return;
    case DType::I32:
      qmin = std::numeric_limits<int32_t>::min();
      qmax = std::numeric_limits<int32_t>::max();
      return;
    default: throw Error(std::string("quantize: no integer range for ") + dtype_name(t));
  }
}

QuantParams activation_params(Range r, DType t) {
  int32_t qmin, qmax;
  integer_range(t, qmin, qmax);
  const double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  QuantParams p;
  if (!(hi > lo)) return p;  // always 0: scale 1, zero point 0 (in range for both types)
  p.scale = static_cast<float>((hi - lo) / static_cast<double>(qmax - qmin));
  if (!(p.scale > 0)) return QuantParams{};  // a width float32 cannot hold: as if always 0
  const double zp = std::round(static_cast<double>(qmin) - lo / static_cast<double>(p.scale));
  p.zero_point = static_cast<int32_t>(std::clamp(zp, static_cast<double>(qmin), static_cast<double>(qmax)));
  return p;
}

double round_trip(double real, const QuantParams& p, int32_t qmin, int32_t qmax) {
  const double q = std::clamp(std::round(real / p.scale) + p.zero_point, static_cast<double>(qmin), static_cast<double>(qmax));
  return (q - p.zero_point) * static_cast<double>(p.scale);
}

namespace {

// The value below which `target` of the histogram's counts lie.
double value_at_count(const Histogram& h, double target) {
  double before = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    const double c = h.counts[i];
    if (c > 0 && before + c >= target)
      return h.lo + h.bin_width() * (static_cast<double>(i) + std::clamp((target - before) / c, 0.0, 1.0));
    before += c;
  }
  return h.hi;
}

}  // namespace

Range percentile_range(const Histogram& h, double percent) {
  if (!(percent > 0 && percent <= 100)) throw Error("quantize: percentile must be in (0, 100], got " + std::to_string(percent));
  const double total = h.total();
  if (total <= 0) return {0, 0};
  const double tail = total * (100 - percent) / 200;
  return {value_at_count(h, tail), value_at_count(h, total - tail)};
}

double histogram_mse(const Histogram& h, Range r, DType t) {
  int32_t qmin, qmax;
  integer_range(t, qmin, qmax);
  const QuantParams p = activation_params(r, t);
  double err = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    if (h.counts[i] == 0) continue;
    const double x = h.center(i), d = x - round_trip(x, p, qmin, qmax);
    err += h.counts[i] * d * d;
  }
  return err;
}

Range mse_range(const Histogram& h, DType t) {
  constexpr int K = 64;
  const double lo = std::min(h.lo, 0.0), hi = std::max(h.hi, 0.0);
  Range best{lo, hi};
  double best_err = histogram_mse(h, best, t);
  // From the widest range down: a narrower one must be strictly better.
  for (int i = K; i >= 1; --i) {
    for (int j = K; j >= 1; --j) {
      const Range r{lo * i / K, hi * j / K};
      if (!(r.hi > r.lo)) continue;
      const double err = histogram_mse(h, r, t);
      if (err < best_err) {
        best_err = err;
        best = r;
      }
    }
    if (lo == 0) break;  // one-sided: only the top moves
  }
  return best;
}

QuantizedWeights quantize_weights(const float* w, const Shape& shape, int axis, bool per_channel) {
  int64_t outer = 1, channels = 1, inner = 1;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d < axis) outer *= shape[d];
    else if (d == axis) channels = shape[d];
    else inner *= shape[d];
  }
  const int64_t groups = per_channel ? channels : 1;
  std::vector<double> absmax(static_cast<size_t>(groups), 0.0);
  auto group_of = [&](int64_t c) { return per_channel ? c : 0; };
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < inner; ++k) {
        double& m = absmax[group_of(c)];
        m = std::max(m, std::fabs(static_cast<double>(w[(o * channels + c) * inner + k])));
      }
  QuantizedWeights q;
  q.scales.resize(absmax.size());
  for (size_t g = 0; g < absmax.size(); ++g) {
    const float s = static_cast<float>(absmax[g] / 127.0);
    q.scales[g] = s > 0 ? s : 1.0f;  // an all-zero channel (or one float32 cannot scale)
  }
  q.values.resize(static_cast<size_t>(outer * channels * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < inner; ++k) {
        const int64_t i = (o * channels + c) * inner + k;
        const double v = std::round(static_cast<double>(w[i]) / static_cast<double>(q.scales[group_of(c)]));
        q.values[i] = static_cast<int8_t>(std::clamp(v, -127.0, 127.0));
      }
  return q;
}

QuantizedBias quantize_bias(const float* b, int64_t n, float input_scale, const std::vector<float>& weight_scales) {
  QuantizedBias q;
  q.scales.reserve(weight_scales.size());
  for (float ws : weight_scales) q.scales.push_back(input_scale * ws);
  q.values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float s = q.scales[q.scales.size() == 1 ? 0 : static_cast<size_t>(i)];
    const double v = s > 0 ? std::round(static_cast<double>(b[i]) / static_cast<double>(s)) : 0.0;
    q.values[i] = static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
  }
  return q;
}

double sqnr_db(double signal, double noise) {
  if (noise <= 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(signal / noise);
}

}  // namespace rtml::quantize
