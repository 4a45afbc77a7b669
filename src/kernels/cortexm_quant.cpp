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
//     multiplied with the matching q15 pair of the column (one LDRD for the
//     quad) and summed by SMLAD (two 16 x 16 multiply-adds in one
//     instruction). SXTAB16 makes a fully connected layer's column in that
//     order directly: four int8 inputs, minus the zero point, in two
//     instructions.
//   - Register blocking: two output channels x two columns per pass in a
//     convolution, four output channels per pass in a fully connected layer,
//     so each weight and column load serves several products.
//   - Depthwise: each input channel's plane is copied into the scratch as q15
//     with its padding (SXTAB16 again); a 3 x 3 window at stride 1 takes two
//     adjacent outputs per pass, seven instructions per kernel row for both.
//   - The requantization's per-channel work (shifts, rounding mask) is done
//     once per channel and block (rtml_requant_of, kernels/quant.h).
// The DSP instructions are ACLE intrinsics with __ARM_FEATURE_DSP (Cortex-M4,
// M7, M55); elsewhere (the host, where the unit tests compare these kernels
// with the reference ones) the same loops run on plain C functions that
// compute what each instruction computes. The int32 sums wrap like the
// reference's (SMLAD's sum wraps too), so the order changes no bit; every
// output goes through the library's requantization (rtml_requant_apply,
// equal to rtml_requantize for the multipliers rtml_quantize_multiplier
// makes).
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

// A pair of q15 values as one word, for 4-byte aligned reads of the columns
// (which the compiler may merge into LDRD; the columns are int16_t arrays).
#if defined(__GNUC__)
typedef uint32_t __attribute__((may_alias)) Word;
#else
typedef uint32_t Word;
#endif

RTML_CM_INLINE int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// Unaligned 32-bit load and store (one LDR / STR: unaligned word accesses are
// allowed on ARMv7E-M / ARMv8-M Mainline; also under -ffreestanding).
RTML_CM_INLINE uint32_t load32(const void* p) {
  uint32_t v;
#if defined(__GNUC__)
  __builtin_memcpy(&v, p, 4);
#else
  memcpy(&v, p, 4);
#endif
  return v;
}

RTML_CM_INLINE void store32(void* p, uint32_t v) {
#if defined(__GNUC__)
  __builtin_memcpy(p, &v, 4);
#else
  memcpy(p, &v, 4);
#endif
}

// Two q15 values in the halves of a word: (bottom, top).
RTML_CM_INLINE uint32_t pack16(int32_t bottom, int32_t top) {
  return (static_cast<uint32_t>(bottom) & 0xffffu) | (static_cast<uint32_t>(top) << 16);
}

// ---- The DSP instructions these kernels use.
#if RTML_CM_DSP
RTML_CM_INLINE uint32_t sxtb16(uint32_t v) { return static_cast<uint32_t>(__sxtb16(static_cast<int8x4_t>(v))); }
RTML_CM_INLINE uint32_t sxtb16_ror8(uint32_t v) {  // ACLE has no rotated form; GCC would spend a separate ROR
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
RTML_CM_INLINE uint32_t sxtab16(uint32_t a, uint32_t v) {
  return static_cast<uint32_t>(__sxtab16(static_cast<int16x2_t>(a), static_cast<int8x4_t>(v)));
}
RTML_CM_INLINE uint32_t sxtab16_ror8(uint32_t a, uint32_t v) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
  return r;
}
RTML_CM_INLINE int32_t smlad(uint32_t x, uint32_t y, int32_t acc) {
  return __smlad(static_cast<int16x2_t>(x), static_cast<int16x2_t>(y), acc);
}
RTML_CM_INLINE int32_t smlabb(uint32_t x, uint32_t y, int32_t acc) {
  return __smlabb(static_cast<int32_t>(x), static_cast<int32_t>(y), acc);
}
RTML_CM_INLINE int32_t smlatb(uint32_t x, uint32_t y, int32_t acc) {
  return __smlatb(static_cast<int32_t>(x), static_cast<int32_t>(y), acc);
}
RTML_CM_INLINE int32_t smlabt(uint32_t x, uint32_t y, int32_t acc) {
  return __smlabt(static_cast<int32_t>(x), static_cast<int32_t>(y), acc);
}
RTML_CM_INLINE int32_t smlatt(uint32_t x, uint32_t y, int32_t acc) {
  return __smlatt(static_cast<int32_t>(x), static_cast<int32_t>(y), acc);
}
RTML_CM_INLINE int32_t qadd(int32_t a, int32_t b) { return __qadd(a, b); }
#else
RTML_CM_INLINE int32_t bottom(uint32_t v) { return static_cast<int16_t>(v & 0xffffu); }
RTML_CM_INLINE int32_t top(uint32_t v) { return static_cast<int16_t>(v >> 16); }
RTML_CM_INLINE int32_t byte(uint32_t v, int i) { return static_cast<int8_t>((v >> (8 * i)) & 0xffu); }
RTML_CM_INLINE uint32_t sxtb16(uint32_t v) { return pack16(byte(v, 0), byte(v, 2)); }
RTML_CM_INLINE uint32_t sxtb16_ror8(uint32_t v) { return pack16(byte(v, 1), byte(v, 3)); }
RTML_CM_INLINE uint32_t sxtab16(uint32_t a, uint32_t v) {  // each half wraps at 16 bits, as the instruction's
  return pack16(bottom(a) + byte(v, 0), top(a) + byte(v, 2));
}
RTML_CM_INLINE uint32_t sxtab16_ror8(uint32_t a, uint32_t v) { return pack16(bottom(a) + byte(v, 1), top(a) + byte(v, 3)); }
RTML_CM_INLINE int32_t smlad(uint32_t x, uint32_t y, int32_t acc) {
  return wrap_add(wrap_add(acc, bottom(x) * bottom(y)), top(x) * top(y));
}
RTML_CM_INLINE int32_t smlabb(uint32_t x, uint32_t y, int32_t acc) { return wrap_add(acc, bottom(x) * bottom(y)); }
RTML_CM_INLINE int32_t smlatb(uint32_t x, uint32_t y, int32_t acc) { return wrap_add(acc, top(x) * bottom(y)); }
RTML_CM_INLINE int32_t smlabt(uint32_t x, uint32_t y, int32_t acc) { return wrap_add(acc, bottom(x) * top(y)); }
RTML_CM_INLINE int32_t smlatt(uint32_t x, uint32_t y, int32_t acc) { return wrap_add(acc, top(x) * top(y)); }
RTML_CM_INLINE int32_t qadd(int32_t a, int32_t b) {
  const int64_t s = static_cast<int64_t>(a) + b;
  return s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : static_cast<int32_t>(s);
}
#endif

// The q15 pairs (x0, x2) and (x1, x3) of four int8 values minus a zero point
// (-z in both halves of minus_z): a column quad in SXTB16's order.
RTML_CM_INLINE void quad_minus(uint32_t v, uint32_t minus_z, Word* out) {
  out[0] = sxtab16(minus_z, v);
  out[1] = sxtab16_ror8(minus_z, v);
}

// Reorders each whole quad of a q15 column (4-byte aligned) from k0 k1 k2
// k3 to k0 k2 k1 k3.
void interleave_quads(int16_t* x, Index K) {
  Word* w = reinterpret_cast<Word*>(x);
  for (Index q = 0; q < K / 4; ++q, w += 2) {
    const uint32_t a = w[0], b = w[1];  // (k0, k1), (k2, k3)
    w[0] = (a & 0xffffu) | (b << 16);
    w[1] = (b & 0xffff0000u) | (a >> 16);
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
  rtml_requant requant(Index c) const {
    const Index i = per_channel ? c : 0;
    return rtml_requant_of(multiplier[i], shift[i]);
  }
  // rtml_requantize_output with r's channel: the zero point added with
  // saturation (QADD), then the clamp.
  int8_t store(int32_t acc, rtml_requant r) const {
    const int32_t v = qadd(rtml_requant_apply(acc, r), zy);
    return static_cast<int8_t>(v < lo ? lo : v > hi ? hi : v);
  }
  // y[i] = store(acc[i], r) for a row of n accumulators of one channel.
  void store_row(const int32_t* acc, Index n, rtml_requant r, int8_t* y) const;
  uint32_t minus_zx() const { return pack16(-zx, -zx); }
};

// Not inlined: a function of its own keeps the channel's constants in
// registers for the whole row.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
void Product::store_row(const int32_t* acc, Index n, rtml_requant r, int8_t* y) const {
#if RTML_CM_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
  // rtml_requant_apply, QADD of the zero point and the clamp (store) written
  // out: GCC keeps the two constants of the 64-bit rounding in registers and
  // spills the channel's values instead (28 instructions an output, 24 here;
  // 13 registers, so that a build keeping the frame pointer in r7 fits).
  if (n <= 0) return;
  const int32_t* end = acc + n;
  int32_t a, h, t;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[a], [%[acc]], #4\n\t"
      "lsl %[a], %[a], %[left]\n\t"
      "mov %[t], #0x40000000\n\t"
      "mov %[h], #0\n\t"
      "smlal %[t], %[h], %[a], %[m]\n\t"  // rtml_srdhm: (a m + 2^30) >> 31
      "lsr %[t], %[t], #31\n\t"
      "orr %[t], %[t], %[h], lsl #1\n\t"
      "and %[h], %[t], %[mask]\n\t"  // rtml_rounding_divide_by_pot
      "lsr %[a], %[mask], #1\n\t"
      "add %[a], %[a], %[t], lsr #31\n\t"
      "asr %[t], %[t], %[right]\n\t"
      "cmp %[h], %[a]\n\t"
      "it gt\n\t"
      "addgt %[t], %[t], #1\n\t"
      "qadd %[t], %[t], %[zy]\n\t"
      "cmp %[t], %[lo]\n\t"
      "it lt\n\t"
      "movlt %[t], %[lo]\n\t"
      "cmp %[t], %[hi]\n\t"
      "it gt\n\t"
      "movgt %[t], %[hi]\n\t"
      "strb %[t], [%[y]], #1\n\t"
      "cmp %[acc], %[end]\n\t"
      "bne 1b"
      : [acc] "+r"(acc), [y] "+r"(y), [a] "=&r"(a), [h] "=&r"(h), [t] "=&r"(t)
      : [end] "r"(end), [m] "r"(r.multiplier), [left] "r"(r.left), [right] "r"(r.right), [mask] "r"(r.mask),
        [zy] "r"(zy), [lo] "r"(lo), [hi] "r"(hi)
      : "cc", "memory");
#else
  for (Index i = 0; i < n; ++i) y[i] = store(acc[i], r);
#endif
}

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

// One quad of weight row *w (advanced by 4) times the column quads (x0e,
// x0o) and, for C == 2, (x1e, x1o), into a0 and a1.
template <int C>
RTML_CM_INLINE void row_quad(const int8_t*& w, uint32_t x0e, uint32_t x0o, uint32_t x1e, uint32_t x1o, int32_t& a0,
                             int32_t& a1) {
  const uint32_t v = load32(w);
  w += 4;
  const uint32_t e = sxtb16(v), o = sxtb16_ror8(v);
  a0 = smlad(o, x0o, smlad(e, x0e, a0));
  if (C == 2) a1 = smlad(o, x1o, smlad(e, x1e, a1));
}

// The last K % 4 (stored in order): a0 += w . t0, a1 += w . t1 (C == 2).
template <int C>
RTML_CM_INLINE void row_tail(const int8_t* w, const int16_t* t0, const int16_t* t1, Index n, int32_t& a0, int32_t& a1) {
  for (Index k = 0; k < n; ++k) {
    a0 = wrap_add(a0, w[k] * t0[k]);
    if (C == 2) a1 = wrap_add(a1, w[k] * t1[k]);
  }
}

// acc[r * C + c] += dot(weight row r, column c) over K, for R weight rows
// (w + r * w_stride; R 1, 2 or 4) and C columns (C 1 or 2, and 1 when R is 4;
// x0, x1: q15, 4-byte aligned, quads in SXTB16's order, the last K % 4 in
// order).
template <int R, int C>
RTML_CM_INLINE void dot_block(const int8_t* w, Index w_stride, const int16_t* x0, const int16_t* x1, Index K,
                              int32_t* acc) {
  static_assert((R == 1 || R == 2 || R == 4) && (C == 1 || C == 2) && (R < 4 || C == 1), "a block these loops hold");
  int32_t a00 = acc[0], a01 = C == 2 ? acc[1] : 0;
  int32_t a10 = R > 1 ? acc[C] : 0, a11 = R > 1 && C == 2 ? acc[C + 1] : 0;
  int32_t a20 = R > 2 ? acc[2] : 0, a30 = R > 2 ? acc[3] : 0, unused = 0;
  const int8_t* w0 = w;
  const int8_t* w1 = w + w_stride;
  const int8_t* w2 = w + 2 * w_stride;
  const int8_t* w3 = w + 3 * w_stride;
  const Word* c0 = reinterpret_cast<const Word*>(x0);
  const Word* c1 = reinterpret_cast<const Word*>(x1);
  const int8_t* const end = w0 + (K & ~static_cast<Index>(3));
#if RTML_CM_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
  // The two blocks that need every register, written out (GCC spends four or
  // five more instructions per quad on them): 18.5 instructions per quad of
  // two rows x two columns, 24 for four rows x one column; at most 13
  // registers (the end stays in memory), so that builds keeping a frame
  // pointer fit too.
  if (R == 2 && C == 2 && w0 != end) {
    // One quad of two rows x two columns; column 0's quad is loaded twice
    // (a register fewer than keeping it).
#define RTML_CM_QUAD_2X2                            \
  "ldr %[v], [%[w0]], #4\n\t"                      \
  "ldrd %[xe], %[xo], [%[c0]], #8\n\t"             \
  "sxtb16 %[e], %[v]\n\t"                          \
  "sxtb16 %[v], %[v], ror #8\n\t"                  \
  "smlad %[a00], %[e], %[xe], %[a00]\n\t"          \
  "smlad %[a00], %[v], %[xo], %[a00]\n\t"          \
  "ldrd %[xe], %[xo], [%[c1]], #8\n\t"             \
  "smlad %[a01], %[e], %[xe], %[a01]\n\t"          \
  "smlad %[a01], %[v], %[xo], %[a01]\n\t"          \
  "ldr %[v], [%[w1]], #4\n\t"                      \
  "sxtb16 %[e], %[v]\n\t"                          \
  "sxtb16 %[v], %[v], ror #8\n\t"                  \
  "smlad %[a11], %[e], %[xe], %[a11]\n\t"          \
  "smlad %[a11], %[v], %[xo], %[a11]\n\t"          \
  "ldrd %[xe], %[xo], [%[c0], #-8]\n\t"            \
  "smlad %[a10], %[e], %[xe], %[a10]\n\t"          \
  "smlad %[a10], %[v], %[xo], %[a10]\n\t"
#define RTML_CM_QUAD_2X2_OPERANDS                                                                                   \
  : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w0] "+r"(w0), [w1] "+r"(w1), [c0] "+r"(c0), \
    [c1] "+r"(c1), [v] "=&r"(v), [e] "=&r"(e), [xe] "=&r"(xe), [xo] "=&r"(xo)                                      \
  : [end] "m"(end)                                                                                                  \
  : "cc", "memory"
    uint32_t v, e, xe, xo;
    if ((K >> 2) & 1) __asm__ volatile(RTML_CM_QUAD_2X2 RTML_CM_QUAD_2X2_OPERANDS);  // an odd quad first
    if (w0 != end)  // then two quads a pass
      __asm__ volatile("1:\n\t" RTML_CM_QUAD_2X2 RTML_CM_QUAD_2X2
                       "ldr %[e], %[end]\n\t"
                       "cmp %[w0], %[e]\n\t"
                       "bne 1b" RTML_CM_QUAD_2X2_OPERANDS);
#undef RTML_CM_QUAD_2X2
#undef RTML_CM_QUAD_2X2_OPERANDS
  }
  if (R == 4 && w0 != end) {
    uint32_t v, e, xe, xo;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[xe], %[xo], [%[c0]], #8\n\t"
        "ldr %[v], [%[w0]], #4\n\t"
        "sxtb16 %[e], %[v]\n\t"
        "sxtb16 %[v], %[v], ror #8\n\t"
        "smlad %[a0], %[e], %[xe], %[a0]\n\t"
        "smlad %[a0], %[v], %[xo], %[a0]\n\t"
        "ldr %[v], [%[w1]], #4\n\t"
        "sxtb16 %[e], %[v]\n\t"
        "sxtb16 %[v], %[v], ror #8\n\t"
        "smlad %[a1], %[e], %[xe], %[a1]\n\t"
        "smlad %[a1], %[v], %[xo], %[a1]\n\t"
        "ldr %[v], [%[w2]], #4\n\t"
        "sxtb16 %[e], %[v]\n\t"
        "sxtb16 %[v], %[v], ror #8\n\t"
        "smlad %[a2], %[e], %[xe], %[a2]\n\t"
        "smlad %[a2], %[v], %[xo], %[a2]\n\t"
        "ldr %[v], [%[w3]], #4\n\t"
        "sxtb16 %[e], %[v]\n\t"
        "sxtb16 %[v], %[v], ror #8\n\t"
        "smlad %[a3], %[e], %[xe], %[a3]\n\t"
        "smlad %[a3], %[v], %[xo], %[a3]\n\t"
        "ldr %[e], %[end]\n\t"
        "cmp %[w0], %[e]\n\t"
        "bne 1b"
        : [a0] "+r"(a00), [a1] "+r"(a10), [a2] "+r"(a20), [a3] "+r"(a30), [w0] "+r"(w0), [w1] "+r"(w1),
          [w2] "+r"(w2), [w3] "+r"(w3), [c0] "+r"(c0), [v] "=&r"(v), [e] "=&r"(e), [xe] "=&r"(xe), [xo] "=&r"(xo)
        : [end] "m"(end)
        : "cc", "memory");
  }
#endif
  while (w0 != end) {
    const uint32_t x0e = c0[0], x0o = c0[1];
    c0 += 2;
    uint32_t x1e = 0, x1o = 0;
    if (C == 2) {
      x1e = c1[0];
      x1o = c1[1];
      c1 += 2;
    }
    row_quad<C>(w0, x0e, x0o, x1e, x1o, a00, a01);
    if (R > 1) row_quad<C>(w1, x0e, x0o, x1e, x1o, a10, a11);
    if (R > 2) {
      row_quad<1>(w2, x0e, x0o, 0, 0, a20, unused);
      row_quad<1>(w3, x0e, x0o, 0, 0, a30, unused);
    }
  }
  const Index n = K & 3;
  if (n) {
    const int16_t* t0 = x0 + (K & ~static_cast<Index>(3));
    const int16_t* t1 = x1 + (K & ~static_cast<Index>(3));
    row_tail<C>(w0, t0, t1, n, a00, a01);
    if (R > 1) row_tail<C>(w1, t0, t1, n, a10, a11);
    if (R > 2) {
      row_tail<1>(w2, t0, t1, n, a20, unused);
      row_tail<1>(w3, t0, t1, n, a30, unused);
    }
  }
  acc[0] = a00;
  if (C == 2) acc[1] = a01;
  if (R > 1) acc[C] = a10;
  if (R > 1 && C == 2) acc[C + 1] = a11;
  if (R > 2) {
    acc[2] = a20;
    acc[3] = a30;
  }
}

// One im2col column of a convolution (rtml_qconv_params p): the window of
// output position (oh, ow) over the channels of one group, in W's order
// (channel, kernel row, kernel column), as x - zx with padding 0, each whole
// quad in SXTB16's order.
void column(const rtml_qconv_params& p, const int8_t* xg, Index cin_g, Index oh, Index ow, int32_t zx, int16_t* col) {
  const Index H = static_cast<Index>(p.H), W = static_cast<Index>(p.W), plane = H * W;
  const Index KH = static_cast<Index>(p.KH), KW = static_cast<Index>(p.KW);
  const Index dh = static_cast<Index>(p.dilation_h), dw = static_cast<Index>(p.dilation_w);
  const Index ih0 = oh * static_cast<Index>(p.stride_h) - static_cast<Index>(p.pad_top);
  const Index iw0 = ow * static_cast<Index>(p.stride_w) - static_cast<Index>(p.pad_left);
  if (KH == 1 && KW == 1 && ih0 >= 0 && ih0 < H && iw0 >= 0 && iw0 < W) {  // pointwise: a strided gather
    const int8_t* xi = xg + ih0 * W + iw0;
    Index ic = 0;
    for (; ic + 4 <= cin_g; ic += 4, xi += 4 * plane) {  // already in SXTB16's order
      col[ic] = static_cast<int16_t>(xi[0] - zx);
      col[ic + 1] = static_cast<int16_t>(xi[2 * plane] - zx);
      col[ic + 2] = static_cast<int16_t>(xi[plane] - zx);
      col[ic + 3] = static_cast<int16_t>(xi[3 * plane] - zx);
    }
    for (; ic < cin_g; ++ic, xi += plane) col[ic] = static_cast<int16_t>(*xi - zx);
    return;
  }
  const bool row_inside = iw0 >= 0 && iw0 + (KW - 1) * dw < W;  // no padding left or right: a plain copy
  int16_t* out = col;
  if (row_inside && KW == 3 && dw == 1) {  // the usual 3-wide window: three values a row, unrolled
    for (Index ic = 0; ic < cin_g; ++ic) {
      const int8_t* xc = xg + ic * plane + iw0;
      for (Index kh = 0, ih = ih0; kh < KH; ++kh, ih += dh, out += 3) {
        if (ih < 0 || ih >= H) {
          out[0] = out[1] = out[2] = 0;
          continue;
        }
        const int8_t* r = xc + ih * W;
        out[0] = static_cast<int16_t>(r[0] - zx);
        out[1] = static_cast<int16_t>(r[1] - zx);
        out[2] = static_cast<int16_t>(r[2] - zx);
      }
    }
    interleave_quads(col, cin_g * KH * KW);
    return;
  }
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
  interleave_quads(col, cin_g * KH * KW);
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
  return static_cast<int64_t>(static_cast<Index>(p->OW) * sizeof(int32_t) +
                              (even(static_cast<Index>(p->KH * p->KW)) + hp * wp) * sizeof(int16_t));
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
        column(p, xg, cin_g, px / OW, px % OW, pr.zx, col0);
        if (two) column(p, xg, cin_g, (px + 1) / OW, (px + 1) % OW, pr.zx, col1);
        Index oc = 0;
        for (; oc + 2 <= cout_g; oc += 2) {
          const Index c = g * cout_g + oc;
          const int32_t b0 = pr.bias_of(c), b1 = pr.bias_of(c + 1);
          int32_t acc[4] = {b0, b0, b1, b1};
          const int8_t* w0 = pr.w + c * K;
          if (two) {
            dot_block<2, 2>(w0, K, col0, col1, K, acc);
          } else {
            int32_t one[2] = {b0, b1};
            dot_block<2, 1>(w0, K, col0, col0, K, one);
            acc[0] = one[0];
            acc[2] = one[1];
          }
          const rtml_requant r0 = pr.requant(c), r1 = pr.requant(c + 1);
          int8_t* y0 = yg + oc * pixels + px;
          y0[0] = pr.store(acc[0], r0);
          y0[pixels] = pr.store(acc[2], r1);
          if (two) {
            y0[1] = pr.store(acc[1], r0);
            y0[pixels + 1] = pr.store(acc[3], r1);
          }
        }
        if (oc < cout_g) {  // an odd channel count: the last one alone
          const Index c = g * cout_g + oc;
          const int32_t b0 = pr.bias_of(c);
          int32_t acc[2] = {b0, b0};
          const int8_t* w0 = pr.w + c * K;
          if (two) dot_block<1, 2>(w0, K, col0, col1, K, acc);
          else dot_block<1, 1>(w0, K, col0, col0, K, acc);
          const rtml_requant r0 = pr.requant(c);
          int8_t* y0 = yg + oc * pixels + px;
          y0[0] = pr.store(acc[0], r0);
          if (two) y0[1] = pr.store(acc[1], r0);
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
  const uint32_t minus_zx = pr.minus_zx();
  for (Index b = 0; b < static_cast<Index>(p.batch_count); ++b) {
    const int8_t* xb = pr.x + b * static_cast<Index>(p.x_batch_stride);
    const int8_t* wb = pr.w + b * static_cast<Index>(p.w_batch_stride);
    for (Index m = 0; m < M; ++m) {
      const int8_t* xr = xb + m * K;
      Index k = 0;
      for (; k + 4 <= K; k += 4) quad_minus(load32(xr + k), minus_zx, reinterpret_cast<Word*>(col + k));
      for (; k < K; ++k) col[k] = static_cast<int16_t>(xr[k] - pr.zx);
      int8_t* yr = pr.y + (b * M + m) * N;
      Index n = 0;
      for (; n + 4 <= N; n += 4) {
        int32_t acc[4] = {pr.bias_of(n), pr.bias_of(n + 1), pr.bias_of(n + 2), pr.bias_of(n + 3)};
        dot_block<4, 1>(wb + n * stride_n, stride_n, col, col, K, acc);
        for (int i = 0; i < 4; ++i) yr[n + i] = pr.store(acc[i], pr.requant(n + i));
      }
      for (; n < N; ++n) {
        int32_t acc[1] = {pr.bias_of(n)};
        dot_block<1, 1>(wb + n * stride_n, stride_n, col, col, K, acc);
        yr[n] = pr.store(acc[0], pr.requant(n));
      }
    }
  }
  return 0;
}

// Depthwise: per output channel, its input channel's plane copied into the
// scratch as q15 (x - zx) with the padding (0) around it, and its weights as
// q15; then each output is a sum over kernel rows of SMLADs on adjacent tap
// pairs (one 32-bit load each when the dilation is 1), an odd last tap alone;
// a 3 x 3 window at stride 1 two outputs at a time.
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
  // The input columns of a padded row: [pl, pl + inside), the rest padding.
  const Index left = pl < WP ? pl : WP, inside = W < WP - left ? W : WP - left;
  const uint32_t minus_zx = pr.minus_zx();
  int32_t* row = static_cast<int32_t*>(pr.scratch);  // one output row's accumulators
  int16_t* wq = reinterpret_cast<int16_t*>(row + OW);
  int16_t* plane = wq + even(taps);
  // The padding sits at the same places in every channel's plane: zeroed
  // once, then each channel writes only its input's rows and columns.
  memset(plane, 0, static_cast<size_t>(HP * WP) * sizeof(int16_t));
  const Index rows = H < HP - pt ? H : HP - pt;
  for (Index n = 0; n < static_cast<Index>(p.N); ++n) {
    for (Index c = 0; c < C; ++c) {
      const int8_t* xc = pr.x + (n * C + c) * H * W;
      for (Index ih = 0; ih < rows; ++ih) {  // the padded plane's rows pt .. pt + rows - 1
        const int8_t* src = xc + ih * W;
        int16_t* d = plane + (ih + pt) * WP + left;
        Index i = 0;
        for (; i + 4 <= inside; i += 4) {  // four values in six instructions
          const uint32_t v = load32(src + i);
          const uint32_t e = sxtab16(minus_zx, v), o = sxtab16_ror8(minus_zx, v);  // (x0, x2), (x1, x3)
          store32(d + i, (e & 0xffffu) | (o << 16));
          store32(d + i + 2, (o & 0xffff0000u) | (e >> 16));
        }
        for (; i < inside; ++i) d[i] = static_cast<int16_t>(src[i] - pr.zx);
      }
      for (Index oc = c * mult; oc < (c + 1) * mult; ++oc) {
        for (Index t = 0; t < taps; ++t) wq[t] = pr.w[oc * taps + t];
        const int32_t b = pr.bias_of(oc);
        const rtml_requant rq = pr.requant(oc);
        int8_t* yc = pr.y + (n * C_out + oc) * OH * OW;
        if (KH == 3 && KW == 3 && dh == 1 && dw == 1 && sw == 1) {  // the usual 3 x 3: its weights in registers
          const uint32_t w01 = load32(wq), w34 = load32(wq + 3), w67 = load32(wq + 6);
          const uint32_t w25 = pack16(wq[2], wq[5]), w8 = static_cast<uint16_t>(wq[8]);
          for (Index oh = 0; oh < OH; ++oh) {
            const int16_t* r0 = plane + oh * sh * WP;
            const int16_t* r1 = r0 + WP;
            const int16_t* r2 = r1 + WP;
            Index ow = 0;
            for (; ow + 2 <= OW; ow += 2) {  // outputs ow, ow + 1: taps ow .. ow + 3 of each row
              int32_t a0 = smlad(load32(r0 + ow), w01, b), a1 = smlad(load32(r0 + ow + 1), w01, b);
              uint32_t t = load32(r0 + ow + 2);
              a0 = smlabb(t, w25, a0);
              a1 = smlatb(t, w25, a1);
              a0 = smlad(load32(r1 + ow), w34, a0);
              a1 = smlad(load32(r1 + ow + 1), w34, a1);
              t = load32(r1 + ow + 2);
              a0 = smlabt(t, w25, a0);
              a1 = smlatt(t, w25, a1);
              a0 = smlad(load32(r2 + ow), w67, a0);
              a1 = smlad(load32(r2 + ow + 1), w67, a1);
              t = load32(r2 + ow + 2);
              a0 = smlabb(t, w8, a0);
              a1 = smlatb(t, w8, a1);
              row[ow] = a0;
              row[ow + 1] = a1;
            }
            if (ow < OW) {  // the last, alone: its third tap is the row's last value
              int32_t a0 = smlad(load32(r0 + ow), w01, b);
              a0 = smlad(load32(r1 + ow), w34, a0);
              a0 = smlad(load32(r2 + ow), w67, a0);
              row[ow] = wrap_add(a0, r0[ow + 2] * wq[2] + r1[ow + 2] * wq[5] + r2[ow + 2] * wq[8]);
            }
            pr.store_row(row, OW, rq, yc + oh * OW);
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
                for (Index q = 0; q < pairs; ++q, kw += 2) acc = smlad(load32(xr + kw), load32(wr + kw), acc);
              for (; kw < KW; ++kw) acc = wrap_add(acc, xr[kw * dw] * wr[kw]);
            }
            row[ow] = acc;
          }
          pr.store_row(row, OW, rq, yc + oh * OW);
        }
      }
    }
  }
  return 0;
}

// Add of two int8 tensors of one shape (both contiguous: ResNet's residual
// Adds), TFLite's integer Add as rtml_s8_qadd__ref computes it (kernels/quant.h,
// rtml_qbinary_params), with native-width indices and each of its three
// requantizations' shifts and mask worked out once; any other broadcast is
// the reference kernel's.
extern "C" int rtml_s8_qadd__cm(const void* params, void* const* operands) {
  const rtml_qbinary_params& p = *static_cast<const rtml_qbinary_params*>(params);
  const rtml_broadcast& bc = p.bc;
  if (!(bc.rank == 0 || (bc.rank == 1 && bc.strides[0][0] == 1 && bc.strides[1][0] == 1)))
    return rtml_s8_qadd__ref(params, operands);
  const int8_t* a = static_cast<const int8_t*>(operands[0]);
  const int8_t* b = static_cast<const int8_t*>(operands[p.b_slot]);
  int8_t* y = static_cast<int8_t*>(operands[p.out_slot]);
  const rtml_requant ra = rtml_requant_of(p.a_multiplier, p.a_shift), rb = rtml_requant_of(p.b_multiplier, p.b_shift);
  const rtml_requant ry = rtml_requant_of(p.y_multiplier, p.y_shift);
  const int32_t za = p.a_zero_point, zb = p.b_zero_point, zy = p.y_zero_point, lo = p.act_min, hi = p.act_max;
  const int32_t scale = 1 << p.left_shift;
  const Index n = static_cast<Index>(bc.count);
  for (Index i = 0; i < n; ++i) {
    const int32_t va = (a[i] - za) * scale, vb = (b[i] - zb) * scale;
    const int32_t r = rtml_requant_apply(rtml_requant_apply(va, ra) + rtml_requant_apply(vb, rb), ry);
    const int32_t v = qadd(r, zy);
    y[i] = static_cast<int8_t>(v < lo ? lo : v > hi ? hi : v);
  }
  return 0;
}
