#include "kernels/linear.h"

#include "kernels/kmath.h"

namespace rtml::kernels {

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, bool trans_a, const T* B,
          int64_t ldb, bool trans_b, T beta, T* C, int64_t ldc) {
  // A(i, k) and B(k, j) in terms of the stored matrices.
  const int64_t a_is = trans_a ? 1 : lda, a_ks = trans_a ? lda : 1;
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < N; ++j) c[j] = T(0);
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < N; ++j) c[j] = km::wrap_mul(c[j], beta);
    }
    const T* a = A + i * a_is;
    if (!trans_b) {
      // i-k-j: the j loop walks contiguous rows of B and C.
      for (int64_t k = 0; k < K; ++k) {
        const T s = km::wrap_mul(alpha, a[k * a_ks]);
        const T* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] = km::wrap_add(c[j], km::wrap_mul(s, b[j]));
      }
    } else {
      // B is stored N x K: row j of the stored B is column j of op(B).
      for (int64_t j = 0; j < N; ++j) {
        const T* b = B + j * ldb;
        T acc = T(0);
        for (int64_t k = 0; k < K; ++k) acc = km::wrap_add(acc, km::wrap_mul(a[k * a_ks], b[k]));
        c[j] = km::wrap_add(c[j], km::wrap_mul(alpha, acc));
      }
    }
  }
}

namespace {

// The chain on the M x N matrix at Y + off once it is computed: float only.
template <class T>
void chain_rows(const rtml_ew_epilogue*, void* const*, T*, int64_t, int64_t, int64_t) {}
void chain_rows(const rtml_ew_epilogue* epi, void* const* operands, float* Y, int64_t off, int64_t M, int64_t N) {
  if (epi) rtml_ew_epilogue_apply_ref(epi, Y, operands, off, off + M * N);
}

}  // namespace

template <class T>
void matmul(const MatMulParams& p, const T* A, const T* B, T* Y, const rtml_ew_epilogue* epi, void* const* operands) {
  const int64_t mn = p.M * p.N;
  for_each_batch(p, [&](int64_t n, int64_t a_off, int64_t b_off) {
    gemm<T>(p.M, p.N, p.K, T(1), A + a_off, p.K, false, B + b_off, p.trans_b ? p.K : p.N, p.trans_b, T(0), Y + n * mn,
            p.N);
    chain_rows(epi, operands, Y, n * mn, p.M, p.N);
  });
}

template <class T>
void gemm_op(const GemmParams& p, const T* A, const T* B, const T* C, T* Y, const rtml_ew_epilogue* epi,
             void* const* operands) {
  T beta = static_cast<T>(p.beta);
  if (C && beta != T(0)) {
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j)
        Y[i * p.N + j] = km::wrap_mul(beta, C[i * p.c_row_stride + j * p.c_col_stride]);
    beta = T(1);
  } else {
    beta = T(0);
  }
  gemm<T>(p.M, p.N, p.K, static_cast<T>(p.alpha), A, p.lda, p.trans_a, B, p.ldb, p.trans_b, beta, Y, p.N);
  chain_rows(epi, operands, Y, 0, p.M, p.N);
}

#define RTML_LINEAR_INSTANTIATE(T)                                                                          \
  template void gemm<T>(int64_t, int64_t, int64_t, T, const T*, int64_t, bool, const T*, int64_t, bool, T, \
                        T*, int64_t);                                                                       \
  template void matmul<T>(const MatMulParams&, const T*, const T*, T*, const rtml_ew_epilogue*, void* const*); \
  template void gemm_op<T>(const GemmParams&, const T*, const T*, const T*, T*, const rtml_ew_epilogue*,        \
                           void* const*);

RTML_LINEAR_INSTANTIATE(float)
RTML_LINEAR_INSTANTIATE(double)
RTML_LINEAR_INSTANTIATE(int32_t)
RTML_LINEAR_INSTANTIATE(int64_t)
RTML_LINEAR_INSTANTIATE(uint32_t)
RTML_LINEAR_INSTANTIATE(uint64_t)

}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

#define RTML_LINEAR_DEFINE(t, T)                                                                          \
  RTML_KERNEL(rtml_##t##_matmul__ref) {                                                                   \
    rtml::kernels::matmul<T>(*static_cast<const rtml_matmul_params*>(params),                            \
                             static_cast<const T*>(operands[0]), static_cast<const T*>(operands[1]),     \
                             static_cast<T*>(operands[2]));                                               \
    return 0;                                                                                             \
  }                                                                                                       \
  RTML_KERNEL(rtml_##t##_gemm__ref) {                                                                     \
    const auto& p = *static_cast<const rtml_gemm_params*>(params);                                       \
    rtml::kernels::gemm_op<T>(p, static_cast<const T*>(operands[0]), static_cast<const T*>(operands[1]), \
                              p.num_inputs > 2 ? static_cast<const T*>(operands[2]) : nullptr,          \
                              static_cast<T*>(operands[p.num_inputs]));                                   \
    return 0;                                                                                             \
  }
RTML_LINEAR_TYPES(RTML_LINEAR_DEFINE)

RTML_KERNEL(rtml_f32_matmul_chain__ref) {
  const auto& p = *static_cast<const rtml_matmul_chain_params*>(params);
  rtml::kernels::matmul<float>(p.mm, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                               static_cast<float*>(operands[2]), &p.epi, operands);
  return 0;
}

RTML_KERNEL(rtml_f32_gemm_chain__ref) {
  const auto& p = *static_cast<const rtml_gemm_chain_params*>(params);
  const rtml_gemm_params& g = p.gemm;
  rtml::kernels::gemm_op<float>(g, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                                g.num_inputs > 2 ? static_cast<const float*>(operands[2]) : nullptr,
                                static_cast<float*>(operands[g.num_inputs]), &p.epi, operands);
  return 0;
}
