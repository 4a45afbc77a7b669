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
#include "kernels/fast_elementwise.h"
#include "kernels/fast_gemm.h"
#include "kernels/parallel.h"

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

// Output channels [m0, m1) of group g (relative to the group) by positions
// [o0, o1) of batch item n, from the padded copy of its input in `scratch`.
// o0 is a multiple of RTML_FAST_CONV_MAX_COLS, so every tile reads inside
// the padded rows.
void Conv1dBlock(const FastConv1dParams& p, const float* w, const float* bias, const float* residual, bool relu,
                 float* y, const float* scratch, int64_t n, int64_t g, int64_t m0, int64_t m1, int64_t o0,
                 int64_t o1, const EpilogueCall& chain) {
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t lp = p.padded_len;
  TileArgs a;
  a.xstride = lp;
  a.cg = cg;
  a.taps = p.taps;
  a.dilation = p.dilation;
  a.wstride = cg * p.taps;
  a.ystride = p.out_len;
  a.relu = relu;
  const int64_t yoff = (n * p.out_channels + g * mg) * p.out_len;
  for (int64_t m = m0; m < m1;) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), m1 - m));
    a.w = w + (g * mg + m) * cg * p.taps;
    a.bias = bias ? bias + g * mg + m : nullptr;
    for (int64_t o = o0; o < o1; o += static_cast<int64_t>(kCols)) {
      a.x = scratch + g * cg * lp + o;
      a.residual = residual ? residual + yoff + m * p.out_len + o : nullptr;
      a.y = y + yoff + m * p.out_len + o;
      a.ncols = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kCols), o1 - o));
      if (rows == kRows) Tile<kRows>(a);
      else TailTile<kRows - 1>(rows, a);
    }
    m += static_cast<int64_t>(rows);
  }
  // The chain on the block just stored (in L1 or L2): one call when its rows
  // are whole (contiguous), else one per row. A call per tile row made the
  // calls cost more than the pass they save.
  if (chain.e && o0 == 0 && o1 == p.out_len) {
    chain(y + yoff + m0 * p.out_len, (m1 - m0) * p.out_len);
  } else if (chain.e) {
    for (int64_t m = m0; m < m1; ++m) chain(y + yoff + m * p.out_len + o0, o1 - o0);
  }
}

// Rows [m0, m1) by columns [o0, o1) of ConvGemm's product (o0 a multiple of
// RTML_FAST_CONV_MAX_COLS).
void ConvGemmBlock(int64_t K, int64_t N, const float* w, const float* b, int64_t ldb, const float* bias,
                   const float* residual, bool relu, float* y, int64_t m0, int64_t m1, int64_t o0, int64_t o1,
                   const EpilogueCall& chain) {
  TileArgs a;
  a.xstride = ldb;
  a.cg = K;
  a.taps = 1;
  a.dilation = 0;
  a.wstride = K;
  a.ystride = N;
  a.relu = relu;
  for (int64_t m = m0; m < m1;) {
    const size_t rows = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kRows), m1 - m));
    a.w = w + m * K;
    a.bias = bias ? bias + m : nullptr;
    for (int64_t o = o0; o < o1; o += static_cast<int64_t>(kCols)) {
      a.x = b + o;
      a.residual = residual ? residual + m * N + o : nullptr;
      a.y = y + m * N + o;
      a.ncols = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kCols), o1 - o));
      if (rows == kRows) Tile<kRows>(a);
      else TailTile<kRows - 1>(rows, a);
    }
    m += static_cast<int64_t>(rows);
  }
  if (chain.e && o0 == 0 && o1 == N) {  // as Conv1dBlock's
    chain(y + m0 * N, (m1 - m0) * N);
  } else if (chain.e) {
    for (int64_t m = m0; m < m1; ++m) chain(y + m * N + o0, o1 - o0);
  }
}

int64_t ConvRowsPerTile() { return static_cast<int64_t>(kRows); }
const char* ConvTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(Conv1dBlock);
HWY_EXPORT(ConvGemmBlock);
HWY_EXPORT(ConvRowsPerTile);
HWY_EXPORT(ConvTargetName);

namespace {

constexpr int64_t kMaxCols = RTML_FAST_CONV_MAX_COLS;

// Rows (output channels) x columns (positions) of a product cut into tasks
// of whole tiles: block(m0, m1, o0, o1) for each. Column parts start at
// multiples of kMaxCols, as the tiles' reads need. Whole rows when there are
// at least two tiles of rows per thread: a block of whole rows is
// contiguous, so a chain in the store runs as one call on it, where a part
// of the columns takes a call per row (on pattern_resnet1d_leaky_c32_l128's
// convolutions, 16 calls per task made 2 threads 3x slower than one).
template <class Block>
void split_tiles(int64_t rows, int64_t cols, const Block& block) {
  const int threads = parallel_threads();
  if (threads < 2) return block(0, rows, 0, cols);
  const int64_t unit = HWY_DYNAMIC_DISPATCH(ConvRowsPerTile)();
  const int64_t want = kTasksPerThread * threads;
  const TaskGrid grid = rows / unit >= 2 * threads ? task_grid(rows / unit, 1, want)
                                                   : task_grid(rows / unit, cols / kMaxCols, want);
  parallel_tasks(grid.tasks(), [&](int64_t t) {
    const int64_t r = t / grid.cols, c = t % grid.cols;
    block(part_begin(rows, unit, grid.rows, r), part_begin(rows, unit, grid.rows, r + 1),
          part_begin(cols, kMaxCols, grid.cols, c), part_begin(cols, kMaxCols, grid.cols, c + 1));
  });
}

}  // namespace

int64_t fast_conv1d_prepare(FastConv1dParams& p) {
  constexpr int64_t kMax = RTML_FAST_CONV_MAX_COLS;
  const int64_t tiles_len = (p.out_len + kMax - 1) / kMax * kMax;
  // Every read of a tile (position < tiles_len, tap extent) and the copied row
  // (pad_begin + in_len <= out_len + extent - 1 for stride 1) fit.
  p.padded_len = std::max(tiles_len + (p.taps - 1) * p.dilation, p.pad_begin + p.in_len);
  (void)fast_conv_target();  // resolves the dispatch now, at prepare
  return p.in_channels * p.padded_len;
}

// Per batch item: the padded copy (channels split over the threads), then
// the tiles: rows are output channels across the groups, each part cut at
// the group boundaries it spans.
void fast_conv1d_f32(const FastConv1dParams& p, const float* x, const float* w, const float* bias,
                     const float* residual, bool relu, float* y, float* scratch, const EpilogueCall& chain) {
  const int64_t mg = p.out_channels / p.group;
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
    split_tiles(p.out_channels, p.out_len, [&](int64_t m0, int64_t m1, int64_t o0, int64_t o1) {
      for (int64_t g = m0 / mg; g * mg < m1; ++g)
        HWY_DYNAMIC_DISPATCH(Conv1dBlock)(p, w, bias, residual, relu, y, scratch, n, g,
                                          std::max(m0, g * mg) - g * mg, std::min(m1, (g + 1) * mg) - g * mg, o0,
                                          o1, chain);
    });
  }
}

int64_t fast_conv_gemm_ldb(int64_t N) {
  constexpr int64_t kMax = RTML_FAST_CONV_MAX_COLS;
  return (N + kMax - 1) / kMax * kMax;
}

void fast_conv_gemm_f32(int64_t M, int64_t K, int64_t N, const float* w, const float* b, int64_t ldb,
                        const float* bias, const float* residual, bool relu, float* y, const EpilogueCall& chain) {
  split_tiles(M, N, [&](int64_t m0, int64_t m1, int64_t o0, int64_t o1) {
    HWY_DYNAMIC_DISPATCH(ConvGemmBlock)(K, N, w, b, ldb, bias, residual, relu, y, m0, m1, o0, o1, chain);
  });
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

namespace {

// The entries' bodies: epi is the chain in the store (null: none); the
// scratch follows the fused addend and the chain's inputs.
int conv1d_fast(const rtml_fast_conv1d_params& p, void* const* operands, const rtml_ew_epilogue* epi) {
  const float* res = p.residual ? static_cast<const float*>(operands[p.out_slot + 1]) : nullptr;
  float* y = static_cast<float*>(operands[p.out_slot]);
  const int scratch = epi ? epi->in_slot + epi->chain.bc.num_inputs - 1 : p.out_slot + 1 + (p.residual ? 1 : 0);
  rtml::kernels::fast_conv1d_f32(p, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                                 p.has_bias ? static_cast<const float*>(operands[2]) : nullptr, res, p.relu, y,
                                 static_cast<float*>(operands[scratch]), {epi, operands, y});
  return 0;
}

int conv2d_fast(const rtml_fast_conv2d_params& p, void* const* operands, const rtml_ew_epilogue* epi) {
  using namespace rtml::kernels;
  const float* x = static_cast<const float*>(operands[0]);
  const float* w = static_cast<const float*>(operands[1]);
  const float* bias = p.has_bias ? static_cast<const float*>(operands[2]) : nullptr;
  float* y = static_cast<float*>(operands[p.out_slot]);
  const float* res = p.residual ? static_cast<const float*>(operands[p.out_slot + 1]) : nullptr;
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t plane = p.in_h * p.in_w, pplane = p.hp * p.wp, out_size = p.out_h * p.out_w;
  const int64_t taps = p.kh * p.kw, kdim = cg * taps;
  float* col = static_cast<float*>(
      operands[epi ? epi->in_slot + epi->chain.bc.num_inputs - 1 : p.out_slot + 1 + (p.residual ? 1 : 0)]);
  float* xpad = col + kdim * p.ldb;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * plane;
      // Input channels [c0, c1): their zero-bordered planes, then their rows of
      // the im2col matrix (channels split over the threads).
      parallel_parts(cg, 1, [&](int64_t c0, int64_t c1) {
        std::fill(xpad + c0 * pplane, xpad + c1 * pplane, 0.0f);
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t ih = 0; ih < p.in_h; ++ih)
            copy_floats(xpad + c * pplane + (ih + p.pad_top) * p.wp + p.pad_left, xg + c * plane + ih * p.in_w,
                        p.in_w);
        float* row = col + c0 * taps * p.ldb;
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t th = 0; th < p.kh; ++th)
            for (int64_t tw = 0; tw < p.kw; ++tw, row += p.ldb) {
              const float* src = xpad + c * pplane + th * p.dh * p.wp + tw * p.dw;
              for (int64_t oh = 0; oh < p.out_h; ++oh) copy_floats(row + oh * p.out_w, src + oh * p.wp, p.out_w);
            }
      });
      const int64_t yoff = (n * p.out_channels + g * mg) * out_size;
      fast_conv_gemm_f32(mg, kdim, out_size, w + g * mg * kdim, col, p.ldb, bias ? bias + g * mg : nullptr,
                         res ? res + yoff : nullptr, p.relu, y + yoff, {epi, operands, y});
    }
  }
  return 0;
}

// Per batch item and group, the scratch `rows` gets one row per output
// position holding its receptive field (Cg input channels x kernel taps,
// zeros where the window reaches into the padding); then
//     rows[out_size x Cg*taps] * W_g^T[Cg*taps x Mg] (+ bias) -> tmp[out_size x Mg]
// against the packed constant, and tmp is transposed into Y's channel planes.
// All three by parts of the output positions, split over the threads.
int conv_im2row(const rtml_im2row_conv_params& p, void* const* operands, const rtml_ew_epilogue* epi) {
  using namespace rtml::kernels;
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
  float* rows = static_cast<float*>(
      operands[epi ? epi->in_slot + epi->chain.bc.num_inputs - 1 : fused_slot + (p.residual ? 1 : 0)]);
  float* tmp = rows + p.out_size * kdim;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * p.in_size;
      const float* pg = packed + g * group_floats;
      const int64_t yoff = (n * p.out_channels + g * mg) * p.out_size;
      float* yg = y + yoff;
      const float* rg = res ? res + yoff : nullptr;
      // Positions [o0, o1): at least fast_gemm_rows_per_tile() of them (or
      // all), so their product takes the same path as the whole one.
      parallel_parts(p.out_size, fast_gemm_rows_per_tile(), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
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
        fast_gemm_packed(o1 - o0, rows + o0 * kdim, kdim, kdim, mg, pg, p.has_bias ? pg + panel_floats : nullptr,
                         tmp + o0 * mg, mg, p.relu && !res);
        if (!res) {
          for (int64_t o = o0; o < o1; ++o)
            for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m];
        } else if (!p.relu) {
          for (int64_t o = o0; o < o1; ++o)
            for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m] + rg[m * p.out_size + o];
        } else {
          for (int64_t o = o0; o < o1; ++o)
            for (int64_t m = 0; m < mg; ++m) {
              const float v = tmp[o * mg + m] + rg[m * p.out_size + o];
              yg[m * p.out_size + o] = v > 0.0f ? v : 0.0f;
            }
        }
        // The chain on the positions just stored: one call for the group's whole planes.
        if (epi && o0 == 0 && o1 == p.out_size) {
          ew_epilogue_apply_hwy(*epi, y, operands, yoff, yoff + mg * p.out_size);
        } else if (epi) {
          for (int64_t m = 0; m < mg; ++m)
            ew_epilogue_apply_hwy(*epi, y, operands, yoff + m * p.out_size + o0, yoff + m * p.out_size + o1);
        }
      });
    }
  }
  return 0;
}

}  // namespace

RTML_KERNEL(rtml_f32_conv1d__fast_hwy) {
  return conv1d_fast(*static_cast<const rtml_fast_conv1d_params*>(params), operands, nullptr);
}
RTML_KERNEL(rtml_f32_conv1d_chain__fast_hwy) {
  const auto& p = *static_cast<const rtml_fast_conv1d_chain_params*>(params);
  return conv1d_fast(p.conv, operands, &p.epi);
}
RTML_KERNEL(rtml_f32_conv2d__fast_hwy) {
  return conv2d_fast(*static_cast<const rtml_fast_conv2d_params*>(params), operands, nullptr);
}
RTML_KERNEL(rtml_f32_conv2d_chain__fast_hwy) {
  const auto& p = *static_cast<const rtml_fast_conv2d_chain_params*>(params);
  return conv2d_fast(p.conv, operands, &p.epi);
}
RTML_KERNEL(rtml_f32_conv__im2row_hwy) {
  return conv_im2row(*static_cast<const rtml_im2row_conv_params*>(params), operands, nullptr);
}
RTML_KERNEL(rtml_f32_conv_chain__im2row_hwy) {
  const auto& p = *static_cast<const rtml_im2row_conv_chain_params*>(params);
  return conv_im2row(p.conv, operands, &p.epi);
}
#endif  // HWY_ONCE
