// Fast float32 1-D convolution with stride 1 (TCN and ResNet-1D layers),
// with SIMD through Google Highway (runtime dispatch, like fast_gemm), and
// an epilogue that can also add a residual tensor and apply ReLU, so the
// Add / Relu nodes after a Conv need no step of their own (plan/ fuses them;
// see ops::Step::fuse).
//
// Per batch item, the input's channels are first copied into the scratch
// with zeros for the padding (row stride padded_len), so every tap of every
// output position reads memory without bounds checks. Per group, the output
//     Y[m][o] = sum over c, t of W[m][c][t] * Xpad[c][o + t * dilation]
// is a GEMM whose B (the im2col matrix) is never built: row (c, t) of B is
// the padded input row c shifted by t * dilation. A tile holds R output
// channels x one panel of output positions (kPanel) in registers; each
// (c, t) loads the shifted input vectors once and broadcasts R weights,
// read from W in its ONNX layout (no packing). The epilogue adds the bias,
// then the residual, then clamps at 0, in that order.
//
// Results equal the reference kernels::conv_f32 up to the order of the
// summation (c-major, taps inner, fused multiply-adds); the reference stays
// the general case and the test oracle.
#pragma once

#include <cstdint>

namespace rtml::kernels {

struct FastConv1dParams {
  int64_t batch = 1, in_channels = 1, out_channels = 1, group = 1;
  int64_t in_len = 1, out_len = 1, taps = 1, dilation = 1, pad_begin = 0;
  int64_t padded_len = 1;  // row stride of the padded input copy (fast_conv1d_prepare sets it)
};

// Sets padded_len from the geometry; returns the scratch the kernel needs, in floats.
int64_t fast_conv1d_prepare(FastConv1dParams& p);

// y = conv1d(x, w) (+ bias[m]) (+ residual, same shape as y) (then ReLU).
// w is (out_channels, in_channels / group, taps); bias and residual may be null.
void fast_conv1d_f32(const FastConv1dParams& p, const float* x, const float* w, const float* bias,
                     const float* residual, bool relu, float* y, float* scratch);

// The same tiles over an explicit B, for convolutions whose im2col matrix
// the caller builds (2-D): y[M x N] = w[M x K] * b[K x N] (+ bias[m])
// (+ residual, M x N) (then ReLU). b's rows are ldb apart, and ldb must be
// at least fast_conv_gemm_ldb(N): a tile may read (not use) past column N.
int64_t fast_conv_gemm_ldb(int64_t N);
void fast_conv_gemm_f32(int64_t M, int64_t K, int64_t N, const float* w, const float* b, int64_t ldb,
                        const float* bias, const float* residual, bool relu, float* y);

// The Highway target the fast conv dispatches to on this CPU ("AVX2", "NEON"...).
const char* fast_conv_target();

}  // namespace rtml::kernels
