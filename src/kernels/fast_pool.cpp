// Fast 1-D / 2-D float32 MaxPool and AveragePool, and int8 / uint8 MaxPool,
// compiled once per Highway target (see fast_pool.h).
//
// A 1-D pool is a 2-D pool of one row (kernel, stride 1 and no padding
// along the added dimension). For one output row the window's input rows
// [r0, r1) are clipped once; the output columns split into
//   [0, ow_lo)        windows that start in the left padding,
//   [ow_lo, ow_hi)    windows inside the input (no bounds checks),
//   [ow_hi, OW)       windows that reach the right padding (or, with
//                     ceil_mode, past it).
// The interior runs vectors of output columns: lane i of a vector is output
// column ow + i, so a tap is one load (stride 1) or one lane of a
// de-interleaving load (strides 2 and 3; LoadInterleaved reads the whole
// group of `stride` columns, so the vector part stops where that would run
// past the row). Vectors of the target's full width first, then of at most
// 16 and of 4 lanes (small outputs such as 4 columns), then scalars.
//
// Every output value visits its taps in the reference order (window rows,
// then columns) with the reference's comparison or float additions, so the
// results match kernels/pool.cpp exactly. The int8 / uint8 MaxPool is the
// same walk with the lanes' Max (integers have no NaN, and of equal values
// either is the value).

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_pool.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/fast_pool.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// The pool seen as 2-D, and the split of the output columns (the same for
// every row, so computed once per call).
struct Geom {
  int64_t H, W, OH, OW, kh, kw, sh, sw, pt, pl, pb, pr;
  int64_t ow_lo, ow_hi;  // the interior: ow*sw - pl >= 0 and ow*sw - pl + kw <= W
  int64_t ow_vec;        // the interior's vector part ends at or before this column
};

HWY_INLINE Geom GeomOf(const PoolParams& p) {
  Geom g{};
  const int w = p.spatial - 1;  // the last spatial dim is the width
  g.W = p.in_shape[w];
  g.OW = p.out_shape[w];
  g.kw = p.kernel[w];
  g.sw = p.stride[w];
  g.pl = p.pad_begin[w];
  g.pr = p.pad_end[w];
  if (p.spatial == 2) {
    g.H = p.in_shape[0];
    g.OH = p.out_shape[0];
    g.kh = p.kernel[0];
    g.sh = p.stride[0];
    g.pt = p.pad_begin[0];
    g.pb = p.pad_end[0];
  } else {  // one row
    g.H = g.OH = g.kh = g.sh = 1;
  }
  g.ow_lo = std::min(g.OW, (g.pl + g.sw - 1) / g.sw);
  const int64_t last = g.W + g.pl - g.kw;
  g.ow_hi = std::max(g.ow_lo, last < 0 ? 0 : std::min(g.OW, last / g.sw + 1));
  g.ow_vec = g.ow_lo;
  if (g.sw <= 3) {
    // The de-interleaving loads read whole groups of sw columns: the last
    // vector column's group must end inside the row.
    const int64_t ext = (g.kw + g.sw - 1) / g.sw * g.sw;
    const int64_t vlast = g.W + g.pl - ext;
    if (vlast >= 0) g.ow_vec = std::max(g.ow_lo, std::min(g.ow_hi, vlast / g.sw + 1));
  }
  return g;
}

// The reference's update: MaxPool takes v if it is larger, or if it is NaN
// and the best so far is not (so NaN wins and the first of equal values
// stays); AveragePool adds.
template <bool kMax, class T>
HWY_INLINE T CombineScalar(T best, T v) {
  if constexpr (!kMax) return best + v;
  else if constexpr (std::is_floating_point_v<T>) return (v > best || (std::isnan(v) && !std::isnan(best))) ? v : best;
  else return v > best ? v : best;
}

template <bool kMax, class DV, class VV = hn::Vec<DV>>
HWY_INLINE VV Combine(DV /*d*/, VV best, VV v) {
  if constexpr (!kMax) {
    return hn::Add(best, v);
  } else if constexpr (std::is_floating_point_v<hn::TFromD<DV>>) {
    const auto take = hn::Or(hn::Gt(v, best), hn::AndNot(hn::IsNaN(best), hn::IsNaN(v)));
    return hn::IfThenElse(take, v, best);
  } else {
    return hn::Max(best, v);
  }
}

// MaxPool's start for a window with at least one tap: the first tap always
// replaces it or equals it (-inf for float, the lowest value for integers).
template <bool kMax, class T>
constexpr T kStart = !kMax ? T(0)
                     : std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity()
                                                   : std::numeric_limits<T>::lowest();
// The value of a window without taps, as in the reference.
template <bool kMax, class T>
constexpr T kEmpty = kMax ? std::numeric_limits<T>::lowest() : T(0);

// Output columns [ow, ow + Lanes(d)) of one output row; `x0` is the input
// at (first window row, column ow*S - pad_left).
template <bool kMax, int S, class DV, class T = hn::TFromD<DV>>
HWY_INLINE void Chunk(DV d, const T* HWY_RESTRICT x0, int64_t W, int64_t nrows, int64_t kw, float div,
                      T* HWY_RESTRICT out) {
  using VV = hn::Vec<DV>;
  VV acc = hn::Set(d, kStart<kMax, T>);
  for (int64_t r = 0; r < nrows; ++r) {
    const T* row = x0 + r * W;
    if constexpr (S == 1) {
      for (int64_t kx = 0; kx < kw; ++kx) acc = Combine<kMax>(d, acc, hn::LoadU(d, row + kx));
    } else if constexpr (S == 2) {
      for (int64_t kx = 0; kx < kw; kx += 2) {
        VV v0, v1;
        hn::LoadInterleaved2(d, row + kx, v0, v1);
        acc = Combine<kMax>(d, acc, v0);
        if (kx + 1 < kw) acc = Combine<kMax>(d, acc, v1);
      }
    } else {
      for (int64_t kx = 0; kx < kw; kx += 3) {
        VV v0, v1, v2;
        hn::LoadInterleaved3(d, row + kx, v0, v1, v2);
        acc = Combine<kMax>(d, acc, v0);
        if (kx + 1 < kw) acc = Combine<kMax>(d, acc, v1);
        if (kx + 2 < kw) acc = Combine<kMax>(d, acc, v2);
      }
    }
  }
#if HWY_ARCH_ARM_V7
  // ARMv7 NEON has no vector divide: Highway's Div there is a refined
  // reciprocal estimate, a few ulp from IEEE division. Divide each lane, so
  // the results match the reference exactly on the board too.
  hn::StoreU(acc, d, out);
  if constexpr (!kMax)
    for (size_t i = 0, n = hn::Lanes(d); i < n; ++i) out[i] /= div;
#else
  if constexpr (!kMax) acc = hn::Div(acc, hn::Set(d, div));
  hn::StoreU(acc, d, out);
#endif
}

// Columns [ow, ow_end) in vectors of `d`'s lanes while whole vectors fit,
// if those are fewer than `wider` (the lanes of the tier before).
template <bool kMax, int S, class DV, class T = hn::TFromD<DV>>
HWY_INLINE int64_t Tier(DV d, int64_t wider, const Geom& g, const T* xr, int64_t nrows, float div, int64_t ow,
                        int64_t ow_end, T* yrow) {
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  if (n < wider)
    for (; ow + n <= ow_end; ow += n) Chunk<kMax, S>(d, xr + ow * S - g.pl, g.W, nrows, g.kw, div, yrow + ow);
  return ow;
}

// Vector part of the interior [ow, ow_end) for stride S; returns the first
// column it did not compute.
template <bool kMax, int S, class T>
HWY_INLINE int64_t VectorColumns(const Geom& g, const T* xr, int64_t nrows, float div, int64_t ow, int64_t ow_end,
                                 T* yrow) {
  const hn::ScalableTag<T> d;
  const hn::CappedTag<T, 16> d16;
  const hn::CappedTag<T, 4> d4;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d)), n16 = static_cast<int64_t>(hn::Lanes(d16));
  ow = Tier<kMax, S>(d, n + 1, g, xr, nrows, div, ow, ow_end, yrow);
  ow = Tier<kMax, S>(d16, n, g, xr, nrows, div, ow, ow_end, yrow);
  return Tier<kMax, S>(d4, std::min(n, n16), g, xr, nrows, div, ow, ow_end, yrow);
}

// Interior columns [ow, ow_end) one by one (after the vector part): nrows
// whole window rows from xr.
template <bool kMax, class T>
HWY_INLINE void ScalarColumns(const Geom& g, const T* HWY_RESTRICT xr, int64_t nrows, float div, int64_t ow,
                              int64_t ow_end, T* HWY_RESTRICT yrow) {
  for (; ow < ow_end; ++ow) {
    const T* x0 = xr + ow * g.sw - g.pl;
    T acc = kStart<kMax, T>;
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t kx = 0; kx < g.kw; ++kx) acc = CombineScalar<kMax>(acc, x0[r * g.W + kx]);
    if constexpr (!kMax) acc = acc / div;
    yrow[ow] = acc;
  }
}

template <bool kMax, class T>
void PoolRow(const Geom& g, bool count_include_pad, const T* HWY_RESTRICT xp, int64_t oh, T* HWY_RESTRICT yrow) {
  const int64_t ih0 = oh * g.sh - g.pt;
  const int64_t r0 = std::max<int64_t>(0, ih0), r1 = std::min(g.H, ih0 + g.kh);
  const int64_t nrows = r1 - r0;
  if (nrows <= 0) {  // the window rows are all padding
    std::fill(yrow, yrow + g.OW, kEmpty<kMax, T>);
    return;
  }
  const int64_t padded_rows = std::min(g.H + g.pb, ih0 + g.kh) - std::max(-g.pt, ih0);
  const T* xr = xp + r0 * g.W;

  const int64_t ow_lo = g.ow_lo, ow_hi = g.ow_hi;

  auto border = [&](int64_t ow) {
    const int64_t iw0 = ow * g.sw - g.pl;
    const int64_t c0 = std::max<int64_t>(0, iw0), c1 = std::min(g.W, iw0 + g.kw);
    if (c1 <= c0) {
      yrow[ow] = kEmpty<kMax, T>;
      return;
    }
    T acc = kStart<kMax, T>;
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t c = c0; c < c1; ++c) acc = CombineScalar<kMax>(acc, xr[r * g.W + c]);
    if constexpr (!kMax) {
      const int64_t div = count_include_pad
                              ? padded_rows * (std::min(g.W + g.pr, iw0 + g.kw) - std::max(-g.pl, iw0))
                              : nrows * (c1 - c0);
      acc = acc / static_cast<float>(div);
    }
    yrow[ow] = acc;
  };

  for (int64_t ow = 0; ow < ow_lo; ++ow) border(ow);

  const float div = static_cast<float>((count_include_pad ? padded_rows : nrows) * g.kw);
  int64_t ow = ow_lo;
  switch (g.sw) {
    case 1: ow = VectorColumns<kMax, 1, T>(g, xr, nrows, div, ow, g.ow_vec, yrow); break;
    case 2: ow = VectorColumns<kMax, 2, T>(g, xr, nrows, div, ow, g.ow_vec, yrow); break;
    case 3: ow = VectorColumns<kMax, 3, T>(g, xr, nrows, div, ow, g.ow_vec, yrow); break;
    default: break;  // other strides: the scalar loop below
  }
  ScalarColumns<kMax>(g, xr, nrows, div, ow, ow_hi, yrow);
  for (int64_t o = ow_hi; o < g.OW; ++o) border(o);
}

// Every window of every plane inside the input (no padding, none past an
// edge; strides 1 to 3): one loop over all output rows, each the vector
// walk of its whole kernel rows. PoolRow's clipping and borders cost more
// than a short row's work (digits_cnn: 32 planes of 4 x 4 outputs).
template <bool kMax, int S, class T>
void InteriorPlanes(const PoolParams& p, const Geom& g, const T* HWY_RESTRICT x, T* HWY_RESTRICT y) {
  const float div = static_cast<float>(g.kh * g.kw);
  for (int64_t plane = 0; plane < p.planes; ++plane)
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const T* xr = x + plane * p.in_size + oh * g.sh * g.W;
      T* yrow = y + plane * p.out_size + oh * g.OW;
      const int64_t ow = VectorColumns<kMax, S, T>(g, xr, g.kh, div, 0, g.ow_vec, yrow);
      ScalarColumns<kMax>(g, xr, g.kh, div, ow, g.OW, yrow);
    }
}

template <bool kMax, class T>
void Pool(const PoolParams& p, const T* x, T* y) {
  Geom g = GeomOf(p);
  // Planes of one row whose windows tile the row without padding (a 1-D
  // pool with kernel <= stride, as most are): the planes one after another
  // are one long row with the same windows, which runs as whole vectors
  // instead of a short row per channel.
  if (g.H == 1 && g.OH == 1 && g.kh == 1 && g.pl == 0 && g.pr == 0 && g.kw <= g.sw && g.W == g.OW * g.sw &&
      p.in_size == g.W && p.out_size == g.OW && p.planes > 1) {
    PoolParams row = p;
    const int w = p.spatial - 1;
    row.in_shape[w] = g.W * p.planes;
    row.out_shape[w] = g.OW * p.planes;
    row.in_size = row.in_shape[w];
    row.out_size = row.out_shape[w];
    row.planes = 1;
    g = GeomOf(row);
    PoolRow<kMax, T>(g, p.count_include_pad, x, 0, y);
    return;
  }
  const bool interior = g.pt == 0 && g.pl == 0 && (g.OH - 1) * g.sh + g.kh <= g.H && g.ow_lo == 0 && g.ow_hi == g.OW;
  if (interior && g.sw == 1) return InteriorPlanes<kMax, 1>(p, g, x, y);
  if (interior && g.sw == 2) return InteriorPlanes<kMax, 2>(p, g, x, y);
  if (interior && g.sw == 3) return InteriorPlanes<kMax, 3>(p, g, x, y);
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * p.in_size;
    T* yp = y + plane * p.out_size;
    for (int64_t oh = 0; oh < g.OH; ++oh) PoolRow<kMax, T>(g, p.count_include_pad, xp, oh, yp + oh * g.OW);
  }
}

void MaxPoolF32(const PoolParams& p, const float* x, float* y) { Pool<true>(p, x, y); }
void AvgPoolF32(const PoolParams& p, const float* x, float* y) { Pool<false>(p, x, y); }
void MaxPoolS8(const PoolParams& p, const int8_t* x, int8_t* y) { Pool<true>(p, x, y); }
void MaxPoolU8(const PoolParams& p, const uint8_t* x, uint8_t* y) { Pool<true>(p, x, y); }

const char* PoolTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(MaxPoolF32);
HWY_EXPORT(AvgPoolF32);
HWY_EXPORT(MaxPoolS8);
HWY_EXPORT(MaxPoolU8);
HWY_EXPORT(PoolTargetName);

bool fast_pool_supported(const PoolParams& p) {
  if (p.spatial != 1 && p.spatial != 2) return false;
  for (int d = 0; d < p.spatial; ++d)
    if (p.dilation[d] != 1) return false;
  return true;
}

void fast_maxpool_f32(const PoolParams& p, const float* x, float* y) { HWY_DYNAMIC_DISPATCH(MaxPoolF32)(p, x, y); }
void fast_avgpool_f32(const PoolParams& p, const float* x, float* y) { HWY_DYNAMIC_DISPATCH(AvgPoolF32)(p, x, y); }
void fast_maxpool_s8(const PoolParams& p, const int8_t* x, int8_t* y) { HWY_DYNAMIC_DISPATCH(MaxPoolS8)(p, x, y); }
void fast_maxpool_u8(const PoolParams& p, const uint8_t* x, uint8_t* y) { HWY_DYNAMIC_DISPATCH(MaxPoolU8)(p, x, y); }

const char* fast_pool_target() { return HWY_DYNAMIC_DISPATCH(PoolTargetName)(); }

}  // namespace rtml::kernels

RTML_KERNEL(rtml_f32_maxpool__hwy) {
  rtml::kernels::fast_maxpool_f32(*static_cast<const rtml_pool_params*>(params),
                                  static_cast<const float*>(operands[0]), static_cast<float*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_s8_maxpool__hwy) {
  rtml::kernels::fast_maxpool_s8(*static_cast<const rtml_pool_params*>(params),
                                 static_cast<const int8_t*>(operands[0]), static_cast<int8_t*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_u8_maxpool__hwy) {
  rtml::kernels::fast_maxpool_u8(*static_cast<const rtml_pool_params*>(params),
                                 static_cast<const uint8_t*>(operands[0]), static_cast<uint8_t*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_f32_avgpool__hwy) {
  rtml::kernels::fast_avgpool_f32(*static_cast<const rtml_pool_params*>(params),
                                  static_cast<const float*>(operands[0]), static_cast<float*>(operands[1]));
  return 0;
}
#endif  // HWY_ONCE
