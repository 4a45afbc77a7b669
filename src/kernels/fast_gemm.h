// Fast float32 GEMM against a pre-packed constant B (MatMul / Gemm weights,
// Conv filters), with SIMD through Google Highway: one source compiled for
// several targets (SSE4, AVX2, AVX-512 on x86-64; NEON on ARM) and the best
// one the CPU supports chosen at run time (HWY_DYNAMIC_DISPATCH).
//
//     C[M x N] = A[M x K] * B[K x N] (+ bias[N]) (then ReLU, if asked)
//
// B is packed once, at prepare time, into panels of kPanel columns: panel p
// holds B[0..K)[p*kPanel .. p*kPanel+kPanel) row after row (zero-padded past
// N), so the micro-kernel reads it with unit stride. Any scale (Gemm's alpha)
// is folded into the packed values and the bias is stored padded with the
// panels, so run time does no setup and no allocation.
//
// The reference kernels (kernels/linear.h) stay the test oracle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "kernels/fast_elementwise.h"

namespace rtml::kernels {

// Panel width in floats: a multiple of every target's lane count (4, 8, 16).
constexpr int64_t kPanel = 16;

// Allocates on 64-byte boundaries (a cache line; AVX-512's vector): packed
// weights read by full-vector loads then never straddle two cache lines,
// which costs about 15% of a matrix-vector product streaming from L2.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const noexcept { return false; }
};
template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

// For a B known only at run time (MatMul of two activations): the packed
// size in floats, packing into a caller's buffer (the step's scratch; no
// allocation), and the product with a packed buffer (bias may be null, else
// padded to whole panels, as pack_constant stores it). C = A * packed (+
// bias) with C row-major, leading dimension ldc; A row-major with leading
// dimension lda. `relu` clamps the result at 0.
int64_t packed_b_floats(int64_t K, int64_t N);
void pack_b_into(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float* packed);
// `chain` (the step's epilogue chain) runs on each block of rows of C once
// it is stored (blocks of about 32 KiB: fast_gemm.cpp's GemmPacked).
void fast_gemm_packed(int64_t M, const float* A, int64_t lda, int64_t K, int64_t N, const float* packed,
                      const float* bias, float* C, int64_t ldc, bool relu = false, const EpilogueCall& chain = {});

// Rows of C in one register tile of the product on this CPU: a caller that
// splits a product by rows (over threads) keeps parts of whole tiles, and
// of at least two rows (M == 1 takes a loop of its own, with other sums).
int64_t fast_gemm_rows_per_tile();

// The constant of rtml_f32_gemm__packed_hwy (kernels/linear.h): the panels of
// scale * op(B), then, when `bias` (N values) is given, the bias padded to
// whole panels. Its size in floats, and packing into `dst` (that size).
int64_t packed_constant_floats(int64_t K, int64_t N, bool has_bias);
void pack_constant(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float scale, const float* bias,
                   float* dst);

// The Highway target that fast_gemm dispatches to on this CPU ("AVX2", "NEON"...).
const char* fast_gemm_target();

}  // namespace rtml::kernels
