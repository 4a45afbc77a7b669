/* Matrix multiplication kernels (MatMul, Gemm): C/C++ header of the kernel
 * library (kernels/rtml_kernel.h: calling convention, naming).
 *
 * One reference GEMM serves both ops:
 *     C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C
 * where op(X) is X or X^T. Matrices are row-major with a leading dimension
 * (elements between consecutive rows). When beta == 0, C is not read (so it
 * may hold garbage, including NaN).
 *
 * Loop order: for B not transposed, i-k-j with the innermost j loop running
 * over a contiguous row of B and of C, which the compiler vectorizes. For a
 * transposed B, row j of B^T is contiguous in k, so each C[i][j] is a dot
 * product over contiguous k (when A is not transposed).
 *
 * Entry points (operands in brackets):
 *   rtml_<t>_matmul__ref            [A, B, Y]       numpy.matmul, t = f32 f64 s32 s64 u32 u64
 *   rtml_<t>_gemm__ref              [A, B, C?, Y]   ONNX Gemm, same types
 *   rtml_f32_matmul__pack_at_run_hwy [A, B, Y, scratch]        (kernels/fast_gemm.cpp)
 *   rtml_f32_gemm__packed_hwy       [A, ..., Y, packed]        (kernels/fast_gemm.cpp)
 *   rtml_f32_gemm__sparse_hwy       [A, B, ..., Y, packed]     (kernels/fast_sparse.cpp)
 * The last two serve MatMul and Gemm with a constant B packed at prepare. */
#ifndef RTML_KERNELS_LINEAR_H
#define RTML_KERNELS_LINEAR_H

#include "kernels/elementwise_chain.h"
#include "kernels/rtml_kernel.h"

/* MatMul with NumPy semantics. The op layer turns 1-D operands into 1xK / Kx1
 * matrices and computes, for every output batch (row-major over the
 * broadcast batch shape), the element offset of the A and B matrices. */
typedef struct rtml_matmul_params {
  int64_t M, N, K;
  int32_t batch_rank;                     /* broadcast batch dims (0: one matrix) */
  int64_t batch_shape[RTML_MAX_RANK];     /* output batch dims */
  int64_t a_stride[RTML_MAX_RANK];        /* per batch dim, elements; 0 if broadcast */
  int64_t b_stride[RTML_MAX_RANK];
  int64_t batch_count;
  bool trans_b; /* B's matrices are stored N x K (plan/passes/fold_transpose_matmul.cpp) */
} rtml_matmul_params;

/* Gemm: Y = alpha * op(A) * op(B) + beta * C, with C (optional) broadcast to
 * M x N through per-row / per-column strides (0 for a broadcast dim). */
typedef struct rtml_gemm_params {
  int64_t M, N, K;
  bool trans_a, trans_b;
  int64_t lda, ldb;
  double alpha, beta;
  int64_t c_row_stride, c_col_stride; /* used when C is given */
  int32_t num_inputs;                 /* 2 or 3: Y is operand num_inputs */
} rtml_gemm_params;

/* Y[rows x N] = A[rows x K] * B (+ bias) (then ReLU) for a constant float32 B
 * packed at prepare into kernels/fast_gemm.h's panels; the bias, when
 * has_bias, follows the panels in the same constant, padded to whole panels. */
typedef struct rtml_packed_gemm_params {
  int64_t rows, K, N;
  int32_t out_slot, packed_slot;
  bool has_bias, relu;
} rtml_packed_gemm_params;

/* The same product for a mostly-zero B (kernels/fast_sparse.h): its nonzeros
 * in one constant at the byte offsets below (bias -1: none); B itself (the
 * operand 1) serves rows of A holding an infinity or a NaN. */
typedef struct rtml_sparse_gemm_params {
  int64_t rows, K, N, ldb, lanes;
  float scale;
  bool trans_b, relu;
  int32_t out_slot, packed_slot;
  int64_t group_entry, entry_block, entry_steps, index, value, bias;
} rtml_sparse_gemm_params;

/* The float32 kernels with an elementwise chain in their store
 * (kernels/elementwise_chain.h): their params, then the chain. */
typedef struct rtml_matmul_chain_params {
  rtml_matmul_params mm;
  rtml_ew_epilogue epi;
} rtml_matmul_chain_params;
typedef struct rtml_gemm_chain_params {
  rtml_gemm_params gemm;
  rtml_ew_epilogue epi;
} rtml_gemm_chain_params;
typedef struct rtml_packed_gemm_chain_params {
  rtml_packed_gemm_params gemm;
  rtml_ew_epilogue epi;
} rtml_packed_gemm_chain_params;

#define RTML_LINEAR_TYPES(X) X(f32, float) X(f64, double) X(s32, int32_t) X(s64, int64_t) X(u32, uint32_t) X(u64, uint64_t)
#define RTML_LINEAR_DECLARE(t, T) RTML_KERNEL(rtml_##t##_matmul__ref); RTML_KERNEL(rtml_##t##_gemm__ref);
RTML_LINEAR_TYPES(RTML_LINEAR_DECLARE)
#undef RTML_LINEAR_DECLARE
RTML_KERNEL(rtml_f32_matmul__pack_at_run_hwy);
RTML_KERNEL(rtml_f32_gemm__packed_hwy);
RTML_KERNEL(rtml_f32_matmul_chain__ref);               /* [A, B, Y, chain inputs...] */
RTML_KERNEL(rtml_f32_gemm_chain__ref);                 /* [A, B, C?, Y, chain inputs...] */
RTML_KERNEL(rtml_f32_matmul_chain__pack_at_run_hwy);   /* [A, B, Y, chain inputs..., scratch] */
RTML_KERNEL(rtml_f32_gemm_chain__packed_hwy);          /* [A, ..., Y, packed, fused..., chain inputs...] */
RTML_KERNEL(rtml_f32_gemm__sparse_hwy);

#ifdef __cplusplus
namespace rtml::kernels {

using MatMulParams = rtml_matmul_params;
using GemmParams = rtml_gemm_params;

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, bool trans_a, const T* B,
          int64_t ldb, bool trans_b, T beta, T* C, int64_t ldc);

// `epi` (float only; with the step's operands): an elementwise chain run on
// each matrix of Y once it is computed.
template <class T>
void matmul(const MatMulParams& p, const T* A, const T* B, T* Y, const rtml_ew_epilogue* epi = nullptr,
            void* const* operands = nullptr);

template <class T>
void gemm_op(const GemmParams& p, const T* A, const T* B, const T* C, T* Y, const rtml_ew_epilogue* epi = nullptr,
             void* const* operands = nullptr);

// Calls f(n, a_offset, b_offset) for every output batch n in row-major order
// over p.batch_shape, with the element offsets of that batch's A and B
// matrices (an odometer over the broadcast batch dims).
template <class F>
void for_each_batch(const MatMulParams& p, F&& f) {
  int64_t idx[RTML_MAX_RANK] = {};
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

}  // namespace rtml::kernels
#endif

#endif
