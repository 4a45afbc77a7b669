// Matrix multiplication kernels (MatMul, Gemm).
//
// One reference GEMM serves both ops:
//     C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C
// where op(X) is X or X^T. Matrices are row-major with a leading dimension
// (elements between consecutive rows). When beta == 0, C is not read (so it
// may hold garbage, including NaN).
//
// Loop order: for B not transposed, i-k-j with the innermost j loop running
// over a contiguous row of B and of C, which the compiler vectorizes. For a
// transposed B, row j of B^T is contiguous in k, so each C[i][j] is a dot
// product over contiguous k (when A is not transposed). Faster blocked
// kernels can replace this later without changing the interface.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace rtml::kernels {

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, bool trans_a, const T* B,
          int64_t ldb, bool trans_b, T beta, T* C, int64_t ldc);

// MatMul with NumPy semantics. The op layer turns 1-D operands into 1xK / Kx1
// matrices and computes, for every output batch (row-major over the
// broadcast batch shape), the element offset of the A and B matrices.
struct MatMulParams {
  int64_t M = 0, N = 0, K = 0;
  int batch_rank = 0;                  // broadcast batch dims (0: one matrix)
  int64_t batch_shape[kMaxRank] = {};  // output batch dims
  int64_t a_stride[kMaxRank] = {};     // per batch dim, elements; 0 if broadcast
  int64_t b_stride[kMaxRank] = {};
  int64_t batch_count = 1;
};

template <class T>
void matmul(const MatMulParams& p, const T* A, const T* B, T* Y);

// Calls f(n, a_offset, b_offset) for every output batch n in row-major order
// over p.batch_shape, with the element offsets of that batch's A and B
// matrices (an odometer over the broadcast batch dims).
template <class F>
void for_each_batch(const MatMulParams& p, F&& f) {
  int64_t idx[kMaxRank] = {};
  int64_t a_off = 0, b_off = 0;
  for (int64_t n = 0; n < p.batch_count; ++n) {
    f(n, a_off, b_off);
    for (int d = p.batch_rank - 1; d >= 0; --d) {
      ++idx[d];
      a_off += p.a_stride[d];
      b_off += p.b_stride[d];
      if (idx[d] < p.batch_shape[d]) break;
      a_off -= p.a_stride[d] * p.batch_shape[d];
      b_off -= p.b_stride[d] * p.batch_shape[d];
      idx[d] = 0;
    }
  }
}

// Gemm: Y = alpha * op(A) * op(B) + beta * C, with C (optional) broadcast to
// M x N through per-row / per-column strides (0 for a broadcast dim).
struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0;
  double alpha = 1, beta = 1;
  int64_t c_row_stride = 0, c_col_stride = 0;  // used when C is given
};

template <class T>
void gemm_op(const GemmParams& p, const T* A, const T* B, const T* C, T* Y);

}  // namespace rtml::kernels
