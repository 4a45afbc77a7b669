/* Fast float32 MaxPool and AveragePool, and int8 / uint8 MaxPool, for the
 * common case: 1-D or 2-D, no dilation, no Indices output. Same results as the reference kernels in
 * kernels/pool.h, bit for bit (taps are visited in the same order; MaxPool
 * keeps NaN and the first of equal values; AveragePool divides, like the
 * reference), which stay the general case and the test oracle.
 *
 * Per plane and output row, the window's rows are clipped to the input
 * once. Output columns whose window lies inside the input (the interior)
 * run without bounds checks, vectorized across the output width with
 * Google Highway (runtime dispatch, like fast_gemm): stride 1 loads
 * contiguous vectors, strides 2 and 3 de-interleave (LoadInterleaved2/3);
 * other strides and the border columns (padding) take a scalar loop that
 * clips each window.
 *
 * The header compiles as C too (for generated C): there it is just the
 * family header it includes, which declares these kernels' entry points. */
#ifndef RTML_KERNELS_FAST_POOL_H
#define RTML_KERNELS_FAST_POOL_H

#include "kernels/pool.h"

#ifdef __cplusplus
namespace rtml::kernels {

// Whether the fast kernels handle these params (1 or 2 spatial dims, all
// dilations 1).
bool fast_pool_supported(const PoolParams& p);

void fast_maxpool_f32(const PoolParams& p, const float* x, float* y);
void fast_avgpool_f32(const PoolParams& p, const float* x, float* y);
void fast_maxpool_s8(const PoolParams& p, const int8_t* x, int8_t* y);
void fast_maxpool_u8(const PoolParams& p, const uint8_t* x, uint8_t* y);

// The Highway target the fast pools dispatch to on this CPU ("AVX2", "NEON"...).
const char* fast_pool_target();

}  // namespace rtml::kernels
#endif

#endif
