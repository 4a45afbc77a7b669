// Fast int8 kernels, compiled once per Highway target (see fast_quant.h).
//
// The products: a tile of R rows of X against one packed panel, in passes
// of kPass output channels, the R * kPass sums held in registers. Per
// k-quad (4 consecutive k), on AVX3_DL one vpdpbusd per row adds the 4 byte
// products of all 16 channels (X as x + 128, unsigned); elsewhere the
// pass's int8 weights are promoted to int16 and multiplied pairwise with the
// row's 4 values as int16 (ReorderWidenMulAccumulate: pmaddwd, vmlal), each
// channel's sum then being two int32 lanes. R and kPass keep the
// accumulators in the register file (AVX3_DL: 8 rows x 16 channels, or
// x 32 in one pass over the rows where two whole panels remain, AVX-512: 4 x 16, AVX2: 2 x 16, SSE4: 2 x 8, NEON: 1 x 8; one row cycles
// through sets of accumulators, up to 8 registers). Fully connected: the rows are X's, as
// the products' element type. Convolutions: each group's X is copied once,
// channels-last, into a plane padded with the input zero point, and a row
// is an output position's im2col row read in place from it (padding adds
// (zx - zx) * w = 0, like the reference's skipped taps). Depthwise: per
// channel, (x - zx) as int16 in a zero-bordered plane, then the output row
// on int32 vectors, one multiply-add per tap (stride 1; other strides
// scalar over the same plane). Outputs are requantized on vectors
// (RequantizeLanes, the scalar routine lane by lane).
//
// All sums are exact modulo 2^32, as the reference's wrapping int32
// accumulator, so the result is the reference's bit for bit.

// Scalable vectors (SVE, RVV) would break the fixed panel width; those
// targets fall back to the next best one (NEON on SVE hardware).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif
// Highway 1.0.3 compiles AVX3_DL (Ice Lake, Zen 4: AVX512-VNNI) only when
// asked; its dot products of bytes (vpdpbusd) are this file's fastest path.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_quant.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/fast_quant.h"
#include "kernels/quant.h"

#ifndef RTML_KERNELS_FAST_QUANT_ONCE
#define RTML_KERNELS_FAST_QUANT_ONCE
namespace rtml::kernels {
namespace {

// Rows of a tile at most (on any target): sizes the scratch.
constexpr int64_t kMaxTileRows = 8;

inline int64_t quads(int64_t K) { return (K + 3) / 4; }
inline int64_t padded_channels(int64_t N) { return (N + kQPanel - 1) / kQPanel * kQPanel; }
// The scratch bytes of a product's requantization constants (FillConstants).
inline int64_t constants_bytes(int64_t N) { return 3 * padded_channels(N) * static_cast<int64_t>(sizeof(int32_t)); }

template <class T>
int32_t zero_point_of(void* const* operands, int32_t slot, int32_t fallback) {
  return slot >= 0 ? static_cast<int32_t>(*static_cast<const T*>(operands[slot])) : fallback;
}

// What every output of a product needs besides its accumulator.
struct Output {
  const int32_t* multiplier;
  const int32_t* shift;
  bool per_channel;
  int32_t zy, lo, hi;
  template <class P>
  Output(const P& p, void* const* operands)
      : multiplier(static_cast<const int32_t*>(operands[p.multiplier_slot])),
        shift(static_cast<const int32_t*>(operands[p.shift_slot])),
        per_channel(p.per_channel),
        zy(zero_point_of<int8_t>(operands, p.y_zp_slot, p.y_zero_point)),
        lo(p.act_min),
        hi(p.act_max) {}
  int8_t operator()(int64_t channel, int32_t acc) const {
    const int64_t i = per_channel ? channel : 0;
    return static_cast<int8_t>(rtml_requantize_output(acc, multiplier[i], shift[i], zy, lo, hi));
  }
};

// The padded plane of a convolution's input (one channel for depthwise,
// one group channels-last otherwise): the rows and columns every output
// reads, then kPlaneSlack elements for the last vector or k-quad to read.
constexpr int64_t kPlaneSlack = 64;
inline void plane_size(const rtml_qconv_params& p, int64_t* hp, int64_t* wp) {
  *hp = std::max(p.pad_top + p.H, (p.OH - 1) * p.stride_h + (p.KH - 1) * p.dilation_h + 1);
  *wp = std::max(p.pad_left + p.W, (p.OW - 1) * p.stride_w + (p.KW - 1) * p.dilation_w + 1);
}

// A convolution's im2col row in the channels-last padded plane: per kernel
// row one segment of KW * cin contiguous values (dilation_w 1), else one per
// tap of cin values; each padded to whole k-quads (the weights hold zeros
// there). The packed weights follow the same order (qpack_conv).
struct ConvSegments {
  int64_t count, quads, per_row, row_step, col_step;
};
inline ConvSegments conv_segments(const rtml_qconv_params& p) {
  int64_t hp = 0, wp = 0;
  plane_size(p, &hp, &wp);
  const int64_t cin = p.C / p.group;
  ConvSegments s{};
  s.per_row = p.dilation_w == 1 ? 1 : p.KW;
  s.count = p.KH * s.per_row;
  s.quads = quads(p.dilation_w == 1 ? p.KW * cin : cin);
  s.row_step = p.dilation_h * wp * cin;
  s.col_step = p.dilation_w * cin;
  return s;
}

// The operands of a product (params P: rtml_qmatmul_params or
// rtml_qconv_params). w: the packed constant, or W itself for depthwise.
template <class P>
struct Operands {
  const int8_t* x;
  const int8_t* w;
  const int32_t* bias;  // null: none
  int8_t* y;
  int16_t* scratch;  // after the step's constants
  int32_t zx;
  Output output;
  Operands(const P& p, void* const* operands)
      : x(static_cast<const int8_t*>(operands[0])),
        w(static_cast<const int8_t*>(operands[p.w_slot])),
        bias(p.bias_slot >= 0 ? static_cast<const int32_t*>(operands[p.bias_slot]) : nullptr),
        y(static_cast<int8_t*>(operands[p.out_slot])),
        scratch(static_cast<int16_t*>(operands[std::max({p.w_slot, p.multiplier_slot, p.shift_slot}) + 1])),
        zx(zero_point_of<int8_t>(operands, p.x_zp_slot, p.x_zero_point)),
        output(p, operands) {}
};

}  // namespace
}  // namespace rtml::kernels
#endif

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D32 = hn::CappedTag<int32_t, 16>;
using DH = hn::Rebind<int16_t, D32>;  // int16 lanes promoted to one D32 vector
using V32 = hn::Vec<D32>;
constexpr size_t kL32 = hn::MaxLanes(D32());
#if HWY_TARGET == HWY_AVX3_DL
// VNNI: vpdpbusd multiplies unsigned by signed bytes, 4 products into each
// int32 lane. X is stored as x + 128 (uint8); the weight sums take the 128
// out again. One vector is a whole k-quad of a panel: lane c, channel c.
using XE = uint8_t;
constexpr int32_t kXOffset = 128;
constexpr size_t kPass = 16;
constexpr size_t kRows = 8;  // 8 independent accumulators cover vpdpbusd's latency
#else
// int8 promoted to int16, pairwise multiply-adds into int32.
using XE = int16_t;
constexpr int32_t kXOffset = 0;
#if HWY_TARGET == HWY_SCALAR
constexpr size_t kL16 = 8;  // the products below run as plain loops
#else
using D16 = hn::Repartition<int16_t, D32>;
using D8 = hn::Rebind<int8_t, D16>;         // int8 lanes promoted to one D16 vector
using D64 = hn::Repartition<int64_t, D32>;  // a k-quad of int16, broadcast
using V16 = hn::Vec<D16>;
constexpr size_t kL16 = hn::MaxLanes(D16());
#endif
constexpr size_t kPass = kL16 >= 16 ? 16 : 8;  // output channels per pass over a tile
constexpr size_t kNV = kPass * 4 / kL16;        // weight vectors per k-quad and pass
constexpr size_t kRows = HWY_ARCH_ARM ? 1 : kL16 >= 32 ? 4 : 2;
static_assert(kNV * kL16 == kPass * 4, "a pass is whole vectors of a panel");
#endif
static_assert(kQPanel % kPass == 0, "a panel is whole passes");
static_assert(kRows <= static_cast<size_t>(kMaxTileRows), "the scratch holds a tile");

// An int8 value as the products read it.
HWY_INLINE XE ToX(int32_t v) { return static_cast<XE>(v + kXOffset); }

// Where a row's k-quads are: `count` segments of `quads` k-quads, segment s
// at element offset (s / per_row) * row_step + (s % per_row) * col_step from
// the row's start; the packed weights run through the segments in order.
struct Segments {
  int64_t count, quads, per_row, row_step, col_step;
  int64_t offset(int64_t s) const { return (s / per_row) * row_step + (s % per_row) * col_step; }
};

#if HWY_TARGET == HWY_AVX3_DL
// The 4 bytes at xq in every lane.
HWY_INLINE __m512i BroadcastQuad(const XE* xq) {
  int32_t bits;
  std::memcpy(&bits, xq, sizeof(bits));
  return _mm512_set1_epi32(bits);
}
// acc += unsigned bytes of xb times signed bytes of w, 4 per lane. As an
// instruction: Highway 1.0.3's AVX3_DL compiles for AVX-VNNI (VEX) rather
// than AVX512-VNNI, which its run-time check requires.
HWY_INLINE void DotBytes(V32& acc, __m512i xb, V32 w) {
  asm("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(acc.raw) : [x] "v"(xb), [w] "v"(w.raw));
}
#endif

// Rows x[0..R) times one pass of a panel (w: the pass's weights of the
// first k-quad; k-quads 4 * kQPanel bytes apart): out[r * kPass + c], the
// raw sums sum_k x w (exact modulo 2^32).
template <size_t R>
HWY_INLINE void DotPass(const XE* const* x, const Segments& sg, const int8_t* HWY_RESTRICT w,
                        int32_t* HWY_RESTRICT out) {
  constexpr int64_t kQuadBytes = 4 * kQPanel;
#if HWY_TARGET == HWY_SCALAR
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < kPass; ++c) {
      uint32_t sum = 0;
      for (int64_t s = 0; s < sg.count; ++s)
        for (int64_t k = 0; k < 4 * sg.quads; ++k)
          sum += static_cast<uint32_t>(x[r][sg.offset(s) + k] *
                                       w[(s * sg.quads + k / 4) * kQuadBytes + 4 * static_cast<int64_t>(c) + k % 4]);
      out[r * kPass + c] = static_cast<int32_t>(sum);
    }
#else
  const D32 d32;
  // One row (matrix-vector) has too few accumulators to hide the latency of
  // the multiply-adds: it cycles through U sets of them, k-quad by k-quad,
  // up to 8 accumulator registers (NEON's multiply-add fills two per vector).
#if HWY_TARGET == HWY_AVX3_DL
  constexpr size_t kAccPerRow = 1;
#else
  constexpr size_t kAccPerRow = kNV * (HWY_ARCH_ARM ? 2 : 1);
#endif
  constexpr size_t U = R == 1 && kAccPerRow < 8 ? 8 / kAccPerRow : 1;
#if HWY_TARGET == HWY_AVX3_DL
  const hn::Repartition<int8_t, D32> d8;
  V32 acc[U * R];
  for (size_t r = 0; r < U * R; ++r) acc[r] = hn::Zero(d32);
  const auto quad = [&](const int8_t* wq, int64_t xoff, size_t set) HWY_ATTR {
    const V32 wv = hn::BitCast(d32, hn::LoadU(d8, wq));
    for (size_t r = 0; r < R; ++r) DotBytes(acc[set * R + r], BroadcastQuad(x[r] + xoff), wv);
  };
#else
  const D16 d16;
  const D8 d8;
  const D64 d64;
  V32 s0[U * R][kNV], s1[U * R][kNV];
  for (size_t r = 0; r < U * R; ++r)
    for (size_t v = 0; v < kNV; ++v) s0[r][v] = s1[r][v] = hn::Zero(d32);
  const auto quad = [&](const int8_t* wq, int64_t xoff, size_t set) HWY_ATTR {
    V16 wv[kNV];
    for (size_t v = 0; v < kNV; ++v) wv[v] = hn::PromoteTo(d16, hn::LoadU(d8, wq + v * kL16));
    for (size_t r = 0; r < R; ++r) {
      int64_t bits;
      std::memcpy(&bits, x[r] + xoff, sizeof(bits));
      const V16 xv = hn::BitCast(d16, hn::Set(d64, bits));
      V32* a0 = s0[set * R + r];
      V32* a1 = s1[set * R + r];
      for (size_t v = 0; v < kNV; ++v) a0[v] = hn::ReorderWidenMulAccumulate(d32, xv, wv[v], a0[v], a1[v]);
    }
  };
#endif
  for (int64_t s = 0; s < sg.count; ++s) {
    const int8_t* ws = w + s * sg.quads * kQuadBytes;
    const int64_t off = sg.offset(s);
    int64_t j = 0;
    for (; j + static_cast<int64_t>(U) <= sg.quads; j += static_cast<int64_t>(U))
      for (size_t u = 0; u < U; ++u) {
        const int64_t q = j + static_cast<int64_t>(u);
        quad(ws + q * kQuadBytes, off + 4 * q, u);
      }
    for (; j < sg.quads; ++j) quad(ws + j * kQuadBytes, off + 4 * j, 0);
  }
#if HWY_TARGET == HWY_AVX3_DL
  for (size_t r = 0; r < R; ++r) {
    for (size_t u = 1; u < U; ++u) acc[r] = hn::Add(acc[r], acc[u * R + r]);
    hn::Store(acc[r], d32, out + r * kPass);
  }
#else
  for (size_t u = 1; u < U; ++u)
    for (size_t r = 0; r < R; ++r)
      for (size_t v = 0; v < kNV; ++v) {
        s0[r][v] = hn::Add(s0[r][v], s0[u * R + r][v]);
        s1[r][v] = hn::Add(s1[r][v], s1[u * R + r][v]);
      }
  // Lane i of RearrangeToOddPlusEven holds the products of int16 lanes 2i
  // and 2i + 1: channel i / 2 of its vector, half of its k-quad.
  HWY_ALIGN int32_t lanes[kL32];
  for (size_t r = 0; r < R; ++r)
    for (size_t v = 0; v < kNV; ++v) {
      hn::Store(hn::RearrangeToOddPlusEven(s0[r][v], s1[r][v]), d32, lanes);
      for (size_t c = 0; c < kL32 / 2; ++c)
        out[r * kPass + v * (kL32 / 2) + c] =
            static_cast<int32_t>(static_cast<uint32_t>(lanes[2 * c]) + static_cast<uint32_t>(lanes[2 * c + 1]));
    }
#endif
#endif
}

#if HWY_TARGET == HWY_AVX3_DL
// kRows rows times two passes at once (w0, w1: the first k-quad of two
// panels, channels n .. n + 16 and n + 16 .. n + 32): each row's 4 bytes
// are broadcast once for both, into 16 accumulators. out0 and out1 as
// DotPass's out.
HWY_INLINE void DotPassPair(const XE* const* x, const Segments& sg, const int8_t* HWY_RESTRICT w0,
                            const int8_t* HWY_RESTRICT w1, int32_t* HWY_RESTRICT out0, int32_t* HWY_RESTRICT out1) {
  constexpr int64_t kQuadBytes = 4 * kQPanel;
  const D32 d32;
  const hn::Repartition<int8_t, D32> d8;
  V32 a0[kRows], a1[kRows];
  for (size_t r = 0; r < kRows; ++r) a0[r] = a1[r] = hn::Zero(d32);
  for (int64_t s = 0; s < sg.count; ++s) {
    const int64_t off = sg.offset(s), at = s * sg.quads * kQuadBytes;
    for (int64_t j = 0; j < sg.quads; ++j) {
      const V32 v0 = hn::BitCast(d32, hn::LoadU(d8, w0 + at + j * kQuadBytes));
      const V32 v1 = hn::BitCast(d32, hn::LoadU(d8, w1 + at + j * kQuadBytes));
      for (size_t r = 0; r < kRows; ++r) {
        const __m512i xb = BroadcastQuad(x[r] + off + 4 * j);
        DotBytes(a0[r], xb, v0);
        DotBytes(a1[r], xb, v1);
      }
    }
  }
  for (size_t r = 0; r < kRows; ++r) {
    hn::Store(a0[r], d32, out0 + r * kPass);
    hn::Store(a1[r], d32, out1 + r * kPass);
  }
}
#endif

template <size_t R>
HWY_INLINE void DotPassRows(size_t rows, const XE* const* x, const Segments& sg, const int8_t* w, int32_t* out) {
  if constexpr (R > 0) {
    if (rows == R) return DotPass<R>(x, sg, w, out);
    DotPassRows<R - 1>(rows, x, sg, w, out);
  }
}

// Rows [0, M) times one packed matrix of N columns whose k-quads the
// segments describe. rows_at(m0, rows, x) sets x[r] to row m0 + r;
// store(m0, rows, n, cols, sums) takes the raw sums sum_k x w of rows
// m0 .. m0 + rows, columns n .. n + cols (row r at sums + r * kPass).
template <class RowsAt, class Store>
HWY_INLINE void PackedProduct(int64_t M, const Segments& sg, int64_t N, const int8_t* packed, const RowsAt& rows_at,
                              const Store& store) {
  const int64_t Kq = sg.count * sg.quads;
  const int8_t* panels = packed + padded_channels(N) * static_cast<int64_t>(sizeof(int32_t));
  for (int64_t m0 = 0; m0 < M; m0 += static_cast<int64_t>(kRows)) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), M - m0));
    const XE* x[kRows];
    rows_at(m0, rows, x);
    for (int64_t n0 = 0; n0 < N; n0 += kQPanel) {
      const int8_t* panel = panels + n0 * 4 * Kq;
#if HWY_TARGET == HWY_AVX3_DL
      if (rows == kRows && n0 + 2 * kQPanel <= N) {  // two whole panels: X's broadcasts serve both
        HWY_ALIGN int32_t out0[kRows * kPass], out1[kRows * kPass];
        DotPassPair(x, sg, panel, panel + kQPanel * 4 * Kq, out0, out1);
        store(m0, rows, n0, kQPanel, out0);
        store(m0, rows, n0 + kQPanel, kQPanel, out1);
        n0 += kQPanel;
        continue;
      }
#endif
      for (int64_t c0 = 0; c0 < kQPanel && n0 + c0 < N; c0 += static_cast<int64_t>(kPass)) {
        HWY_ALIGN int32_t out[kRows * kPass];
        DotPassRows<kRows>(rows, x, sg, panel + 4 * c0, out);
        const int64_t cols = std::min<int64_t>(static_cast<int64_t>(kPass), N - n0 - c0);
        store(m0, rows, n0 + c0, cols, out);
      }
    }
  }
}

// rtml_requantize_output (kernels/quant.h) on int32 lanes, bit for bit
// (fast_quant_test.cpp compares them on random and extreme values):
// TFLite's nudge (2^30 or 1 - 2^30 by the product's sign) and truncation
// toward zero amount to floor((a * m + 2^30) / 2^31) for either sign, whose
// low 32 bits a logical shift of the 64-bit sum gives (an odd lane's: the
// high 32 bits of the sum shifted left by one). lo and hi: the clamp minus
// the output zero point (so the sum cannot overflow). kMinMultiplier false:
// no multiplier is INT32_MIN (as none that rtml_quantize_multiplier makes
// is), so the one product that saturates cannot occur.
template <bool kMinMultiplier = true>
HWY_INLINE V32 RequantizeLanes(V32 acc, V32 multiplier, V32 shift, V32 zy, V32 lo, V32 hi) {
  const D32 d;
#if HWY_TARGET == HWY_SCALAR
  const int32_t z = hn::GetLane(zy);
  return hn::Set(d, rtml_requantize_output(hn::GetLane(acc), hn::GetLane(multiplier), hn::GetLane(shift), z,
                                           hn::GetLane(lo) + z, hn::GetLane(hi) + z));
#else
  const hn::RebindToUnsigned<D32> du;
  const hn::Repartition<uint64_t, D32> du64;
  const V32 zero = hn::Zero(d), one = hn::Set(d, 1);
  const auto left = hn::BitCast(du, hn::Max(shift, zero));
  const V32 right = hn::Max(hn::Neg(shift), zero);
  const V32 a = hn::BitCast(d, hn::BitCast(du, acc) << left);  // wraps, as the scalar routine
  const auto nudge = hn::Set(du64, uint64_t{1} << 30);
  const auto even = hn::ShiftRight<31>(hn::Add(hn::BitCast(du64, hn::MulEven(a, multiplier)), nudge));
  const V32 a_odd = hn::BitCast(d, hn::ShiftRight<32>(hn::BitCast(du64, a)));
  const V32 m_odd = hn::BitCast(d, hn::ShiftRight<32>(hn::BitCast(du64, multiplier)));
  const auto odd = hn::ShiftLeft<1>(hn::Add(hn::BitCast(du64, hn::MulEven(a_odd, m_odd)), nudge));
  V32 x = hn::OddEven(hn::BitCast(d, odd), hn::BitCast(d, even));
  if constexpr (kMinMultiplier) {
    const V32 min = hn::Set(d, INT32_MIN);
    x = hn::IfThenElse(hn::And(hn::Eq(a, min), hn::Eq(multiplier, min)), hn::Set(d, INT32_MAX), x);
  }
  // RoundingDivideByPOT(x, right)
  const V32 mask = hn::BitCast(d, hn::Sub(hn::Set(du, 1u) << hn::BitCast(du, right), hn::Set(du, 1u)));
  const V32 threshold = hn::Add(hn::ShiftRight<1>(mask), hn::IfThenElseZero(hn::Lt(x, zero), one));
  x = hn::Add(x >> right, hn::IfThenElseZero(hn::Gt(hn::And(x, mask), threshold), one));
  return hn::Add(hn::Min(hn::Max(x, lo), hi), zy);
#endif
}

// The requantization constants of a product's N output channels, worked
// out once per call into scratch (three arrays of padded_channels(N) int32,
// zero past N, so a pass reads whole vectors even at the last channels):
// per channel bias - zx * weight sum (exact modulo 2^32), the multiplier and
// the shift. (Filled value by value and read as vectors much later: a
// vector load right after scalar stores would wait for them.)
inline void FillConstants(int64_t N, const int32_t* bias, const int32_t* wsum, int32_t zx, const Output& out,
                          int64_t channel, int32_t* HWY_RESTRICT dst) {
  const int64_t Np = padded_channels(N);
  const size_t n = static_cast<size_t>(N), tail = static_cast<size_t>(Np - N) * sizeof(int32_t);
  const uint32_t uzx = static_cast<uint32_t>(zx);
  for (int64_t c = 0; c < N; ++c)  // loops of one statement: on vectors
    dst[c] = static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[c]) : 0u) - uzx * static_cast<uint32_t>(wsum[c]));
  if (out.per_channel) {
    std::memcpy(dst + Np, out.multiplier + channel, n * sizeof(int32_t));
    std::memcpy(dst + 2 * Np, out.shift + channel, n * sizeof(int32_t));
  } else {
    std::fill(dst + Np, dst + Np + N, out.multiplier[0]);
    std::fill(dst + 2 * Np, dst + 2 * Np + N, out.shift[0]);
  }
  for (int k = 0; k < 3; ++k) std::memset(dst + k * Np + N, 0, tail);
}

// The constants of one pass of kPass channels from n on (FillConstants'
// arrays), as vectors, loaded once for every row of a tile.
struct PassConstants {
  static constexpr size_t kChunks = kPass / kL32;
  V32 offset[kChunks], multiplier[kChunks], shift[kChunks];
  V32 zy, lo, hi;
  bool min_multiplier = false;  // a multiplier is INT32_MIN (RequantizeLanes' saturating case)
  PassConstants(const int32_t* constants, int64_t N, int64_t n, const Output& out) {
    const D32 d;
    const int64_t Np = padded_channels(N);
    zy = hn::Set(d, out.zy);
    lo = hn::Set(d, out.lo - out.zy);
    hi = hn::Set(d, out.hi - out.zy);
    for (size_t k = 0; k < kChunks; ++k) {
      const int64_t at = n + static_cast<int64_t>(k * kL32);
      offset[k] = hn::LoadU(d, constants + at);
      multiplier[k] = hn::LoadU(d, constants + Np + at);
      shift[k] = hn::LoadU(d, constants + 2 * Np + at);
      min_multiplier = min_multiplier || !hn::AllFalse(d, hn::Eq(multiplier[k], hn::Set(d, INT32_MIN)));
    }
  }
  // The int8 outputs of chunk k of one row's raw sums.
  HWY_INLINE hn::Vec<hn::Rebind<int8_t, D32>> RowVector(const int32_t* HWY_RESTRICT sums, size_t k = 0) const {
    const D32 d;
    const V32 acc = hn::Add(hn::LoadU(d, sums + k * kL32), offset[k]);  // wraps
    return hn::DemoteTo(hn::Rebind<int8_t, D32>(), min_multiplier
                                                       ? RequantizeLanes<true>(acc, multiplier[k], shift[k], zy, lo, hi)
                                                       : RequantizeLanes<false>(acc, multiplier[k], shift[k], zy, lo, hi));
  }
  // The int8 outputs of one row's raw sums (kPass of them) into dst[0, kPass).
  HWY_INLINE void Row(const int32_t* HWY_RESTRICT sums, int8_t* HWY_RESTRICT dst) const {
    const hn::Rebind<int8_t, D32> d8;
    for (size_t k = 0; k < kChunks; ++k) hn::StoreU(RowVector(sums, k), d8, dst + k * kL32);
  }
};
static_assert(kPass % kL32 == 0, "a pass is whole int32 vectors");

// A group's input, channel ic at src[ic * H * W + ih * W + iw], into the
// interior of its channels-last plane as the products read it:
// dst[ih * row_stride + iw * cin + ic] = ToX(x). The positions are taken in
// their order in src (rows one after the other), blocks of 8 channels x one
// 128-bit vector of positions transposed on vectors (three rounds of
// interleaves: pairs, quads, then 8 channels per position) and stored 8
// values per position, in increasing position order. More than 8 channels:
// blocks 0, 8, ... and, for a remainder, the last 8 again (rewriting equal
// values). Fewer than 8: the missing channels are `pad`, so a position's 8
// values run into the next position (written after it) or past its row's
// end into padding (pad there too; at most 7 values, inside the plane's
// slack at its very end). Positions past the last whole vector: value by
// value. (Not inlined: in S8Conv it made GCC keep the products'
// accumulators on the stack, which cost more than the whole copy.)
HWY_NOINLINE void ToChannelsLast(const int8_t* HWY_RESTRICT src, int64_t H, int64_t W, int64_t cin, XE pad,
                                 int64_t row_stride, XE* HWY_RESTRICT dst) {
  const int64_t count = H * W;
  const auto at = [&](int64_t f) { return dst + (f / W) * row_stride + (f % W) * cin; };
  int64_t done = 0;
#if HWY_TARGET != HWY_SCALAR
  using U = hwy::MakeUnsigned<XE>;
  const hn::Full128<U> d;
  const hn::Repartition<hwy::MakeWide<U>, decltype(d)> d2;
  const hn::Repartition<hwy::MakeWide<hwy::MakeWide<U>>, decltype(d)> d4;
  using V = hn::Vec<decltype(d)>;
  constexpr int64_t kCols = static_cast<int64_t>(hn::MaxLanes(d));  // positions per block
  constexpr int64_t kPer = kCols / 8;                               // positions per transposed vector
  const auto load = [&](const int8_t* p) HWY_ATTR -> V {
#if HWY_TARGET == HWY_AVX3_DL
    return hn::Xor(hn::BitCast(d, hn::LoadU(hn::Full128<int8_t>(), p)), hn::Set(d, U{0x80}));  // x + 128
#else
    return hn::BitCast(d, hn::PromoteTo(hn::Full128<int16_t>(), hn::LoadU(hn::Full64<int8_t>(), p)));
#endif
  };
  done = count / kCols * kCols;
  const int64_t real = std::min<int64_t>(8, cin);  // channels of a block read from src
  for (int64_t ic0 = 0; ic0 < cin; ic0 = ic0 + 8 < cin ? std::min(ic0 + 8, cin - 8) : cin) {
    for (int64_t f = 0; f < done; f += kCols) {
      V r[8], t[8];
      for (int64_t k = 0; k < 8; ++k) r[k] = k < real ? load(src + (ic0 + k) * count + f) : hn::Set(d, static_cast<U>(pad));
      for (int k = 0; k < 4; ++k) {  // t[2k], t[2k+1]: channels 2k, 2k+1; the first and second half of the positions
        t[2 * k] = hn::InterleaveLower(d, r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = hn::InterleaveUpper(d, r[2 * k], r[2 * k + 1]);
      }
      for (int k = 0; k < 2; ++k)  // r[4k + q]: channels 4k..4k+3, quarter q of the positions
        for (int h = 0; h < 2; ++h) {
          const auto a = hn::BitCast(d2, t[4 * k + h]), b = hn::BitCast(d2, t[4 * k + 2 + h]);
          r[4 * k + 2 * h] = hn::BitCast(d, hn::InterleaveLower(d2, a, b));
          r[4 * k + 2 * h + 1] = hn::BitCast(d, hn::InterleaveUpper(d2, a, b));
        }
      int64_t col = f % W;  // of the next position to store, at pos
      XE* pos = at(f) + ic0;
      const bool one_row = cin == 8 && col + kCols <= W;  // the block's 8-value runs are contiguous in dst
      for (int q = 0; q < 4; ++q) {  // quarter q: two vectors of kPer positions x 8 channels
        const auto a = hn::BitCast(d4, r[q]), b = hn::BitCast(d4, r[4 + q]);
        const V lo = hn::BitCast(d, hn::InterleaveLower(d4, a, b)), hi = hn::BitCast(d, hn::InterleaveUpper(d4, a, b));
        if (one_row) {
          U* p = reinterpret_cast<U*>(pos + 2 * q * kPer * 8);
          hn::StoreU(lo, d, p);
          hn::StoreU(hi, d, p + kCols);
          continue;
        }
        HWY_ALIGN U lanes[2 * kCols];
        hn::Store(lo, d, lanes);
        hn::Store(hi, d, lanes + kCols);
        for (int64_t j = 0; j < 2 * kPer; ++j) {
          std::memcpy(pos, lanes + 8 * j, 8 * sizeof(U));
          pos += cin;
          if (++col == W) {  // on to the next row
            col = 0;
            pos += row_stride - W * cin;
          }
        }
      }
    }
  }
#endif
  (void)pad;
  for (int64_t f = done; f < count; ++f)
    for (int64_t ic = 0; ic < cin; ++ic) at(f)[ic] = ToX(src[ic * count + f]);
}

// A tile's outputs, requantized from its raw sums (row r at sums + r *
// kPass) by pc, for `rows` consecutive positions and `cols` channels, into
// Y at y[c * ldy + r].
HWY_INLINE void StoreTile(const PassConstants& pc, const int32_t* sums, size_t rows, int64_t cols, int8_t* y,
                          int64_t ldy) {
#if HWY_TARGET == HWY_AVX3_DL
  if (rows == 8) {  // 8 rows of 16 bytes, kept in two registers, transposed by two byte permutes (VBMI)
    static const auto index = [] {
      struct { alignas(64) uint8_t lo[64], hi[64]; } t{};
      for (int j = 0; j < 64; ++j) {  // output byte j = channel j / 8 (+ 8), row j % 8 of rows 0-3 | 4-7
        const int c = j / 8, r = j % 8;
        t.lo[j] = static_cast<uint8_t>((r < 4 ? 0 : 64) + (r % 4) * 16 + c);
        t.hi[j] = static_cast<uint8_t>((r < 4 ? 0 : 64) + (r % 4) * 16 + c + 8);
      }
      return t;
    }();
    static_assert(PassConstants::kChunks == 1, "a row is one vector");
    __m512i rows4[2];
    for (int h = 0; h < 2; ++h) {
      rows4[h] = _mm512_castsi128_si512(pc.RowVector(sums + (4 * h) * kPass).raw);
      rows4[h] = _mm512_inserti32x4(rows4[h], pc.RowVector(sums + (4 * h + 1) * kPass).raw, 1);
      rows4[h] = _mm512_inserti32x4(rows4[h], pc.RowVector(sums + (4 * h + 2) * kPass).raw, 2);
      rows4[h] = _mm512_inserti32x4(rows4[h], pc.RowVector(sums + (4 * h + 3) * kPass).raw, 3);
    }
    HWY_ALIGN int8_t t[128];
    _mm512_store_si512(t, _mm512_permutex2var_epi8(rows4[0], _mm512_load_si512(index.lo), rows4[1]));
    _mm512_store_si512(t + 64, _mm512_permutex2var_epi8(rows4[0], _mm512_load_si512(index.hi), rows4[1]));
    for (int64_t c = 0; c < cols; ++c) std::memcpy(y + c * ldy, t + c * 8, 8);
    return;
  }
#endif
  HWY_ALIGN int8_t ys[kRows * kPass];  // [row][channel]
  for (size_t r = 0; r < rows; ++r) pc.Row(sums + r * kPass, ys + r * kPass);
  for (int64_t c = 0; c < cols; ++c)
    for (size_t r = 0; r < rows; ++r) y[c * ldy + static_cast<int64_t>(r)] = ys[r * kPass + static_cast<size_t>(c)];
}

void S8FullyConnected(const rtml_qmatmul_params& p, void* const* operands) {
  const Operands<rtml_qmatmul_params> o(p, operands);
  const int64_t matrix_bytes = qpacked_bytes(p.K, p.N), Kq = quads(p.K), ldx = 4 * Kq;
  const Segments sg{1, Kq, 1, 0, 0};
  int32_t* constants = reinterpret_cast<int32_t*>(o.scratch);
  XE* rows_x = reinterpret_cast<XE*>(o.scratch + constants_bytes(p.N) / static_cast<int64_t>(sizeof(int16_t)));
  for (int64_t b = 0; b < p.batch_count; ++b) {
    const int8_t* xb = o.x + b * p.x_batch_stride;
    const int8_t* wb = o.w + (p.w_batch_stride != 0 ? b * matrix_bytes : 0);
    if (b == 0 || p.w_batch_stride != 0)
      FillConstants(p.N, o.bias, reinterpret_cast<const int32_t*>(wb), o.zx + kXOffset, o.output, 0, constants);
    int8_t* yb = o.y + b * p.M * p.N;
    PackedProduct(
        p.M, sg, p.N, wb,
        [&](int64_t m0, size_t rows, const XE** x) {  // the rows as XE, zero-padded to whole k-quads
          const int64_t K = p.K;  // a local: stores of bytes may alias the params
          for (size_t r = 0; r < rows; ++r) {
            const int8_t* HWY_RESTRICT row = xb + (m0 + static_cast<int64_t>(r)) * K;
            XE* HWY_RESTRICT d = rows_x + static_cast<int64_t>(r) * ldx;
            for (int64_t k = 0; k < K; ++k) d[k] = ToX(row[k]);
            for (int64_t k = K; k < ldx; ++k) d[k] = 0;
            x[r] = d;
          }
        },
        [&](int64_t m0, size_t rows, int64_t n, int64_t cols, const int32_t* sums) {
          const PassConstants pc(constants, p.N, n, o.output);
          HWY_ALIGN int8_t ys[kPass];
          for (size_t r = 0; r < rows; ++r) {
            int8_t* dst = yb + (m0 + static_cast<int64_t>(r)) * p.N + n;
            if (cols == static_cast<int64_t>(kPass)) {
              pc.Row(sums + r * kPass, dst);
            } else {
              pc.Row(sums + r * kPass, ys);
              std::memcpy(dst, ys, static_cast<size_t>(cols));
            }
          }
        });
  }
}

// Convolutions as products: X of one group copied channels-last into a
// plane padded with the zero point (scratch), so the im2col row of an
// output position is read in place, in segments of conv_segments.
void S8Conv(const rtml_qconv_params& p, void* const* operands) {
  const Operands<rtml_qconv_params> o(p, operands);
  const int64_t cin = p.C / p.group, cout_g = p.C_out / p.group, positions = p.OH * p.OW;
  const ConvSegments cs = conv_segments(p);
  const Segments sg{cs.count, cs.quads, cs.per_row, cs.row_step, cs.col_step};
  const int64_t group_bytes = qpacked_bytes(cs.count * cs.quads * 4, cout_g);
  int64_t hp = 0, wp = 0;
  plane_size(p, &hp, &wp);
  int32_t* constants = reinterpret_cast<int32_t*>(o.scratch);
  XE* plane = reinterpret_cast<XE*>(o.scratch + constants_bytes(cout_g) / static_cast<int64_t>(sizeof(int16_t)));
  const XE pad = ToX(o.zx);
  for (int64_t nb = 0; nb < p.N; ++nb)
    for (int64_t g = 0; g < p.group; ++g) {
      const int8_t* xg = o.x + (nb * p.C + g * cin) * p.H * p.W;
      std::fill(plane, plane + hp * wp * cin, pad);
      std::fill(plane + hp * wp * cin, plane + hp * wp * cin + kPlaneSlack, XE{0});
      ToChannelsLast(xg, p.H, p.W, cin, pad, wp * cin, plane + (p.pad_top * wp + p.pad_left) * cin);
      const int8_t* wg = o.w + g * group_bytes;
      FillConstants(cout_g, o.bias ? o.bias + g * cout_g : nullptr, reinterpret_cast<const int32_t*>(wg),
                    o.zx + kXOffset, o.output, g * cout_g, constants);
      int8_t* yg = o.y + (nb * p.C_out + g * cout_g) * positions;
      PackedProduct(
          positions, sg, cout_g, wg,
          [&](int64_t m0, size_t rows, const XE** x) {
            // One division per tile, not per row (a 64-bit division per
            // row cost more than the products of a small convolution).
            int64_t oh = m0 / p.OW, ow = m0 % p.OW;
            for (size_t r = 0; r < rows; ++r) {
              x[r] = plane + (oh * p.stride_h * wp + ow * p.stride_w) * cin;
              if (++ow == p.OW) ow = 0, ++oh;
            }
          },
          [&](int64_t m0, size_t rows, int64_t n, int64_t cols, const int32_t* sums) {
            const PassConstants pc(constants, cout_g, n, o.output);  // Y is [channel][position]
            StoreTile(pc, sums, rows, cols, yg + n * positions + m0, positions);
          });
    }
}

void S8DepthwiseConv(const rtml_qconv_params& p, void* const* operands) {
  const D32 d32;
  const DH dh;
  const hn::Rebind<int8_t, D32> d8;
  const Operands<rtml_qconv_params> o(p, operands);
  const V32 zy = hn::Set(d32, o.output.zy), lo = hn::Set(d32, o.output.lo - o.output.zy),
            hi = hn::Set(d32, o.output.hi - o.output.zy);
  int16_t* plane = o.scratch;  // one channel, zero-bordered
  int64_t hp = 0, wp = 0;
  plane_size(p, &hp, &wp);
  const int64_t multiplier = p.C_out / p.C, taps = p.KH * p.KW, positions = p.OH * p.OW;
  HWY_ALIGN int32_t lanes[kL32];
  for (int64_t nb = 0; nb < p.N; ++nb)
    for (int64_t c = 0; c < p.C; ++c) {
      std::fill(plane, plane + hp * wp + kPlaneSlack, int16_t{0});
      const int8_t* xc = o.x + (nb * p.C + c) * p.H * p.W;
      for (int64_t ih = 0; ih < p.H; ++ih)
        for (int64_t iw = 0; iw < p.W; ++iw)
          plane[(ih + p.pad_top) * wp + iw + p.pad_left] = static_cast<int16_t>(xc[ih * p.W + iw] - o.zx);
      for (int64_t oc = c * multiplier; oc < (c + 1) * multiplier; ++oc) {
        const int8_t* wc = o.w + oc * taps;
        const uint32_t b = o.bias ? static_cast<uint32_t>(o.bias[oc]) : 0u;
        const int64_t i = o.output.per_channel ? oc : 0;
        const V32 bias = hn::Set(d32, static_cast<int32_t>(b)), multiplier = hn::Set(d32, o.output.multiplier[i]),
                  shift = hn::Set(d32, o.output.shift[i]);
        int8_t* yc = o.y + (nb * p.C_out + oc) * positions;
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          const int16_t* rows = plane + oh * p.stride_h * wp;
          int64_t ow = 0;
          if (p.stride_w == 1) {
            for (; ow < p.OW; ow += static_cast<int64_t>(kL32)) {  // the last vector reads into the slack
              V32 acc = hn::Zero(d32);
              for (int64_t kh = 0; kh < p.KH; ++kh)
                for (int64_t kw = 0; kw < p.KW; ++kw) {
                  const int16_t* xr = rows + kh * p.dilation_h * wp + ow + kw * p.dilation_w;
                  acc = hn::Add(acc, hn::Mul(hn::PromoteTo(d32, hn::LoadU(dh, xr)), hn::Set(d32, wc[kh * p.KW + kw])));
                }
              acc = RequantizeLanes(hn::Add(acc, bias), multiplier, shift, zy, lo, hi);
              const int64_t n = std::min<int64_t>(static_cast<int64_t>(kL32), p.OW - ow);
              if (n == static_cast<int64_t>(kL32)) {
                hn::StoreU(hn::DemoteTo(d8, acc), d8, yc + oh * p.OW + ow);
              } else {
                hn::Store(acc, d32, lanes);
                for (int64_t i = 0; i < n; ++i) yc[oh * p.OW + ow + i] = static_cast<int8_t>(lanes[i]);
              }
            }
            continue;
          }
          for (; ow < p.OW; ++ow) {
            uint32_t acc = b;
            for (int64_t kh = 0; kh < p.KH; ++kh)
              for (int64_t kw = 0; kw < p.KW; ++kw)
                acc += static_cast<uint32_t>(rows[kh * p.dilation_h * wp + ow * p.stride_w + kw * p.dilation_w] *
                                             wc[kh * p.KW + kw]);
            yc[oh * p.OW + ow] = o.output(oc, static_cast<int32_t>(acc));
          }
        }
      }
    }
}

// one(in, out) on each vector of kL32 elements of x[0, n) into y; the last
// partial one through a zeroed copy.
template <class TX, class TY, class F>
HWY_INLINE void EachVector(const TX* HWY_RESTRICT x, int64_t n, TY* HWY_RESTRICT y, const F& one) {
  constexpr int64_t L = static_cast<int64_t>(kL32);
  int64_t i = 0;
  for (; i + L <= n; i += L) one(x + i, y + i);
  if (i < n) {
    HWY_ALIGN TX in[kL32] = {};
    HWY_ALIGN TY out[kL32];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(TX));
    one(in, out);
    std::memcpy(y + i, out, static_cast<size_t>(n - i) * sizeof(TY));
  }
}

// QuantizeLinear (float -> T) on vectors, the reference's operations in its
// order (kernels/quant.cpp's quantize_one): x / scale, clamped to +-2^22
// (NaN to the low end), rounded half to even by adding 1.5 * 2^23, plus the
// zero point, clamped to T's range. The values are integers from the
// rounding on (and int32 after it), so ARMv7's flush of denormals cannot
// change them.
//
// The quotient: a division is slow (AVX-512: about 10 cycles a vector; ARMv7
// NEON has none, so each lane goes through the scalar unit). The product by
// the reciprocal p = x * (1 / scale) is within 1.5 * 2^-23 |x / scale| of
// the IEEE quotient q, so the two round to the same integer unless p lies
// that close to a half-integer; below |p| = 1024 that is < 2^-12, and a
// vector with a lane within 2^-10 of a half-integer is divided after all.
// From 1024 up both saturate T (an int8 or uint8 plus a zero point). NaN and
// infinities give the quotient's NaN and infinities. Only with a normal scale
// and reciprocal (ARMv7: a scale >= 2^-100, so that inputs NEON flushes to
// zero have quotients that round to 0 too); otherwise the division.
template <class T>
void QuantizeRun(const float* HWY_RESTRICT x, int64_t n, float scale, int32_t zp, T* HWY_RESTRICT y) {
  const D32 di;
  const hn::Rebind<float, D32> df;
  const hn::Rebind<T, D32> dt;
  using VF = hn::Vec<decltype(df)>;
  const VF bound = hn::Set(df, 4194304.0f), neg_bound = hn::Set(df, -4194304.0f), magic = hn::Set(df, 12582912.0f);
  const VF s = hn::Set(df, scale);
  const auto magic_bits = hn::BitCast(di, magic), zi = hn::Set(di, zp);
  const float inv = 1.0f / scale;
  const bool reciprocal = std::isnormal(scale) && std::isnormal(inv) && (!HWY_ARCH_ARM_V7 || scale >= 0x1p-100f);
  const VF vinv = hn::Set(df, inv), near_tie = hn::Set(df, 0.5f - 0x1p-10f);
  const auto quotient = [&](const float* in) HWY_ATTR -> VF {
#if HWY_ARCH_ARM_V7
    HWY_ALIGN float q[kL32];
    for (size_t i = 0; i < kL32; ++i) q[i] = in[i] / scale;
    return hn::Load(df, q);
#else
    return hn::Div(hn::LoadU(df, in), s);
#endif
  };
  const auto one = [&](const float* in, T* out) HWY_ATTR {
    VF v;
    if (reciprocal) {
      v = hn::Mul(hn::LoadU(df, in), vinv);
      const VF off = hn::Abs(hn::Sub(v, hn::Sub(hn::Add(v, magic), magic)));  // to the nearest integer
      if (!hn::AllFalse(df, hn::Gt(off, near_tie))) v = quotient(in);
    } else {
      v = quotient(in);
    }
    v = hn::IfThenElse(hn::Ge(v, neg_bound), v, neg_bound);  // NaN -> -2^22
    v = hn::IfThenElse(hn::Le(v, bound), v, bound);
    // v + 1.5 * 2^23 lies in [2^23, 2^24], where floats are the integers and
    // their bits count up by one: minus the bits of 1.5 * 2^23, the rounded
    // v as an int32. Plus the zero point, then DemoteTo saturates to T.
    const auto r = hn::Add(hn::Sub(hn::BitCast(di, hn::Add(v, magic)), magic_bits), zi);
    hn::StoreU(hn::DemoteTo(dt, r), dt, out);
  };
  (void)s;
  EachVector(x, n, y, one);
}

// DequantizeLinear (T -> float): (float(x) - zero point) * scale, as the
// reference. ARMv7 NEON flushes denormal products to zero: there a scale
// outside [2^-100, 2^100] (whose products with the integers could be
// denormal, or are infinities and NaNs) is multiplied lane by lane.
template <class T>
void DequantizeRun(const T* HWY_RESTRICT x, int64_t n, float scale, int32_t zp, float* HWY_RESTRICT y) {
  const D32 di;
  const hn::Rebind<float, D32> df;
  const hn::Rebind<T, D32> dt;
  using VF = hn::Vec<decltype(df)>;
  const VF s = hn::Set(df, scale), z = hn::Set(df, static_cast<float>(zp));
#if HWY_ARCH_ARM_V7
  const bool lanes = !(scale >= 0x1p-100f && scale <= 0x1p100f);
#endif
  const auto one = [&](const T* in, float* out) HWY_ATTR {
    const VF d = hn::Sub(hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(dt, in))), z);  // exact integers
#if HWY_ARCH_ARM_V7
    if (lanes) {
      HWY_ALIGN float v[kL32];
      hn::Store(d, df, v);
      for (size_t i = 0; i < kL32; ++i) out[i] = v[i] * scale;
      return;
    }
#endif
    hn::StoreU(hn::Mul(d, s), df, out);
  };
  EachVector(x, n, y, one);
}

// Quantize (true) or Dequantize over the runs of rtml_quantize_params that
// share a scale and zero point (the reference's for_each_run).
template <class T, bool kQuantize>
void QuantizeLinear(const rtml_quantize_params& p, void* const* operands) {
  const float* scale = static_cast<const float*>(operands[1]);
  const T* zp = p.has_zero_point ? static_cast<const T*>(operands[2]) : nullptr;
  const auto run = [&](int64_t at, int64_t n, int64_t c) {
    const int32_t z = zp ? static_cast<int32_t>(zp[c]) : 0;
    if constexpr (kQuantize)
      QuantizeRun<T>(static_cast<const float*>(operands[0]) + at, n, scale[c], z, static_cast<T*>(operands[p.out_slot]) + at);
    else
      DequantizeRun<T>(static_cast<const T*>(operands[0]) + at, n, scale[c], z, static_cast<float*>(operands[p.out_slot]) + at);
  };
  if (!p.per_axis) return run(0, p.outer * p.axis_dim * p.inner, 0);
  for (int64_t o = 0, at = 0; o < p.outer; ++o)
    for (int64_t c = 0; c < p.axis_dim; ++c, at += p.inner) run(at, p.inner, c);
}

void S8Quantize(const rtml_quantize_params& p, void* const* operands) { QuantizeLinear<int8_t, true>(p, operands); }
void U8Quantize(const rtml_quantize_params& p, void* const* operands) { QuantizeLinear<uint8_t, true>(p, operands); }
void S8Dequantize(const rtml_quantize_params& p, void* const* operands) { QuantizeLinear<int8_t, false>(p, operands); }
void U8Dequantize(const rtml_quantize_params& p, void* const* operands) { QuantizeLinear<uint8_t, false>(p, operands); }

// QLinearAdd of two int8 tensors of one shape (rtml_qbinary_params): the
// reference's TFLite integer Add (kernels/quant.cpp's qbinary), bit for bit.
//
// Exactly, on int32 lanes: each of its three requantizations
// RequantizeLanes (the first two with no zero point and no clamp), about 80
// operations per vector. Estimated first, in float: with a = A - a_zp and
// b = B - b_zp (|a|, |b| <= 255), y = G(F_a(a) + F_b(b)) where F_a(a) is a
// rounding of a * ka (ka = a_multiplier 2^(a_shift - 31 + left_shift)),
// within 1 of it (the doubling high multiply rounds once, the divide by a
// power of two once), likewise F_b, and G(s) rounds (ties away from zero)
// a value within 2^-(ry + 1) of s * kg (kg = y_multiplier 2^(y_shift - 31),
// ry = -y_shift >= 0). So the value G rounds lies within
// delta = 2 kg + 2^-(ry + 1) + E of t = a * (ka kg) + b * (kb kg) computed
// in float, E bounding the float error (255 (|ka kg| + |kb kg|) 2^-20, with
// room); wherever t is farther than delta from every half-integer, G's
// result is the integer nearest t. A vector with a lane that close is done
// exactly (at usual scales delta is about 2^-12: one vector in a hundred).
// Scales for which delta is not small, or shifts that move left (the
// products could wrap, as the reference's do), take the exact path
// throughout.
void S8QAdd(const rtml_qbinary_params& p, void* const* operands) {
  const D32 d;
  const hn::Rebind<int8_t, D32> d8;
  const int8_t* a = static_cast<const int8_t*>(operands[0]);
  const int8_t* b = static_cast<const int8_t*>(operands[p.b_slot]);
  int8_t* y = static_cast<int8_t*>(operands[p.out_slot]);
  const V32 za = hn::Set(d, p.a_zero_point), zb = hn::Set(d, p.b_zero_point), scale = hn::Set(d, 1 << p.left_shift);
  const V32 am = hn::Set(d, p.a_multiplier), as = hn::Set(d, p.a_shift), bm = hn::Set(d, p.b_multiplier),
            bs = hn::Set(d, p.b_shift), ym = hn::Set(d, p.y_multiplier), ys = hn::Set(d, p.y_shift);
  const V32 zero = hn::Zero(d), all_lo = hn::Set(d, INT32_MIN), all_hi = hn::Set(d, INT32_MAX);
  const V32 zy = hn::Set(d, p.y_zero_point), lo = hn::Set(d, p.act_min - p.y_zero_point),
            hi = hn::Set(d, p.act_max - p.y_zero_point);
  const auto exact = [&](const int8_t* pa, const int8_t* pb, int8_t* out) HWY_ATTR {
    const V32 va = hn::Mul(hn::Sub(hn::PromoteTo(d, hn::LoadU(d8, pa)), za), scale);  // |a - za| * 2^20 < 2^31
    const V32 vb = hn::Mul(hn::Sub(hn::PromoteTo(d, hn::LoadU(d8, pb)), zb), scale);
    const V32 sum = hn::Add(RequantizeLanes(va, am, as, zero, all_lo, all_hi), RequantizeLanes(vb, bm, bs, zero, all_lo, all_hi));
    hn::StoreU(hn::DemoteTo(d8, RequantizeLanes(sum, ym, ys, zy, lo, hi)), d8, out);
  };
  const auto real = [](int32_t multiplier, int32_t shift) { return std::ldexp(static_cast<double>(multiplier), shift - 31); };
  const double kg = real(p.y_multiplier, p.y_shift), alpha = real(p.a_multiplier, p.a_shift + p.left_shift) * kg,
               beta = real(p.b_multiplier, p.b_shift + p.left_shift) * kg;
  const double delta = 2 * kg + std::ldexp(1.0, p.y_shift - 1) + 255 * (std::fabs(alpha) + std::fabs(beta)) * 0x1p-20 + 0x1p-30;
  const bool estimate = HWY_TARGET != HWY_SCALAR && p.a_shift <= 0 && p.b_shift <= 0 && p.y_shift <= 0 && delta < 0.125;
  const hn::Rebind<float, D32> df;
  using VF = hn::Vec<decltype(df)>;
  const VF fa = hn::Set(df, static_cast<float>(alpha)), fb = hn::Set(df, static_cast<float>(beta));
  // t + 1.5 * 2^23 (|t| < 2^17 when delta is small) is t rounded to an
  // integer, whose bits minus those of 1.5 * 2^23 are that integer.
  const VF magic = hn::Set(df, 12582912.0f), far = hn::Set(df, 0.5f - static_cast<float>(delta) * 1.01f);
  const V32 magic_zy = hn::Sub(hn::BitCast(d, magic), zy), zlo = hn::Add(lo, zy), zhi = hn::Add(hi, zy);
  const auto estimated = [&](const int8_t* pa, const int8_t* pb, int8_t* out) HWY_ATTR {
    const VF va = hn::ConvertTo(df, hn::Sub(hn::PromoteTo(d, hn::LoadU(d8, pa)), za));  // exact integers
    const VF vb = hn::ConvertTo(df, hn::Sub(hn::PromoteTo(d, hn::LoadU(d8, pb)), zb));
    const VF t = hn::MulAdd(va, fa, hn::Mul(vb, fb));
    const VF rm = hn::Add(t, magic);
    if (!hn::AllFalse(df, hn::Ge(hn::Abs(hn::Sub(t, hn::Sub(rm, magic))), far))) return exact(pa, pb, out);
    const V32 v = hn::Sub(hn::BitCast(d, rm), magic_zy);  // the nearest integer plus the zero point
    hn::StoreU(hn::DemoteTo(d8, hn::Min(hn::Max(v, zlo), zhi)), d8, out);
  };
  const auto each = [&](const auto& one) HWY_ATTR {
    const int64_t n = p.bc.count;
    int64_t i = 0;
    for (; i + static_cast<int64_t>(kL32) <= n; i += static_cast<int64_t>(kL32)) one(a + i, b + i, y + i);
    if (i < n) {
      HWY_ALIGN int8_t ta[kL32] = {}, tb[kL32] = {}, ty[kL32];
      std::memcpy(ta, a + i, static_cast<size_t>(n - i));
      std::memcpy(tb, b + i, static_cast<size_t>(n - i));
      one(ta, tb, ty);
      std::memcpy(y + i, ty, static_cast<size_t>(n - i));
    }
  };
  if (estimate) each(estimated);
  else each(exact);
}

#if HWY_TARGET != HWY_SCALAR  // (no 64-bit sums of 8 bytes there)
// The sum of the int8 values in[k, n) plus 128 each (their bits with the
// top one flipped, as unsigned bytes), in vectors of du8's lanes while
// whole ones fit (SumsOf8: groups of 8 into 64-bit lanes, exact); returns
// the first value not summed.
template <class DU8>
HWY_INLINE int64_t SumBytes(DU8 du8, const uint8_t* HWY_RESTRICT in, int64_t k, int64_t n, uint64_t& total) {
  const int64_t L = static_cast<int64_t>(hn::Lanes(du8));
  if (k + L > n) return k;  // (the reduction below costs more than a short run)
  const hn::Repartition<uint64_t, DU8> du64;
  auto acc = hn::Zero(du64);
  const auto flip = hn::Set(du8, uint8_t{0x80});
  for (; k + L <= n; k += L) acc = hn::Add(acc, hn::SumsOf8(hn::Xor(hn::LoadU(du8, in + k), flip)));
  total += hn::GetLane(hn::SumOfLanes(du64, acc));
  return k;
}
#endif

// int8 MEAN over contiguous runs (rtml_qmean_params with inner 1: a mean
// over the last axes, GlobalAveragePool): each run's sum as x + 128 (the
// bytes as unsigned) on vectors, minus n (128 + zero point), which is the
// reference's int32 sum of x - zero point exactly (n < 2^23); the sums of
// up to 16 runs then requantized together (RequantizeLanes).
void S8Mean(const rtml_qmean_params& p, void* const* operands) {
  const D32 d;
  const hn::Rebind<int8_t, D32> d8;
  const uint8_t* x = static_cast<const uint8_t*>(operands[0]);
  int8_t* y = static_cast<int8_t*>(operands[p.out_slot]);
  const uint32_t offset = static_cast<uint32_t>(p.n) * static_cast<uint32_t>(128 + p.x_zero_point);
  const V32 multiplier = hn::Set(d, p.multiplier), shift = hn::Set(d, p.shift), zy = hn::Set(d, p.y_zero_point);
  const V32 lo = hn::Set(d, -128 - p.y_zero_point), hi = hn::Set(d, 127 - p.y_zero_point);
  for (int64_t o0 = 0; o0 < p.outer; o0 += static_cast<int64_t>(kL32)) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kL32), p.outer - o0));
    HWY_ALIGN int32_t sums[kL32] = {};
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* in = x + (o0 + static_cast<int64_t>(r)) * p.n;
      uint64_t total = 0;
      int64_t k = 0;
#if HWY_TARGET != HWY_SCALAR  // (there: the loop below)
      k = SumBytes(hn::ScalableTag<uint8_t>(), in, k, p.n, total);
      k = SumBytes(hn::CappedTag<uint8_t, 16>(), in, k, p.n, total);
#endif
      for (; k < p.n; ++k) total += in[k] ^ 0x80u;
      sums[r] = static_cast<int32_t>(static_cast<uint32_t>(total) - offset);
    }
    HWY_ALIGN int8_t out[kL32];
    hn::Store(hn::DemoteTo(d8, RequantizeLanes(hn::Load(d, sums), multiplier, shift, zy, lo, hi)), d8, out);
    std::memcpy(y + o0, out, rows);
  }
}

const char* S8TargetName() { return hwy::TargetName(HWY_TARGET); }

void S8RequantizeLanes(int64_t n, const int32_t* acc, const int32_t* multiplier, const int32_t* shift, int32_t zy,
                       int32_t lo, int32_t hi, int32_t* out) {
  const D32 d;
  const V32 vzy = hn::Set(d, zy), vlo = hn::Set(d, lo - zy), vhi = hn::Set(d, hi - zy);
  for (int64_t i = 0; i < n; i += static_cast<int64_t>(kL32)) {
    HWY_ALIGN int32_t a[kL32] = {}, m[kL32] = {}, s[kL32] = {}, y[kL32];
    const size_t k = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kL32), n - i));
    std::memcpy(a, acc + i, k * sizeof(int32_t));
    std::memcpy(m, multiplier + i, k * sizeof(int32_t));
    std::memcpy(s, shift + i, k * sizeof(int32_t));
    hn::Store(RequantizeLanes(hn::Load(d, a), hn::Load(d, m), hn::Load(d, s), vzy, vlo, vhi), d, y);
    std::memcpy(out + i, y, k * sizeof(int32_t));
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(S8FullyConnected);
HWY_EXPORT(S8Conv);
HWY_EXPORT(S8DepthwiseConv);
HWY_EXPORT(S8TargetName);
HWY_EXPORT(S8QAdd);
HWY_EXPORT(S8Mean);
HWY_EXPORT(S8RequantizeLanes);
HWY_EXPORT(S8Quantize);
HWY_EXPORT(U8Quantize);
HWY_EXPORT(S8Dequantize);
HWY_EXPORT(U8Dequantize);

int64_t qpacked_bytes(int64_t K, int64_t N) {
  return padded_channels(N) * static_cast<int64_t>(sizeof(int32_t)) + padded_channels(N) * 4 * quads(K);
}

void qpack(int64_t K, int64_t N, const int8_t* w, int64_t stride_k, int64_t stride_n, int8_t* dst) {
  (void)fast_quant_target();  // resolves the dispatch now, at prepare, not in the first run
  const int64_t Np = padded_channels(N), Kq = quads(K);
  std::memset(dst, 0, static_cast<size_t>(qpacked_bytes(K, N)));
  int32_t* wsum = reinterpret_cast<int32_t*>(dst);
  int8_t* panels = dst + Np * static_cast<int64_t>(sizeof(int32_t));
  for (int64_t n = 0; n < N; ++n) {
    int8_t* panel = panels + n / kQPanel * kQPanel * 4 * Kq;
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int8_t v = w[k * stride_k + n * stride_n];
      sum += v;
      panel[(k / 4) * 4 * kQPanel + (n % kQPanel) * 4 + k % 4] = v;
    }
    wsum[n] = sum;
  }
}

int64_t s8_fully_connected_hwy_scratch(const rtml_qmatmul_params& p) {
  return constants_bytes(p.N) + kMaxTileRows * 4 * quads(p.K) * static_cast<int64_t>(sizeof(int16_t));
}

int64_t qpacked_conv_bytes(const rtml_qconv_params& p) {
  const ConvSegments s = conv_segments(p);
  return p.group * qpacked_bytes(s.count * s.quads * 4, p.C_out / p.group);
}

void qpack_conv(const rtml_qconv_params& p, const int8_t* w, int8_t* dst) {
  const ConvSegments s = conv_segments(p);
  const int64_t cin = p.C / p.group, cout_g = p.C_out / p.group, K = s.count * s.quads * 4;
  std::vector<int8_t> rows(static_cast<size_t>(cout_g * K));  // [cout_g x K] in the segments' order
  for (int64_t g = 0; g < p.group; ++g) {
    std::fill(rows.begin(), rows.end(), int8_t{0});
    for (int64_t n = 0; n < cout_g; ++n)
      for (int64_t ic = 0; ic < cin; ++ic)
        for (int64_t kh = 0; kh < p.KH; ++kh)
          for (int64_t kw = 0; kw < p.KW; ++kw) {
            const int64_t seg = kh * s.per_row + (s.per_row == 1 ? 0 : kw);
            const int64_t e = s.per_row == 1 ? kw * cin + ic : ic;
            rows[static_cast<size_t>(n * K + seg * s.quads * 4 + e)] =
                w[(((g * cout_g + n) * cin + ic) * p.KH + kh) * p.KW + kw];
          }
    qpack(K, cout_g, rows.data(), 1, K, dst + g * qpacked_bytes(K, cout_g));
  }
}

int64_t s8_conv_hwy_scratch(const rtml_qconv_params& p) {
  int64_t hp = 0, wp = 0;
  plane_size(p, &hp, &wp);
  return constants_bytes(p.C_out / p.group) + (hp * wp * (p.C / p.group) + kPlaneSlack) * static_cast<int64_t>(sizeof(int16_t));
}

int64_t s8_depthwise_conv_hwy_scratch(const rtml_qconv_params& p) {
  int64_t hp = 0, wp = 0;
  plane_size(p, &hp, &wp);
  return (hp * wp + kPlaneSlack) * static_cast<int64_t>(sizeof(int16_t));
}

const char* fast_quant_target() { return HWY_DYNAMIC_DISPATCH(S8TargetName)(); }

void requantize_lanes(int64_t n, const int32_t* acc, const int32_t* multiplier, const int32_t* shift, int32_t zy,
                      int32_t lo, int32_t hi, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(S8RequantizeLanes)(n, acc, multiplier, shift, zy, lo, hi, out);
}

}  // namespace rtml::kernels

RTML_KERNEL(rtml_s8_fully_connected__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8FullyConnected)(*static_cast<const rtml_qmatmul_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_s8_conv__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8Conv)(*static_cast<const rtml_qconv_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_s8_mean__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8Mean)(*static_cast<const rtml_qmean_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_s8_qadd__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8QAdd)(*static_cast<const rtml_qbinary_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_s8_depthwise_conv__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8DepthwiseConv)(*static_cast<const rtml_qconv_params*>(params), operands);
  return 0;
}

#define RTML_FAST_QUANTIZE_DEFINE(t, T)                                                             \
  RTML_KERNEL(rtml_##t##_quantize__hwy) {                                                           \
    using namespace rtml::kernels;                                                                  \
    HWY_DYNAMIC_DISPATCH(T##Quantize)(*static_cast<const rtml_quantize_params*>(params), operands);   \
    return 0;                                                                                       \
  }                                                                                                 \
  RTML_KERNEL(rtml_##t##_dequantize__hwy) {                                                         \
    using namespace rtml::kernels;                                                                  \
    HWY_DYNAMIC_DISPATCH(T##Dequantize)(*static_cast<const rtml_quantize_params*>(params), operands); \
    return 0;                                                                                       \
  }
RTML_FAST_QUANTIZE_DEFINE(s8, S8)
RTML_FAST_QUANTIZE_DEFINE(u8, U8)
#undef RTML_FAST_QUANTIZE_DEFINE
#endif  // HWY_ONCE
