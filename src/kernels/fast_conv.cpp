// Fast 1-D convolution, compiled once per Highway target (see fast_conv.h).
//
// A tile is R output channels by kV vectors of kL lanes (kCols output
// positions): AVX-512 8 x 32, AVX2 6 x 16, SSE4/NEON 3 x 16, so that the
// R*kV accumulators, the kV input vectors and a broadcast fit the register
// file. Channel rows past the last full tile use a tile with fewer rows;
// positions past out_len are computed on the padded copy and not stored.

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_conv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

#include "kernels/fast_conv.h"
#include "kernels/fast_gemm.h"

// Every target's tile is at most this many positions wide: the padded input
// rows are rounded up to it, so a partial last tile still reads inside them.
#ifndef RTML_FAST_CONV_MAX_COLS
#define RTML_FAST_CONV_MAX_COLS 32
#endif

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, 16>;
using V = hn::Vec<D>;
constexpr size_t kL = hn::MaxLanes(D());
constexpr size_t kV = kL >= 8 ? 2 : 4;
constexpr size_t kCols = kV * kL;
constexpr size_t kRows = kL >= 16 ? 8 : kL >= 8 ? 6 : 3;
static_assert(kCols <= RTML_FAST_CONV_MAX_COLS, "a tile must fit the padded rows");

struct TileArgs {
  const float* x;    // padded input rows of the group, at the tile's first position
  int64_t xstride;   // padded_len
  int64_t cg, taps, dilation;
  const float* w;    // W row of the tile's first channel
  int64_t wstride;   // cg * taps
  const float* bias;      // at the tile's first channel, or null
  const float* residual;  // at (first channel, first position), or null
  float* y;               // likewise
  int64_t ystride;        // out_len
  bool relu;
  size_t ncols;           // positions to store (<= kCols)
};

// bias, then residual, then ReLU as the reference Relu does it (x > 0 ? x : 0).
HWY_INLINE V Finish(const D d, V acc, const float* bias, const float* res, bool relu) {
  if (bias) acc = hn::Add(acc, hn::Set(d, *bias));
  if (res) acc = hn::Add(acc, hn::LoadU(d, res));
  if (relu) acc = hn::IfThenElseZero(hn::Gt(acc, hn::Zero(d)), acc);
  return acc;
}

template <size_t R>
HWY_INLINE void Tile(const TileArgs& a) {
  const D d;
  V acc[R][kV];
  for (size_t r = 0; r < R; ++r)
    for (size_t v = 0; v < kV; ++v) acc[r][v] = hn::Zero(d);
  for (int64_t c = 0; c < a.cg; ++c) {
    const float* HWY_RESTRICT xr = a.x + c * a.xstride;
    const float* HWY_RESTRICT wc = a.w + c * a.taps;
    for (int64_t t = 0; t < a.taps; ++t) {
      const float* xs = xr + t * a.dilation;
      V b[kV];
      for (size_t v = 0; v < kV; ++v) b[v] = hn::LoadU(d, xs + v * kL);
      for (size_t r = 0; r < R; ++r) {
        const V wr = hn::Set(d, wc[static_cast<int64_t>(r) * a.wstride + t]);
        for (size_t v = 0; v < kV; ++v) acc[r][v] = hn::MulAdd(wr, b[v], acc[r][v]);
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const int64_t row = static_cast<int64_t>(r) * a.ystride;
    const float* bias = a.bias ? a.bias + r : nullptr;
    float* y = a.y + row;
    if (a.ncols == kCols) {
      for (size_t v = 0; v < kV; ++v)
        hn::StoreU(Finish(d, acc[r][v], bias, a.residual ? a.residual + row + v * kL : nullptr, a.relu), d,
                   y + v * kL);
      continue;
    }
    // A partial tile: the residual and Y end within it, so go through a buffer.
    HWY_ALIGN float res[kCols];
    if (a.residual) std::memcpy(res, a.residual + row, a.ncols * sizeof(float));
    HWY_ALIGN float out[kCols];
    for (size_t v = 0; v < kV; ++v)
      hn::Store(Finish(d, acc[r][v], bias, a.residual ? res + v * kL : nullptr, a.relu), d, out + v * kL);
    std::memcpy(y, out, a.ncols * sizeof(float));
  }
}

template <size_t R>
HWY_INLINE void TailTile(size_t rows, const TileArgs& a) {
  if constexpr (R > 0) {
    if (rows == R) return Tile<R>(a);
    TailTile<R - 1>(rows, a);
  }
}

void FastConv1d(const FastConv1dParams& p, const float* x, const float* w, const float* bias, const float* residual,
            bool relu, float* y, float* scratch) {
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t lp = p.padded_len;
  const int64_t copy = std::min(p.in_len, lp - p.pad_begin);
  for (int64_t n = 0; n < p.batch; ++n) {
    // The padded copy of this batch item: zeros, then the row at pad_begin.
    const float* xn = x + n * p.in_channels * p.in_len;
    for (int64_t c = 0; c < p.in_channels; ++c) {
      float* row = scratch + c * lp;
      std::fill(row, row + p.pad_begin, 0.0f);
      std::memcpy(row + p.pad_begin, xn + c * p.in_len, static_cast<size_t>(copy) * sizeof(float));
      std::fill(row + p.pad_begin + copy, row + lp, 0.0f);
    }
    for (int64_t g = 0; g < p.group; ++g) {
      TileArgs a;
      a.xstride = lp;
      a.cg = cg;
      a.taps = p.taps;
      a.dilation = p.dilation;
      a.wstride = cg * p.taps;
      a.ystride = p.out_len;
      a.relu = relu;
      const int64_t yoff = (n * p.out_channels + g * mg) * p.out_len;
      for (int64_t m = 0; m < mg;) {
        const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), mg - m));
        a.w = w + (g * mg + m) * cg * p.taps;
        a.bias = bias ? bias + g * mg + m : nullptr;
        for (int64_t o = 0; o < p.out_len; o += static_cast<int64_t>(kCols)) {
          a.x = scratch + g * cg * lp + o;
          a.residual = residual ? residual + yoff + m * p.out_len + o : nullptr;
          a.y = y + yoff + m * p.out_len + o;
          a.ncols = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kCols), p.out_len - o));
          if (rows == kRows) Tile<kRows>(a);
          else TailTile<kRows - 1>(rows, a);
        }
        m += static_cast<int64_t>(rows);
      }
    }
  }
}

void ConvGemm(int64_t M, int64_t K, int64_t N, const float* w, const float* b, int64_t ldb, const float* bias,
              const float* residual, bool relu, float* y) {
  TileArgs a;
  a.xstride = ldb;
  a.cg = K;
  a.taps = 1;
  a.dilation = 0;
  a.wstride = K;
  a.ystride = N;
  a.relu = relu;
  for (int64_t m = 0; m < M;) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), M - m));
    a.w = w + m * K;
    a.bias = bias ? bias + m : nullptr;
    for (int64_t o = 0; o < N; o += static_cast<int64_t>(kCols)) {
      a.x = b + o;
      a.residual = residual ? residual + m * N + o : nullptr;
      a.y = y + m * N + o;
      a.ncols = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kCols), N - o));
      if (rows == kRows) Tile<kRows>(a);
      else TailTile<kRows - 1>(rows, a);
    }
    m += static_cast<int64_t>(rows);
  }
}

const char* ConvTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(FastConv1d);
HWY_EXPORT(ConvGemm);
HWY_EXPORT(ConvTargetName);

int64_t fast_conv1d_prepare(FastConv1dParams& p) {
  constexpr int64_t kMax = RTML_FAST_CONV_MAX_COLS;
  const int64_t tiles_len = (p.out_len + kMax - 1) / kMax * kMax;
  // Every read of a tile (position < tiles_len, tap extent) and the copied row
  // (pad_begin + in_len <= out_len + extent - 1 for stride 1) fit.
  p.padded_len = std::max(tiles_len + (p.taps - 1) * p.dilation, p.pad_begin + p.in_len);
  (void)fast_conv_target();  // resolves the dispatch now, at prepare
  return p.in_channels * p.padded_len;
}

void fast_conv1d_f32(const FastConv1dParams& p, const float* x, const float* w, const float* bias,
                     const float* residual, bool relu, float* y, float* scratch) {
  HWY_DYNAMIC_DISPATCH(FastConv1d)(p, x, w, bias, residual, relu, y, scratch);
}

int64_t fast_conv_gemm_ldb(int64_t N) {
  constexpr int64_t kMax = RTML_FAST_CONV_MAX_COLS;
  return (N + kMax - 1) / kMax * kMax;
}

void fast_conv_gemm_f32(int64_t M, int64_t K, int64_t N, const float* w, const float* b, int64_t ldb,
                        const float* bias, const float* residual, bool relu, float* y) {
  HWY_DYNAMIC_DISPATCH(ConvGemm)(M, K, N, w, b, ldb, bias, residual, relu, y);
}

const char* fast_conv_target() { return HWY_DYNAMIC_DISPATCH(ConvTargetName)(); }

namespace {

// Copies n floats, 8 at a time where it can (fixed-size copies compile to vector moves).
inline void copy_floats(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) std::memcpy(dst + i, src + i, 8 * sizeof(float));
  for (; i < n; ++i) dst[i] = src[i];
}

}  // namespace
}  // namespace rtml::kernels

RTML_KERNEL(rtml_f32_conv1d__fast_hwy) {
  const auto& p = *static_cast<const rtml_fast_conv1d_params*>(params);
  const float* res = p.residual ? static_cast<const float*>(operands[p.out_slot + 1]) : nullptr;
  rtml::kernels::fast_conv1d_f32(p, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                                 p.has_bias ? static_cast<const float*>(operands[2]) : nullptr, res, p.relu,
                                 static_cast<float*>(operands[p.out_slot]),
                                 static_cast<float*>(operands[p.out_slot + 1 + (p.residual ? 1 : 0)]));
  return 0;
}

RTML_KERNEL(rtml_f32_conv2d__fast_hwy) {
  using rtml::kernels::copy_floats;
  const auto& p = *static_cast<const rtml_fast_conv2d_params*>(params);
  const float* x = static_cast<const float*>(operands[0]);
  const float* w = static_cast<const float*>(operands[1]);
  const float* bias = p.has_bias ? static_cast<const float*>(operands[2]) : nullptr;
  float* y = static_cast<float*>(operands[p.out_slot]);
  const float* res = p.residual ? static_cast<const float*>(operands[p.out_slot + 1]) : nullptr;
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t plane = p.in_h * p.in_w, pplane = p.hp * p.wp, out_size = p.out_h * p.out_w;
  const int64_t kdim = cg * p.kh * p.kw;
  float* col = static_cast<float*>(operands[p.out_slot + 1 + (p.residual ? 1 : 0)]);
  float* xpad = col + kdim * p.ldb;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * plane;
      std::fill(xpad, xpad + cg * pplane, 0.0f);
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t ih = 0; ih < p.in_h; ++ih)
          copy_floats(xpad + c * pplane + (ih + p.pad_top) * p.wp + p.pad_left, xg + c * plane + ih * p.in_w, p.in_w);
      float* row = col;
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t th = 0; th < p.kh; ++th)
          for (int64_t tw = 0; tw < p.kw; ++tw, row += p.ldb) {
            const float* src = xpad + c * pplane + th * p.dh * p.wp + tw * p.dw;
            for (int64_t oh = 0; oh < p.out_h; ++oh) copy_floats(row + oh * p.out_w, src + oh * p.wp, p.out_w);
          }
      const int64_t yoff = (n * p.out_channels + g * mg) * out_size;
      rtml::kernels::fast_conv_gemm_f32(mg, kdim, out_size, w + g * mg * kdim, col, p.ldb,
                                        bias ? bias + g * mg : nullptr, res ? res + yoff : nullptr, p.relu, y + yoff);
    }
  }
  return 0;
}

// Per batch item and group, the scratch `rows` gets one row per output
// position holding its receptive field (Cg input channels x kernel taps,
// zeros where the window reaches into the padding); then
//     rows[out_size x Cg*taps] * W_g^T[Cg*taps x Mg] (+ bias) -> tmp[out_size x Mg]
// against the packed constant, and tmp is transposed into Y's channel planes.
RTML_KERNEL(rtml_f32_conv__im2row_hwy) {
  using namespace rtml::kernels;
  const auto& p = *static_cast<const rtml_im2row_conv_params*>(params);
  const float* x = static_cast<const float*>(operands[0]);
  float* y = static_cast<float*>(operands[p.out_slot]);
  const int32_t* tap_offset = static_cast<const int32_t*>(operands[p.taps_slot]);
  const float* packed = static_cast<const float*>(operands[p.packed_slot]);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t kdim = cg * p.taps;
  const int64_t group_floats = packed_constant_floats(kdim, mg, p.has_bias);
  const int64_t panel_floats = packed_b_floats(kdim, mg);
  // The fused addend follows the step's constants (the two above).
  const int fused_slot = p.packed_slot + 1;
  const float* res = p.residual ? static_cast<const float*>(operands[fused_slot]) : nullptr;
  float* rows = static_cast<float*>(operands[fused_slot + (p.residual ? 1 : 0)]);
  float* tmp = rows + p.out_size * kdim;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * p.in_size;
      for (int64_t o = 0; o < p.out_size; ++o) {
        const int32_t* off = tap_offset + o * p.taps;
        float* row = rows + o * kdim;
        for (int64_t c = 0; c < cg; ++c) {
          const float* plane = xg + c * p.in_size;
          float* dst = row + c * p.taps;
          for (int64_t t = 0; t < p.taps; ++t) dst[t] = off[t] < 0 ? 0.0f : plane[off[t]];
        }
      }
      // Without a residual the GEMM's store applies the ReLU; with one, the
      // ReLU comes after the add, in the transposition.
      const float* pg = packed + g * group_floats;
      fast_gemm_packed(p.out_size, rows, kdim, kdim, mg, pg, p.has_bias ? pg + panel_floats : nullptr, tmp, mg,
                       p.relu && !res);
      const int64_t yoff = (n * p.out_channels + g * mg) * p.out_size;
      float* yg = y + yoff;
      if (!res) {
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m];
      } else if (!p.relu) {
        const float* rg = res + yoff;
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m] + rg[m * p.out_size + o];
      } else {
        const float* rg = res + yoff;
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) {
            const float v = tmp[o * mg + m] + rg[m * p.out_size + o];
            yg[m * p.out_size + o] = v > 0.0f ? v : 0.0f;
          }
      }
    }
  }
  return 0;
}
#endif  // HWY_ONCE
