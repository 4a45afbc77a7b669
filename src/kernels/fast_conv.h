/* Fast float32 1-D convolution with stride 1 (TCN and ResNet-1D layers),
 * with SIMD through Google Highway (runtime dispatch, like fast_gemm), and
 * an epilogue that can also add a residual tensor and apply ReLU, so the
 * Add / Relu nodes after a Conv need no step of their own (plan/ fuses them;
 * see ops::Step::fuse).
 *
 * Per batch item, the input's channels are first copied into the scratch
 * with zeros for the padding (row stride padded_len), so every tap of every
 * output position reads memory without bounds checks. Per group, the output
 *     Y[m][o] = sum over c, t of W[m][c][t] * Xpad[c][o + t * dilation]
 * is a GEMM whose B (the im2col matrix) is never built: row (c, t) of B is
 * the padded input row c shifted by t * dilation. A tile holds R output
 * channels x one panel of output positions (kPanel) in registers; each
 * (c, t) loads the shifted input vectors once and broadcasts R weights,
 * read from W in its ONNX layout (no packing). The epilogue adds the bias,
 * then the residual, then clamps at 0, in that order.
 *
 * Results equal the reference kernels::conv_f32 up to the order of the
 * summation (c-major, taps inner, fused multiply-adds); the reference stays
 * the general case and the test oracle.
 *
 * Entry points (operands: X, W, B? (when the node lists it), Y, then the step
 * constants, the fused addend when `residual`, the scratch):
 *   rtml_f32_conv1d__fast_hwy   stride-1 1-D Conv, W read in its ONNX layout
 *   rtml_f32_conv2d__fast_hwy   stride-1 2-D Conv: zero-padded planes, an
 *                               im2col matrix, the tiles straight into Y
 *   rtml_f32_conv__im2row_hwy   any other Conv with constant W (and B): one
 *                               row per output position (its receptive field,
 *                               read through the tap offsets constant), times
 *                               W_g^T packed per group (kernels/fast_gemm.h)
 *                               into the packed constant, transposed into Y */
#ifndef RTML_KERNELS_FAST_CONV_H
#define RTML_KERNELS_FAST_CONV_H

#include "kernels/elementwise_chain.h"
#include "kernels/rtml_kernel.h"

typedef struct rtml_fast_conv1d_params {
  int64_t batch, in_channels, out_channels, group;
  int64_t in_len, out_len, taps, dilation, pad_begin;
  int64_t padded_len; /* row stride of the padded input copy (fast_conv1d_prepare sets it) */
  int32_t out_slot;   /* Y's operand (3 when the node lists B, else 2) */
  bool has_bias;      /* B present (operand 2) */
  bool residual, relu; /* fused epilogue: + the operand after Y (same shape), then ReLU */
} rtml_fast_conv1d_params;

/* Per batch item and group, the input channels are copied into the scratch
 * with zero borders (padded planes of hp x wp), then the im2col matrix (Cg*taps
 * rows of ldb floats: the output positions' inputs) is built beside them. */
typedef struct rtml_fast_conv2d_params {
  int64_t batch, in_channels, out_channels, group;
  int64_t in_h, in_w, out_h, out_w, kh, kw, dh, dw, pad_top, pad_left;
  int64_t hp, wp; /* padded plane: out_h + (kh-1)*dh rows of out_w + (kw-1)*dw */
  int64_t ldb;    /* row stride of the im2col matrix */
  int32_t out_slot;
  bool has_bias, residual, relu;
} rtml_fast_conv2d_params;

/* The tap offsets constant (int32, out_size x taps: the offset of each
 * (output position, tap) in an input plane, -1 for padding) and the packed
 * constant (per group, fast_gemm.h's pack_constant of W_g^T with its bias:
 * packed_constant_floats(Cg*taps, Mg, has_bias) floats). */
typedef struct rtml_im2row_conv_params {
  int64_t batch, in_channels, out_channels, group;
  int64_t in_size, out_size, taps;
  int32_t out_slot, taps_slot, packed_slot;
  bool has_bias, residual, relu;
} rtml_im2row_conv_params;

/* The same with an elementwise chain in the store (elementwise_chain.h),
 * run on each task's block of Y (im2row: each part's positions) once stored;
 * operands: as above with the chain's inputs before the scratch. */
typedef struct rtml_fast_conv1d_chain_params {
  rtml_fast_conv1d_params conv;
  rtml_ew_epilogue epi;
} rtml_fast_conv1d_chain_params;
typedef struct rtml_fast_conv2d_chain_params {
  rtml_fast_conv2d_params conv;
  rtml_ew_epilogue epi;
} rtml_fast_conv2d_chain_params;
typedef struct rtml_im2row_conv_chain_params {
  rtml_im2row_conv_params conv;
  rtml_ew_epilogue epi;
} rtml_im2row_conv_chain_params;

RTML_KERNEL(rtml_f32_conv1d__fast_hwy);
RTML_KERNEL(rtml_f32_conv2d__fast_hwy);
RTML_KERNEL(rtml_f32_conv__im2row_hwy);
RTML_KERNEL(rtml_f32_conv1d_chain__fast_hwy);
RTML_KERNEL(rtml_f32_conv2d_chain__fast_hwy);
RTML_KERNEL(rtml_f32_conv_chain__im2row_hwy);

#ifdef __cplusplus
#include "kernels/fast_elementwise.h"

namespace rtml::kernels {

using FastConv1dParams = rtml_fast_conv1d_params;

// Sets padded_len from the geometry; returns the scratch the kernel needs, in floats.
int64_t fast_conv1d_prepare(FastConv1dParams& p);

// y = conv1d(x, w) (+ bias[m]) (+ residual, same shape as y) (then ReLU).
// w is (out_channels, in_channels / group, taps); bias and residual may be null.
// `chain` (the step's epilogue chain) runs on each task's block of y once it is stored.
void fast_conv1d_f32(const FastConv1dParams& p, const float* x, const float* w, const float* bias,
                     const float* residual, bool relu, float* y, float* scratch, const EpilogueCall& chain = {});

// The same tiles over an explicit B, for convolutions whose im2col matrix
// the caller builds (2-D): y[M x N] = w[M x K] * b[K x N] (+ bias[m])
// (+ residual, M x N) (then ReLU). b's rows are ldb apart, and ldb must be
// at least fast_conv_gemm_ldb(N): a tile may read (not use) past column N.
int64_t fast_conv_gemm_ldb(int64_t N);
void fast_conv_gemm_f32(int64_t M, int64_t K, int64_t N, const float* w, const float* b, int64_t ldb,
                        const float* bias, const float* residual, bool relu, float* y,
                        const EpilogueCall& chain = {});

// The Highway target the fast conv dispatches to on this CPU ("AVX2", "NEON"...).
const char* fast_conv_target();

}  // namespace rtml::kernels
#endif

#endif
