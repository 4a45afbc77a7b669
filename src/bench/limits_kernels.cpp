// The FMA and read loops of `rtml limits`, compiled once per Highway target
// (see limits_kernels.h). Same dispatch pattern as kernels/fast_gemm.cpp;
// this file is in rtml_bench (not librtml.a: an application embedding the
// engine does not need it) and gets the same compile options as the kernels.

// Scalable vectors (SVE, RVV) would not fit arrays of vectors; those targets
// fall back to the next best one, as in the kernels.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/limits_kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "bench/limits_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::bench {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

void FmaChains(float* HWY_RESTRICT acc, size_t iters, float mul, float add) {
  static_assert(kFmaChains == 12, "FmaChains spells out 12 accumulators");
  const D d;
  const size_t N = hn::Lanes(d);
  const V m = hn::Set(d, mul);
  const V a = hn::Set(d, add);
  // Twelve named accumulators, not an array: GCC keeps an array of vectors
  // on the stack at -O2, which would make this a load/store benchmark.
  V c0 = hn::LoadU(d, acc), c1 = hn::LoadU(d, acc + N), c2 = hn::LoadU(d, acc + 2 * N);
  V c3 = hn::LoadU(d, acc + 3 * N), c4 = hn::LoadU(d, acc + 4 * N), c5 = hn::LoadU(d, acc + 5 * N);
  V c6 = hn::LoadU(d, acc + 6 * N), c7 = hn::LoadU(d, acc + 7 * N), c8 = hn::LoadU(d, acc + 8 * N);
  V c9 = hn::LoadU(d, acc + 9 * N), c10 = hn::LoadU(d, acc + 10 * N), c11 = hn::LoadU(d, acc + 11 * N);
  for (size_t it = 0; it < iters; ++it) {
    c0 = hn::MulAdd(c0, m, a);
    c1 = hn::MulAdd(c1, m, a);
    c2 = hn::MulAdd(c2, m, a);
    c3 = hn::MulAdd(c3, m, a);
    c4 = hn::MulAdd(c4, m, a);
    c5 = hn::MulAdd(c5, m, a);
    c6 = hn::MulAdd(c6, m, a);
    c7 = hn::MulAdd(c7, m, a);
    c8 = hn::MulAdd(c8, m, a);
    c9 = hn::MulAdd(c9, m, a);
    c10 = hn::MulAdd(c10, m, a);
    c11 = hn::MulAdd(c11, m, a);
  }
  hn::StoreU(c0, d, acc);
  hn::StoreU(c1, d, acc + N);
  hn::StoreU(c2, d, acc + 2 * N);
  hn::StoreU(c3, d, acc + 3 * N);
  hn::StoreU(c4, d, acc + 4 * N);
  hn::StoreU(c5, d, acc + 5 * N);
  hn::StoreU(c6, d, acc + 6 * N);
  hn::StoreU(c7, d, acc + 7 * N);
  hn::StoreU(c8, d, acc + 8 * N);
  hn::StoreU(c9, d, acc + 9 * N);
  hn::StoreU(c10, d, acc + 10 * N);
  hn::StoreU(c11, d, acc + 11 * N);
}

float ReadSum(const float* HWY_RESTRICT p, size_t n, size_t passes) {
  const D d;
  const size_t N = hn::Lanes(d);
  V s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  V s4 = hn::Zero(d), s5 = hn::Zero(d), s6 = hn::Zero(d), s7 = hn::Zero(d);
  float tail = 0.0f;
  for (size_t pass = 0; pass < passes; ++pass) {
    size_t i = 0;
    for (; i + 8 * N <= n; i += 8 * N) {
      s0 = hn::Add(s0, hn::LoadU(d, p + i));
      s1 = hn::Add(s1, hn::LoadU(d, p + i + N));
      s2 = hn::Add(s2, hn::LoadU(d, p + i + 2 * N));
      s3 = hn::Add(s3, hn::LoadU(d, p + i + 3 * N));
      s4 = hn::Add(s4, hn::LoadU(d, p + i + 4 * N));
      s5 = hn::Add(s5, hn::LoadU(d, p + i + 5 * N));
      s6 = hn::Add(s6, hn::LoadU(d, p + i + 6 * N));
      s7 = hn::Add(s7, hn::LoadU(d, p + i + 7 * N));
    }
    for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, p + i));
    for (; i < n; ++i) tail += p[i];
  }
  const V s = hn::Add(hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)), hn::Add(hn::Add(s4, s5), hn::Add(s6, s7)));
  return hn::GetLane(hn::SumOfLanes(d, s)) + tail;
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }
size_t LanesF32() { return hn::Lanes(D()); }
bool FmaFused() { return HWY_NATIVE_FMA != 0; }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::bench {

HWY_EXPORT(FmaChains);
HWY_EXPORT(ReadSum);
HWY_EXPORT(TargetName);
HWY_EXPORT(LanesF32);
HWY_EXPORT(FmaFused);

const char* limits_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }
size_t limits_lanes() { return HWY_DYNAMIC_DISPATCH(LanesF32)(); }
bool limits_fma_fused() { return HWY_DYNAMIC_DISPATCH(FmaFused)(); }
void fma_chains_f32(float* acc, size_t iters, float mul, float add) {
  HWY_DYNAMIC_DISPATCH(FmaChains)(acc, iters, mul, add);
}
float read_sum_f32(const float* p, size_t n, size_t passes) { return HWY_DYNAMIC_DISPATCH(ReadSum)(p, n, passes); }

}  // namespace rtml::bench
#endif  // HWY_ONCE
