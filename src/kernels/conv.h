/* Convolution kernels (ONNX Conv, ConvTranspose) and BatchNormalization.
 *
 * Layout is NCHW-style: X is (N, C, D1..Dk), k = `spatial` spatial dims
 * (1 to kMaxSpatial). All shapes, pads, strides and dilations are decided by
 * the op layer at prepare time; the kernels only loop.
 *
 * conv_f32 is a direct (reference) convolution written as a sum of shifted,
 * scaled input rows: for every (output channel, input channel of its group,
 * kernel tap) it adds w * x[o*stride + tap*dilation - pad_begin] to the
 * whole output plane. The innermost spatial dimension runs over the range
 * of output positions whose input index is inside the input (computed per
 * tap, so there is no bounds test in the inner loop); outer spatial
 * dimensions skip rows that fall into the padding. For a 1-D TCN layer this
 * is a tight multiply-add over the time axis per (oc, ic, tap).
 *
 * conv_transpose_f32 is the adjoint: every input element scatters
 * x * w into y[i*stride + tap*dilation - pad_begin] for all taps, restricted
 * the same way to positions inside the output.
 *
 * Entry points (operands in brackets; B is operand 2 only when the node lists it):
 *   rtml_f32_conv__ref                 [X, W, B?, Y]
 *   rtml_f32_conv_transpose__ref       [X, W, B?, Y]
 *   rtml_f32_batchnorm__ref            [X, scale, B, mean, var, Y]
 *   rtml_f32_batchnorm_training__ref   [X, scale, B, mean, var, Y, running_mean?, running_var?]
 *   rtml_f32_conv1d__fast_hwy, rtml_f32_conv2d__fast_hwy, rtml_f32_conv__im2row_hwy (kernels/fast_conv.h) */
#ifndef RTML_KERNELS_CONV_H
#define RTML_KERNELS_CONV_H

#include "kernels/elementwise_chain.h"
#include "kernels/rtml_kernel.h"

#ifndef RTML_MAX_SPATIAL
#define RTML_MAX_SPATIAL (RTML_MAX_RANK - 2)
#endif

typedef struct rtml_conv_params {
  int32_t spatial;      /* number of spatial dims */
  int64_t batch;        /* N */
  int64_t in_channels;  /* C (of X) */
  int64_t out_channels; /* M (of Y) */
  int64_t group;
  int64_t in_shape[RTML_MAX_SPATIAL];  /* spatial dims of X */
  int64_t out_shape[RTML_MAX_SPATIAL]; /* spatial dims of Y */
  int64_t kernel[RTML_MAX_SPATIAL];    /* spatial dims of W */
  int64_t stride[RTML_MAX_SPATIAL];
  int64_t dilation[RTML_MAX_SPATIAL];
  int64_t pad_begin[RTML_MAX_SPATIAL]; /* may be negative for ConvTranspose with output_shape */
  int64_t in_size;                     /* product of in_shape */
  int64_t out_size;                    /* product of out_shape */
  int64_t kernel_size;                 /* product of kernel */
  int32_t out_slot;                    /* Y's operand: 3 when the node lists B (operand 2, may be null), else 2 */
} rtml_conv_params;

/* BatchNormalization. X is (N, C, inner) flattened (inner = product of the
 * spatial dims; 1 for rank 2). */
typedef struct rtml_batchnorm_params {
  int64_t batch, channels, inner;
  float epsilon, momentum;
  int32_t num_outputs; /* training: output slots the node lists (1 to 3) */
} rtml_batchnorm_params;

/* Conv with an elementwise chain in its store (kernels/elementwise_chain.h),
 * run on each output channel's plane once it is computed. */
typedef struct rtml_conv_chain_params {
  rtml_conv_params conv;
  rtml_ew_epilogue epi;
} rtml_conv_chain_params;

RTML_KERNEL(rtml_f32_conv__ref);
RTML_KERNEL(rtml_f32_conv_chain__ref); /* [X, W, B?, Y, chain inputs...] */
RTML_KERNEL(rtml_f32_conv_transpose__ref);
RTML_KERNEL(rtml_f32_batchnorm__ref);
RTML_KERNEL(rtml_f32_batchnorm_training__ref);

#ifdef __cplusplus
namespace rtml::kernels {

constexpr int kMaxSpatial = RTML_MAX_SPATIAL;
using ConvParams = rtml_conv_params;
using BatchNormParams = rtml_batchnorm_params;

// Conv: X (N, C, in...), W (M, C/group, kernel...), B (M) or nullptr,
// Y (N, M, out...), out[d] = o such that input index = o*stride + t*dilation - pad_begin.
// `epi` (with the step's operands): an elementwise chain run on each plane of Y.
void conv_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
              const rtml_ew_epilogue* epi = nullptr, void* const* operands = nullptr);

// ConvTranspose: X (N, C, in...), W (C, M/group, kernel...), B (M) or nullptr,
// Y (N, M, out...), y[i*stride + t*dilation - pad_begin] += x[i] * w[t].
void conv_transpose_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// Inference: y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c].
void batchnorm_f32(const BatchNormParams& p, const float* x, const float* scale, const float* bias,
                   const float* mean, const float* var, float* y);

// Training mode (opset 14+ training_mode=1): normalizes with the batch
// statistics (mean and population variance over N and spatial dims) and
// writes running_mean = mean*momentum + batch_mean*(1-momentum) (likewise
// for the variance) when those outputs are non-null.
void batchnorm_training_f32(const BatchNormParams& p, const float* x, const float* scale, const float* bias,
                            const float* mean, const float* var, float* y, float* running_mean,
                            float* running_var);

}  // namespace rtml::kernels
#endif

#endif
