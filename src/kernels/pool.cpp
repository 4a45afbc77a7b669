#include "kernels/pool.h"

#include <stddef.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

namespace {

bool next_index(int64_t* idx, const int64_t* shape, int n) {
  for (int d = n - 1; d >= 0; --d) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Calls f(input_flat_index_row_major, input_index_per_dim) for every tap of
// the window at output position `o` that lies inside the input, and returns
// the number of taps inside the padded input (for count_include_pad).
template <class F>
int64_t for_each_tap(const PoolParams& p, const int64_t* o, F&& f) {
  int64_t t[kMaxPoolSpatial] = {};
  int64_t padded_count = 0;
  for (int64_t k = 0; k < p.kernel_size; ++k) {
    int64_t flat = 0;
    int64_t idx[kMaxPoolSpatial];
    bool inside = true, inside_padded = true;
    for (int d = 0; d < p.spatial; ++d) {
      const int64_t i = o[d] * p.stride[d] + t[d] * p.dilation[d] - p.pad_begin[d];
      idx[d] = i;
      if (i < 0 || i >= p.in_shape[d]) inside = false;
      if (i < -p.pad_begin[d] || i >= p.in_shape[d] + p.pad_end[d]) inside_padded = false;
      flat = flat * p.in_shape[d] + i;
    }
    if (inside_padded) ++padded_count;
    if (inside) f(flat, idx);
    next_index(t, p.kernel, p.spatial);
  }
  return padded_count;
}

// A 1-D or 2-D pool's sizes as height and width (1-D: one row): input,
// output, kernel, stride, dilation, padding before and after.
struct Planes {
  ptrdiff_t H, W, OH, OW, KH, KW, SH, SW, DH, DW, PH, PW, EH, EW;
  explicit Planes(const PoolParams& p) {
    const bool two = p.spatial == 2;
    const int last = p.spatial - 1;
    H = two ? p.in_shape[0] : 1, W = p.in_shape[last];
    OH = two ? p.out_shape[0] : 1, OW = p.out_shape[last];
    KH = two ? p.kernel[0] : 1, KW = p.kernel[last];
    SH = two ? p.stride[0] : 1, SW = p.stride[last];
    DH = two ? p.dilation[0] : 1, DW = p.dilation[last];
    PH = two ? p.pad_begin[0] : 0, PW = p.pad_begin[last];
    EH = two ? p.pad_end[0] : 0, EW = p.pad_end[last];
  }
};

// MaxPool of 1-D or 2-D planes without Indices: the same taps, the same
// comparison and the same result as the general loop below, with the window
// walked row by row instead of through the N-d tap iterator (about 10x fewer
// instructions per tap; this is the kernel of the int8 and Cortex-M sets).
template <class T>
void maxpool_planes(const PoolParams& p, const T* x, T* y) {
  const Planes g(p);
  const int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, DH = g.DH,
                DW = g.DW, PH = g.PH, PW = g.PW;
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * p.in_size;
    T* yp = y + plane * p.out_size;
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        T best = km::limits<T>::lowest();
        bool any = false;
        for (int64_t kh = 0; kh < KH; ++kh) {
          const int64_t ih = oh * SH + kh * DH - PH;
          if (ih < 0 || ih >= H) continue;
          const T* row = xp + ih * W;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const int64_t iw = ow * SW + kw * DW - PW;
            if (iw < 0 || iw >= W) continue;
            const T v = row[iw];
            if (!any || v > best || (km::isnan(static_cast<double>(v)) && !km::isnan(static_cast<double>(best)))) {
              best = v;
              any = true;
            }
          }
        }
        yp[oh * OW + ow] = best;
      }
    }
  }
}

}  // namespace

template <class T>
void maxpool(const PoolParams& p, const T* x, T* y, int64_t* indices) {
  if (!indices && (p.spatial == 1 || p.spatial == 2)) return maxpool_planes(p, x, y);
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * p.in_size;
    T* yp = y + plane * p.out_size;
    int64_t o[kMaxPoolSpatial] = {};
    for (int64_t k = 0; k < p.out_size; ++k) {
      T best = km::limits<T>::lowest();
      int64_t best_flat = -1;
      int64_t best_idx[kMaxPoolSpatial] = {};
      for_each_tap(p, o, [&](int64_t flat, const int64_t* idx) {
        const T v = xp[flat];
        if (best_flat < 0 || v > best || (km::isnan(static_cast<double>(v)) && !km::isnan(static_cast<double>(best)))) {
          best = v;
          best_flat = flat;
          for (int d = 0; d < p.spatial; ++d) best_idx[d] = idx[d];
        }
      });
      yp[k] = best;
      if (indices) {
        int64_t ix = -1;
        if (best_flat >= 0) {
          if (p.storage_order == 0) {
            ix = best_flat;
          } else {  // column-major: the first spatial dim varies fastest
            ix = 0;
            for (int d = p.spatial - 1; d >= 0; --d) ix = ix * p.in_shape[d] + best_idx[d];
          }
          ix += plane * p.in_size;
        }
        indices[plane * p.out_size + k] = ix;
      }
      next_index(o, p.out_shape, p.spatial);
    }
  }
}

template void maxpool<float>(const PoolParams&, const float*, float*, int64_t*);
template void maxpool<double>(const PoolParams&, const double*, double*, int64_t*);
template void maxpool<uint8_t>(const PoolParams&, const uint8_t*, uint8_t*, int64_t*);
template void maxpool<int8_t>(const PoolParams&, const int8_t*, int8_t*, int64_t*);

namespace {

// window_sums below for 1-D and 2-D planes: the same taps summed in the same
// order (kernel rows, then columns), walked row by row with native-width
// indices and the window's rows and columns clipped once, not per tap (the
// int8 average pools of kws and ResNet-8 on a Cortex-M7: about 130
// instructions per tap through the N-d iterator).
template <class Acc, class T, class U, class F>
void window_sums_planes(const PoolParams& p, const T* x, U* y, F&& finish) {
  using Index = ptrdiff_t;
  const Planes g(p);
  const Index H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, DH = g.DH, DW = g.DW,
              PH = g.PH, PW = g.PW, EH = g.EH, EW = g.EW;
  // Taps k = 0..K-1 at i = o * S + k * D - P: [lo, hi) inside [0, n), and how
  // many inside the padded [-P, n + E).
  auto clip = [](Index start, Index K, Index D, Index n, Index P, Index E, Index& lo, Index& hi, Index& padded) {
    lo = K;
    hi = 0;
    padded = 0;
    for (Index k = 0; k < K; ++k) {
      const Index i = start + k * D;
      if (i >= -P && i < n + E) ++padded;
      if (i >= 0 && i < n) {
        if (lo == K) lo = k;
        hi = k + 1;
      }
    }
    if (lo == K) lo = hi = 0;
  };
  for (Index plane = 0; plane < static_cast<Index>(p.planes); ++plane) {
    const T* xp = x + plane * static_cast<Index>(p.in_size);
    U* yp = y + plane * static_cast<Index>(p.out_size);
    for (Index oh = 0; oh < OH; ++oh) {
      Index h0, h1, hp;
      clip(oh * SH - PH, KH, DH, H, PH, EH, h0, h1, hp);
      for (Index ow = 0; ow < OW; ++ow) {
        Index w0, w1, wp;
        clip(ow * SW - PW, KW, DW, W, PW, EW, w0, w1, wp);
        Acc sum = 0;
        for (Index kh = h0; kh < h1; ++kh) {
          const T* row = xp + (oh * SH + kh * DH - PH) * W + ow * SW - PW;
          for (Index kw = w0; kw < w1; ++kw) sum += row[kw * DW];
        }
        yp[oh * OW + ow] = finish(sum, static_cast<int64_t>((h1 - h0) * (w1 - w0)), static_cast<int64_t>(hp * wp));
      }
    }
  }
}

// y[k] = finish(sum, taps inside the input, taps inside the padded input) of
// every window, the sum of x over its taps inside the input in Acc.
template <class Acc, class T, class U, class F>
void window_sums(const PoolParams& p, const T* x, U* y, F&& finish) {
  if (p.spatial == 1 || p.spatial == 2) return window_sums_planes<Acc>(p, x, y, finish);
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * p.in_size;
    U* yp = y + plane * p.out_size;
    int64_t o[kMaxPoolSpatial] = {};
    for (int64_t k = 0; k < p.out_size; ++k) {
      Acc sum = 0;
      int64_t count = 0;
      const int64_t padded = for_each_tap(p, o, [&](int64_t flat, const int64_t*) {
        sum += xp[flat];
        ++count;
      });
      yp[k] = finish(sum, count, padded);
      next_index(o, p.out_shape, p.spatial);
    }
  }
}

}  // namespace

void avgpool_f32(const PoolParams& p, const float* x, float* y) {
  window_sums<float>(p, x, y, [&](float sum, int64_t count, int64_t padded) {
    const int64_t div = p.count_include_pad ? padded : count;
    return div > 0 ? sum / static_cast<float>(div) : 0.0f;
  });
}

template <class T>
void avgpool_quantized(const PoolParams& p, const T* x, T* y) {
  auto finish = [](auto sum, int64_t count, int64_t) {
    using Acc = decltype(sum);
    const Acc n = static_cast<Acc>(count), half = n / 2;
    return static_cast<T>(n == 0 ? 0 : sum > 0 ? (sum + half) / n : (sum - half) / n);
  };
  // A window of up to 2^23 taps of |x| <= 255 sums within int32 (32-bit
  // arithmetic on a Cortex-M); the same value as in int64.
  if (p.kernel_size <= (int64_t{1} << 23)) return window_sums<int32_t>(p, x, y, finish);
  window_sums<int64_t>(p, x, y, finish);
}

template void avgpool_quantized<int8_t>(const PoolParams&, const int8_t*, int8_t*);
template void avgpool_quantized<uint8_t>(const PoolParams&, const uint8_t*, uint8_t*);

void lppool_f32(const PoolParams& p, const float* x, float* y) {
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const float* xp = x + plane * p.in_size;
    float* yp = y + plane * p.out_size;
    int64_t o[kMaxPoolSpatial] = {};
    for (int64_t k = 0; k < p.out_size; ++k) {
      double sum = 0;
      for_each_tap(p, o, [&](int64_t flat, const int64_t*) { sum += km::pow(km::fabs(double(xp[flat])), double(p.p)); });
      yp[k] = static_cast<float>(km::pow(sum, 1.0 / p.p));
      next_index(o, p.out_shape, p.spatial);
    }
  }
}

void global_avgpool_f32(int64_t planes, int64_t size, const float* x, float* y) {
  for (int64_t c = 0; c < planes; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += x[c * size + i];
    y[c] = size > 0 ? static_cast<float>(sum / static_cast<double>(size)) : 0.0f;
  }
}

template <class T>
void global_maxpool(int64_t planes, int64_t size, const T* x, T* y) {
  for (int64_t c = 0; c < planes; ++c) {
    T best = km::limits<T>::lowest();
    for (int64_t i = 0; i < size; ++i) {
      const T v = x[c * size + i];
      if (v > best || km::isnan(static_cast<double>(v))) best = v;
      if (km::isnan(static_cast<double>(best))) break;
    }
    y[c] = best;
  }
}

template void global_maxpool<float>(int64_t, int64_t, const float*, float*);
template void global_maxpool<double>(int64_t, int64_t, const double*, double*);
template void global_maxpool<uint8_t>(int64_t, int64_t, const uint8_t*, uint8_t*);
template void global_maxpool<int8_t>(int64_t, int64_t, const int8_t*, int8_t*);

void global_lppool_f32(int64_t planes, int64_t size, float p, const float* x, float* y) {
  for (int64_t c = 0; c < planes; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += km::pow(km::fabs(double(x[c * size + i])), double(p));
    y[c] = static_cast<float>(km::pow(sum, 1.0 / p));
  }
}

}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

#define RTML_POOL_DEFINE(t, T)                                                                              \
  RTML_KERNEL(rtml_##t##_maxpool__ref) {                                                                    \
    const auto& p = *static_cast<const rtml_pool_params*>(params);                                         \
    rtml::kernels::maxpool<T>(p, static_cast<const T*>(operands[0]), static_cast<T*>(operands[1]),         \
                              p.has_indices ? static_cast<int64_t*>(operands[2]) : nullptr);               \
    return 0;                                                                                               \
  }                                                                                                         \
  RTML_KERNEL(rtml_##t##_global_maxpool__ref) {                                                             \
    const auto& p = *static_cast<const rtml_global_pool_params*>(params);                                  \
    rtml::kernels::global_maxpool<T>(p.planes, p.size, static_cast<const T*>(operands[0]),                 \
                                     static_cast<T*>(operands[1]));                                        \
    return 0;                                                                                               \
  }
RTML_MAXPOOL_TYPES(RTML_POOL_DEFINE)
#undef RTML_POOL_DEFINE

RTML_KERNEL(rtml_f32_avgpool__ref) {
  rtml::kernels::avgpool_f32(*static_cast<const rtml_pool_params*>(params), static_cast<const float*>(operands[0]),
                             static_cast<float*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_s8_avgpool__ref) {
  rtml::kernels::avgpool_quantized(*static_cast<const rtml_pool_params*>(params), static_cast<const int8_t*>(operands[0]),
                                   static_cast<int8_t*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_u8_avgpool__ref) {
  rtml::kernels::avgpool_quantized(*static_cast<const rtml_pool_params*>(params),
                                   static_cast<const uint8_t*>(operands[0]), static_cast<uint8_t*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_f32_lppool__ref) {
  rtml::kernels::lppool_f32(*static_cast<const rtml_pool_params*>(params), static_cast<const float*>(operands[0]),
                            static_cast<float*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_f32_global_avgpool__ref) {
  const auto& p = *static_cast<const rtml_global_pool_params*>(params);
  rtml::kernels::global_avgpool_f32(p.planes, p.size, static_cast<const float*>(operands[0]),
                                    static_cast<float*>(operands[1]));
  return 0;
}

RTML_KERNEL(rtml_f32_global_lppool__ref) {
  const auto& p = *static_cast<const rtml_global_pool_params*>(params);
  rtml::kernels::global_lppool_f32(p.planes, p.size, p.p, static_cast<const float*>(operands[0]),
                                   static_cast<float*>(operands[1]));
  return 0;
}
