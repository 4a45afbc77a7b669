/* Elementwise kernels: unary math and activations, binary arithmetic /
 * comparison / logic with NumPy broadcasting, variadic Sum/Max/Min/Mean,
 * Where, Cast and Clip. C/C++ header of the kernel library
 * (kernels/rtml_kernel.h: calling convention, naming).
 *
 * One entry per (operation, element type), generated from the lists below:
 *   rtml_<t>_<op>__ref       [X, Y]           unary (rtml_unary_params); isnan,
 *                                             isinf write b8
 *   rtml_<t>_<op>__ref       [A, B, Y]        binary (rtml_broadcast_params);
 *                                             compare and logical ops write b8
 *   rtml_<a>_pow_<b>__ref    [A, B, Y]        Pow, base type a, exponent type b
 *   rtml_<t>_<op>__ref       [X0..Xn-1, Y]    sum, mean, max, min (rtml_variadic_params)
 *   rtml_x<bits>_where__ref  [C, X, Z, Y]     Where by element size (rtml_broadcast_params)
 *   rtml_<from>_cast_<to>__ref [X, (like,) Y] Cast / CastLike (rtml_cast_params)
 *   rtml_<t>_clip__ref       [X, min?, max?, Y] (rtml_clip_params)
 * An op over two element types names the first before the op and the second
 * after it (Pow, Cast). t: f32 f64 f16 bf16 s8 s16 s32 s64 u8 u16 u32 u64 b8.
 * float16 / bfloat16 compute in float32.
 *
 * Broadcasting walks an rtml_broadcast computed at prepare time. Same shapes
 * and scalar operands collapse to rank <= 1, where the loop is a plain strided
 * (stride 0 or 1) loop the compiler can vectorize.
 *
 * Integer semantics (matching ONNX Runtime / the ONNX reference):
 *   Div truncates toward zero; x / 0 gives 0 instead of trapping.
 *   Mod (mod) takes the sign of the divisor (Python %); FMod (fmod) takes the
 *   sign of the dividend (C fmod / %). x mod 0 gives 0.
 *   Add/Sub/Mul/Neg wrap around on overflow (computed in unsigned).
 *   Pow with two integer operands uses exact repeated squaring; otherwise it
 *   is computed in double and converted to the base's type.
 * Round is round-half-to-even, independent of the floating-point environment.
 * Cast from floating point to integer truncates toward zero, saturates out of
 * range values and maps NaN to 0 (ONNX leaves these undefined). */
#ifndef RTML_KERNELS_ELEMENTWISE_H
#define RTML_KERNELS_ELEMENTWISE_H

#include "kernels/broadcast.h"
#include "kernels/rtml_kernel.h"

/* Unary: count elements; alpha / beta / gamma are the activation's
 * attributes (LeakyRelu, Elu, Selu, Celu, ThresholdedRelu, HardSigmoid;
 * IsInf: alpha != 0 detects -inf, beta != 0 detects +inf). */
typedef struct rtml_unary_params {
  int64_t count;
  float alpha, beta, gamma;
} rtml_unary_params;

/* Binary ops (inputs A, B) and Where (inputs C, X, Z). */
typedef struct rtml_broadcast_params {
  rtml_broadcast bc;
} rtml_broadcast_params;

/* y = x0 op x1 op ... op x(n-1), folded left to right into y: step 0 reads
 * x0 and x1 (bc[0]), step k >= 1 reads y and x(k+1) (bc[k]). n == 1 copies
 * x0. Mean then divides by n. */
#define RTML_MAX_VARIADIC_INPUTS 16
typedef struct rtml_variadic_params {
  int32_t n;
  int64_t count; /* output elements */
  rtml_broadcast bc[RTML_MAX_VARIADIC_INPUTS - 1];
} rtml_variadic_params;

/* Cast: Y is operand out_slot (1 for Cast, 2 for CastLike). */
typedef struct rtml_cast_params {
  int64_t count;
  int32_t out_slot;
} rtml_cast_params;

/* y = min(max(x, lo), hi). lo / hi come from the optional scalar operands
 * when given, else from min / max when has_min / has_max (opset < 11
 * attributes), else the type's limits (no bound). Y is operand num_inputs. */
typedef struct rtml_clip_params {
  int64_t count;
  int32_t num_inputs;
  bool has_min, has_max;
  float min, max;
} rtml_clip_params;

/* ---- the entries' (op, type) lists: X(tag, ...) ---- */
/* X(t, a, b): a and b pass through (an op's two names, or unused). */
#define RTML_EW_FLOAT_TYPES(X, a, b) X(f32, a, b) X(f64, a, b) X(f16, a, b) X(bf16, a, b)
#define RTML_EW_SINT_TYPES(X, a, b) X(s8, a, b) X(s16, a, b) X(s32, a, b) X(s64, a, b)
#define RTML_EW_UINT_TYPES(X, a, b) X(u8, a, b) X(u16, a, b) X(u32, a, b) X(u64, a, b)
#define RTML_EW_NUMERIC_TYPES(X, a, b) \
  RTML_EW_FLOAT_TYPES(X, a, b) RTML_EW_SINT_TYPES(X, a, b) RTML_EW_UINT_TYPES(X, a, b)
#define RTML_EW_ALL_TYPES(X, a, b) RTML_EW_NUMERIC_TYPES(X, a, b) X(b8, a, b)
/* X(a, t): the numeric and all types again, for the second type of a pair
 * (a macro cannot expand inside its own expansion). */
#define RTML_EW_NUMERIC_TYPES_2(X, a)                                                                      \
  X(a, f32) X(a, f64) X(a, f16) X(a, bf16) X(a, s8) X(a, s16) X(a, s32) X(a, s64) X(a, u8) X(a, u16) \
  X(a, u32) X(a, u64)
#define RTML_EW_ALL_TYPES_2(X, a) RTML_EW_NUMERIC_TYPES_2(X, a) X(a, b8)

/* X(op, Enum): unary ops of every numeric type, of the floating point
 * types, of bool. */
#define RTML_EW_UNARY_NUMERIC_OPS(X) X(neg, Neg) X(abs, Abs) X(sign, Sign) X(relu, Relu)
#define RTML_EW_UNARY_FLOAT_OPS(X)                                                                          \
  X(sqrt, Sqrt) X(exp, Exp) X(log, Log) X(sin, Sin) X(cos, Cos) X(tan, Tan) X(asin, Asin) X(acos, Acos)     \
  X(atan, Atan) X(sinh, Sinh) X(cosh, Cosh) X(asinh, Asinh) X(acosh, Acosh) X(atanh, Atanh) X(tanh, Tanh)   \
  X(erf, Erf) X(sigmoid, Sigmoid) X(reciprocal, Reciprocal) X(floor, Floor) X(ceil, Ceil) X(round, Round)   \
  X(leaky_relu, LeakyRelu) X(elu, Elu) X(selu, Selu) X(celu, Celu) X(thresholded_relu, ThresholdedRelu)    \
  X(hard_sigmoid, HardSigmoid) X(hard_swish, HardSwish) X(softplus, Softplus) X(softsign, Softsign)         \
  X(mish, Mish) X(gelu, Gelu) X(gelu_tanh, GeluTanh) X(isnan, IsNaN) X(isinf, IsInf)
#define RTML_EW_UNARY_BOOL_OPS(X) X(logical_not, Not)

/* Binary ops of every numeric type, of the floating point and signed
 * integer types, of every type, of bool, of the unsigned types. */
#define RTML_EW_BINARY_NUMERIC_OPS(X) X(add, Add) X(sub, Sub) X(mul, Mul) X(div, Div) X(mod, Mod) X(fmod, FMod)
#define RTML_EW_BINARY_SIGNED_OPS(X) X(prelu, PRelu)
#define RTML_EW_BINARY_ALL_OPS(X)                                                                     \
  X(equal, Equal) X(less, Less) X(greater, Greater) X(less_or_equal, LessOrEqual)                   \
  X(greater_or_equal, GreaterOrEqual)
#define RTML_EW_BINARY_BOOL_OPS(X) X(logical_and, And) X(logical_or, Or) X(logical_xor, Xor)
#define RTML_EW_BINARY_UINT_OPS(X) X(bitshift_left, BitShiftLeft) X(bitshift_right, BitShiftRight)

/* Variadic ops of every numeric type (mean: of the floating point types). */
#define RTML_EW_VARIADIC_OPS(X) X(sum, Add) X(max, Max) X(min, Min)

#define RTML_EW_WHERE_SIZES(X) X(x8, uint8_t) X(x16, uint16_t) X(x32, uint32_t) X(x64, uint64_t)

/* ---- declarations ---- */
#define RTML_EW_DECLARE(t, op, Op) RTML_KERNEL(rtml_##t##_##op##__ref);
#define RTML_EW_DECLARE_PAIR(a, b) RTML_KERNEL(rtml_##a##_pow_##b##__ref); RTML_KERNEL(rtml_##a##_cast_##b##__ref);
#define RTML_EW_DECLARE_CAST(a, b) RTML_KERNEL(rtml_##a##_cast_##b##__ref);
#define RTML_EW_DECLARE_NUMERIC(op, Op) RTML_EW_NUMERIC_TYPES(RTML_EW_DECLARE, op, Op)
#define RTML_EW_DECLARE_FLOAT(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_DECLARE, op, Op)
#define RTML_EW_DECLARE_SIGNED(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_DECLARE, op, Op) RTML_EW_SINT_TYPES(RTML_EW_DECLARE, op, Op)
#define RTML_EW_DECLARE_ALL(op, Op) RTML_EW_ALL_TYPES(RTML_EW_DECLARE, op, Op)
#define RTML_EW_DECLARE_UINT(op, Op) RTML_EW_UINT_TYPES(RTML_EW_DECLARE, op, Op)
#define RTML_EW_DECLARE_BOOL(op, Op) RTML_KERNEL(rtml_b8_##op##__ref);
#define RTML_EW_DECLARE_NUMERIC_PAIRS(a, u, v) RTML_EW_NUMERIC_TYPES_2(RTML_EW_DECLARE_PAIR, a)
#define RTML_EW_DECLARE_BOOL_CASTS(a, u, v) RTML_EW_DECLARE_CAST(a, b8) RTML_EW_DECLARE_CAST(b8, a)
#define RTML_EW_DECLARE_WHERE(x, T) RTML_KERNEL(rtml_##x##_where__ref);
RTML_EW_UNARY_NUMERIC_OPS(RTML_EW_DECLARE_NUMERIC)
RTML_EW_UNARY_FLOAT_OPS(RTML_EW_DECLARE_FLOAT)
RTML_EW_UNARY_BOOL_OPS(RTML_EW_DECLARE_BOOL)
RTML_EW_BINARY_NUMERIC_OPS(RTML_EW_DECLARE_NUMERIC)
RTML_EW_BINARY_SIGNED_OPS(RTML_EW_DECLARE_SIGNED)
RTML_EW_BINARY_ALL_OPS(RTML_EW_DECLARE_ALL)
RTML_EW_BINARY_BOOL_OPS(RTML_EW_DECLARE_BOOL)
RTML_EW_BINARY_UINT_OPS(RTML_EW_DECLARE_UINT)
RTML_EW_VARIADIC_OPS(RTML_EW_DECLARE_NUMERIC)
RTML_EW_DECLARE_FLOAT(mean, Add)
RTML_EW_NUMERIC_TYPES(RTML_EW_DECLARE_NUMERIC_PAIRS, _, _)
RTML_EW_NUMERIC_TYPES(RTML_EW_DECLARE_BOOL_CASTS, _, _)
RTML_EW_DECLARE_CAST(b8, b8)
RTML_EW_NUMERIC_TYPES(RTML_EW_DECLARE, clip, _)
RTML_EW_WHERE_SIZES(RTML_EW_DECLARE_WHERE)

/* X(op, Enum) lists of the ops the fast kernels (kernels/fast_elementwise.h)
 * have vector kernels for; also the elementwise chains' ops. */
/* The unary ops with a float32 vector kernel (rtml_unary_params). */
#define RTML_EW_HWY_UNARY_OPS(X)                                                                              \
  X(tanh, Tanh) X(sigmoid, Sigmoid) X(exp, Exp) X(log, Log) X(sin, Sin) X(cos, Cos) X(erf, Erf) X(sqrt, Sqrt)  \
  X(reciprocal, Reciprocal) X(abs, Abs) X(neg, Neg) X(floor, Floor) X(ceil, Ceil) X(round, Round)             \
  X(softplus, Softplus) X(softsign, Softsign) X(elu, Elu) X(selu, Selu) X(celu, Celu) X(leaky_relu, LeakyRelu) \
  X(hard_sigmoid, HardSigmoid) X(hard_swish, HardSwish) X(mish, Mish) X(gelu, Gelu) X(gelu_tanh, GeluTanh)    \
  X(thresholded_relu, ThresholdedRelu) X(relu, Relu)
/* Binary ops (rtml_broadcast_params, [A, B, Y]). */
#define RTML_EW_HWY_BINARY_OPS(X) X(add, Add) X(sub, Sub) X(mul, Mul) X(div, Div) X(prelu, PRelu)
/* Variadic ops (rtml_variadic_params). */
#define RTML_EW_HWY_VARIADIC_OPS(X) X(sum, Add) X(max, Max) X(min, Min)

#ifdef __cplusplus
namespace rtml::kernels {

// IEEE half and bfloat16 conversions (round to nearest even; NaN stays NaN).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);

}  // namespace rtml::kernels
#endif

#endif
