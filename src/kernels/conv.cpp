#include "kernels/conv.h"

#include <stddef.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

namespace {

int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  // Stride 1, the usual case, without a division: a 64-bit division is a
  // library call on 32-bit cores (__aeabi_ldivmod on a Cortex-M), and every
  // tap's range takes two per dimension.
  if (b == 1) return a;
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }  // b > 0

// Along one dimension (input size in, output size out, stride s), the
// outputs [lo, hi) whose tap at offset off (tap * dilation - pad) reads
// inside the input: o * s + off in [0, in).
void tap_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  *lo = km::max<int64_t>(0, ceil_div(-off, s));
  *hi = km::min<int64_t>(out, floor_div(in - 1 - off, s) + 1);
}

// Row-major strides of a spatial shape.
void spatial_strides(int spatial, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int d = spatial - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d];
  }
}

// Advances a multi-index over dims [0, n) of `shape`; returns false after the last.
bool next_index(int64_t* idx, const int64_t* shape, int n) {
  for (int d = n - 1; d >= 0; --d) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// yr[k] += wv * xr[k * s] for k in [0, n): one tap's run along a row.
// (ptrdiff_t: 32-bit indexes on a 32-bit core.)
inline void add_scaled_run(float* yr, const float* xr, ptrdiff_t n, ptrdiff_t s, float wv) {
  if (s == 1) {
    for (ptrdiff_t k = 0; k < n; ++k) yr[k] += wv * xr[k];
  } else {
    for (ptrdiff_t k = 0; k < n; ++k) yr[k] += wv * xr[k * s];
  }
}

// Adds wv * x[tap-shifted] to every output position of one plane (Conv).
//   "dst" positions o (output plane), "src" positions o*stride + tap*dil - pad (input plane).
void conv_tap(const ConvParams& p, const int64_t* tap, float wv, const float* xp, float* yp,
              const int64_t* in_strides, const int64_t* out_strides) {
  const int last = p.spatial - 1;
  const int64_t s = p.stride[last];
  const int64_t off = tap[last] * p.dilation[last] - p.pad_begin[last];
  int64_t lo = 0, hi = 0;
  tap_range(off, s, p.in_shape[last], p.out_shape[last], &lo, &hi);
  if (lo >= hi) return;
  int64_t o[kMaxSpatial] = {};
  do {
    int64_t in_base = 0, out_base = 0;
    bool inside = true;
    for (int d = 0; d < last; ++d) {
      const int64_t i = o[d] * p.stride[d] + tap[d] * p.dilation[d] - p.pad_begin[d];
      if (i < 0 || i >= p.in_shape[d]) {
        inside = false;
        break;
      }
      in_base += i * in_strides[d];
      out_base += o[d] * out_strides[d];
    }
    if (inside) {
      const float* xr = xp + in_base + lo * s + off;  // lo*s + off >= 0
      add_scaled_run(yp + out_base + lo, xr, static_cast<ptrdiff_t>(hi - lo), static_cast<ptrdiff_t>(s), wv);
    }
  } while (next_index(o, p.out_shape, last));
}

// Scatters wv * x[i] to y[i*stride + tap*dil - pad] for every input position (ConvTranspose).
void conv_transpose_tap(const ConvParams& p, const int64_t* tap, float wv, const float* xp, float* yp,
                        const int64_t* in_strides, const int64_t* out_strides) {
  const int last = p.spatial - 1;
  const int64_t s = p.stride[last];
  const int64_t off = tap[last] * p.dilation[last] - p.pad_begin[last];
  const int64_t I = p.in_shape[last], O = p.out_shape[last];
  const int64_t lo = km::max<int64_t>(0, ceil_div(-off, s));
  const int64_t hi = km::min<int64_t>(I, floor_div(O - 1 - off, s) + 1);
  if (lo >= hi) return;
  int64_t i[kMaxSpatial] = {};
  do {
    int64_t in_base = 0, out_base = 0;
    bool inside = true;
    for (int d = 0; d < last; ++d) {
      const int64_t o = i[d] * p.stride[d] + tap[d] * p.dilation[d] - p.pad_begin[d];
      if (o < 0 || o >= p.out_shape[d]) {
        inside = false;
        break;
      }
      in_base += i[d] * in_strides[d];
      out_base += o * out_strides[d];
    }
    if (inside) {
      const float* xr = xp + in_base + lo;
      float* yr = yp + out_base + lo * s + off;  // lo*s + off >= 0
      const int64_t n = hi - lo;
      for (int64_t k = 0; k < n; ++k) yr[k * s] += wv * xr[k];
    }
  } while (next_index(i, p.in_shape, last));
}

void fill_bias(const ConvParams& p, const float* bias, float* y) {
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      float* yp = y + (n * p.out_channels + m) * p.out_size;
      const float b = bias ? bias[m] : 0.0f;
      for (int64_t i = 0; i < p.out_size; ++i) yp[i] = b;
    }
}

// The outputs one tap of a 1-D or 2-D convolution adds to, worked out once
// per call for every (output channel, input channel) pair: `rows` rows of
// `n` outputs from y (the next row out_row further), input from x (the next
// row in_row further, columns `stride` apart). Those are conv_tap's rows and
// columns, so the sums are the same in the same order; per pair only the
// runs are left (a row band of a tiled plan has few rows: what conv_tap
// works out per pair cost more than its products).
struct TapRun {
  ptrdiff_t x, y, rows, n;
};
constexpr int64_t kMaxTapRuns = 25;  // taps (5 x 5): 400 B of stack on a 32-bit core

struct TapRuns {
  TapRun run[kMaxTapRuns];
  ptrdiff_t in_row, out_row, stride;
};

bool tap_runs(const ConvParams& p, TapRuns& t) {
  if (p.spatial > 2 || p.kernel_size > kMaxTapRuns) return false;
  const int last = p.spatial - 1;
  const int64_t s = p.stride[last], L = p.in_shape[last], O = p.out_shape[last];
  const int64_t sh = p.spatial == 2 ? p.stride[0] : 1;
  t.in_row = static_cast<ptrdiff_t>(sh * L);
  t.out_row = static_cast<ptrdiff_t>(O);
  t.stride = static_cast<ptrdiff_t>(s);
  int64_t tap[kMaxSpatial] = {};
  for (int64_t k = 0; k < p.kernel_size; ++k) {
    const int64_t off = tap[last] * p.dilation[last] - p.pad_begin[last];
    int64_t lo = 0, hi = 0, r0 = 0, r1 = 1, offh = 0;
    tap_range(off, s, L, O, &lo, &hi);
    if (p.spatial == 2) {
      offh = tap[0] * p.dilation[0] - p.pad_begin[0];
      tap_range(offh, sh, p.in_shape[0], p.out_shape[0], &r0, &r1);
    }
    TapRun& r = t.run[k];
    r.rows = lo < hi && r0 < r1 ? static_cast<ptrdiff_t>(r1 - r0) : 0;
    r.n = static_cast<ptrdiff_t>(hi - lo);
    r.x = r.rows ? static_cast<ptrdiff_t>((r0 * sh + offh) * L + lo * s + off) : 0;
    r.y = r.rows ? static_cast<ptrdiff_t>(r0 * O + lo) : 0;
    next_index(tap, p.kernel, p.spatial);
  }
  return true;
}

// conv_tap over TapRuns' run of one tap.
inline void tap_run(const TapRuns& t, const TapRun& r, float wv, const float* xp, float* yp) {
  for (ptrdiff_t row = 0; row < r.rows; ++row)
    add_scaled_run(yp + r.y + row * t.out_row, xp + r.x + row * t.in_row, r.n, t.stride, wv);
}

// A 1x1 convolution with stride 1 and no padding: Y's plane is X's.
bool is_pointwise(const ConvParams& p) {
  if (p.kernel_size != 1 || p.in_size != p.out_size) return false;
  for (int d = 0; d < p.spatial; ++d)
    if (p.stride[d] != 1 || p.pad_begin[d] != 0 || p.in_shape[d] != p.out_shape[d]) return false;
  return true;
}

}  // namespace

void conv_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
              const rtml_ew_epilogue* epi, void* const* operands) {
  int64_t in_strides[kMaxSpatial], out_strides[kMaxSpatial];
  spatial_strides(p.spatial, p.in_shape, in_strides);
  spatial_strides(p.spatial, p.out_shape, out_strides);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  fill_bias(p, bias, y);
  if (p.out_size == 0) return;
  const bool pointwise = is_pointwise(p);
  TapRuns runs{};
  const bool by_runs = !pointwise && tap_runs(p, runs);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t g = m / mg;
      float* yp = y + (n * p.out_channels + m) * p.out_size;
      for (int64_t icg = 0; icg < cg; ++icg) {
        const float* xp = x + (n * p.in_channels + g * cg + icg) * p.in_size;
        const float* wp = w + (m * cg + icg) * p.kernel_size;
        if (pointwise) {  // the one tap covers the whole plane: one run, the same sums in the same order
          const float wv = wp[0];
          for (ptrdiff_t i = 0, size = static_cast<ptrdiff_t>(p.out_size); i < size; ++i) yp[i] += wv * xp[i];
          continue;
        }
        if (by_runs) {
          for (int64_t t = 0; t < p.kernel_size; ++t) tap_run(runs, runs.run[t], wp[t], xp, yp);
          continue;
        }
        int64_t tap[kMaxSpatial] = {};
        for (int64_t t = 0; t < p.kernel_size; ++t) {
          conv_tap(p, tap, wp[t], xp, yp, in_strides, out_strides);
          next_index(tap, p.kernel, p.spatial);
        }
      }
      if (epi) {
        const int64_t at = yp - y;
        rtml_ew_epilogue_apply_ref(epi, y, operands, at, at + p.out_size);
      }
    }
}

void conv_transpose_f32(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  int64_t in_strides[kMaxSpatial], out_strides[kMaxSpatial];
  spatial_strides(p.spatial, p.in_shape, in_strides);
  spatial_strides(p.spatial, p.out_shape, out_strides);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  fill_bias(p, bias, y);
  if (p.out_size == 0 || p.in_size == 0) return;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const int64_t g = c / cg;
      const float* xp = x + (n * p.in_channels + c) * p.in_size;
      for (int64_t k = 0; k < mg; ++k) {
        float* yp = y + (n * p.out_channels + g * mg + k) * p.out_size;
        const float* wp = w + (c * mg + k) * p.kernel_size;
        int64_t tap[kMaxSpatial] = {};
        for (int64_t t = 0; t < p.kernel_size; ++t) {
          conv_transpose_tap(p, tap, wp[t], xp, yp, in_strides, out_strides);
          next_index(tap, p.kernel, p.spatial);
        }
      }
    }
}

void batchnorm_f32(const BatchNormParams& p, const float* x, const float* scale, const float* bias,
                   const float* mean, const float* var, float* y) {
  for (int64_t c = 0; c < p.channels; ++c) {
    const float a = scale[c] / km::sqrt(var[c] + p.epsilon);
    const float b = bias[c] - mean[c] * a;
    for (int64_t n = 0; n < p.batch; ++n) {
      const int64_t base = (n * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) y[base + i] = x[base + i] * a + b;
    }
  }
}

void batchnorm_training_f32(const BatchNormParams& p, const float* x, const float* scale, const float* bias,
                            const float* mean, const float* var, float* y, float* running_mean,
                            float* running_var) {
  const double count = static_cast<double>(p.batch * p.inner);
  for (int64_t c = 0; c < p.channels; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < p.batch; ++n) {
      const int64_t base = (n * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) sum += x[base + i];
    }
    const double mu = count > 0 ? sum / count : 0.0;
    double sq = 0;
    for (int64_t n = 0; n < p.batch; ++n) {
      const int64_t base = (n * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) {
        const double d = x[base + i] - mu;
        sq += d * d;
      }
    }
    const double v = count > 0 ? sq / count : 0.0;
    const float a = static_cast<float>(scale[c] / km::sqrt(v + p.epsilon));
    const float b = static_cast<float>(bias[c] - mu * a);
    for (int64_t n = 0; n < p.batch; ++n) {
      const int64_t base = (n * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) y[base + i] = x[base + i] * a + b;
    }
    if (running_mean) running_mean[c] = static_cast<float>(mean[c] * p.momentum + mu * (1.0 - p.momentum));
    if (running_var) running_var[c] = static_cast<float>(var[c] * p.momentum + v * (1.0 - p.momentum));
  }
}

}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

RTML_KERNEL(rtml_f32_conv__ref) {
  const auto& p = *static_cast<const rtml_conv_params*>(params);
  rtml::kernels::conv_f32(p, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                          p.out_slot > 2 ? static_cast<const float*>(operands[2]) : nullptr,
                          static_cast<float*>(operands[p.out_slot]));
  return 0;
}

RTML_KERNEL(rtml_f32_conv_chain__ref) {
  const auto& p = *static_cast<const rtml_conv_chain_params*>(params);
  const rtml_conv_params& c = p.conv;
  rtml::kernels::conv_f32(c, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                          c.out_slot > 2 ? static_cast<const float*>(operands[2]) : nullptr,
                          static_cast<float*>(operands[c.out_slot]), &p.epi, operands);
  return 0;
}

RTML_KERNEL(rtml_f32_conv_transpose__ref) {
  const auto& p = *static_cast<const rtml_conv_params*>(params);
  rtml::kernels::conv_transpose_f32(p, static_cast<const float*>(operands[0]), static_cast<const float*>(operands[1]),
                                    p.out_slot > 2 ? static_cast<const float*>(operands[2]) : nullptr,
                                    static_cast<float*>(operands[p.out_slot]));
  return 0;
}

RTML_KERNEL(rtml_f32_batchnorm__ref) {
  auto in = [operands](int i) { return static_cast<const float*>(operands[i]); };
  rtml::kernels::batchnorm_f32(*static_cast<const rtml_batchnorm_params*>(params), in(0), in(1), in(2), in(3), in(4),
                               static_cast<float*>(operands[5]));
  return 0;
}

RTML_KERNEL(rtml_f32_batchnorm_training__ref) {
  const auto& p = *static_cast<const rtml_batchnorm_params*>(params);
  auto in = [operands](int i) { return static_cast<const float*>(operands[i]); };
  rtml::kernels::batchnorm_training_f32(p, in(0), in(1), in(2), in(3), in(4), static_cast<float*>(operands[5]),
                                        p.num_outputs > 1 ? static_cast<float*>(operands[6]) : nullptr,
                                        p.num_outputs > 2 ? static_cast<float*>(operands[7]) : nullptr);
  return 0;
}
