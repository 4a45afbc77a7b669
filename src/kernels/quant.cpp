// Reference quantized kernels (kernels/quant.h): portable, freestanding.
#include "kernels/quant.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#include "kernels/kmath.h"

extern "C" void rtml_quantize_multiplier(double real, int32_t* multiplier, int32_t* shift) {
  if (real == 0.0 || !(real > -DBL_MAX && real < DBL_MAX)) {  // also NaN and infinities (run-time scales)
    *multiplier = 0;
    *shift = 0;
    return;
  }
  int exponent = 0;
  const double q = frexp(real, &exponent);  // real = q * 2^exponent, 0.5 <= |q| < 1
  int64_t q_fixed = static_cast<int64_t>(round(q * static_cast<double>(int64_t(1) << 31)));
  if (q_fixed == (int64_t(1) << 31)) {  // q rounded up to 1.0
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) {  // every bit would shift out: flush to zero
    exponent = 0;
    q_fixed = 0;
  }
  if (exponent > 31) {  // above 2^31 every nonzero accumulator saturates anyway
    exponent = 31;
    q_fixed = INT32_MAX;
  }
  *multiplier = static_cast<int32_t>(q_fixed);
  *shift = exponent;
}

extern "C" bool rtml_softmax_scaling(double beta_times_scale, int32_t* multiplier, int32_t* left_shift,
                                     int32_t* diff_min) {
  constexpr int kIntegerBits = 5;  // exp's argument is Q5.26
  const double real = beta_times_scale * static_cast<double>(int64_t(1) << (31 - kIntegerBits));
  if (!(real > 1.0)) return false;  // also NaN
  rtml_quantize_multiplier(real < 2147483647.0 ? real : 2147483647.0, multiplier, left_shift);
  // The largest |d| whose d * 2^left_shift still fits Q5.26's 31 units (floor, as TFLite).
  const double radius = 31.0 * static_cast<double>(int64_t(1) << (31 - kIntegerBits)) /
                        static_cast<double>(int64_t(1) << *left_shift);
  *diff_min = -static_cast<int32_t>(floor(radius));
  return true;
}

extern "C" void rtml_quantize_scales(float x_scale, float w_scale, float y_scale, int32_t* multiplier,
                                     int32_t* shift) {
  rtml_quantize_multiplier(static_cast<double>(x_scale) * static_cast<double>(w_scale) / static_cast<double>(y_scale),
                           multiplier, shift);
}

namespace rtml::kernels {
namespace {

// acc + a * b for 9-bit a and b, wrapping around in int32 (as the int32
// accumulators of TFLite and CMSIS-NN do on their targets) rather than
// overflowing, for products longer than any real layer.
inline int32_t mac(int32_t acc, int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(a * b));
}

template <class T>
int32_t zero_point(void* const* operands, int32_t slot, int64_t i, int32_t fallback) {
  return slot >= 0 ? static_cast<int32_t>(static_cast<const T*>(operands[slot])[i]) : fallback;
}

// The requantization of one output channel of a product (params P:
// rtml_qmatmul_params or rtml_qconv_params).
template <class P>
struct Requant {
  const P& p;
  void* const* operands;
  void channel(int64_t c, int32_t* multiplier, int32_t* shift) const {
    const int64_t i = p.per_channel ? c : 0;
    if (p.multiplier_slot >= 0) {
      *multiplier = static_cast<const int32_t*>(operands[p.multiplier_slot])[i];
      *shift = static_cast<const int32_t*>(operands[p.shift_slot])[i];
      return;
    }
    rtml_quantize_scales(*static_cast<const float*>(operands[p.x_scale_slot]),
                         static_cast<const float*>(operands[p.w_scale_slot])[i],
                         *static_cast<const float*>(operands[p.y_scale_slot]), multiplier, shift);
  }
};

// The int32 accumulator of output element (channel c) of a product, then
// requantized into T (plus the output zero point, clamped), or stored as int32.
template <class T>
struct RequantStore {
  T* y;
  int32_t zy, lo, hi;
  void operator()(ptrdiff_t at, int32_t acc, int32_t multiplier, int32_t shift) const {
    y[at] = static_cast<T>(rtml_requantize_output(acc, multiplier, shift, zy, lo, hi));
  }
};

// Indices inside the product loops are `Index` (ptrdiff_t: 32 bits on a
// Cortex-M or armhf, where 64-bit arithmetic per multiply-accumulate cost
// several instructions each); a tensor these kernels see fits the address
// space, so its element offsets fit too. The int32 sums wrap (mac), so the
// order of the additions does not change a bit of the result.
using Index = ptrdiff_t;

// Y = X * W accumulated in int32 (bias first), each element handed to
// store(index, acc, multiplier, shift) (multiplier/shift: of its channel, when
// requantizing).
template <class TX, class TW, class Store>
void qmatmul(const rtml_qmatmul_params& p, void* const* operands, bool requantize, const Store& store) {
  const TX* x = static_cast<const TX*>(operands[0]);
  const TW* w = static_cast<const TW*>(operands[p.w_slot]);
  const int32_t* bias = p.bias_slot >= 0 ? static_cast<const int32_t*>(operands[p.bias_slot]) : nullptr;
  const int32_t zx = zero_point<TX>(operands, p.x_zp_slot, 0, p.x_zero_point);
  const Requant<rtml_qmatmul_params> rq{p, operands};
  const Index M = static_cast<Index>(p.M), N = static_cast<Index>(p.N), K = static_cast<Index>(p.K);
  const Index stride_k = static_cast<Index>(p.w_stride_k), stride_n = static_cast<Index>(p.w_stride_n);
  for (Index b = 0; b < static_cast<Index>(p.batch_count); ++b) {
    const TX* xb = x + b * static_cast<Index>(p.x_batch_stride);
    const TW* wb = w + b * static_cast<Index>(p.w_batch_stride);
    for (Index n = 0; n < N; ++n) {
      const int32_t zw = zero_point<TW>(operands, p.w_zp_slot, p.w_zp_per_channel ? n : 0, p.w_zero_point);
      int32_t multiplier = 0, shift = 0;
      if (requantize) rq.channel(n, &multiplier, &shift);
      const TW* wn = wb + n * stride_n;
      for (Index m = 0; m < M; ++m) {
        int32_t acc = bias ? bias[n] : 0;
        const TX* xr = xb + m * K;
        const TW* wk = wn;
        for (Index k = 0; k < K; ++k, wk += stride_k)
          acc = mac(acc, static_cast<int32_t>(xr[k]) - zx, static_cast<int32_t>(*wk) - zw);
        store((b * M + m) * N + n, acc, multiplier, shift);
      }
    }
  }
}

// The taps of a window that fall inside the input: first <= tap < last for
// output position o (stride, padding and dilation as the params give them).
inline void valid_taps(Index o, Index stride, Index pad, Index dilation, Index kernel, Index size, Index* first,
                       Index* last) {
  const Index start = o * stride - pad;
  Index lo = 0, hi = kernel;
  while (lo < hi && start + lo * dilation < 0) ++lo;
  while (hi > lo && start + (hi - 1) * dilation >= size) --hi;
  *first = lo;
  *last = hi;
}

template <class TX, class TW, class Store>
void qconv(const rtml_qconv_params& p, void* const* operands, bool requantize, const Store& store) {
  const TX* x = static_cast<const TX*>(operands[0]);
  const TW* w = static_cast<const TW*>(operands[p.w_slot]);
  const int32_t* bias = p.bias_slot >= 0 ? static_cast<const int32_t*>(operands[p.bias_slot]) : nullptr;
  const int32_t zx = zero_point<TX>(operands, p.x_zp_slot, 0, p.x_zero_point);
  const Requant<rtml_qconv_params> rq{p, operands};
  const Index C = static_cast<Index>(p.C), H = static_cast<Index>(p.H), W = static_cast<Index>(p.W);
  const Index C_out = static_cast<Index>(p.C_out), KH = static_cast<Index>(p.KH), KW = static_cast<Index>(p.KW);
  const Index OH = static_cast<Index>(p.OH), OW = static_cast<Index>(p.OW);
  const Index dh = static_cast<Index>(p.dilation_h), dw = static_cast<Index>(p.dilation_w);
  const Index cin_g = C / static_cast<Index>(p.group), cout_g = C_out / static_cast<Index>(p.group);
  const Index plane = H * W, taps = KH * KW;
  for (Index oc = 0; oc < C_out; ++oc) {
    const Index g = oc / cout_g;
    const int32_t zw = zero_point<TW>(operands, p.w_zp_slot, p.w_zp_per_channel ? oc : 0, p.w_zero_point);
    int32_t multiplier = 0, shift = 0;
    if (requantize) rq.channel(oc, &multiplier, &shift);
    const TW* wc = w + oc * cin_g * taps;
    for (Index n = 0; n < static_cast<Index>(p.N); ++n) {
      const TX* xn = x + (n * C + g * cin_g) * plane;
      const Index out = (n * C_out + oc) * OH * OW;
      for (Index oh = 0; oh < OH; ++oh) {
        Index kh0, kh1;  // padding holds the zero point: taps outside add 0
        valid_taps(oh, static_cast<Index>(p.stride_h), static_cast<Index>(p.pad_top), dh, KH, H, &kh0, &kh1);
        const Index ih0 = oh * static_cast<Index>(p.stride_h) - static_cast<Index>(p.pad_top);
        for (Index ow = 0; ow < OW; ++ow) {
          Index kw0, kw1;
          valid_taps(ow, static_cast<Index>(p.stride_w), static_cast<Index>(p.pad_left), dw, KW, W, &kw0, &kw1);
          const Index iw0 = ow * static_cast<Index>(p.stride_w) - static_cast<Index>(p.pad_left);
          int32_t acc = bias ? bias[oc] : 0;
          for (Index kh = kh0; kh < kh1; ++kh)
            for (Index kw = kw0; kw < kw1; ++kw) {
              const TX* xi = xn + (ih0 + kh * dh) * W + iw0 + kw * dw;
              const TW* wi = wc + kh * KW + kw;
              for (Index ic = 0; ic < cin_g; ++ic, xi += plane, wi += taps)
                acc = mac(acc, static_cast<int32_t>(*xi) - zx, static_cast<int32_t>(*wi) - zw);
            }
          store(out + oh * OW + ow, acc, multiplier, shift);
        }
      }
    }
  }
}

template <class T, class P>
RequantStore<T> requant_store(const P& p, void* const* operands) {
  return {static_cast<T*>(operands[p.out_slot]), zero_point<T>(operands, p.y_zp_slot, 0, p.y_zero_point), p.act_min,
          p.act_max};
}

// Stores the int32 accumulator itself (MatMulInteger, ConvInteger).
struct AccStore {
  int32_t* y;
  void operator()(ptrdiff_t at, int32_t acc, int32_t, int32_t) const { y[at] = acc; }
};

// Calls f(first, count, c) for each run of elements that share parameter c
// (per axis: `inner` elements; per tensor: the whole tensor, c = 0).
template <class F>
void for_each_run(const rtml_quantize_params& p, F&& f) {
  if (!p.per_axis) return f(0, p.outer * p.axis_dim * p.inner, 0);
  for (int64_t o = 0, at = 0; o < p.outer; ++o)
    for (int64_t c = 0; c < p.axis_dim; ++c, at += p.inner) f(at, p.inner, c);
}

// ONNX QuantizeLinear's saturate(round_half_to_even(x / scale) + zero_point).
// Rounding half to even without a libm call (nearbyintf is one on x86-64
// without SSE4.1 and on a Cortex-M): a value clamped to +-2^22 (far outside
// every integer type here, NaN to the low end) plus 1.5 * 2^23 lands where
// float's unit in the last place is 1, so the addition itself rounds to the
// nearest integer, ties to even, and the subtraction is exact.
template <class T>
T quantize_one(float x, float scale, int32_t zp) {
  constexpr float kBound = 4194304.0f, kMagic = 12582912.0f;  // 2^22, 1.5 * 2^23
  float v = x / scale;
  v = v >= -kBound ? v : -kBound;
  v = v <= kBound ? v : kBound;
  float q = ((v + kMagic) - kMagic) + static_cast<float>(zp);
  const float lo = km::limits<T>::lowest(), hi = km::limits<T>::max();
  q = q >= lo ? q : lo;  // NaN -> lowest
  q = q <= hi ? q : hi;
  return static_cast<T>(q);
}

template <class T>
void quantize(const rtml_quantize_params& p, void* const* operands) {
  const float* x = static_cast<const float*>(operands[0]);
  const float* scale = static_cast<const float*>(operands[1]);
  const T* zp = p.has_zero_point ? static_cast<const T*>(operands[2]) : nullptr;
  T* y = static_cast<T*>(operands[p.out_slot]);
  for_each_run(p, [&](int64_t at, int64_t n, int64_t c) {
    const float s = scale[c];
    const int32_t z = zp ? static_cast<int32_t>(zp[c]) : 0;
    for (int64_t i = at; i < at + n; ++i) y[i] = quantize_one<T>(x[i], s, z);
  });
}

template <class T>
void dequantize(const rtml_quantize_params& p, void* const* operands) {
  const T* x = static_cast<const T*>(operands[0]);
  const float* scale = static_cast<const float*>(operands[1]);
  const T* zp = p.has_zero_point ? static_cast<const T*>(operands[2]) : nullptr;
  float* y = static_cast<float*>(operands[p.out_slot]);
  for_each_run(p, [&](int64_t at, int64_t n, int64_t c) {
    const float s = scale[c], z = zp ? static_cast<float>(zp[c]) : 0.0f;
    for (int64_t i = at; i < at + n; ++i) y[i] = (static_cast<float>(x[i]) - z) * s;
  });
}

// Add (add = true) or Mul of two quantized tensors (rtml_qbinary_params).
template <class T>
void qbinary(const rtml_qbinary_params& p, void* const* operands, bool add) {
  const T* a = static_cast<const T*>(operands[0]);
  const T* b = static_cast<const T*>(operands[p.b_slot]);
  T* y = static_cast<T*>(operands[p.out_slot]);
  broadcast_for_each(p.bc, [&](int64_t o, int64_t ia, int64_t ib, int64_t) {
    const int32_t va = static_cast<int32_t>(a[ia]) - p.a_zero_point, vb = static_cast<int32_t>(b[ib]) - p.b_zero_point;
    const int32_t r =
        add ? rtml_requantize(rtml_requantize(va * (1 << p.left_shift), p.a_multiplier, p.a_shift) +
                                  rtml_requantize(vb * (1 << p.left_shift), p.b_multiplier, p.b_shift),
                              p.y_multiplier, p.y_shift)
            : rtml_requantize(va * vb, p.y_multiplier, p.y_shift);
    const int64_t v = int64_t(r) + p.y_zero_point;
    y[o] = static_cast<T>(km::max<int64_t>(p.act_min, km::min<int64_t>(p.act_max, v)));
  });
}

}  // namespace
}  // namespace rtml::kernels

using namespace rtml::kernels;

// Products: X of type TX (also the output's), W of type TW.
#define RTML_QUANT_PRODUCT_DEFINE(t, TX, TW)                                                                 \
  RTML_KERNEL(rtml_##t##_fully_connected__ref) {                                                             \
    const auto& p = *static_cast<const rtml_qmatmul_params*>(params);                                        \
    qmatmul<TX, TW>(p, operands, true, requant_store<TX>(p, operands));                                      \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_matmul_integer__ref) {                                                              \
    const auto& p = *static_cast<const rtml_qmatmul_params*>(params);                                        \
    qmatmul<TX, TW>(p, operands, false, AccStore{static_cast<int32_t*>(operands[p.out_slot])});              \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_conv__ref) {                                                                        \
    const auto& p = *static_cast<const rtml_qconv_params*>(params);                                          \
    qconv<TX, TW>(p, operands, true, requant_store<TX>(p, operands));                                        \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_depthwise_conv__ref) { return rtml_##t##_conv__ref(params, operands); }             \
  RTML_KERNEL(rtml_##t##_conv_integer__ref) {                                                                \
    const auto& p = *static_cast<const rtml_qconv_params*>(params);                                          \
    qconv<TX, TW>(p, operands, false, AccStore{static_cast<int32_t*>(operands[p.out_slot])});                \
    return 0;                                                                                                \
  }
RTML_QUANT_PRODUCT_TYPES(RTML_QUANT_PRODUCT_DEFINE)
#undef RTML_QUANT_PRODUCT_DEFINE

namespace {

// QDQ ReduceMean / GlobalAveragePool (rtml_qmean_params): the int32 sum of
// x - x_zero_point over each run of n values (stride inner), requantized.
template <class T>
void qmean(const rtml_qmean_params& p, void* const* operands) {
  const T* x = static_cast<const T*>(operands[0]);
  T* y = static_cast<T*>(operands[p.out_slot]);
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* in = x + o * p.n * p.inner + i;
      int32_t sum = 0;
      if (p.inner == 1) {  // contiguous (the last axes: GlobalAveragePool, a mean over time): the zero point
        for (int64_t k = 0; k < p.n; ++k) sum += in[k];  // taken out once, so the loop runs on vectors
        sum -= static_cast<int32_t>(p.n) * p.x_zero_point;
      } else {
        for (int64_t k = 0; k < p.n; ++k) sum += static_cast<int32_t>(in[k * p.inner]) - p.x_zero_point;
      }
      y[o * p.inner + i] = static_cast<T>(rtml_requantize_output(sum, p.multiplier, p.shift, p.y_zero_point,
                                                                 km::limits<T>::lowest(), km::limits<T>::max()));
    }
}

// The fixed-point arithmetic of TFLite's integer softmax (gemmlowp's
// FixedPoint on raw int32 values; Qm.n: m integer bits, n = 31 - m fraction
// bits), on rtml_srdhm and rtml_rounding_divide_by_pot.

// x * 2^exponent (0 < exponent < 31), saturating to the int32 range.
int32_t saturating_shift_left(int32_t x, int exponent) {
  const int32_t threshold = static_cast<int32_t>((uint32_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return static_cast<int32_t>(static_cast<uint32_t>(x) << exponent);
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out: the Taylor polynomial of
// degree 4 around -1/8, exp(-1/8) (1 + t + t^2/2 + t^3/6 + t^4/24), t = a + 1/8.
int32_t exp_on_quarter_interval(int32_t a) {
  constexpr int32_t kExpMinusOneEighth = 1895147668, kOneThird = 715827883;
  const int32_t t = a + (1 << 28);
  const int32_t t2 = rtml_srdhm(t, t), t3 = rtml_srdhm(t2, t), t4 = rtml_srdhm(t2, t2);
  const int32_t t4_over_4 = rtml_rounding_divide_by_pot(t4, 2);
  // (t^4/4 + t^3) / 3 + t^2, halved: t^4/24 + t^3/6 + t^2/2.
  const int32_t higher = rtml_rounding_divide_by_pot(rtml_srdhm(t4_over_4 + t3, kOneThird) + t2, 1);
  return kExpMinusOneEighth + rtml_srdhm(kExpMinusOneEighth, t + higher);
}

// exp(a) for a <= 0 in Q5.26, result in Q0.31 (exp(0) as INT32_MAX): a is
// r - q with r in [-1/4, 0) and q a multiple of 1/4 below 32; exp(r) from the
// polynomial, times exp(-2^k) for each bit k of q (k = -2 .. 4).
int32_t exp_on_negative_values(int32_t a) {
  constexpr int32_t kQuarter = 1 << 24;  // 1/4 in Q5.26
  constexpr int32_t kExpMinusPow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  const int32_t r = (a & (kQuarter - 1)) - kQuarter;
  int32_t result = exp_on_quarter_interval(r * 32);  // Q5.26 -> Q0.31, exact: r * 32 is in [-2^29, 0)
  const int32_t q = r - a;
  for (int k = 0; k < 7; ++k)
    if (q & (int32_t{1} << (24 + k))) result = rtml_srdhm(result, kExpMinusPow2[k]);
  return a == 0 ? INT32_MAX : result;
}

// 1 / (1 + x) for x in [0, 1) in Q0.31, result in Q0.31: three Newton-Raphson
// steps in Q2.29 on the half denominator d = (1 + x) / 2, from 48/17 - 32/17 d.
int32_t one_over_one_plus_x(int32_t x) {
  constexpr int32_t k48Over17 = 1515870810, kMinus32Over17 = -1010580540, kOne = 1 << 29;
  const int64_t sum = int64_t{x} + INT32_MAX;
  const auto d = static_cast<int32_t>((sum + (sum >= 0 ? 1 : -1)) / 2);
  int32_t r = k48Over17 + rtml_srdhm(d, kMinus32Over17);
  for (int i = 0; i < 3; ++i) r += saturating_shift_left(rtml_srdhm(r, kOne - rtml_srdhm(d, r)), 2);
  return saturating_shift_left(r, 1);
}

int leading_zeros(uint32_t v) {
  int n = 0;
  for (uint32_t bit = uint32_t{1} << 31; bit && !(v & bit); bit >>= 1) ++n;
  return n;
}

// QDQ Softmax (rtml_qsoftmax_params): TFLite's integer softmax, output scale 1/256.
template <class T>
void qsoftmax(const rtml_qsoftmax_params& p, void* const* operands) {
  constexpr int kAccumulationBits = 12;  // the sum is Q12.19
  const int32_t lo = km::limits<T>::lowest(), hi = km::limits<T>::max();
  for (int64_t row = 0; row < p.rows; ++row) {
    const T* x = static_cast<const T*>(operands[0]) + row * p.row_size;
    T* y = static_cast<T*>(operands[p.out_slot]) + row * p.row_size;
    int32_t max = lo;
    for (int64_t i = 0; i < p.row_size; ++i) max = km::max<int32_t>(max, x[i]);
    const auto exp_of = [&](int64_t i) {  // Q0.31; 0 below diff_min
      const int32_t d = static_cast<int32_t>(x[i]) - max;
      return d >= p.diff_min ? exp_on_negative_values(rtml_requantize(d, p.input_multiplier, p.input_left_shift)) : 0;
    };
    int32_t sum = 0;
    for (int64_t i = 0; i < p.row_size; ++i) sum += rtml_rounding_divide_by_pot(exp_of(i), kAccumulationBits);
    // sum = 2^(12 - headroom) (1 + f) with f in [0, 1): 1 / sum from 1 / (1 + f).
    const int headroom = leading_zeros(static_cast<uint32_t>(sum));  // <= 12: the max's exp is 2^19 in Q12.19
    const int32_t reciprocal =
        one_over_one_plus_x(static_cast<int32_t>((static_cast<uint32_t>(sum) << headroom) - (uint32_t{1} << 31)));
    const int shift = kAccumulationBits - headroom + 23;  // to units of 1/256
    for (int64_t i = 0; i < p.row_size; ++i) {
      // (Long rows: a product below 2^31 shifted by 32 or more rounds to 0.)
      const int32_t v = shift > 31 ? 0 : rtml_rounding_divide_by_pot(rtml_srdhm(reciprocal, exp_of(i)), shift);
      y[i] = static_cast<T>(km::max(lo, km::min(hi, v + lo)));
    }
  }
}

}  // namespace

#define RTML_QUANT_DEFINE(t, T)                                                                              \
  RTML_KERNEL(rtml_##t##_quantize__ref) {                                                                    \
    quantize<T>(*static_cast<const rtml_quantize_params*>(params), operands);                                \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_dequantize__ref) {                                                                  \
    dequantize<T>(*static_cast<const rtml_quantize_params*>(params), operands);                              \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_qadd__ref) {                                                                         \
    qbinary<T>(*static_cast<const rtml_qbinary_params*>(params), operands, true);                            \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_qmul__ref) {                                                                         \
    qbinary<T>(*static_cast<const rtml_qbinary_params*>(params), operands, false);                           \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_lookup__ref) {                                                                      \
    const auto& p = *static_cast<const rtml_lookup_params*>(params);                                         \
    const T* x = static_cast<const T*>(operands[0]);                                                         \
    const T* table = static_cast<const T*>(operands[p.table_slot]);                                          \
    T* y = static_cast<T*>(operands[p.out_slot]);                                                            \
    for (int64_t i = 0; i < p.count; ++i)                                                                    \
      y[i] = table[static_cast<int32_t>(x[i]) - km::limits<T>::lowest()];                                    \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_mean__ref) {                                                                        \
    qmean<T>(*static_cast<const rtml_qmean_params*>(params), operands);                                      \
    return 0;                                                                                                \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_softmax__ref) {                                                                     \
    qsoftmax<T>(*static_cast<const rtml_qsoftmax_params*>(params), operands);                                \
    return 0;                                                                                                \
  }
RTML_QUANT_TYPES(RTML_QUANT_DEFINE)
#undef RTML_QUANT_DEFINE

RTML_KERNEL(rtml_s32_dequantize__ref) {
  dequantize<int32_t>(*static_cast<const rtml_quantize_params*>(params), operands);
  return 0;
}

// ONNX DynamicQuantizeLinear: uint8 over [min(0, min x), max(0, max x)].
RTML_KERNEL(rtml_u8_dynamic_quantize__ref) {
  const auto& p = *static_cast<const rtml_dynamic_quantize_params*>(params);
  const float* x = static_cast<const float*>(operands[0]);
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < p.numel; ++i) {
    lo = km::min(lo, x[i]);
    hi = km::max(hi, x[i]);
  }
  const float scale = (hi - lo) / 255.0f;
  const bool usable = scale > 0.0f && scale <= FLT_MAX;  // else (all zeros, an infinity, NaN): y 0, zero point 0
  const float zp = usable ? km::nearbyint(km::max(0.0f, km::min(255.0f, 0.0f - lo / scale))) : 0.0f;
  uint8_t* y = static_cast<uint8_t*>(operands[1]);
  for (int64_t i = 0; i < p.numel; ++i) y[i] = usable ? quantize_one<uint8_t>(x[i], scale, static_cast<int32_t>(zp)) : 0;
  *static_cast<float*>(operands[2]) = scale;
  *static_cast<uint8_t*>(operands[3]) = static_cast<uint8_t>(zp);
  return 0;
}
