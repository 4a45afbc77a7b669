// Fast float32 Softmax over contiguous rows, compiled once per Highway
// target (see fast_softmax.h).

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

const char* SoftmaxTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(SoftmaxTargetName);

void fast_softmax_f32(const AxisParams& p, const float* x, float* y) { HWY_DYNAMIC_DISPATCH(SoftmaxF32)(p, x, y); }

const char* fast_softmax_target() { return HWY_DYNAMIC_DISPATCH(SoftmaxTargetName)(); }

}  // namespace rtml::kernels

RTML_KERNEL(rtml_f32_softmax__hwy) {
  rtml::kernels::fast_softmax_f32(*static_cast<const rtml_axis_params*>(params),
                                  static_cast<const float*>(operands[0]), static_cast<float*>(operands[1]));
  return 0;
}
#endif  // HWY_ONCE
