/* Fast float32 Softmax over contiguous rows (the axis is the last one, or
 * the legacy flattened form: AxisParams::inner == 1), vectorized with Google
 * Highway (runtime dispatch, like fast_gemm): per row a vector max, then
 * y = Exp(x - max) (Highway's Exp, 1 ulp) stored while a vector sum
 * accumulates in float, then y *= 1 / sum. Within 1e-5 relative of the
 * reference (kernels/normalize.cpp: scalar exp, double sum), which stays the
 * general case and the test oracle (tests/unit/fast_softmax_test.cpp, on
 * every dispatched target). A row holding NaN or +inf gives NaN like the
 * reference; -inf elements give 0.
 *
 * The header compiles as C too (for generated C): there it is just the
 * family header it includes, which declares the entry point. */
#ifndef RTML_KERNELS_FAST_SOFTMAX_H
#define RTML_KERNELS_FAST_SOFTMAX_H

#include "kernels/normalize.h"

#ifdef __cplusplus
namespace rtml::kernels {

// Whether the fast kernel handles these params (contiguous rows).
inline bool fast_softmax_supported(const AxisParams& p) { return p.inner == 1; }

void fast_softmax_f32(const AxisParams& p, const float* x, float* y);

// LayerNormalization over contiguous rows whose Scale and B are per element
// of the row (the last dims of X, as exporters write it), float32: the
// reference's arithmetic with its double sums on vectors (kernels/fast_softmax.cpp).
// Within 1e-6 relative of the reference (tests/unit/fast_softmax_test.cpp).
bool fast_layer_norm_supported(const LayerNormParams& p);
// ReduceSum / ReduceMean whose reduced axes are the innermost ones (each
// output the sum of one contiguous block), float32: the reference's double
// sum on vectors, in another order.
bool fast_reduce_supported(const ReduceParams& p);
void fast_reduce_sum_f32(const ReduceParams& p, bool mean, const float* x, float* y);
void fast_layer_norm_f32(const LayerNormParams& p, const float* x, const float* scale, const float* bias, float* y,
                         float* mean_out, float* inv_std_out);

// The Highway target the fast softmax dispatches to on this CPU ("AVX2", "NEON"...).
const char* fast_softmax_target();

}  // namespace rtml::kernels
#endif

#endif
