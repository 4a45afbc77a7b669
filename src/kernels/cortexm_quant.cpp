// The `cortex-m` kernel set's int8 products (kernels/quant.h declares them):
//
//   rtml_s8_conv__cm             QLinearConv, 1-D and 2-D, groups, NCHW
//   rtml_s8_fully_connected__cm  QLinearMatMul with W(k, n) at w[n * K + k] (stride_k 1)
//   rtml_s8_depthwise_conv__cm   QLinearConv with group == channels
//
// int8 data, int8 weights with zero point 0, constant scales (the
// (multiplier, shift) step constants); the weights are read where they are
// (no packed copy: on a microcontroller it would sit in flash twice).
//
// The techniques are CMSIS-NN's, written for rtml's NCHW layout:
//   - The input side of a product is copied into a q15 column (the scratch
//     operand, after the step's constants) as x - x_zero_point, padding as 0;
//     a convolution copies one column per output pixel (im2col), two pixels
//     at a time, a fully connected layer its input row once. Every column is
//     then shared by all output channels.
//   - Within each whole quad of k the column is stored in the order k0 k2 k1
//     k3, the order SXTB16 yields the weights in: one 32-bit load of four
//     int8 weights w, SXTB16(w) = (w0, w2), SXTB16(w ror 8) = (w1, w3), each
//     multiplied with the matching q15 pair of the column and summed by
//     SMLAD (two 16 x 16 multiply-adds in one instruction).
//   - Register blocking: two output channels x two columns per pass (four
//     accumulators), so each weight and column load serves two products.
// With __ARM_FEATURE_DSP (Cortex-M4, M7, M55) the inner loop is the ACLE
// intrinsics; elsewhere the same loop in plain C (the host, where the unit
// tests compare it with the reference kernels). The int32 sums wrap like
// the reference's (SMLAD's sum wraps too), so the order changes no bit;
// every output goes through the library's rtml_requantize_output.
#include <string.h>

#include "kernels/quant.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define RTML_CM_DSP 1
#else
#define RTML_CM_DSP 0
#endif

#if defined(__GNUC__)
#define RTML_CM_INLINE inline __attribute__((always_inline))
#else
#define RTML_CM_INLINE inline
#endif

namespace {

// Native-width indices (32 bits on a Cortex-M; see kernels/quant.cpp).
typedef ptrdiff_t Index;

RTML_CM_INLINE int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

RTML_CM_INLINE uint32_t load32(const void* p) {
  uint32_t v;
#if defined(__GNUC__)
  __builtin_memcpy(&v, p, 4);  // one LDR (unaligned word loads are allowed on ARMv7E-M / ARMv8-M Mainline),
#else                          // also under -ffreestanding
  memcpy(&v, p, 4);
#endif
  return v;
}

// acc + the dot product of one quad of int8 weights with a q15 column quad
// stored k0 k2 k1 k3.
#if RTML_CM_DSP
struct Quad {
  int16x2_t even, odd;  // (w0, w2), (w1, w3)
};
RTML_CM_INLINE Quad weights(const int8_t* w) {
  const uint32_t v = load32(w);
  int16x2_t odd;
  // SXTB16 with its operand rotated (ACLE has no form of it; GCC would spend a separate ROR).
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(odd) : "r"(v));
  return {__sxtb16(static_cast<int8x4_t>(v)), odd};
}
RTML_CM_INLINE int32_t mac4(Quad w, const int16_t* x, int32_t acc) {
  acc = __smlad(w.even, static_cast<int16x2_t>(load32(x)), acc);
  return __smlad(w.odd, static_cast<int16x2_t>(load32(x + 2)), acc);
}
#else
struct Quad {
  int32_t w0, w1, w2, w3;
};
RTML_CM_INLINE Quad weights(const int8_t* w) { return {w[0], w[1], w[2], w[3]}; }
RTML_CM_INLINE int32_t mac4(Quad w, const int16_t* x, int32_t acc) {
  return wrap_add(acc, w.w0 * x[0] + w.w2 * x[1] + w.w1 * x[2] + w.w3 * x[3]);
}
#endif

// acc[r * 2 + c] += dot(row r of the weights, column c) over K, for `rows`
// weight rows (1 or 2) and `cols` columns (1 or 2); constants once inlined.
RTML_CM_INLINE void dot_block(int rows, int cols, const int8_t* w0, const int8_t* w1, const int16_t* x0,
                              const int16_t* x1, Index K, int32_t* acc) {
  int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
  const Index K4 = K & ~static_cast<Index>(3);
  Index k = 0;
  for (; k < K4; k += 4) {
    const Quad q0 = weights(w0 + k);
    a00 = mac4(q0, x0 + k, a00);
    if (cols == 2) a01 = mac4(q0, x1 + k, a01);
    if (rows == 2) {
      const Quad q1 = weights(w1 + k);
      a10 = mac4(q1, x0 + k, a10);
      if (cols == 2) a11 = mac4(q1, x1 + k, a11);
    }
  }
  for (; k < K; ++k) {  // the last K % 4, stored in order
    a00 = wrap_add(a00, w0[k] * x0[k]);
    if (cols == 2) a01 = wrap_add(a01, w0[k] * x1[k]);
    if (rows == 2) {
      a10 = wrap_add(a10, w1[k] * x0[k]);
      if (cols == 2) a11 = wrap_add(a11, w1[k] * x1[k]);
    }
  }
  acc[0] = a00;
  acc[1] = a01;
  acc[2] = a10;
  acc[3] = a11;
}

// acc + x0 w0 + x1 w1 for q15 pairs (x0, x1), (w0, w1) in the halves of 32-bit words.
RTML_CM_INLINE int32_t mac2(uint32_t x, uint32_t w, int32_t acc) {
#if RTML_CM_DSP
  return __smlad(static_cast<int16x2_t>(x), static_cast<int16x2_t>(w), acc);
#else
  const int32_t x0 = static_cast<int16_t>(x & 0xffffu), x1 = static_cast<int16_t>(x >> 16);
  const int32_t w0 = static_cast<int16_t>(w & 0xffffu), w1 = static_cast<int16_t>(w >> 16);
  return wrap_add(acc, x0 * w0 + x1 * w1);
#endif
}

// Reorders each whole quad of a q15 column from k0 k1 k2 k3 to k0 k2 k1 k3.
void interleave_quads(int16_t* x, Index K) {
  const Index K4 = K & ~static_cast<Index>(3);
  for (Index k = 0; k < K4; k += 4) {
    const int16_t t = x[k + 1];
    x[k + 1] = x[k + 2];
    x[k + 2] = t;
  }
}

int32_t zero_point_of(void* const* operands, int32_t slot, int32_t fallback) {
  return slot >= 0 ? static_cast<int32_t>(*static_cast<const int8_t*>(operands[slot])) : fallback;
}

// A product's operands (rtml_qconv_params or rtml_qmatmul_params P) and
// what it needs to finish an output: the requantization of each channel, the
// output zero point and clamp.
struct Product {
  const int8_t* x;
  const int8_t* w;
  int8_t* y;
  const int32_t* bias;  // nullptr: none
  int32_t zx;
  void* scratch;
  const int32_t* multiplier;
  const int32_t* shift;
  bool per_channel;
  int32_t zy, lo, hi;
  int32_t bias_of(Index c) const { return bias ? bias[c] : 0; }
  int8_t store(Index c, int32_t acc) const {
    const Index i = per_channel ? c : 0;
    return static_cast<int8_t>(rtml_requantize_output(acc, multiplier[i], shift[i], zy, lo, hi));
  }
};

template <class P>
Product product_of(const void* params, void* const* operands) {
  const P& p = *static_cast<const P*>(params);
  int32_t last = p.w_slot > p.multiplier_slot ? p.w_slot : p.multiplier_slot;  // the scratch follows the constants
  last = last > p.shift_slot ? last : p.shift_slot;
  return {static_cast<const int8_t*>(operands[0]),
          static_cast<const int8_t*>(operands[p.w_slot]),
          static_cast<int8_t*>(operands[p.out_slot]),
          p.bias_slot >= 0 ? static_cast<const int32_t*>(operands[p.bias_slot]) : nullptr,
          zero_point_of(operands, p.x_zp_slot, p.x_zero_point),
          operands[last + 1],
          static_cast<const int32_t*>(operands[p.multiplier_slot]),
          static_cast<const int32_t*>(operands[p.shift_slot]),
          p.per_channel,
          zero_point_of(operands, p.y_zp_slot, p.y_zero_point),
          p.act_min,
          p.act_max};
}

// One im2col column of a convolution (rtml_qconv_params p): the window of
// output position (oh, ow) over the channels of one group, in W's order
// (channel, kernel row, kernel column), as x - zx with padding 0.
void im2col(const rtml_qconv_params& p, const int8_t* xg, Index cin_g, Index oh, Index ow, int32_t zx, int16_t* col) {
  const Index H = static_cast<Index>(p.H), W = static_cast<Index>(p.W), plane = H * W;
  const Index KH = static_cast<Index>(p.KH), KW = static_cast<Index>(p.KW);
  const Index dh = static_cast<Index>(p.dilation_h), dw = static_cast<Index>(p.dilation_w);
  const Index ih0 = oh * static_cast<Index>(p.stride_h) - static_cast<Index>(p.pad_top);
  const Index iw0 = ow * static_cast<Index>(p.stride_w) - static_cast<Index>(p.pad_left);
  if (KH == 1 && KW == 1 && ih0 >= 0 && ih0 < H && iw0 >= 0 && iw0 < W) {  // pointwise: a strided gather
    const int8_t* xi = xg + ih0 * W + iw0;
    for (Index ic = 0; ic < cin_g; ++ic, xi += plane) col[ic] = static_cast<int16_t>(*xi - zx);
    return;
  }
  const bool row_inside = iw0 >= 0 && iw0 + (KW - 1) * dw < W;  // no padding left or right: a plain copy
  int16_t* out = col;
  for (Index ic = 0; ic < cin_g; ++ic) {
    const int8_t* xc = xg + ic * plane;
    for (Index kh = 0; kh < KH; ++kh) {
      const Index ih = ih0 + kh * dh;
      if (ih < 0 || ih >= H) {
        for (Index kw = 0; kw < KW; ++kw) *out++ = 0;
        continue;
      }
      const int8_t* row = xc + ih * W;
      if (row_inside) {
        for (Index kw = 0, iw = iw0; kw < KW; ++kw, iw += dw) *out++ = static_cast<int16_t>(row[iw] - zx);
        continue;
      }
      for (Index kw = 0, iw = iw0; kw < KW; ++kw, iw += dw)
        *out++ = iw >= 0 && iw < W ? static_cast<int16_t>(row[iw] - zx) : static_cast<int16_t>(0);
    }
  }
}

// The rows and columns of a depthwise convolution's padded plane: all that
// the windows reach (the padding before, the input, the padding after that
// the last window needs).
void padded_plane(const rtml_qconv_params& p, Index* hp, Index* wp) {
  *hp = static_cast<Index>((p.OH - 1) * p.stride_h + (p.KH - 1) * p.dilation_h + 1);
  *wp = static_cast<Index>((p.OW - 1) * p.stride_w + (p.KW - 1) * p.dilation_w + 1);
}

Index even(Index n) { return (n + 1) & ~static_cast<Index>(1); }

}  // namespace

extern "C" int64_t rtml_s8_conv_cm_scratch_bytes(const rtml_qconv_params* p) {
  const Index K = static_cast<Index>(p->C / p->group * p->KH * p->KW);
  return static_cast<int64_t>(2 * even(K) * sizeof(int16_t));
}

extern "C" int64_t rtml_s8_fully_connected_cm_scratch_bytes(const rtml_qmatmul_params* p) {
  return static_cast<int64_t>(even(static_cast<Index>(p->K)) * sizeof(int16_t));
}

extern "C" int64_t rtml_s8_depthwise_conv_cm_scratch_bytes(const rtml_qconv_params* p) {
  Index hp, wp;
  padded_plane(*p, &hp, &wp);
  return static_cast<int64_t>((even(static_cast<Index>(p->KH * p->KW)) + hp * wp) * sizeof(int16_t));
}

extern "C" int rtml_s8_conv__cm(const void* params, void* const* operands) {
  const rtml_qconv_params& p = *static_cast<const rtml_qconv_params*>(params);
  const Product pr = product_of<rtml_qconv_params>(params, operands);
  const Index C = static_cast<Index>(p.C), C_out = static_cast<Index>(p.C_out), group = static_cast<Index>(p.group);
  const Index cin_g = C / group, cout_g = C_out / group;
  const Index K = cin_g * static_cast<Index>(p.KH) * static_cast<Index>(p.KW);
  const Index OW = static_cast<Index>(p.OW), pixels = static_cast<Index>(p.OH) * OW;
  const Index plane = static_cast<Index>(p.H) * static_cast<Index>(p.W);
  int16_t* col0 = static_cast<int16_t*>(pr.scratch);
  int16_t* col1 = col0 + even(K);  // keeps col1 4-byte aligned
  for (Index n = 0; n < static_cast<Index>(p.N); ++n) {
    for (Index g = 0; g < group; ++g) {
      const int8_t* xg = pr.x + (n * C + g * cin_g) * plane;
      int8_t* yg = pr.y + (n * C_out + g * cout_g) * pixels;
      for (Index px = 0; px < pixels; px += 2) {
        const bool two = px + 1 < pixels;
        im2col(p, xg, cin_g, px / OW, px % OW, pr.zx, col0);
        interleave_quads(col0, K);
        if (two) {
          im2col(p, xg, cin_g, (px + 1) / OW, (px + 1) % OW, pr.zx, col1);
          interleave_quads(col1, K);
        }
        Index oc = 0;
        for (; oc + 2 <= cout_g; oc += 2) {
          const Index c = g * cout_g + oc;
          const int32_t b0 = pr.bias_of(c), b1 = pr.bias_of(c + 1);
          int32_t acc[4] = {b0, b0, b1, b1};
          const int8_t* w0 = pr.w + c * K;
          if (two) dot_block(2, 2, w0, w0 + K, col0, col1, K, acc);
          else dot_block(2, 1, w0, w0 + K, col0, col1, K, acc);
          int8_t* y0 = yg + oc * pixels + px;
          y0[0] = pr.store(c, acc[0]);
          y0[pixels] = pr.store(c + 1, acc[2]);
          if (two) {
            y0[1] = pr.store(c, acc[1]);
            y0[pixels + 1] = pr.store(c + 1, acc[3]);
          }
        }
        if (oc < cout_g) {  // an odd channel count: the last one alone
          const Index c = g * cout_g + oc;
          const int32_t b0 = pr.bias_of(c);
          int32_t acc[4] = {b0, b0, 0, 0};
          const int8_t* w0 = pr.w + c * K;
          if (two) dot_block(1, 2, w0, w0, col0, col1, K, acc);
          else dot_block(1, 1, w0, w0, col0, col1, K, acc);
          int8_t* y0 = yg + oc * pixels + px;
          y0[0] = pr.store(c, acc[0]);
          if (two) y0[1] = pr.store(c, acc[1]);
        }
      }
    }
  }
  return 0;
}

extern "C" int rtml_s8_fully_connected__cm(const void* params, void* const* operands) {
  const rtml_qmatmul_params& p = *static_cast<const rtml_qmatmul_params*>(params);
  const Product pr = product_of<rtml_qmatmul_params>(params, operands);
  const Index M = static_cast<Index>(p.M), N = static_cast<Index>(p.N), K = static_cast<Index>(p.K);
  const Index stride_n = static_cast<Index>(p.w_stride_n);
  int16_t* col = static_cast<int16_t*>(pr.scratch);
  for (Index b = 0; b < static_cast<Index>(p.batch_count); ++b) {
    const int8_t* xb = pr.x + b * static_cast<Index>(p.x_batch_stride);
    const int8_t* wb = pr.w + b * static_cast<Index>(p.w_batch_stride);
    for (Index m = 0; m < M; ++m) {
      const int8_t* xr = xb + m * K;
      for (Index k = 0; k < K; ++k) col[k] = static_cast<int16_t>(xr[k] - pr.zx);
      interleave_quads(col, K);
      int8_t* yr = pr.y + (b * M + m) * N;
      Index n = 0;
      for (; n + 2 <= N; n += 2) {
        int32_t acc[4] = {pr.bias_of(n), 0, pr.bias_of(n + 1), 0};
        dot_block(2, 1, wb + n * stride_n, wb + (n + 1) * stride_n, col, col, K, acc);
        yr[n] = pr.store(n, acc[0]);
        yr[n + 1] = pr.store(n + 1, acc[2]);
      }
      if (n < N) {
        int32_t acc[4] = {pr.bias_of(n), 0, 0, 0};
        dot_block(1, 1, wb + n * stride_n, wb + n * stride_n, col, col, K, acc);
        yr[n] = pr.store(n, acc[0]);
      }
    }
  }
  return 0;
}

// Depthwise: per output channel, its input channel's plane copied into the
// scratch as q15 (x - zx) with the padding (0) around it, and its weights as
// q15; then each output is a sum over kernel rows of SMLADs on adjacent tap
// pairs (one 32-bit load each when the dilation is 1), an odd last tap alone.
extern "C" int rtml_s8_depthwise_conv__cm(const void* params, void* const* operands) {
  const rtml_qconv_params& p = *static_cast<const rtml_qconv_params*>(params);
  const Product pr = product_of<rtml_qconv_params>(params, operands);
  const Index H = static_cast<Index>(p.H), W = static_cast<Index>(p.W), KH = static_cast<Index>(p.KH),
              KW = static_cast<Index>(p.KW), OH = static_cast<Index>(p.OH), OW = static_cast<Index>(p.OW);
  const Index sh = static_cast<Index>(p.stride_h), sw = static_cast<Index>(p.stride_w);
  const Index dh = static_cast<Index>(p.dilation_h), dw = static_cast<Index>(p.dilation_w);
  const Index pt = static_cast<Index>(p.pad_top), pl = static_cast<Index>(p.pad_left);
  Index HP, WP;
  padded_plane(p, &HP, &WP);
  const Index C = static_cast<Index>(p.C), C_out = static_cast<Index>(p.C_out), mult = C_out / C;
  const Index taps = KH * KW, pairs = KW / 2;
  int16_t* wq = static_cast<int16_t*>(pr.scratch);
  int16_t* plane = wq + even(taps);
  for (Index n = 0; n < static_cast<Index>(p.N); ++n) {
    for (Index c = 0; c < C; ++c) {
      const int8_t* xc = pr.x + (n * C + c) * H * W;
      for (Index r = 0; r < HP; ++r) {  // the padded plane
        int16_t* dst = plane + r * WP;
        const Index ih = r - pt;
        if (ih < 0 || ih >= H) {
          for (Index q = 0; q < WP; ++q) dst[q] = 0;
          continue;
        }
        const int8_t* src = xc + ih * W;
        for (Index q = 0; q < WP; ++q) {
          const Index iw = q - pl;
          dst[q] = iw >= 0 && iw < W ? static_cast<int16_t>(src[iw] - pr.zx) : static_cast<int16_t>(0);
        }
      }
      for (Index oc = c * mult; oc < (c + 1) * mult; ++oc) {
        for (Index t = 0; t < taps; ++t) wq[t] = pr.w[oc * taps + t];
        const int32_t b = pr.bias_of(oc);
        int8_t* yc = pr.y + (n * C_out + oc) * OH * OW;
        if (KH == 3 && KW == 3 && dh == 1 && dw == 1) {  // the usual 3 x 3: its weights in registers
          const uint32_t w01 = load32(wq), w34 = load32(wq + 3), w67 = load32(wq + 6);
          const int32_t w2 = wq[2], w5 = wq[5], w8 = wq[8];
          for (Index oh = 0; oh < OH; ++oh) {
            const int16_t* r0 = plane + oh * sh * WP;
            const int16_t* r1 = r0 + WP;
            const int16_t* r2 = r1 + WP;
            int8_t* yr = yc + oh * OW;
            for (Index ow = 0, at = 0; ow < OW; ++ow, at += sw) {
              int32_t acc = mac2(load32(r0 + at), w01, b);
              acc = mac2(load32(r1 + at), w34, acc);
              acc = mac2(load32(r2 + at), w67, acc);
              acc = wrap_add(acc, r0[at + 2] * w2 + r1[at + 2] * w5 + r2[at + 2] * w8);
              yr[ow] = pr.store(oc, acc);
            }
          }
          continue;
        }
        for (Index oh = 0; oh < OH; ++oh) {
          for (Index ow = 0; ow < OW; ++ow) {
            int32_t acc = b;
            const int16_t* win = plane + oh * sh * WP + ow * sw;
            for (Index kh = 0; kh < KH; ++kh) {
              const int16_t* xr = win + kh * dh * WP;
              const int16_t* wr = wq + kh * KW;
              Index kw = 0;
              if (dw == 1)
                for (Index q = 0; q < pairs; ++q, kw += 2) acc = mac2(load32(xr + kw), load32(wr + kw), acc);
              for (; kw < KW; ++kw) acc = wrap_add(acc, xr[kw * dw] * wr[kw]);
            }
            yc[oh * OW + ow] = pr.store(oc, acc);
          }
        }
      }
    }
  }
  return 0;
}
