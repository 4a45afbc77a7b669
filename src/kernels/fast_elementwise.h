/* Fast float32 elementwise kernels on Highway vectors (runtime dispatch, like
 * fast_gemm): the unary math and activations, the binary arithmetic with
 * NumPy broadcasting, Pow, variadic Sum / Max / Min, Where on 32-bit
 * elements and Clip. Same params and operands as the reference entries of
 * kernels/elementwise.h, which stay the general case and the test oracle;
 * prepare picks rtml_f32_<op>__hwy in place of rtml_f32_<op>__ref when the
 * kernel set is simd (ops/elementwise.cpp).
 *
 * Unary: full vectors, then the tail (count % lanes) through a lane buffer.
 * Exp, Log, Tanh, Sin, Cos, Log1p, Expm1 come from hwy/contrib/math; Erf
 * is ours: x * P(x^2) for |x| < 1, else 1 - exp(-x^2) * t * H(t - 1/2)
 * with t = 1 / |x| (P of degree 6 and H of degree 10 fitted to the relative
 * error of erf / erfc on Chebyshev nodes, x^2 split exactly (Dekker) so
 * the erfc tail that Gelu uses stays accurate down to the denormals).
 * The maximum errors against the reference, measured by
 * tests/unit/fast_elementwise_test.cpp, are in docs/kernels.md.
 * Special values follow the reference: NaN in gives what the reference gives
 * (NaN, except Relu and ThresholdedRelu: 0, HardSigmoid: 1), infinities map
 * as the reference maps them; Sin and Cos compute the vectors with a lane
 * outside [-39000, 39000] (or inf, NaN) by the scalar reference.
 *
 * Binary: the broadcast walk of kernels/broadcast.h, its inner dimension on
 * vectors in four forms (both operands contiguous, either one repeated, both
 * repeated); Pow with one exponent for the whole tensor computes x^2, x^3,
 * x^0.5 and x^-1 on vectors and any other exponent by the reference.
 *
 * ARMv7 NEON (armhf) flushes denormals to zero and divides / takes square
 * roots by estimates refined with Newton steps (within 2 ulps): the unary
 * ops there follow docs/kernels.md's ARMv7 bounds; the binary Div stays the
 * scalar IEEE division, bit-exact with the reference.
 *
 * The header compiles as C too (for generated C): there it only declares
 * the entry points. */
#ifndef RTML_KERNELS_FAST_ELEMENTWISE_H
#define RTML_KERNELS_FAST_ELEMENTWISE_H

#include "kernels/elementwise.h"
#include "kernels/elementwise_chain.h"

/* The op lists RTML_EW_HWY_*_OPS are in kernels/elementwise.h (portable:
 * the elementwise chains' op numbers come from them). */

#define RTML_EW_HWY_DECLARE(op, Op) RTML_KERNEL(rtml_f32_##op##__hwy);
RTML_EW_HWY_UNARY_OPS(RTML_EW_HWY_DECLARE)
RTML_EW_HWY_BINARY_OPS(RTML_EW_HWY_DECLARE)
RTML_EW_HWY_VARIADIC_OPS(RTML_EW_HWY_DECLARE)
#undef RTML_EW_HWY_DECLARE
RTML_KERNEL(rtml_f32_pow_f32__hwy);  /* [A, B, Y] */
RTML_KERNEL(rtml_f32_clip__hwy);     /* [X, min?, max?, Y] (rtml_clip_params) */
RTML_KERNEL(rtml_x32_where__hwy);    /* [C, X, Z, Y] */

#ifdef __cplusplus
namespace rtml::kernels {

// The Highway target the fast elementwise kernels dispatch to on this CPU.
const char* fast_elementwise_target();

// rtml_ew_epilogue_apply_ref (elementwise_chain.h) on vectors: the chain's
// row functions over Y's elements [begin, end), in place.
void ew_epilogue_apply_hwy(const rtml_ew_epilogue& e, float* y, void* const* operands, int64_t begin, int64_t end);

// What a product kernel's store calls on each tile it stored (fast_gemm,
// fast_conv): the step's epilogue chain, if any, on `n` elements of Y from
// `at` (y is Y's first element, so at - y is the elements' flat index).
struct EpilogueCall {
  const rtml_ew_epilogue* e = nullptr;  // nullptr: no chain
  void* const* operands = nullptr;
  float* y = nullptr;
  void operator()(float* at, int64_t n) const {
    if (e) ew_epilogue_apply_hwy(*e, y, operands, at - y, at - y + n);
  }
};

}  // namespace rtml::kernels
#endif

#endif
