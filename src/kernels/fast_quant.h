// Fast int8 kernels (Highway SIMD, runtime dispatch) beside the reference
// ones of kernels/quant.h, with the same params structs:
//
//   rtml_s8_fully_connected__hwy  QLinearMatMul: matrix-vector and GEMM
//   rtml_s8_conv__hwy             QLinearConv, 1-D and 2-D, groups (im2col rows in place)
//   rtml_s8_depthwise_conv__hwy   QLinearConv with group == channels (direct)
//
// int8 data, int8 weights with zero point 0, constant scales (the
// (multiplier, shift) step constants). The two products read their weights
// from a step constant packed at prepare (qpack below; params.w_slot then
// names it instead of W): per output channel the sum of its weights (for the
// input zero point: sum (x - zx) w = sum x w - zx sum w, exact modulo 2^32
// like the reference's wrapping int32 accumulator), then panels of kQPanel
// output channels whose weights are stored as 4-deep columns (k-quads:
// w[4q..4q+3][n] side by side), zero-padded past K and N. Each target
// multiplies them with its widening multiply-add: vpdpbusd (AVX512-VNNI,
// AVX3_DL; X as x + 128 unsigned), else int8 promoted to int16, pairwise
// int16 x int16 -> int32 (pmaddwd on x86, vmlal on NEON). The
// outputs are requantized on vectors by requantize_lanes below, the one
// routine of kernels/quant.h (rtml_requantize_output) lane by lane and
// tested bit for bit against it; leftover lanes call the routine itself.
// The step's scratch comes after its constants: operand
// max(w_slot, multiplier_slot, shift_slot) + 1.
#pragma once

#include <cstdint>

#include "kernels/quant.h"

namespace rtml::kernels {

// Output channels per panel of the packed weights (a multiple of what every
// target covers in one pass).
constexpr int64_t kQPanel = 16;

// The packed constant of one K x N weight matrix W(k, n) = w[k * stride_k +
// n * stride_n]: its size in bytes (a multiple of 64) and the packing.
int64_t qpacked_bytes(int64_t K, int64_t N);
void qpack(int64_t K, int64_t N, const int8_t* w, int64_t stride_k, int64_t stride_n, int8_t* dst);

// The packed constant of rtml_s8_conv__hwy: per group, qpack of its weights
// with k in the order the kernel reads its input (channels-last, per kernel
// row or per tap, each padded to whole k-quads).
int64_t qpacked_conv_bytes(const rtml_qconv_params& p);
void qpack_conv(const rtml_qconv_params& p, const int8_t* w, int8_t* dst);

// Scratch bytes of the kernels for these params.
int64_t s8_fully_connected_hwy_scratch(const rtml_qmatmul_params& p);
int64_t s8_conv_hwy_scratch(const rtml_qconv_params& p);
int64_t s8_depthwise_conv_hwy_scratch(const rtml_qconv_params& p);

// The kernels' vector requantization, element by element as the scalar
// rtml_requantize_output(acc[i], multiplier[i], shift[i], zy, lo, hi) (the
// tests compare the two; lo - zy and hi - zy must fit in int32).
void requantize_lanes(int64_t n, const int32_t* acc, const int32_t* multiplier, const int32_t* shift, int32_t zy,
                      int32_t lo, int32_t hi, int32_t* out);

// The Highway target the int8 kernels dispatch to on this CPU ("AVX2", "NEON"...).
const char* fast_quant_target();

}  // namespace rtml::kernels
