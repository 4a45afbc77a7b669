/* Normalization and reduction kernels: Softmax / LogSoftmax / Hardmax,
 * LayerNormalization, InstanceNormalization, LpNormalization, the Reduce*
 * family and ArgMax / ArgMin. C/C++ header of the kernel library
 * (kernels/rtml_kernel.h); the prepare-time helper is in normalize_plan.h.
 *
 * Most of these work on a tensor viewed as [outer, n, inner]: `n` is the
 * length of the axis being normalized/reduced and `inner` the product of the
 * dims after it (the stride between consecutive elements along the axis).
 * The op layer computes that view at prepare time.
 *
 * Entry points (operands in brackets), all portable:
 *   rtml_<f>_softmax__ref, _log_softmax__ref, _hardmax__ref  [X, Y]   f = f32 f64
 *   rtml_<f>_layer_norm__ref     [X, Scale, B?, Y, Mean?, InvStdDev?]
 *   rtml_<f>_instance_norm__ref  [X, scale, B, Y]
 *   rtml_<f>_lp_norm__ref        [X, Y]
 *   rtml_<t>_reduce_<kind>__ref  [X, axes?, Y]   t = f32 f64 s32 s64 u8 s8;
 *       kind = sum mean max min prod l1 l2 log_sum log_sum_exp sum_square
 *   rtml_<t>_argmax__ref, rtml_<t>_argmin__ref  [X, Y (int64)]
 *   rtml_f32_softmax__hwy  [X, Y]  contiguous rows (kernels/fast_softmax.h)
 *   rtml_f32_layer_norm__hwy  as _layer_norm__ref; Scale and B per element of the row
 *   rtml_f32_reduce_sum__hwy, rtml_f32_reduce_mean__hwy  as _ref; the reduced axes innermost */
#ifndef RTML_KERNELS_NORMALIZE_H
#define RTML_KERNELS_NORMALIZE_H

#include "kernels/rtml_kernel.h"

/* Softmax family, LpNormalization, ArgMax/ArgMin: rows along one axis. */
typedef struct rtml_axis_params {
  int64_t outer, n, inner;
} rtml_axis_params;

/* LayerNormalization: each of `outer` rows of `n` elements is normalized with
 * its own mean and variance (two passes: mean, then mean squared deviation),
 * then scaled and shifted. Scale and B broadcast to the normalized dims
 * [rank x shape]: their element strides per dim (0 where broadcast). */
typedef struct rtml_layer_norm_params {
  int64_t outer, n;
  double epsilon;
  bool has_bias;
  int32_t num_inputs, num_outputs; /* outputs follow the inputs the node lists */
  int32_t rank;
  int64_t shape[RTML_MAX_RANK];
  int64_t scale_stride[RTML_MAX_RANK];
  int64_t bias_stride[RTML_MAX_RANK];
} rtml_layer_norm_params;

/* InstanceNormalization: X is [N, C, spatial...]: every (n, c) plane of
 * `spatial` elements is normalized on its own, then scaled by scale[c] and
 * shifted by bias[c]. */
typedef struct rtml_instance_norm_params {
  int64_t batch, channels, spatial;
  double epsilon;
} rtml_instance_norm_params;

/* x / ||x||_p along the axis (p is 1 or 2); a zero norm gives 0. */
typedef struct rtml_lp_norm_params {
  rtml_axis_params axis;
  int32_t p;
} rtml_lp_norm_params;

/* Reductions: the input's dims split into kept and reduced groups (adjacent
 * dims of the same group merged). For each output element (row-major over
 * the kept dims), the kernel visits every reduced element through the
 * reduced strides. Floating inputs accumulate in double, integers in int64.
 * LogSumExp first finds the maximum so exp never overflows. */
typedef struct rtml_reduce_params {
  int32_t kept_rank, red_rank;
  int64_t kept_shape[RTML_MAX_RANK], kept_stride[RTML_MAX_RANK];
  int64_t red_shape[RTML_MAX_RANK], red_stride[RTML_MAX_RANK];
  int64_t out_count, red_count;
  int32_t out_slot; /* 1, or 2 when the node lists an axes input */
} rtml_reduce_params;

/* ArgMax / ArgMin: outer*inner int64 indices. Ties pick the first (or, with
 * select_last_index, the last) position. The axis must not be empty. */
typedef struct rtml_arg_params {
  rtml_axis_params axis;
  bool select_last_index;
} rtml_arg_params;

#define RTML_NORMALIZE_FLOAT_TYPES(X) X(f32, float) X(f64, double)
#define RTML_NORMALIZE_ANY_TYPES(X) \
  X(f32, float) X(f64, double) X(s32, int32_t) X(s64, int64_t) X(u8, uint8_t) X(s8, int8_t)
#define RTML_NORMALIZE_DECLARE_FLOAT(t, T)                                                          \
  RTML_KERNEL(rtml_##t##_softmax__ref); RTML_KERNEL(rtml_##t##_log_softmax__ref);                   \
  RTML_KERNEL(rtml_##t##_hardmax__ref); RTML_KERNEL(rtml_##t##_layer_norm__ref);                    \
  RTML_KERNEL(rtml_##t##_instance_norm__ref); RTML_KERNEL(rtml_##t##_lp_norm__ref);
#define RTML_NORMALIZE_DECLARE_REDUCE(t, T)                                              \
  RTML_KERNEL(rtml_##t##_reduce_sum__ref); RTML_KERNEL(rtml_##t##_reduce_mean__ref);     \
  RTML_KERNEL(rtml_##t##_reduce_max__ref); RTML_KERNEL(rtml_##t##_reduce_min__ref);      \
  RTML_KERNEL(rtml_##t##_reduce_prod__ref); RTML_KERNEL(rtml_##t##_reduce_l1__ref);      \
  RTML_KERNEL(rtml_##t##_reduce_l2__ref); RTML_KERNEL(rtml_##t##_reduce_log_sum__ref);   \
  RTML_KERNEL(rtml_##t##_reduce_log_sum_exp__ref);                                       \
  RTML_KERNEL(rtml_##t##_reduce_sum_square__ref);                                        \
  RTML_KERNEL(rtml_##t##_argmax__ref); RTML_KERNEL(rtml_##t##_argmin__ref);
RTML_NORMALIZE_FLOAT_TYPES(RTML_NORMALIZE_DECLARE_FLOAT)
RTML_NORMALIZE_ANY_TYPES(RTML_NORMALIZE_DECLARE_REDUCE)
#undef RTML_NORMALIZE_DECLARE_FLOAT
#undef RTML_NORMALIZE_DECLARE_REDUCE
RTML_KERNEL(rtml_f32_softmax__hwy);
RTML_KERNEL(rtml_f32_layer_norm__hwy);
RTML_KERNEL(rtml_f32_reduce_sum__hwy);
RTML_KERNEL(rtml_f32_reduce_mean__hwy);

#ifdef __cplusplus
namespace rtml::kernels {

using AxisParams = rtml_axis_params;
using LayerNormParams = rtml_layer_norm_params;
using InstanceNormParams = rtml_instance_norm_params;
using LpNormParams = rtml_lp_norm_params;
using ReduceParams = rtml_reduce_params;
using ArgParams = rtml_arg_params;

enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

// Numerically stable: exp(x - max) / sum(exp(x - max)) along the axis.
template <class T>
void softmax(const AxisParams& p, const T* x, T* y);
// x - max - log(sum(exp(x - max))).
template <class T>
void log_softmax(const AxisParams& p, const T* x, T* y);
// 1 at the first maximum along the axis, 0 elsewhere.
template <class T>
void hardmax(const AxisParams& p, const T* x, T* y);
// mean / inv_std_dev may be nullptr; otherwise they receive one value per row.
template <class T>
void layer_norm(const LayerNormParams& p, const T* x, const T* scale, const T* bias, T* y, T* mean, T* inv_std_dev);
template <class T>
void instance_norm(const InstanceNormParams& p, const T* x, const T* scale, const T* bias, T* y);
template <class T>
void lp_norm(const LpNormParams& p, const T* x, T* y);
template <class T, ReduceKind K>
void reduce(const ReduceParams& p, const T* x, T* y);
template <class T>
void arg_reduce(const ArgParams& p, bool is_max, const T* x, int64_t* y);

}  // namespace rtml::kernels
#endif

#endif
