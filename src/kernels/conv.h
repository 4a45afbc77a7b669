// Convolution kernels (ONNX Conv, ConvTranspose) and BatchNormalization.
//
// Layout is NCHW-style: X is (N, C, D1..Dk), k = `spatial` spatial dims
// (1 to kMaxSpatial). All shapes, pads, strides and dilations are decided by
// the op layer at prepare time; the kernels only loop.
//
// conv_f32 is a direct (reference) convolution written as a sum of shifted,
// scaled input rows: for every (output channel, input channel of its group,
// kernel tap) it adds w * x[o*stride + tap*dilation - pad_begin] to the
// whole output plane. The innermost spatial dimension runs over the range
// of output positions whose input index is inside the input (computed per
// tap, so there is no bounds test in the inner loop); outer spatial
// dimensions skip rows that fall into the padding. For a 1-D TCN layer this
// is a tight multiply-add over the time axis per (oc, ic, tap).
//
// conv_transpose_f32 is the adjoint: every input element scatters
// x * w into y[i*stride + tap*dilation - pad_begin] for all taps, restricted
// the same way to positions inside the output.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace rtml::kernels {

constexpr int kMaxSpatial = kMaxRank - 2;

struct ConvParams {
  int spatial = 1;           // number of spatial dims
  int64_t batch = 1;         // N
  int64_t in_channels = 1;   // C (of X)
  int64_t out_channels = 1;  // M (of Y)
  int64_t group = 1;
  int64_t in_shape[kMaxSpatial] = {};   // spatial dims of X
  int64_t out_shape[kMaxSpatial] = {};  // spatial dims of Y
  int64_t kernel[kMaxSpatial] = {};     // spatial dims of W
  int64_t stride[kMaxSpatial] = {};
  int64_t dilation[kMaxSpatial] = {};
  int64_t pad_begin[kMaxSpatial] = {};  // may be negative for ConvTranspose with output_shape
  int64_t in_size = 1;                  // product of in_shape
  int64_t out_size = 1;                 // product of out_shape
  int64_t kernel_size = 1;              // product of kernel
};

// Conv: X (N, C, in...), W (M, C/group, kernel...), B (M) or nullptr,
// Y (N, M, out...), out[d] = o such that input index = o*stride + t*dilation - pad_begin.
void conv_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// ConvTranspose: X (N, C, in...), W (C, M/group, kernel...), B (M) or nullptr,
// Y (N, M, out...), y[i*stride + t*dilation - pad_begin] += x[i] * w[t].
void conv_transpose_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y);

// BatchNormalization. X is (N, C, inner) flattened (inner = product of the
// spatial dims; 1 for rank 2).
struct BatchNormParams {
  int64_t batch = 1;
  int64_t channels = 1;
  int64_t inner = 1;
  float epsilon = 1e-5f;
  float momentum = 0.9f;
};

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
