// Pooling kernels: MaxPool, AveragePool, LpPool and the global variants.
//
// X is (N, C, D1..Dk) seen as N*C independent planes of `in_size` elements.
// For every output position o and window tap t, the input index along
// spatial dim d is  i_d = o_d*stride_d + t_d*dilation_d - pad_begin_d.
// Taps outside [0, in_shape_d) are padding: MaxPool and LpPool ignore them;
// AveragePool divides by the number of taps inside the input, or (with
// count_include_pad) by the number of taps inside the padded input
// [-pad_begin, in + pad_end) — taps beyond that, which ceil_mode can add,
// never count. Shapes and pads are computed at prepare time.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace rtml::kernels {

constexpr int kMaxPoolSpatial = kMaxRank - 2;

struct PoolParams {
  int spatial = 1;
  int64_t planes = 1;  // N * C
  int64_t in_shape[kMaxPoolSpatial] = {};
  int64_t out_shape[kMaxPoolSpatial] = {};
  int64_t kernel[kMaxPoolSpatial] = {};
  int64_t stride[kMaxPoolSpatial] = {};
  int64_t dilation[kMaxPoolSpatial] = {};
  int64_t pad_begin[kMaxPoolSpatial] = {};
  int64_t pad_end[kMaxPoolSpatial] = {};
  int64_t in_size = 1;      // product of in_shape
  int64_t out_size = 1;     // product of out_shape
  int64_t kernel_size = 1;  // product of kernel
  bool count_include_pad = false;  // AveragePool
  int storage_order = 0;           // MaxPool indices: 0 row-major, 1 column-major
  float p = 2.0f;                  // LpPool exponent
};

// Max over the window; `indices` (may be nullptr) receives the flat index of
// the maximum in X (plane * in_size + spatial index in the storage order).
// A window with no tap inside the input yields the type's lowest value and index -1.
template <class T>
void maxpool(const PoolParams& p, const T* x, T* y, int64_t* indices);

void avgpool_f32(const PoolParams& p, const float* x, float* y);
// (sum over taps inside the input of |x|^p)^(1/p).
void lppool_f32(const PoolParams& p, const float* x, float* y);

// Global pools: one value per plane of `size` elements.
void global_avgpool_f32(int64_t planes, int64_t size, const float* x, float* y);
template <class T>
void global_maxpool(int64_t planes, int64_t size, const T* x, T* y);
void global_lppool_f32(int64_t planes, int64_t size, float p, const float* x, float* y);

}  // namespace rtml::kernels
