// Reference quantized kernels (kernels/quant.h): portable, freestanding.
#include "kernels/quant.h"

#include <float.h>
#include <math.h>

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
  void operator()(int64_t at, int32_t acc, int32_t multiplier, int32_t shift) const {
    y[at] = static_cast<T>(rtml_requantize_output(acc, multiplier, shift, zy, lo, hi));
  }
};

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
  for (int64_t b = 0; b < p.batch_count; ++b) {
    const TX* xb = x + b * p.x_batch_stride;
    const TW* wb = w + b * p.w_batch_stride;
    for (int64_t n = 0; n < p.N; ++n) {
      const int32_t zw = zero_point<TW>(operands, p.w_zp_slot, p.w_zp_per_channel ? n : 0, p.w_zero_point);
      int32_t multiplier = 0, shift = 0;
      if (requantize) rq.channel(n, &multiplier, &shift);
      for (int64_t m = 0; m < p.M; ++m) {
        int32_t acc = bias ? bias[n] : 0;
        const TX* xr = xb + m * p.K;
        for (int64_t k = 0; k < p.K; ++k)
          acc = mac(acc, static_cast<int32_t>(xr[k]) - zx, static_cast<int32_t>(wb[k * p.w_stride_k + n * p.w_stride_n]) - zw);
        store((b * p.M + m) * p.N + n, acc, multiplier, shift);
      }
    }
  }
}

template <class TX, class TW, class Store>
void qconv(const rtml_qconv_params& p, void* const* operands, bool requantize, const Store& store) {
  const TX* x = static_cast<const TX*>(operands[0]);
  const TW* w = static_cast<const TW*>(operands[p.w_slot]);
  const int32_t* bias = p.bias_slot >= 0 ? static_cast<const int32_t*>(operands[p.bias_slot]) : nullptr;
  const int32_t zx = zero_point<TX>(operands, p.x_zp_slot, 0, p.x_zero_point);
  const Requant<rtml_qconv_params> rq{p, operands};
  const int64_t cin_g = p.C / p.group, cout_g = p.C_out / p.group;
  for (int64_t oc = 0; oc < p.C_out; ++oc) {
    const int64_t g = oc / cout_g;
    const int32_t zw = zero_point<TW>(operands, p.w_zp_slot, p.w_zp_per_channel ? oc : 0, p.w_zero_point);
    int32_t multiplier = 0, shift = 0;
    if (requantize) rq.channel(oc, &multiplier, &shift);
    const TW* wc = w + oc * cin_g * p.KH * p.KW;
    for (int64_t n = 0; n < p.N; ++n) {
      const TX* xn = x + (n * p.C + g * cin_g) * p.H * p.W;
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          int32_t acc = bias ? bias[oc] : 0;
          for (int64_t ic = 0; ic < cin_g; ++ic)
            for (int64_t kh = 0; kh < p.KH; ++kh) {
              const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              if (ih < 0 || ih >= p.H) continue;  // padding holds the zero point: adds 0
              for (int64_t kw = 0; kw < p.KW; ++kw) {
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (iw < 0 || iw >= p.W) continue;
                acc = mac(acc, static_cast<int32_t>(xn[(ic * p.H + ih) * p.W + iw]) - zx,
                          static_cast<int32_t>(wc[(ic * p.KH + kh) * p.KW + kw]) - zw);
              }
            }
          store(((n * p.C_out + oc) * p.OH + oh) * p.OW + ow, acc, multiplier, shift);
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
  void operator()(int64_t at, int32_t acc, int32_t, int32_t) const { y[at] = acc; }
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
      for (int64_t k = 0; k < p.n; ++k) sum += static_cast<int32_t>(in[k * p.inner]) - p.x_zero_point;
      y[o * p.inner + i] = static_cast<T>(rtml_requantize_output(sum, p.multiplier, p.shift, p.y_zero_point,
                                                                 km::limits<T>::lowest(), km::limits<T>::max()));
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
