// Fast float32 Softmax, LayerNormalization, ReduceSum and ReduceMean over
// contiguous rows, compiled once per Highway target (see fast_softmax.h).

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_softmax.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>
#include <cstdint>

#include "kernels/fast_softmax.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Exp(t) for t = x - max <= 0 (or NaN): below -104 (outside Exp's valid range;
// e^-104 is 0 in float) t is clamped; a NaN lane stays NaN (Exp does not
// promise that), so the row's sum and every output of the row are NaN.
template <class D, class V>
HWY_INLINE V ExpOfShifted(D d, V t) {
  const V lo = hn::Set(d, -104.0f);
  return hn::IfThenElse(hn::Eq(t, t), hn::Exp(d, hn::IfThenElse(hn::Lt(t, lo), lo, t)), t);
}

constexpr size_t kMaxLanes = 64;  // floats in the widest vector the enabled targets have (2048 bits)

void SoftmaxF32(const AxisParams& p, const float* x, float* y) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), n = p.n;
  if (n == 0 || hn::Lanes(d) > kMaxLanes) return;
  for (int64_t o = 0; o < p.outer; ++o) {
    const float* xr = x + o * n;
    float* yr = y + o * n;
    int64_t j = 0;
    float m = xr[0];
    if (n >= N) {
      auto vm = hn::LoadU(d, xr);
      for (j = N; j + N <= n; j += N) vm = hn::Max(vm, hn::LoadU(d, xr + j));
      m = hn::GetLane(hn::MaxOfLanes(d, vm));
    }
    for (; j < n; ++j) m = xr[j] > m ? xr[j] : m;

    const auto vmax = hn::Set(d, m);
    auto vsum = hn::Zero(d);
    for (j = 0; j + N <= n; j += N) {
      const auto e = ExpOfShifted(d, hn::Sub(hn::LoadU(d, xr + j), vmax));
      hn::StoreU(e, d, yr + j);
      vsum = hn::Add(vsum, e);
    }
    float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
    if (j < n) {  // the tail: one vector through a buffer, lanes past the row left out of the sum
      HWY_ALIGN float buf[kMaxLanes] = {};
      const size_t left = static_cast<size_t>(n - j);
      for (size_t i = 0; i < left; ++i) buf[i] = xr[j + static_cast<int64_t>(i)];
      const auto e = ExpOfShifted(d, hn::Sub(hn::Load(d, buf), vmax));
      hn::Store(e, d, buf);
      for (size_t i = 0; i < left; ++i) yr[j + static_cast<int64_t>(i)] = buf[i];
      sum += hn::GetLane(hn::SumOfLanes(d, hn::IfThenElseZero(hn::FirstN(d, left), e)));
    }

    const auto inv = hn::Set(d, 1.0f / sum);
    for (j = 0; j + N <= n; j += N) hn::StoreU(hn::Mul(hn::LoadU(d, yr + j), inv), d, yr + j);
    for (; j < n; ++j) yr[j] *= 1.0f / sum;
  }
}

// The sum of x[0, n) in double, as the reference accumulates a float sum
// (kernels/normalize.cpp), on lanes of doubles where the target has them
// (ARMv7 NEON has none: there one by one, the reference's order).
HWY_INLINE double SumF64(const float* HWY_RESTRICT x, int64_t n) {
  int64_t j = 0;
  double sum = 0;
#if HWY_HAVE_FLOAT64
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;  // the floats one vector of doubles holds
  const int64_t H = static_cast<int64_t>(hn::Lanes(dd));
  auto vs = hn::Zero(dd);
  for (; j + H <= n; j += H) vs = hn::Add(vs, hn::PromoteTo(dd, hn::LoadU(dh, x + j)));
  sum = hn::GetLane(hn::SumOfLanes(dd, vs));
#endif
  for (; j < n; ++j) sum += x[j];
  return sum;
}

// The sum of (x[j] - mean)^2 over x[0, n) in double, as the reference's
// LayerNorm variance, on lanes of doubles where the target has them.
HWY_INLINE double SquaredDeviationsF64(const float* HWY_RESTRICT x, int64_t n, double mean) {
  int64_t j = 0;
  double sq = 0;
#if HWY_HAVE_FLOAT64
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;
  const int64_t H = static_cast<int64_t>(hn::Lanes(dd));
  const auto vmean = hn::Set(dd, mean);
  auto vq = hn::Zero(dd);
  for (; j + H <= n; j += H) {
    const auto dv = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dh, x + j)), vmean);
    vq = hn::Add(vq, hn::Mul(dv, dv));
  }
  sq = hn::GetLane(hn::SumOfLanes(dd, vq));
#endif
  for (; j < n; ++j) {
    const double dv = x[j] - mean;
    sq += dv * dv;
  }
  return sq;
}

// ReduceSum / ReduceMean of contiguous blocks of n (the reduced axes the
// innermost ones): the double sum of each block, its mean in double, as
// the reference, rounded to float.
void ReduceSumF32(int64_t outer, int64_t n, bool mean, const float* x, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    const double sum = SumF64(x + o * n, n);
    y[o] = !mean ? static_cast<float>(sum) : n == 0 ? NAN : static_cast<float>(sum / static_cast<double>(n));
  }
}

// LayerNormalization over contiguous rows with Scale and B per element of
// the row: the reference's arithmetic (kernels/normalize.cpp) with its sums
// on vectors. Mean and variance accumulate in double (lanes of doubles where
// the target has them; ARMv7 NEON has none: there the reference's scalar
// loops), so only their order differs from the reference's; then, as there,
// m and 1 / sqrt(var + epsilon) rounded to float and y = (x - m) * is * scale
// + bias, one rounding per operation (no fused multiply-add).
void LayerNormF32(const LayerNormParams& p, const float* x, const float* scale, const float* bias, float* y,
                  float* mean_out, float* inv_std_out) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d)), n = p.n;
  for (int64_t r = 0; r < p.outer; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const double mean = n > 0 ? SumF64(xr, n) / static_cast<double>(n) : 0.0;
    const double var = n > 0 ? SquaredDeviationsF64(xr, n, mean) / static_cast<double>(n) : 0.0;
    const double inv = 1.0 / std::sqrt(var + p.epsilon);
    const float m = static_cast<float>(mean), is = static_cast<float>(inv);
    if (mean_out) mean_out[r] = m;
    if (inv_std_out) inv_std_out[r] = is;
    const auto vm = hn::Set(d, m), vis = hn::Set(d, is);
    int64_t j = 0;
    for (; j + N <= n; j += N) {
      auto v = hn::Mul(hn::Mul(hn::Sub(hn::LoadU(d, xr + j), vm), vis), hn::LoadU(d, scale + j));
      if (bias) v = hn::Add(v, hn::LoadU(d, bias + j));
      hn::StoreU(v, d, yr + j);
    }
    for (; j < n; ++j) yr[j] = bias ? (xr[j] - m) * is * scale[j] + bias[j] : (xr[j] - m) * is * scale[j];
  }
}

const char* SoftmaxTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(LayerNormF32);
HWY_EXPORT(ReduceSumF32);
HWY_EXPORT(SoftmaxTargetName);

void fast_softmax_f32(const AxisParams& p, const float* x, float* y) { HWY_DYNAMIC_DISPATCH(SoftmaxF32)(p, x, y); }

bool fast_layer_norm_supported(const LayerNormParams& p) {
  int64_t stride = 1;  // Scale and B indexed like the row itself
  for (int dim = p.rank - 1; dim >= 0; --dim) {
    if (p.shape[dim] != 1 && (p.scale_stride[dim] != stride || (p.has_bias && p.bias_stride[dim] != stride)))
      return false;
    stride *= p.shape[dim];
  }
  return true;
}

bool fast_reduce_supported(const ReduceParams& p) {
  int64_t stride = 1;  // the reduced axes one contiguous block, then the kept ones outside it
  for (int d = p.red_rank - 1; d >= 0; --d) {
    if (p.red_shape[d] != 1 && p.red_stride[d] != stride) return false;
    stride *= p.red_shape[d];
  }
  for (int d = p.kept_rank - 1; d >= 0; --d) {
    if (p.kept_shape[d] != 1 && p.kept_stride[d] != stride) return false;
    stride *= p.kept_shape[d];
  }
  return true;
}

void fast_reduce_sum_f32(const ReduceParams& p, bool mean, const float* x, float* y) {
  HWY_DYNAMIC_DISPATCH(ReduceSumF32)(p.out_count, p.red_count, mean, x, y);
}

void fast_layer_norm_f32(const LayerNormParams& p, const float* x, const float* scale, const float* bias, float* y,
                         float* mean_out, float* inv_std_out) {
  HWY_DYNAMIC_DISPATCH(LayerNormF32)(p, x, scale, bias, y, mean_out, inv_std_out);
}

const char* fast_softmax_target() { return HWY_DYNAMIC_DISPATCH(SoftmaxTargetName)(); }

}  // namespace rtml::kernels

RTML_KERNEL(rtml_f32_softmax__hwy) {
  rtml::kernels::fast_softmax_f32(*static_cast<const rtml_axis_params*>(params),
                                  static_cast<const float*>(operands[0]), static_cast<float*>(operands[1]));
  return 0;
}

// Operands as the reference's: X, axes?, Y (at out_slot).
RTML_KERNEL(rtml_f32_reduce_sum__hwy) {
  const auto& p = *static_cast<const rtml_reduce_params*>(params);
  rtml::kernels::fast_reduce_sum_f32(p, false, static_cast<const float*>(operands[0]),
                                     static_cast<float*>(operands[p.out_slot]));
  return 0;
}
RTML_KERNEL(rtml_f32_reduce_mean__hwy) {
  const auto& p = *static_cast<const rtml_reduce_params*>(params);
  rtml::kernels::fast_reduce_sum_f32(p, true, static_cast<const float*>(operands[0]),
                                     static_cast<float*>(operands[p.out_slot]));
  return 0;
}

// Operands as the reference's: X, Scale, B?, Y, Mean?, InvStdDev? (the
// outputs after the inputs the node lists).
RTML_KERNEL(rtml_f32_layer_norm__hwy) {
  const auto& p = *static_cast<const rtml_layer_norm_params*>(params);
  const int32_t out = p.num_inputs;
  rtml::kernels::fast_layer_norm_f32(p, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                                     p.has_bias ? static_cast<const float*>(operands[2]) : nullptr,
                                     static_cast<float*>(operands[out]),
                                     p.num_outputs > 1 ? static_cast<float*>(operands[out + 1]) : nullptr,
                                     p.num_outputs > 2 ? static_cast<float*>(operands[out + 2]) : nullptr);
  return 0;
}
#endif  // HWY_ONCE
