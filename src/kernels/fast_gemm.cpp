// Packed-B SGEMM, compiled once per Highway target (see fast_gemm.h).
//
// Register blocking: a tile is R rows of C by one panel (kPanel columns =
// kV vectors of kL lanes). For every k the tile loads kV vectors of the
// panel's row k and, per row r, broadcasts A[r][k] and does kV FMAs into
// R*kV accumulators that stay in registers. R is chosen per target so the
// accumulators, the kV B vectors and one broadcast fit the register file
// (AVX-512: 8x1, AVX2: 6x2, SSE4/NEON: 3x4). M = 1 (matrix-vector, the
// streaming models) has its own loop: it unrolls k by 4 with independent
// accumulators to hide the FMA latency.
//
// Columns past N in the last panel are computed on zero padding and not
// stored; rows past the last full tile use a tile with fewer rows.
//
// Threads (kernels/parallel.h): fast_gemm_packed cuts C into rectangles of
// whole panels and whole tiles of rows (at least two rows each, so no part
// takes the one-row loop the whole product does not), one task each. Every
// element is the same sum in the same order as on one thread.

// Scalable vectors (SVE, RVV) would break the fixed panel width; those
// targets fall back to the next best one (NEON on SVE hardware).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_gemm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

#include "kernels/fast_elementwise.h"
#include "kernels/fast_gemm.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, static_cast<size_t>(kPanel)>;
using V = hn::Vec<D>;
constexpr size_t kL = hn::MaxLanes(D());
constexpr size_t kV = static_cast<size_t>(kPanel) / kL;
static_assert(kV * kL == static_cast<size_t>(kPanel), "the panel must be a whole number of vectors");
constexpr size_t kRows = kV == 1 ? 8 : kV == 2 ? 6 : kV == 4 ? 3 : 1;

// Adds the bias, applies ReLU and stores `ncols` (<= kPanel) columns.
HWY_INLINE void StoreTile(const D d, V* acc, const float* bias, bool relu, float* c, size_t ncols) {
  if (bias)
    for (size_t v = 0; v < kV; ++v) acc[v] = hn::Add(acc[v], hn::LoadU(d, bias + v * kL));
  if (relu)  // as the reference Relu, x > 0 ? x : 0 (NaN -> 0 on every target)
    for (size_t v = 0; v < kV; ++v) acc[v] = hn::IfThenElseZero(hn::Gt(acc[v], hn::Zero(d)), acc[v]);
  if (ncols == static_cast<size_t>(kPanel)) {
    for (size_t v = 0; v < kV; ++v) hn::StoreU(acc[v], d, c + v * kL);
  } else {
    HWY_ALIGN float tmp[kPanel];
    for (size_t v = 0; v < kV; ++v) hn::Store(acc[v], d, tmp + v * kL);
    std::memcpy(c, tmp, ncols * sizeof(float));
  }
}

template <size_t R>
HWY_INLINE void Tile(const float* HWY_RESTRICT a, int64_t lda, const float* HWY_RESTRICT panel, int64_t K,
                     const float* bias, bool relu, float* HWY_RESTRICT c, int64_t ldc, size_t ncols) {
  const D d;
  V acc[R][kV];
  for (size_t r = 0; r < R; ++r)
    for (size_t v = 0; v < kV; ++v) acc[r][v] = hn::Zero(d);
  for (int64_t k = 0; k < K; ++k) {
    const float* brow = panel + k * kPanel;
    V b[kV];
    for (size_t v = 0; v < kV; ++v) b[v] = hn::LoadU(d, brow + v * kL);
    for (size_t r = 0; r < R; ++r) {
      const V ar = hn::Set(d, a[static_cast<int64_t>(r) * lda + k]);
      for (size_t v = 0; v < kV; ++v) acc[r][v] = hn::MulAdd(ar, b[v], acc[r][v]);
    }
  }
  for (size_t r = 0; r < R; ++r) StoreTile(d, acc[r], bias, relu, c + static_cast<int64_t>(r) * ldc, ncols);
}

// One row of A against one panel; k unrolled by 4 into separate accumulators.
HWY_INLINE void RowPanel(const float* HWY_RESTRICT a, const float* HWY_RESTRICT panel, int64_t K, const float* bias,
                         bool relu, float* HWY_RESTRICT c, size_t ncols) {
  const D d;
  V acc[4][kV];
  for (size_t u = 0; u < 4; ++u)
    for (size_t v = 0; v < kV; ++v) acc[u][v] = hn::Zero(d);
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    for (size_t u = 0; u < 4; ++u) {
      const V au = hn::Set(d, a[k + static_cast<int64_t>(u)]);
      const float* brow = panel + (k + static_cast<int64_t>(u)) * kPanel;
      for (size_t v = 0; v < kV; ++v) acc[u][v] = hn::MulAdd(au, hn::LoadU(d, brow + v * kL), acc[u][v]);
    }
  }
  for (; k < K; ++k) {
    const V ak = hn::Set(d, a[k]);
    const float* brow = panel + k * kPanel;
    for (size_t v = 0; v < kV; ++v) acc[0][v] = hn::MulAdd(ak, hn::LoadU(d, brow + v * kL), acc[0][v]);
  }
  for (size_t v = 0; v < kV; ++v) acc[0][v] = hn::Add(hn::Add(acc[0][v], acc[1][v]), hn::Add(acc[2][v], acc[3][v]));
  StoreTile(d, acc[0], bias, relu, c, ncols);
}

template <size_t R>
HWY_INLINE void TailTile(size_t rows, const float* a, int64_t lda, const float* panel, int64_t K, const float* bias,
                         bool relu, float* c, int64_t ldc, size_t ncols) {
  if constexpr (R > 0) {
    if (rows == R) return Tile<R>(a, lda, panel, K, bias, relu, c, ldc, ncols);
    TailTile<R - 1>(rows, a, lda, panel, K, bias, relu, c, ldc, ncols);
  }
}

void GemmBlock(int64_t M, const float* A, int64_t lda, int64_t K, int64_t N, const float* packed,
               const float* packed_bias, float* C, int64_t ldc, bool relu) {
  const int64_t R = static_cast<int64_t>(kRows);
  for (int64_t p = 0, j0 = 0; j0 < N; ++p, j0 += kPanel) {
    const float* panel = packed + p * K * kPanel;
    const float* bias = packed_bias ? packed_bias + j0 : nullptr;
    const size_t ncols = static_cast<size_t>(std::min<int64_t>(kPanel, N - j0));
    if (M == 1) {
      RowPanel(A, panel, K, bias, relu, C + j0, ncols);
      continue;
    }
    int64_t i = 0;
    for (; i + R <= M; i += R)
      Tile<kRows>(A + i * lda, lda, panel, K, bias, relu, C + i * ldc + j0, ldc, ncols);
    if (i < M)
      TailTile<kRows - 1>(static_cast<size_t>(M - i), A + i * lda, lda, panel, K, bias, relu, C + i * ldc + j0, ldc,
                          ncols);
  }
}

// With a chain: blocks of whole tiles of rows, about 32 KiB of C each (in
// L1 or L2 when the chain reads it back), the chain over each block once it
// is stored: one call per block when C's rows are contiguous, else per row.
// (A call per tile row made the calls cost more than the pass they save.)
void GemmPacked(int64_t M, const float* A, int64_t lda, int64_t K, int64_t N, const float* packed,
                const float* packed_bias, float* C, int64_t ldc, bool relu, const EpilogueCall& chain) {
  if (!chain.e) return GemmBlock(M, A, lda, K, N, packed, packed_bias, C, ldc, relu);
  const int64_t R = static_cast<int64_t>(kRows);
  const int64_t block = M == 1 ? 1 : std::max<int64_t>(1, 8192 / std::max<int64_t>(N, 1) / R) * R;
  for (int64_t i0 = 0; i0 < M; i0 += block) {
    const int64_t rows = std::min(block, M - i0);
    GemmBlock(rows, A + i0 * lda, lda, K, N, packed, packed_bias, C + i0 * ldc, ldc, relu);
    if (ldc == N) {
      chain(C + i0 * ldc, rows * N);
    } else {
      for (int64_t i = i0; i < i0 + rows; ++i) chain(C + i * ldc, N);
    }
  }
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }
int64_t RowsPerTile() { return static_cast<int64_t>(kRows); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(GemmPacked);
HWY_EXPORT(TargetName);
HWY_EXPORT(RowsPerTile);

int64_t packed_b_floats(int64_t K, int64_t N) { return (N + kPanel - 1) / kPanel * K * kPanel; }

void pack_b_into(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float* packed) {
  for (int64_t j0 = 0; j0 < N; j0 += kPanel) {
    const int64_t cols = std::min<int64_t>(kPanel, N - j0);
    float* panel = packed + j0 * K;  // panel j0 / kPanel starts at (j0 / kPanel) * K * kPanel
    for (int64_t k = 0; k < K; ++k) {
      float* dst = panel + k * kPanel;
      if (trans_b) {
        for (int64_t jj = 0; jj < cols; ++jj) dst[jj] = B[(j0 + jj) * ldb + k];
      } else {
        std::memcpy(dst, B + k * ldb + j0, static_cast<size_t>(cols) * sizeof(float));
      }
      for (int64_t jj = cols; jj < kPanel; ++jj) dst[jj] = 0.0f;
    }
  }
}

void fast_gemm_packed(int64_t M, const float* A, int64_t lda, int64_t K, int64_t N, const float* packed,
                      const float* bias, float* C, int64_t ldc, bool relu, const EpilogueCall& chain) {
  const int threads = parallel_threads();
  if (threads < 2 || M < 2)
    return HWY_DYNAMIC_DISPATCH(GemmPacked)(M, A, lda, K, N, packed, bias, C, ldc, relu, chain);
  const int64_t panels = (N + kPanel - 1) / kPanel;
  const int64_t unit = fast_gemm_rows_per_tile();
  const TaskGrid grid = task_grid(M / unit, panels, kTasksPerThread * threads);
  parallel_tasks(grid.tasks(), [&](int64_t t) {
    const int64_t r = t / grid.cols, c = t % grid.cols;
    const int64_t i0 = part_begin(M, unit, grid.rows, r), i1 = part_begin(M, unit, grid.rows, r + 1);
    const int64_t p0 = part_begin(panels, 1, grid.cols, c), p1 = part_begin(panels, 1, grid.cols, c + 1);
    const int64_t j0 = p0 * kPanel, j1 = std::min(N, p1 * kPanel);
    HWY_DYNAMIC_DISPATCH(GemmPacked)(i1 - i0, A + i0 * lda, lda, K, j1 - j0, packed + p0 * K * kPanel,
                                     bias ? bias + j0 : nullptr, C + i0 * ldc + j0, ldc, relu, chain);
  });
}

int64_t packed_constant_floats(int64_t K, int64_t N, bool has_bias) {
  return packed_b_floats(K, N) + (has_bias ? (N + kPanel - 1) / kPanel * kPanel : 0);
}

void pack_constant(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float scale, const float* bias,
                   float* dst) {
  (void)fast_gemm_target();  // resolves the dispatch now, at prepare, not in the first run
  const int64_t n = packed_b_floats(K, N);
  pack_b_into(K, N, B, ldb, trans_b, dst);
  if (scale != 1.0f)
    for (int64_t i = 0; i < n; ++i) dst[i] *= scale;
  if (bias) {
    float* b = dst + n;
    std::memcpy(b, bias, static_cast<size_t>(N) * sizeof(float));
    std::fill(b + N, dst + packed_constant_floats(K, N, true), 0.0f);
  }
}

const char* fast_gemm_target() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

int64_t fast_gemm_rows_per_tile() { return std::max<int64_t>(2, HWY_DYNAMIC_DISPATCH(RowsPerTile)()); }

}  // namespace rtml::kernels

namespace {

int packed_gemm(const rtml_packed_gemm_params& p, void* const* operands, const rtml_ew_epilogue* epi) {
  const float* packed = static_cast<const float*>(operands[p.packed_slot]);
  float* y = static_cast<float*>(operands[p.out_slot]);
  rtml::kernels::fast_gemm_packed(p.rows, static_cast<const float*>(operands[0]), p.K, p.K, p.N, packed,
                                  p.has_bias ? packed + rtml::kernels::packed_b_floats(p.K, p.N) : nullptr, y, p.N,
                                  p.relu, {epi, operands, y});
  return 0;
}

// Two float32 activations: each batch's B is packed into the step's scratch
// at run time (once per distinct B matrix) and multiplied with the fast kernel.
int matmul_pack_at_run(const rtml_matmul_params& p, void* const* operands, float* packed,
                       const rtml_ew_epilogue* epi) {
  using namespace rtml::kernels;
  const float* A = static_cast<const float*>(operands[0]);
  const float* B = static_cast<const float*>(operands[1]);
  float* Y = static_cast<float*>(operands[2]);
  int64_t packed_off = -1;
  for_each_batch(p, [&](int64_t n, int64_t a_off, int64_t b_off) {
    if (b_off != packed_off) {  // a broadcast B is packed once
      pack_b_into(p.K, p.N, B + b_off, p.trans_b ? p.K : p.N, p.trans_b, packed);
      packed_off = b_off;
    }
    fast_gemm_packed(p.M, A + a_off, p.K, p.K, p.N, packed, nullptr, Y + n * p.M * p.N, p.N, false, {epi, operands, Y});
  });
  return 0;
}

}  // namespace

RTML_KERNEL(rtml_f32_gemm__packed_hwy) {
  return packed_gemm(*static_cast<const rtml_packed_gemm_params*>(params), operands, nullptr);
}
RTML_KERNEL(rtml_f32_gemm_chain__packed_hwy) {
  const auto& p = *static_cast<const rtml_packed_gemm_chain_params*>(params);
  return packed_gemm(p.gemm, operands, &p.epi);
}

RTML_KERNEL(rtml_f32_matmul__pack_at_run_hwy) {
  return matmul_pack_at_run(*static_cast<const rtml_matmul_params*>(params), operands,
                            static_cast<float*>(operands[3]), nullptr);
}
RTML_KERNEL(rtml_f32_matmul_chain__pack_at_run_hwy) {
  const auto& p = *static_cast<const rtml_matmul_chain_params*>(params);
  // The scratch follows the chain's inputs.
  return matmul_pack_at_run(p.mm, operands, static_cast<float*>(operands[p.epi.in_slot + p.epi.chain.bc.num_inputs - 1]),
                            &p.epi);
}
#endif  // HWY_ONCE
