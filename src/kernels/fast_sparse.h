// Sparse constant weights: C[M x N] = A[M x K] * B[K x N] (+ bias) (then
// ReLU) for a constant float32 B of which most entries are zero but which
// the ONNX file stores dense (pruned Linear layers, the zoo's
// matvec_sparse_*). MatMul / Gemm take this path at prepare when at least
// kSparseMinZeroFraction of B is zero and A has at most kSparseMaxRows rows
// (more rows amortise the dense packed GEMM's reads of B better).
//
// Layout (blocks of L x L, L = the SIMD target's lanes of float: 4, 8 or
// 16): the columns are taken L at a time (a group) and the rows L at a time
// (a block of A's row, loaded as one vector). For each group, every block
// that holds a nonzero is an entry with `steps` = the most nonzeros of any
// of the group's columns in that block; step s holds, per column, the row
// within the block (a byte) and the value of that column's s-th nonzero
// there, padded with (0, 0.0f). A step is one in-register table lookup of
// the block's vector of A (no gather from memory) and one multiply-add,
// vectorized with Highway (runtime dispatch, like fast_gemm). At 90% zeros
// that is about a third of the dense matrix's bytes and no multiplication
// by most of its zeros.
//
// The result equals the dense product up to the order of the summation,
// for finite A. A row of A holding an infinity or a NaN makes 0 * x a NaN
// in the dense product; such a row is computed densely from the original B
// (kept by the caller: the step's constant operand), so NaNs come out
// exactly where the dense product has them.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/fast_gemm.h"  // AlignedVector

namespace rtml::kernels {

constexpr double kSparseMinZeroFraction = 0.75;
constexpr int64_t kSparseMaxRows = 4;
struct SparseB {
  int64_t K = 0, N = 0;
  int64_t lanes = 0;                // L: the target's lanes the layout was packed for
  float scale = 1.0f;               // applied to the packed values (Gemm's alpha)
  std::vector<int32_t> group_entry;  // groups + 1 prefix sums into the entries
  std::vector<int32_t> entry_block;  // per entry: its block of rows (rows block*L ..)
  std::vector<int32_t> entry_steps;  // per entry: its number of steps
  AlignedVector<uint8_t> index;      // steps x L rows within the block
  AlignedVector<float> value;        // steps x L values (scale applied)
  std::vector<float> bias;           // N values, or empty
  int64_t groups() const { return lanes ? (N + lanes - 1) / lanes : 0; }
};

// The share of zeros in op(B) (K x N; B row-major with leading dimension
// ldb, or N x K when trans_b).
double zero_fraction(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b);

// Packs the nonzeros of scale * op(B); `bias` (N values) may be null.
SparseB pack_sparse_b(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float scale = 1.0f,
                      const float* bias = nullptr);

// What the kernel reads: a SparseB's arrays, or the same arrays in one
// constant (rtml_f32_gemm__sparse_hwy: sparse_flatten at prepare).
struct SparseView {
  int64_t K = 0, N = 0, lanes = 0;
  float scale = 1.0f;
  const int32_t* group_entry = nullptr;
  const int32_t* entry_block = nullptr;
  const int32_t* entry_steps = nullptr;
  const uint8_t* index = nullptr;
  const float* value = nullptr;
  const float* bias = nullptr;  // null: no bias
};
SparseView view(const SparseB& b);

// Byte offsets of each array in the flat constant (64-byte aligned; bias -1
// when there is none) and its size.
struct SparseFlat {
  int64_t group_entry = 0, entry_block = 0, entry_steps = 0, index = 0, value = 0, bias = -1, bytes = 0;
};
SparseFlat sparse_flat_layout(const SparseB& b);
void sparse_flatten(const SparseB& b, const SparseFlat& layout, void* dst);

// C = A * packed (+ bias) (then ReLU: x > 0 ? x : 0). `dense_b`, `ldb`,
// `trans_b` are the original B that `packed` came from, for rows of A that
// are not all finite.
void fast_sparse_gemm(int64_t M, const float* A, int64_t lda, const SparseB& packed, const float* dense_b, int64_t ldb,
                      bool trans_b, float* C, int64_t ldc, bool relu = false);
void fast_sparse_gemm(int64_t M, const float* A, int64_t lda, const SparseView& packed, const float* dense_b,
                      int64_t ldb, bool trans_b, float* C, int64_t ldc, bool relu = false);

// The Highway target the sparse kernel dispatches to on this CPU.
const char* fast_sparse_target();

}  // namespace rtml::kernels
