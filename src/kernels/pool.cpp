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

// MaxPool's comparison: v replaces best if it is larger, or if it is NaN and
// best is not (NaN wins; of equal values the first stays). Integers have no
// NaN: for them the test is left out at compile time.
template <class T>
inline bool max_takes(T v, T best) {
  if constexpr (static_cast<T>(0.5) != T(0)) return v > best || (km::isnan(v) && !km::isnan(best));
  else return v > best;
}

// The taps k = 0..K-1 of a window along one dim, at i = start + k * D
// (start = o * S - P): [lo, hi) are those inside [0, n) (lo = hi = 0 when
// none is); the result is how many lie inside the padded [-P, n + E). O(1),
// not a loop over the taps: this runs once per output column.
inline ptrdiff_t clip_taps(ptrdiff_t start, ptrdiff_t K, ptrdiff_t D, ptrdiff_t n, ptrdiff_t P, ptrdiff_t E,
                           ptrdiff_t& lo, ptrdiff_t& hi) {
  // First and one-past-last k with start + k * D in [a, b).
  auto range = [&](ptrdiff_t a, ptrdiff_t b, ptrdiff_t& k0, ptrdiff_t& k1) {
    k0 = start >= a ? 0 : (a - start + D - 1) / D;
    k1 = start >= b ? 0 : (b - 1 - start) / D + 1;
    if (k1 > K) k1 = K;
    if (k1 < k0) k0 = k1 = 0;
  };
  range(0, n, lo, hi);
  ptrdiff_t p0, p1;
  range(-P, n + E, p0, p1);
  return p1 - p0;
}

// Max over n windows whose taps all lie inside the input: window i's first
// tap is x0[i * step], its rows `row_step` apart, its taps `dilation` apart.
// The first tap, then every tap (the first again changes nothing). Few live
// values, so that a Cortex-M keeps them all in registers; kTaps > 0 fixes
// `taps` (and dilation 1) at compile time, so the row's loop unrolls.
template <int kTaps, class T>
void max_windows(const T* x0, ptrdiff_t n, ptrdiff_t step, ptrdiff_t rows, ptrdiff_t row_step, ptrdiff_t taps,
                 ptrdiff_t dilation, T* y) {
  if (kTaps > 0) taps = kTaps, dilation = 1;
  for (ptrdiff_t i = 0; i < n; ++i, x0 += step) {
    T best = x0[0];
    const T* row = x0;
    for (ptrdiff_t r = 0; r < rows; ++r, row += row_step)
      for (ptrdiff_t k = 0; k < taps; ++k)
        if (max_takes(row[k * dilation], best)) best = row[k * dilation];
    y[i] = best;
  }
}

// max_windows, with the common 2- and 3-tap rows unrolled.
template <class T>
void max_windows_any(const T* x0, ptrdiff_t n, ptrdiff_t step, ptrdiff_t rows, ptrdiff_t row_step, ptrdiff_t taps,
                     ptrdiff_t dilation, T* y) {
  if (taps == 2 && dilation == 1) return max_windows<2>(x0, n, step, rows, row_step, taps, dilation, y);
  if (taps == 3 && dilation == 1) return max_windows<3>(x0, n, step, rows, row_step, taps, dilation, y);
  max_windows<0>(x0, n, step, rows, row_step, taps, dilation, y);
}

// MaxPool of 1-D or 2-D planes without Indices: the same taps, the same
// comparison and the same result as the general loop below, walked row by
// row with each window's rows clipped once per output row and its columns
// only at the borders (the kernel of the int8 and Cortex-M sets: the N-d tap
// iterator costs about 10x more instructions per tap).
template <class T>
void maxpool_planes(const PoolParams& p, const T* x, T* y) {
  using Index = ptrdiff_t;
  const Planes g(p);
  const Index H = g.H, W = g.W, OH = g.OH, OW = g.OW, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, DH = g.DH,
              DW = g.DW, PH = g.PH, PW = g.PW;
  // Output columns [ow_lo, ow_hi) have every tap inside the row: no clipping.
  const Index last_tap = (KW - 1) * DW;
  const Index ow_lo = km::min(OW, (PW + SW - 1) / SW);
  const Index ow_hi = W - 1 + PW - last_tap < 0 ? ow_lo : km::max(ow_lo, km::min(OW, (W - 1 + PW - last_tap) / SW + 1));
  for (Index plane = 0; plane < static_cast<Index>(p.planes); ++plane) {
    const T* xp = x + plane * static_cast<Index>(p.in_size);
    T* yp = y + plane * static_cast<Index>(p.out_size);
    for (Index oh = 0; oh < OH; ++oh) {
      T* yrow = yp + oh * OW;
      Index h0, h1;
      clip_taps(oh * SH - PH, KH, DH, H, 0, 0, h0, h1);
      if (h0 == h1) {  // the window rows are all padding: no tap inside the input
        for (Index ow = 0; ow < OW; ++ow) yrow[ow] = km::limits<T>::lowest();
        continue;
      }
      const Index top = (oh * SH - PH + h0 * DH) * W;  // the first window row inside the input
      auto border = [&](Index ow) {
        Index w0, w1;
        clip_taps(ow * SW - PW, KW, DW, W, 0, 0, w0, w1);
        if (w0 == w1) yrow[ow] = km::limits<T>::lowest();
        else max_windows<0>(xp + (top + ow * SW - PW + w0 * DW), 1, 0, h1 - h0, DH * W, w1 - w0, DW, yrow + ow);
      };
      for (Index ow = 0; ow < ow_lo; ++ow) border(ow);
      if (ow_hi > ow_lo)
        max_windows_any(xp + (top + ow_lo * SW - PW), ow_hi - ow_lo, SW, h1 - h0, DH * W, KW, DW, yrow + ow_lo);
      for (Index ow = ow_hi; ow < OW; ++ow) border(ow);
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
        if (best_flat < 0 || max_takes(v, best)) {
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
  for (Index plane = 0; plane < static_cast<Index>(p.planes); ++plane) {
    const T* xp = x + plane * static_cast<Index>(p.in_size);
    U* yp = y + plane * static_cast<Index>(p.out_size);
    for (Index oh = 0; oh < OH; ++oh) {
      Index h0, h1;
      const Index hp = clip_taps(oh * SH - PH, KH, DH, H, PH, EH, h0, h1);
      for (Index ow = 0; ow < OW; ++ow) {
        Index w0, w1;
        const Index wp = clip_taps(ow * SW - PW, KW, DW, W, PW, EW, w0, w1);
        Acc sum = 0;
        if (DH == 1 && DW == 1 && w1 - w0 == W) {
          // Whole rows (a pool over the full width, as in a CNN's head): one
          // contiguous run, the same values in the same order.
          const T* run = xp + (oh * SH + h0 - PH) * W;
          for (Index i = 0, n = (h1 - h0) * W; i < n; ++i) sum += run[i];
        } else {
          for (Index kh = h0; kh < h1; ++kh) {
            const T* row = xp + ((oh * SH + kh * DH - PH) * W + ow * SW - PW + w0 * DW);
            for (Index kw = 0; kw < w1 - w0; ++kw) sum += row[kw * DW];
          }
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
    // From the first value (a plane of -inf gives -inf), then max_takes.
    T best = size > 0 ? x[c * size] : km::limits<T>::lowest();
    for (int64_t i = 1; i < size; ++i) {
      const T v = x[c * size + i];
      if (max_takes(v, best)) best = v;
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
