/* Quantized (int8 / uint8) kernels: C/C++ header of the kernel library
 * (kernels/rtml_kernel.h: calling convention, naming; docs/quantization.md:
 * the scheme with a worked example).
 *
 * The scheme is TFLite's and CMSIS-NN's, so results match theirs bit for
 * bit: activations asymmetric (real = scale * (q - zero_point)), weights
 * symmetric (zero point 0; ONNX's uint8 weights may have one), int32
 * accumulation of (x - x_zero_point) * (w - w_zero_point), int32 bias, then
 * the requantization below with a per-tensor or per-output-channel
 * (multiplier, shift) pair, plus the output zero point, clamped to
 * [act_min, act_max] (a fused Relu / Clip narrows that range).
 *
 * Requantization (rtml_requantize): the real multiplier
 * x_scale * w_scale[c] / y_scale = multiplier * 2^(shift - 31) with
 * multiplier in [2^30, 2^31) (rtml_quantize_multiplier, at prepare); then
 *     y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
 *             acc * 2^max(shift, 0), multiplier), max(-shift, 0))
 * exactly as TFLite's reference MultiplyByQuantizedMultiplier.
 *
 * Entry points (operands in brackets; t = s8 (int8 data, int8 weights),
 * u8 (uint8 data, uint8 weights) or, for the products, u8s8 (uint8 data and
 * output, int8 weights: ONNX Runtime's usual choice); the output has the
 * data's type):
 *   rtml_<t>_fully_connected__ref   [node inputs..., Y, constants...]  QLinearMatMul, int8 Gemm
 *   rtml_<t>_matmul_integer__ref    [A, B, a_zp?, b_zp?, Y]            MatMulInteger (int32 Y)
 *   rtml_<t>_conv__ref              [node inputs..., Y, constants...]  QLinearConv
 *   rtml_<t>_depthwise_conv__ref    (the same, group == channels)
 *   rtml_<t>_conv_integer__ref      [X, W, x_zp?, w_zp?, Y]            ConvInteger (int32 Y)
 *   rtml_<t>_quantize__ref          [X, scale, zero_point?, Y]         QuantizeLinear (float X), t s8 u8
 *   rtml_<t>_dequantize__ref        [X, scale, zero_point?, Y]         DequantizeLinear (float Y), t s8 u8 s32
 *   rtml_u8_dynamic_quantize__ref   [X, Y, Y_scale, Y_zero_point]      DynamicQuantizeLinear
 *   rtml_<t>_qadd__ref, _qmul__ref  [A, (scales, zero points,) B, ..., Y]  QDQ Add / Mul (rtml_qbinary_params), t s8 u8
 *   rtml_<t>_lookup__ref            [X, ..., Y, table]  y = table[x - lowest]: a 256-entry
 *                                   table made at prepare (QDQ Sigmoid, Tanh), t s8 u8
 *   rtml_<t>_mean__ref              [X, ..., Y]  QDQ ReduceMean / GlobalAveragePool
 *                                   (rtml_qmean_params), t s8 u8
 *   rtml_<t>_softmax__ref           [X, ..., Y]  QDQ Softmax over contiguous rows, output
 *                                   scale 1/256 (rtml_qsoftmax_params), t s8 u8
 *   rtml_x8_qconcat__ref            [X0..Xn-1, ..., Y, blocks, tables?]  QDQ Concat, int8 or
 *                                   uint8 (rtml_qconcat_params)
 * and, for int8 data with constant int8 weights and constant scales, the
 * Highway kernels rtml_s8_{fully_connected,conv,depthwise_conv}__hwy of
 * kernels/fast_quant.h (same params; packed weights and a scratch), its
 * rtml_<t>_{quantize,dequantize}__hwy (t s8 u8; the same params),
 * rtml_s8_qadd__hwy (A and B of one shape; the same params), rtml_s8_mean__hwy
 * (contiguous runs: inner 1; the same params), and the
 * `cortex-m` set's rtml_s8_{fully_connected,conv,depthwise_conv}__cm (same
 * params; a scratch; declared at the end).
 * The operands of a quantized product are found through the params' slots:
 * the (multiplier, shift) arrays are step constants made at prepare when the
 * scales are constants; otherwise (scales given at run time, as the ONNX
 * tests do) the kernel derives them from the scale operands each run, with
 * the same rtml_quantize_multiplier. A zero point comes from its operand
 * when its slot is >= 0, else from the params. */
#ifndef RTML_KERNELS_QUANT_H
#define RTML_KERNELS_QUANT_H

#include "kernels/broadcast.h"
#include "kernels/rtml_kernel.h"

/* TFLite's SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b,
 * rounded to nearest (ties away from zero); INT32_MIN * INT32_MIN saturates
 * to INT32_MAX. */
static inline int32_t rtml_srdhm(int32_t a, int32_t b) {
  /* TFLite writes it (ab + nudge) / 2^31 with nudge 2^30 for ab >= 0, 1 - 2^30
   * below, and a division truncating toward zero; that equals
   * floor((ab + 2^30) / 2^31) for every ab (for ab = -m < 0 both are
   * -floor((m + 2^30 - 1) / 2^31)), which is one multiply-accumulate and a
   * shift (SMULL, ADDS/ADC, two shifts on a Cortex-M) instead of a 64-bit
   * division's sign fix-ups. >> of a negative int64 is arithmetic on every
   * compiler rtml builds with (and by definition since C++20). */
  if (a == b && a == INT32_MIN) return INT32_MAX;
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* TFLite's RoundingDivideByPOT: x / 2^exponent (0 <= exponent <= 31),
 * rounded to nearest, ties away from zero. */
static inline int32_t rtml_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1u); /* 32-bit: exponent <= 31 */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier: acc * multiplier * 2^(shift - 31),
 * rounded twice as above. A positive shift is a left shift of acc first
 * (wrapping like the int32 multiply of TFLite and CMSIS-NN on their targets). */
static inline int32_t rtml_requantize(int32_t acc, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t shifted = (int32_t)((uint32_t)acc << left);
  return rtml_rounding_divide_by_pot(rtml_srdhm(shifted, multiplier), right);
}

/* The stored value of a quantized product's output: rtml_requantize, plus
 * the output zero point, clamped to [lo, hi]. Every integer kernel's last
 * step (the reference ones and kernels/fast_quant.cpp's). */
static inline int32_t rtml_requantize_output(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                                             int32_t lo, int32_t hi) {
  const int32_t r = rtml_requantize(acc, multiplier, shift);
  int32_t v;
#if defined(__GNUC__)
  /* r + zero_point saturated to int32 clamps to [lo, hi] as the exact sum does
   * (past INT32_MAX it is above hi too), without 64-bit compares. */
  if (__builtin_add_overflow(r, zero_point, &v)) v = r > 0 ? INT32_MAX : INT32_MIN;
#else
  const int64_t wide = (int64_t)r + zero_point;
  v = wide > INT32_MAX ? INT32_MAX : wide < INT32_MIN ? INT32_MIN : (int32_t)wide;
#endif
  return v < lo ? lo : v > hi ? hi : v;
}

/* rtml_requantize for kernels that requantize many accumulators of one
 * channel: the shifts and the rounding mask worked out once (rtml_requant_of),
 * and the product's one saturating case left out, for a multiplier that is
 * not INT32_MIN (rtml_quantize_multiplier's never is: 0, INT32_MAX or in
 * [2^30, 2^31)). Then rtml_requant_apply(acc, rtml_requant_of(m, s)) ==
 * rtml_requantize(acc, m, s) for every acc: SMLAL and two shifts for the
 * product, four instructions for the rounding (the cortex-m set's kernels). */
typedef struct rtml_requant {
  int32_t multiplier, left, right, mask;
} rtml_requant;

static inline rtml_requant rtml_requant_of(int32_t multiplier, int32_t shift) {
  rtml_requant r;
  r.multiplier = multiplier;
  r.left = shift > 0 ? shift : 0;
  r.right = shift > 0 ? 0 : -shift;
  r.mask = (int32_t)((UINT32_C(1) << r.right) - 1u);
  return r;
}

static inline int32_t rtml_requant_apply(int32_t acc, rtml_requant r) {
  const int32_t shifted = (int32_t)((uint32_t)acc << r.left);
  const int32_t x = (int32_t)(((int64_t)shifted * (int64_t)r.multiplier + ((int64_t)1 << 30)) >> 31); /* rtml_srdhm */
  const int32_t threshold = (r.mask >> 1) + (int32_t)((uint32_t)x >> 31); /* rtml_rounding_divide_by_pot */
  return (x >> r.right) + ((x & r.mask) > threshold ? 1 : 0);
}

/* TFLite's QuantizeMultiplier: real = *multiplier * 2^(*shift - 31) with
 * *multiplier in [2^30, 2^31) (0 and shift 0 for real == 0 and for reals
 * below about 2^-31, which flush to zero). Beyond TFLite, for scales given
 * at run time: a NaN or infinite real gives 0 and 0, a real of 2^31 or more
 * INT32_MAX and 31 (every nonzero result saturates). Defined in
 * kernels/quant.cpp. */
RTML_EXTERN_C void rtml_quantize_multiplier(double real, int32_t* multiplier, int32_t* shift);
/* The (multiplier, shift) of a product's effective scale
 * x_scale * w_scale / y_scale, computed in double as TFLite does. */
RTML_EXTERN_C void rtml_quantize_scales(float x_scale, float w_scale, float y_scale, int32_t* multiplier,
                                        int32_t* shift);

/* A quantized matrix product, per batch Y[M x N] = X[M x K] * W[K x N]:
 * W(k, n) is w[k * w_stride_k + n * w_stride_n] (a [N x K] weight matrix, as
 * TFLite and CMSIS-NN store it, has w_stride_k 1, w_stride_n K). Batches:
 * batch_count of them, X and W advancing by their batch strides (0: shared),
 * Y by M * N. */
typedef struct rtml_qmatmul_params {
  int64_t M, N, K;
  int64_t w_stride_k, w_stride_n;
  int64_t batch_count, x_batch_stride, w_batch_stride;
  int32_t w_slot;                                   /* operand slot of W (X is operand 0) */
  int32_t x_zero_point, w_zero_point, y_zero_point; /* when the slot below is -1 */
  int32_t x_zp_slot, w_zp_slot, y_zp_slot;          /* operand slots of zero points, -1: none */
  bool w_zp_per_channel;                            /* w_zp operand has N values */
  int32_t act_min, act_max;                         /* clamp of the quantized output */
  int32_t out_slot;
  int32_t bias_slot;                                /* int32 [N], -1: none */
  /* Requantization: (multiplier, shift) int32 arrays of N values when
   * per_channel, else 1, at multiplier_slot / shift_slot; or, when
   * multiplier_slot is -1, derived each run from the float scale operands
   * (w_scale per channel when per_channel). */
  bool per_channel;
  int32_t multiplier_slot, shift_slot;
  int32_t x_scale_slot, w_scale_slot, y_scale_slot;
} rtml_qmatmul_params;

/* A quantized 1-D or 2-D convolution, NCHW (1-D: H == KH == 1), weights
 * [C_out, C_in / group, KH, KW], Y [N, C_out, OH, OW]. Zero points,
 * clamp, bias and requantization as rtml_qmatmul_params (per channel = per
 * output channel). */
typedef struct rtml_qconv_params {
  int64_t N, C, H, W, C_out, group;
  int64_t KH, KW, OH, OW;
  int64_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  int32_t w_slot;
  int32_t x_zero_point, w_zero_point, y_zero_point;
  int32_t x_zp_slot, w_zp_slot, y_zp_slot;
  bool w_zp_per_channel;
  int32_t act_min, act_max;
  int32_t out_slot;
  int32_t bias_slot;
  bool per_channel;
  int32_t multiplier_slot, shift_slot;
  int32_t x_scale_slot, w_scale_slot, y_scale_slot;
} rtml_qconv_params;

/* QuantizeLinear / DequantizeLinear: X viewed as [outer, axis_dim, inner];
 * the scale (float) and zero point have axis_dim values when per_axis, else
 * one. has_zero_point: operand 2 is the zero point (else 0). */
typedef struct rtml_quantize_params {
  int64_t outer, axis_dim, inner;
  bool per_axis, has_zero_point;
  int32_t out_slot;
} rtml_quantize_params;

/* DynamicQuantizeLinear: numel elements. */
typedef struct rtml_dynamic_quantize_params {
  int64_t numel;
} rtml_dynamic_quantize_params;

/* Add and Mul of two quantized tensors (NumPy broadcasting: bc), all three
 * of one type, as TFLite's integer reference kernels (and CMSIS-NN's
 * arm_elementwise_add_s8 / _mul_s8) compute them; a = A - a_zero_point, b
 * likewise:
 *   Add: y = requantize(requantize(a * 2^left_shift, a_multiplier, a_shift)
 *                       + requantize(b * 2^left_shift, b_multiplier, b_shift),
 *                       y_multiplier, y_shift)
 *        with left_shift 20, a_multiplier ~ a_scale / (2 max(a_scale, b_scale)),
 *        b likewise, y_multiplier ~ 2 max(a_scale, b_scale) / (2^20 y_scale);
 *   Mul: y = requantize(a * b, y_multiplier, y_shift), y_multiplier ~
 *        a_scale b_scale / y_scale;
 * then + y_zero_point, clamped to [act_min, act_max]. */
typedef struct rtml_qbinary_params {
  rtml_broadcast bc;
  int32_t b_slot, out_slot; /* operand slots of B and Y (A is operand 0) */
  int32_t a_zero_point, b_zero_point, y_zero_point;
  int32_t left_shift;
  int32_t a_multiplier, a_shift, b_multiplier, b_shift; /* Add only */
  int32_t y_multiplier, y_shift;
  int32_t act_min, act_max;
} rtml_qbinary_params;

/* A function of one int8 / uint8 tensor as a lookup in a table of 256
 * outputs (operand table_slot), indexed by x minus the type's lowest value. */
typedef struct rtml_lookup_params {
  int64_t count;
  int32_t out_slot, table_slot;
} rtml_lookup_params;

/* The mean over a block of contiguous axes, X viewed as [outer, n, inner]
 * and Y as [outer, inner], as TFLite's int8 MEAN: the int32 sum of
 * x - x_zero_point over the n values, then
 *   y = rtml_requantize_output(sum, multiplier, shift, y_zero_point, lo, hi)
 * with (multiplier, shift) of x_scale / (y_scale * n) (rtml_quantize_multiplier
 * at prepare) and [lo, hi] the type's range. */
typedef struct rtml_qmean_params {
  int64_t outer, n, inner;
  int32_t x_zero_point, y_zero_point;
  int32_t multiplier, shift;
  int32_t out_slot;
} rtml_qmean_params;

/* Softmax over rows of row_size contiguous values, as TFLite's integer
 * reference (reference_integer_ops, TFLite Micro) and CMSIS-NN's
 * arm_softmax_s8 compute it, for an output of scale 1/256 and zero point the
 * type's lowest value (-128 int8, 0 uint8; TFLite requires both). Per row,
 * with d = x - max(row) (any input zero point cancels):
 *   exp(d) = exp_on_negative_values(requantize(d, input_multiplier,
 *            input_left_shift)), Q0.31 from a Q5.26 argument (gemmlowp's
 *            fixed-point exp: a Taylor polynomial on [-1/4, 0) times
 *            exp(-2^k) for each bit of the rest); 0 where d < diff_min;
 *   sum    = the sum of exp(d) / 2^12 (rounded), Q12.19;
 *   y      = exp(d) * (1 / sum) / 2^(12 - clz(sum) + 23) (rounded) + lowest,
 *            clamped; 1 / sum by Newton-Raphson on 1 / (1 + x), x in [0, 1).
 * input_multiplier, input_left_shift and diff_min from beta * input_scale:
 * rtml_softmax_scaling, at prepare. row_size <= 4095 (the int32 sum). */
typedef struct rtml_qsoftmax_params {
  int64_t rows, row_size;
  int32_t input_multiplier, input_left_shift, diff_min;
  int32_t out_slot;
} rtml_qsoftmax_params;

/* Concat of int8 / uint8 tensors of different scales or zero points into
 * one (the planner's fused DequantizeLinear -> Concat -> QuantizeLinear):
 * every tensor viewed as [outer, block] as in rtml_concat_params, the
 * inputs' blocks written one after another per outer index. An input with
 * the output's scale and zero point is copied; another is mapped through its
 * table of 256 bytes, indexed by the stored byte (int8: its two's
 * complement): QuantizeLinear(DequantizeLinear(q)) of every value q, made at
 * prepare by the kernels of the unfused path, so the result is bit-identical
 * with ONNX's float definition (docs/quantization.md says why not the
 * fixed-point requantization). X_k is operand k. blocks_slot: int64
 * [2 * num_inputs], per input its block in bytes, then its table's offset in
 * the uint8 tables at tables_slot, or -1: copied (tables_slot -1: none). */
typedef struct rtml_qconcat_params {
  int32_t num_inputs;
  int64_t outer;
  int32_t out_slot, blocks_slot, tables_slot;
} rtml_qconcat_params;

/* TFLite's PreprocessSoftmaxScaling with 5 integer bits (the input of
 * exp_on_negative_values is Q5.26) and CalculateInputRadius:
 * beta_times_scale * 2^26 (capped at 2^31 - 1) = *multiplier *
 * 2^(*left_shift - 31), *diff_min = -floor(31 * 2^26 / 2^*left_shift). False
 * when beta_times_scale * 2^26 is not above 1 (TFLite refuses such a scale;
 * it is not finite or below 1.5e-8). Defined in kernels/quant.cpp. */
RTML_EXTERN_C bool rtml_softmax_scaling(double beta_times_scale, int32_t* multiplier, int32_t* left_shift,
                                        int32_t* diff_min);

/* Products: (name, activation and output type, weight type). */
#define RTML_QUANT_PRODUCT_TYPES(X) X(s8, int8_t, int8_t) X(u8, uint8_t, uint8_t) X(u8s8, uint8_t, int8_t)
#define RTML_QUANT_PRODUCT_DECLARE(t, TX, TW)                                                          \
  RTML_KERNEL(rtml_##t##_fully_connected__ref); RTML_KERNEL(rtml_##t##_matmul_integer__ref);            \
  RTML_KERNEL(rtml_##t##_conv__ref); RTML_KERNEL(rtml_##t##_depthwise_conv__ref);                       \
  RTML_KERNEL(rtml_##t##_conv_integer__ref);
RTML_QUANT_PRODUCT_TYPES(RTML_QUANT_PRODUCT_DECLARE)
#undef RTML_QUANT_PRODUCT_DECLARE
#define RTML_QUANT_TYPES(X) X(s8, int8_t) X(u8, uint8_t)
#define RTML_QUANT_DECLARE(t, T) RTML_KERNEL(rtml_##t##_quantize__ref); RTML_KERNEL(rtml_##t##_dequantize__ref); \
  RTML_KERNEL(rtml_##t##_qadd__ref); RTML_KERNEL(rtml_##t##_qmul__ref); RTML_KERNEL(rtml_##t##_lookup__ref); \
  RTML_KERNEL(rtml_##t##_mean__ref); RTML_KERNEL(rtml_##t##_softmax__ref);
RTML_QUANT_TYPES(RTML_QUANT_DECLARE)
#undef RTML_QUANT_DECLARE
RTML_KERNEL(rtml_s32_dequantize__ref);
/* Highway (kernels/fast_quant.cpp; fast_quant.h: the packed weights, the
 * scratch): int8 data and weights, w_slot names the packed constant. */
RTML_KERNEL(rtml_s8_fully_connected__hwy);
RTML_KERNEL(rtml_s8_conv__hwy);
RTML_KERNEL(rtml_s8_depthwise_conv__hwy);
/* QuantizeLinear / DequantizeLinear on vectors (int8, uint8; same params
 * and operands as the reference ones, bit for bit). */
RTML_KERNEL(rtml_s8_quantize__hwy);
RTML_KERNEL(rtml_u8_quantize__hwy);
RTML_KERNEL(rtml_s8_dequantize__hwy);
RTML_KERNEL(rtml_u8_dequantize__hwy);
/* QDQ Add of two int8 tensors of one shape on vectors (the reference's
 * params and operands, bit for bit). */
RTML_KERNEL(rtml_s8_qadd__hwy);
/* QDQ ReduceMean / GlobalAveragePool of int8 over contiguous runs (inner 1)
 * on vectors (the reference's params and operands, bit for bit). */
RTML_KERNEL(rtml_s8_mean__hwy);
RTML_KERNEL(rtml_u8_dynamic_quantize__ref);
/* The `cortex-m` kernel set's (kernels/cortexm_quant.cpp: SXTB16 / SMLAD on
 * a Cortex-M with the DSP extension, the same loops in plain C elsewhere):
 * int8 data, int8 weights with zero point 0 read in place (the fully
 * connected one with w_stride_k 1), constant scales; a q15 scratch of the
 * bytes below after the constants (operand max(w_slot, multiplier_slot,
 * shift_slot) + 1). */
RTML_KERNEL(rtml_s8_conv__cm);
RTML_KERNEL(rtml_s8_fully_connected__cm);
RTML_KERNEL(rtml_s8_depthwise_conv__cm);
/* and for QDQ Add of two int8 tensors (rtml_qbinary_params), the reference's
 * maths with its per-channel work done once: one shape (both contiguous),
 * any other broadcast through rtml_s8_qadd__ref. */
RTML_KERNEL(rtml_s8_qadd__cm);
RTML_EXTERN_C int64_t rtml_s8_conv_cm_scratch_bytes(const rtml_qconv_params* p);
RTML_EXTERN_C int64_t rtml_s8_fully_connected_cm_scratch_bytes(const rtml_qmatmul_params* p);
RTML_EXTERN_C int64_t rtml_s8_depthwise_conv_cm_scratch_bytes(const rtml_qconv_params* p);
RTML_KERNEL(rtml_x8_qconcat__ref); /* kernels/quant_concat.cpp */

#endif
