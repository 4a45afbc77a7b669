// Fast int8 kernels, compiled once per Highway target (see fast_quant.h).
//
// The products: a tile of R rows of X (converted once to int16 and
// zero-padded to whole k-quads) against one packed panel, in passes of
// kPass output channels. For every k-quad a pass loads kNV vectors of int8
// weights (4 per channel), promotes them to int16 and, per row, multiplies
// them pairwise with the row's 4 values broadcast (ReorderWidenMulAccumulate:
// int16 x int16 -> int32 pairs), into R * kNV accumulators held in
// registers; each channel's sum is then its two int32 lanes. R and kPass per
// target keep the accumulators within the register file (AVX-512: 4 rows x
// 16 channels, AVX2: 2 x 16, SSE4: 2 x 8, NEON: 1 x 8). Convolutions feed
// the same tiles with im2col rows (padding holds the input zero point, so it
// adds 0 like the reference's skipped taps), one output position per row.
// Depthwise: per channel, (x - zx) as int16 in a zero-bordered plane, then
// the output row on int32 vectors, one multiply-add per tap (stride 1;
// other strides scalar over the same plane).
//
// All sums are exact modulo 2^32, as the reference's wrapping int32
// accumulator, so the result is the reference's bit for bit.

// Scalable vectors (SVE, RVV) would break the fixed panel width; those
// targets fall back to the next best one (NEON on SVE hardware).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_quant.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

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

// Depthwise: the zero-bordered plane of one channel, (x - zx) as int16,
// with the rows and columns every output reads; kPlaneSlack more elements
// after it for the last vector of a row to read.
constexpr int64_t kPlaneSlack = 64;
inline void plane_size(const rtml_qconv_params& p, int64_t* hp, int64_t* wp) {
  *hp = std::max(p.pad_top + p.H, (p.OH - 1) * p.stride_h + (p.KH - 1) * p.dilation_h + 1);
  *wp = std::max(p.pad_left + p.W, (p.OW - 1) * p.stride_w + (p.KW - 1) * p.dilation_w + 1);
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
static_assert(kNV * kL16 == kPass * 4 && kQPanel % kPass == 0, "a pass is whole vectors of a panel");
static_assert(kRows <= static_cast<size_t>(kMaxTileRows), "the scratch holds a tile");

// The R rows at x (ldx apart, Kq k-quads of int16 each) times one pass of a
// panel (w: its first k-quad's weights of the pass; k-quads 4 * kQPanel
// bytes apart): out[r * kPass + c], the raw sums sum_k x w.
template <size_t R>
HWY_INLINE void DotPass(const int16_t* HWY_RESTRICT x, int64_t ldx, const int8_t* HWY_RESTRICT w, int64_t Kq,
                        int32_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t r = 0; r < R; ++r)
    for (size_t c = 0; c < kPass; ++c) {
      uint32_t sum = 0;
      for (int64_t k = 0; k < 4 * Kq; ++k)
        sum += static_cast<uint32_t>(x[static_cast<int64_t>(r) * ldx + k] * w[(k / 4) * 4 * kQPanel + 4 * c + k % 4]);
      out[r * kPass + c] = static_cast<int32_t>(sum);
    }
#else
  const D32 d32;
  const D16 d16;
  const D8 d8;
  const D64 d64;
  // One row (matrix-vector) has too few accumulators to hide the latency of
  // the multiply-adds: it cycles through U sets of them, k-quad by k-quad.
  constexpr size_t U = R == 1 ? 4 : 1;
  V32 s0[U * R][kNV], s1[U * R][kNV];
  for (size_t r = 0; r < U * R; ++r)
    for (size_t v = 0; v < kNV; ++v) s0[r][v] = s1[r][v] = hn::Zero(d32);
  const auto quad = [&](int64_t q, size_t set) HWY_ATTR {
    const int8_t* wq = w + q * 4 * kQPanel;
    V16 wv[kNV];
    for (size_t v = 0; v < kNV; ++v) wv[v] = hn::PromoteTo(d16, hn::LoadU(d8, wq + v * kL16));
    for (size_t r = 0; r < R; ++r) {
      int64_t bits;
      std::memcpy(&bits, x + static_cast<int64_t>(r) * ldx + q * 4, sizeof(bits));
      const V16 xv = hn::BitCast(d16, hn::Set(d64, bits));
      V32* a0 = s0[set * R + r];
      V32* a1 = s1[set * R + r];
      for (size_t v = 0; v < kNV; ++v) a0[v] = hn::ReorderWidenMulAccumulate(d32, xv, wv[v], a0[v], a1[v]);
    }
  };
  int64_t q = 0;
  for (; q + static_cast<int64_t>(U) <= Kq; q += static_cast<int64_t>(U))
    for (size_t u = 0; u < U; ++u) quad(q + static_cast<int64_t>(u), u);
  for (; q < Kq; ++q) quad(q, 0);
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
}

template <size_t R>
HWY_INLINE void DotPassRows(size_t rows, const int16_t* x, int64_t ldx, const int8_t* w, int64_t Kq, int32_t* out) {
  if constexpr (R > 0) {
    if (rows == R) return DotPass<R>(x, ldx, w, Kq, out);
    DotPassRows<R - 1>(rows, x, ldx, w, Kq, out);
  }
}

// Rows [0, M) times one packed K x N matrix. fill(m0, rows, x, ldx) writes
// `rows` rows from m0 on as int16, each zero-padded to whole k-quads;
// store(m, n, cols, sums) takes the raw sums sum_k x w of row m, columns
// n .. n + cols.
template <class Fill, class Store>
HWY_INLINE void PackedProduct(int64_t M, int64_t K, int64_t N, const int8_t* packed, int16_t* x, const Fill& fill,
                              const Store& store) {
  const int64_t Kq = quads(K), ldx = 4 * Kq;
  const int8_t* panels = packed + padded_channels(N) * static_cast<int64_t>(sizeof(int32_t));
  for (int64_t m0 = 0; m0 < M; m0 += static_cast<int64_t>(kRows)) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), M - m0));
    fill(m0, rows, x, ldx);
    for (int64_t n0 = 0; n0 < N; n0 += kQPanel) {
      const int8_t* panel = panels + n0 * 4 * Kq;
      for (int64_t c0 = 0; c0 < kQPanel && n0 + c0 < N; c0 += static_cast<int64_t>(kPass)) {
        HWY_ALIGN int32_t out[kRows * kPass];
        DotPassRows<kRows>(rows, x, ldx, panel + 4 * c0, Kq, out);
        const int64_t cols = std::min<int64_t>(static_cast<int64_t>(kPass), N - n0 - c0);
        for (size_t r = 0; r < rows; ++r) store(m0 + static_cast<int64_t>(r), n0 + c0, cols, out + r * kPass);
      }
    }
  }
}

// rtml_requantize_output (kernels/quant.h) on int32 lanes, bit for bit
// (fast_quant_test.cpp compares them on random and extreme values):
// TFLite's nudge (2^30 or 1 - 2^30 by the product's sign) and truncation
// toward zero amount to floor((a * m + 2^30) / 2^31) for either sign, whose
// low 32 bits a logical shift of the 64-bit sum gives. lo and hi: the clamp
// minus the output zero point (so the sum cannot overflow).
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
  const auto odd = hn::ShiftRight<31>(hn::Add(hn::BitCast(du64, hn::MulEven(a_odd, m_odd)), nudge));
  V32 x = hn::OddEven(hn::BitCast(d, hn::ShiftLeft<32>(odd)), hn::BitCast(d, even));
  const V32 min = hn::Set(d, INT32_MIN);
  x = hn::IfThenElse(hn::And(hn::Eq(a, min), hn::Eq(multiplier, min)), hn::Set(d, INT32_MAX), x);
  // RoundingDivideByPOT(x, right)
  const V32 mask = hn::BitCast(d, hn::Sub(hn::Set(du, 1u) << hn::BitCast(du, right), hn::Set(du, 1u)));
  const V32 threshold = hn::Add(hn::ShiftRight<1>(mask), hn::IfThenElseZero(hn::Lt(x, zero), one));
  x = hn::Add(x >> right, hn::IfThenElseZero(hn::Gt(hn::And(x, mask), threshold), one));
  return hn::Add(hn::Min(hn::Max(x, lo), hi), zy);
#endif
}

// The outputs of `cols` channels from their raw sums: bias + sum - zx *
// weight sum (exact modulo 2^32), requantized with the constants of channel
// `channel` on. dst[c] gets channel c's.
HWY_INLINE void RequantizeChannels(const int32_t* sums, int64_t cols, const int32_t* bias, const int32_t* wsum,
                                   int32_t zx, const Output& out, int64_t channel, int8_t* dst) {
  const D32 d;
  const hn::Rebind<int8_t, D32> d8;
  const int64_t L = static_cast<int64_t>(kL32);
  const int64_t step = out.per_channel ? 1 : 0;
  const int32_t* mult = out.multiplier + channel * step;
  const int32_t* shift = out.shift + channel * step;
  const V32 zy = hn::Set(d, out.zy), lo = hn::Set(d, out.lo - out.zy), hi = hn::Set(d, out.hi - out.zy);
  const V32 vzx = hn::Set(d, zx);
  int64_t c = 0;
  for (; c + L <= cols; c += L) {
    V32 acc = hn::Sub(hn::LoadU(d, sums + c), hn::Mul(vzx, hn::LoadU(d, wsum + c)));  // wraps
    if (bias) acc = hn::Add(acc, hn::LoadU(d, bias + c));
    const V32 m = out.per_channel ? hn::LoadU(d, mult + c) : hn::Set(d, mult[0]);
    const V32 s = out.per_channel ? hn::LoadU(d, shift + c) : hn::Set(d, shift[0]);
    hn::StoreU(hn::DemoteTo(d8, RequantizeLanes(acc, m, s, zy, lo, hi)), d8, dst + c);
  }
  for (; c < cols; ++c) {
    const uint32_t b = bias ? static_cast<uint32_t>(bias[c]) : 0u;
    const uint32_t acc = b + static_cast<uint32_t>(sums[c]) - static_cast<uint32_t>(zx) * static_cast<uint32_t>(wsum[c]);
    dst[c] = out(channel + c, static_cast<int32_t>(acc));
  }
}

void S8FullyConnected(const rtml_qmatmul_params& p, void* const* operands) {
  const Operands<rtml_qmatmul_params> o(p, operands);
  const int64_t matrix_bytes = qpacked_bytes(p.K, p.N);
  for (int64_t b = 0; b < p.batch_count; ++b) {
    const int8_t* xb = o.x + b * p.x_batch_stride;
    const int8_t* wb = o.w + (p.w_batch_stride != 0 ? b * matrix_bytes : 0);
    const int32_t* wsum = reinterpret_cast<const int32_t*>(wb);
    int8_t* yb = o.y + b * p.M * p.N;
    PackedProduct(
        p.M, p.K, p.N, wb, o.scratch,
        [&](int64_t m0, size_t rows, int16_t* dst, int64_t ldx) {
          for (size_t r = 0; r < rows; ++r) {
            const int8_t* row = xb + (m0 + static_cast<int64_t>(r)) * p.K;
            int16_t* d = dst + static_cast<int64_t>(r) * ldx;
            for (int64_t k = 0; k < p.K; ++k) d[k] = row[k];
            for (int64_t k = p.K; k < ldx; ++k) d[k] = 0;
          }
        },
        [&](int64_t m, int64_t n, int64_t cols, const int32_t* sums) {
          RequantizeChannels(sums, cols, o.bias ? o.bias + n : nullptr, wsum + n, o.zx, o.output, n, yb + m * p.N + n);
        });
  }
}

void S8Conv(const rtml_qconv_params& p, void* const* operands) {
  const Operands<rtml_qconv_params> o(p, operands);
  const int64_t cin_g = p.C / p.group, cout_g = p.C_out / p.group, K = cin_g * p.KH * p.KW, positions = p.OH * p.OW;
  const int64_t group_bytes = qpacked_bytes(K, cout_g);
  for (int64_t nb = 0; nb < p.N; ++nb)
    for (int64_t g = 0; g < p.group; ++g) {
      const int8_t* xg = o.x + (nb * p.C + g * cin_g) * p.H * p.W;
      const int8_t* wg = o.w + g * group_bytes;
      const int32_t* wsum = reinterpret_cast<const int32_t*>(wg);
      const int32_t* bg = o.bias ? o.bias + g * cout_g : nullptr;
      int8_t* yg = o.y + (nb * p.C_out + g * cout_g) * positions;
      PackedProduct(
          positions, K, cout_g, wg, o.scratch,
          [&](int64_t m0, size_t rows, int16_t* dst, int64_t ldx) {  // im2col rows
            for (size_t r = 0; r < rows; ++r) {
              const int64_t m = m0 + static_cast<int64_t>(r), oh = m / p.OW, ow = m % p.OW;
              int16_t* d = dst + static_cast<int64_t>(r) * ldx;
              for (int64_t ic = 0; ic < cin_g; ++ic)
                for (int64_t kh = 0; kh < p.KH; ++kh) {
                  const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                  const bool row_in = ih >= 0 && ih < p.H;
                  for (int64_t kw = 0; kw < p.KW; ++kw) {
                    const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                    *d++ = row_in && iw >= 0 && iw < p.W ? xg[(ic * p.H + ih) * p.W + iw] : static_cast<int16_t>(o.zx);
                  }
                }
              for (int64_t k = K; k < ldx; ++k) *d++ = 0;
            }
          },
          [&](int64_t m, int64_t n, int64_t cols, const int32_t* sums) {
            int8_t ys[kPass];
            RequantizeChannels(sums, cols, bg ? bg + n : nullptr, wsum + n, o.zx, o.output, g * cout_g + n, ys);
            for (int64_t c = 0; c < cols; ++c) yg[(n + c) * positions + m] = ys[c];
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
HWY_EXPORT(S8RequantizeLanes);

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
  return kMaxTileRows * 4 * quads(p.K) * static_cast<int64_t>(sizeof(int16_t));
}

int64_t s8_conv_hwy_scratch(const rtml_qconv_params& p) {
  return kMaxTileRows * 4 * quads(p.C / p.group * p.KH * p.KW) * static_cast<int64_t>(sizeof(int16_t));
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

RTML_KERNEL(rtml_s8_depthwise_conv__hwy) {
  using namespace rtml::kernels;
  HWY_DYNAMIC_DISPATCH(S8DepthwiseConv)(*static_cast<const rtml_qconv_params*>(params), operands);
  return 0;
}
#endif  // HWY_ONCE
