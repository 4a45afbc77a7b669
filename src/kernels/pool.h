/* Pooling kernels: MaxPool, AveragePool, LpPool and the global variants (C/C++
 * header of the kernel library; kernels/rtml_kernel.h has the calling
 * convention).
 *
 * X is (N, C, D1..Dk) seen as N*C independent planes of `in_size` elements.
 * For every output position o and window tap t, the input index along
 * spatial dim d is  i_d = o_d*stride_d + t_d*dilation_d - pad_begin_d.
 * Taps outside [0, in_shape_d) are padding: MaxPool and LpPool ignore them;
 * AveragePool divides by the number of taps inside the input, or (with
 * count_include_pad) by the number of taps inside the padded input
 * [-pad_begin, in + pad_end): taps beyond that, which ceil_mode can add,
 * never count. Shapes and pads are computed at prepare time.
 *
 * Entry points (operands in brackets):
 *   rtml_<t>_maxpool__ref         [X, Y, Indices?]  t = f32 f64 u8 s8
 *   rtml_f32_avgpool__ref         [X, Y]
 *   rtml_<t>_avgpool__ref         [X, Y]            t = s8 u8: quantized data whose
 *                                 input and output share scale and zero point, as
 *                                 TFLite's: the mean of the stored values of the taps
 *                                 inside the input, half away from zero (count_include_pad 0)
 *   rtml_f32_lppool__ref          [X, Y]
 *   rtml_<t>_global_maxpool__ref  [X, Y]            t = f32 f64 u8 s8
 *   rtml_f32_global_avgpool__ref  [X, Y]
 *   rtml_f32_global_lppool__ref   [X, Y]
 *   rtml_f32_maxpool__hwy, rtml_f32_avgpool__hwy,
 *   rtml_s8_maxpool__hwy, rtml_u8_maxpool__hwy  [X, Y]  (kernels/fast_pool.h) */
#ifndef RTML_KERNELS_POOL_H
#define RTML_KERNELS_POOL_H

#include "kernels/rtml_kernel.h"

#define RTML_MAX_SPATIAL (RTML_MAX_RANK - 2)

typedef struct rtml_pool_params {
  int32_t spatial;
  int64_t planes; /* N * C */
  int64_t in_shape[RTML_MAX_SPATIAL];
  int64_t out_shape[RTML_MAX_SPATIAL];
  int64_t kernel[RTML_MAX_SPATIAL];
  int64_t stride[RTML_MAX_SPATIAL];
  int64_t dilation[RTML_MAX_SPATIAL];
  int64_t pad_begin[RTML_MAX_SPATIAL];
  int64_t pad_end[RTML_MAX_SPATIAL];
  int64_t in_size;           /* product of in_shape */
  int64_t out_size;          /* product of out_shape */
  int64_t kernel_size;       /* product of kernel */
  bool count_include_pad;    /* AveragePool */
  int32_t storage_order;     /* MaxPool indices: 0 row-major, 1 column-major */
  bool has_indices;          /* MaxPool: the node lists an Indices slot (operand 2, may be null) */
  float p;                   /* LpPool exponent */
} rtml_pool_params;

/* Global pools: one value per plane of `size` elements. */
typedef struct rtml_global_pool_params {
  int64_t planes, size;
  float p; /* GlobalLpPool exponent */
} rtml_global_pool_params;

#define RTML_MAXPOOL_TYPES(X) X(f32, float) X(f64, double) X(u8, uint8_t) X(s8, int8_t)
#define RTML_POOL_DECLARE(t, T) RTML_KERNEL(rtml_##t##_maxpool__ref); RTML_KERNEL(rtml_##t##_global_maxpool__ref);
RTML_MAXPOOL_TYPES(RTML_POOL_DECLARE)
#undef RTML_POOL_DECLARE
RTML_KERNEL(rtml_f32_avgpool__ref);
RTML_KERNEL(rtml_s8_avgpool__ref);
RTML_KERNEL(rtml_u8_avgpool__ref);
RTML_KERNEL(rtml_f32_lppool__ref);
RTML_KERNEL(rtml_f32_global_avgpool__ref);
RTML_KERNEL(rtml_f32_global_lppool__ref);
RTML_KERNEL(rtml_f32_maxpool__hwy);
RTML_KERNEL(rtml_f32_avgpool__hwy);
RTML_KERNEL(rtml_s8_maxpool__hwy);
RTML_KERNEL(rtml_u8_maxpool__hwy);

#ifdef __cplusplus
namespace rtml::kernels {

using PoolParams = rtml_pool_params;
constexpr int kMaxPoolSpatial = RTML_MAX_SPATIAL;

// Max over the window; `indices` (may be nullptr) receives the flat index of
// the maximum in X (plane * in_size + spatial index in the storage order).
// A window with no tap inside the input yields the type's lowest value and index -1.
template <class T>
void maxpool(const PoolParams& p, const T* x, T* y, int64_t* indices);

void avgpool_f32(const PoolParams& p, const float* x, float* y);
// int8 / uint8: TFLite's integer average (a window without taps gives 0).
template <class T>
void avgpool_quantized(const PoolParams& p, const T* x, T* y);
// (sum over taps inside the input of |x|^p)^(1/p).
void lppool_f32(const PoolParams& p, const float* x, float* y);

void global_avgpool_f32(int64_t planes, int64_t size, const float* x, float* y);
template <class T>
void global_maxpool(int64_t planes, int64_t size, const T* x, T* y);
void global_lppool_f32(int64_t planes, int64_t size, float p, const float* x, float* y);

}  // namespace rtml::kernels
#endif

#endif
