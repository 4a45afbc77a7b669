#include "kernels/normalize.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace rtml::kernels {

namespace {
// Accumulator type: double for floating inputs, int64 for integers.
template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// A double result (a logarithm, a square root) as T: integer types saturate
// (the LogSum of zeros is -inf) and NaN becomes 0, where a plain cast would
// be undefined.
template <class T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  }
  return static_cast<T>(v);
}

template <class T>
inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

template <class T>
inline Acc<T> abs_acc(T v) {
  if constexpr (std::is_unsigned_v<T>) return static_cast<Acc<T>>(v);
  else return v < T(0) ? -static_cast<Acc<T>>(v) : static_cast<Acc<T>>(v);
}
}  // namespace

// --- Softmax family ------------------------------------------------------------

namespace {
// Calls f(xr, yr) for every row along the axis: p.n elements, stride p.inner.
template <class T, class F>
void for_each_row(const AxisParams& p, const T* x, T* y, F&& f) {
  const int64_t n = p.n, s = p.inner;
  if (n == 0) return;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < s; ++i) f(x + o * n * s + i, y + o * n * s + i);
}

template <class T>
T row_max(const T* xr, int64_t n, int64_t s) {
  T m = xr[0];
  for (int64_t j = 1; j < n; ++j) m = xr[j * s] > m ? xr[j * s] : m;
  return m;
}
}  // namespace

template <class T>
void softmax(const AxisParams& p, const T* x, T* y) {
  const int64_t n = p.n, s = p.inner;
  for_each_row(p, x, y, [&](const T* xr, T* yr) {
    const T m = row_max(xr, n, s);
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T e = std::exp(xr[j * s] - m);
      yr[j * s] = e;
      sum += e;
    }
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) yr[j * s] *= inv;
  });
}

template <class T>
void log_softmax(const AxisParams& p, const T* x, T* y) {
  const int64_t n = p.n, s = p.inner;
  for_each_row(p, x, y, [&](const T* xr, T* yr) {
    const T m = row_max(xr, n, s);
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(xr[j * s] - m));
    // (x - m) - log(sum): subtracting m first keeps precision for large x.
    const T lse = static_cast<T>(std::log(sum));
    for (int64_t j = 0; j < n; ++j) yr[j * s] = (xr[j * s] - m) - lse;
  });
}

template <class T>
void hardmax(const AxisParams& p, const T* x, T* y) {
  const int64_t n = p.n, s = p.inner;
  for_each_row(p, x, y, [&](const T* xr, T* yr) {
    int64_t best = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (xr[j * s] > xr[best * s]) best = j;
      yr[j * s] = T(0);
    }
    yr[best * s] = T(1);
  });
}

// --- LayerNormalization --------------------------------------------------------------

template <class T>
void layer_norm(const LayerNormParams& p, const T* x, const T* scale, const T* bias, T* y, T* mean_out,
                T* inv_std_out) {
  const int64_t n = p.n;
  for (int64_t r = 0; r < p.outer; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += xr[j];
    const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
    double sq = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double d = xr[j] - mean;
      sq += d * d;
    }
    const double var = n > 0 ? sq / static_cast<double>(n) : 0.0;
    const double inv = 1.0 / std::sqrt(var + p.epsilon);
    const T m = static_cast<T>(mean), is = static_cast<T>(inv);
    if (mean_out) mean_out[r] = m;
    if (inv_std_out) inv_std_out[r] = is;
    if (p.has_bias)
      broadcast_for_each(p.affine, [&](int64_t j, int64_t s, int64_t b, int64_t) {
        yr[j] = (xr[j] - m) * is * scale[s] + bias[b];
      });
    else
      broadcast_for_each(p.affine, [&](int64_t j, int64_t s, int64_t, int64_t) { yr[j] = (xr[j] - m) * is * scale[s]; });
  }
}

// --- InstanceNormalization -----------------------------------------------------------

template <class T>
void instance_norm(const InstanceNormParams& p, const T* x, const T* scale, const T* bias, T* y) {
  const int64_t S = p.spatial;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t c = 0; c < p.channels; ++c) {
      const int64_t off = (b * p.channels + c) * S;
      const T* xr = x + off;
      T* yr = y + off;
      double sum = 0;
      for (int64_t j = 0; j < S; ++j) sum += xr[j];
      const double mean = S > 0 ? sum / static_cast<double>(S) : 0.0;
      double sq = 0;
      for (int64_t j = 0; j < S; ++j) {
        const double d = xr[j] - mean;
        sq += d * d;
      }
      const double var = S > 0 ? sq / static_cast<double>(S) : 0.0;
      const T k = static_cast<T>(scale[c] / std::sqrt(var + p.epsilon));
      const T m = static_cast<T>(mean);
      const T bc = bias[c];
      for (int64_t j = 0; j < S; ++j) yr[j] = (xr[j] - m) * k + bc;
    }
}

// --- LpNormalization -------------------------------------------------------------------

template <class T>
void lp_norm(const LpNormParams& lp, const T* x, T* y) {
  const AxisParams& p = lp.axis;
  const int64_t n = p.n, s = p.inner;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* xr = x + o * n * s + i;
      T* yr = y + o * n * s + i;
      double norm = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double v = xr[j * s];
        norm += lp.p == 1 ? std::fabs(v) : v * v;
      }
      if (lp.p == 2) norm = std::sqrt(norm);
      for (int64_t j = 0; j < n; ++j) yr[j * s] = norm == 0 ? T(0) : static_cast<T>(xr[j * s] / norm);
    }
}

// --- Reductions ---------------------------------------------------------------------------

bool make_reduce(const Shape& shape, const std::vector<bool>& reduced, ReduceParams& p) {
  p.kept_rank = p.red_rank = 0;
  p.out_count = p.red_count = 1;
  const int rank = static_cast<int>(shape.size());
  int last_group = -1;  // 0 kept, 1 reduced
  int64_t stride = 1;
  // Walk from the innermost dim so strides accumulate; build groups reversed.
  int64_t ks[kMaxRank * 2], kd[kMaxRank * 2], rs[kMaxRank * 2], rd[kMaxRank * 2];
  int nk = 0, nr = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t dim = shape[d];
    const bool red = reduced[d];
    if (red) p.red_count *= dim;
    else p.out_count *= dim;
    if (dim != 1) {
      const int group = red ? 1 : 0;
      if (group == last_group) {
        // Adjacent (inner) dim of the same group: merge; stride stays the inner one.
        (red ? rd[nr - 1] : kd[nk - 1]) *= dim;
      } else {
        if (nk >= kMaxRank || nr >= kMaxRank) return false;
        if (red) {
          rd[nr] = dim;
          rs[nr++] = stride;
        } else {
          kd[nk] = dim;
          ks[nk++] = stride;
        }
        last_group = group;
      }
    }
    stride *= dim;
  }
  p.kept_rank = nk;
  p.red_rank = nr;
  for (int i = 0; i < nk; ++i) {
    p.kept_shape[i] = kd[nk - 1 - i];
    p.kept_stride[i] = ks[nk - 1 - i];
  }
  for (int i = 0; i < nr; ++i) {
    p.red_shape[i] = rd[nr - 1 - i];
    p.red_stride[i] = rs[nr - 1 - i];
  }
  return true;
}

namespace {

// Calls f(value) for every reduced element under `base`.
template <class T, class F>
inline void for_each_reduced(const ReduceParams& p, const T* base, F&& f) {
  if (p.red_count == 0) return;
  if (p.red_rank == 0) {
    f(base[0]);
    return;
  }
  const int last = p.red_rank - 1;
  const int64_t n = p.red_shape[last], s = p.red_stride[last];
  int64_t idx[kMaxRank] = {};
  int64_t off = 0;
  while (true) {
    const T* q = base + off;
    for (int64_t i = 0; i < n; ++i) f(q[i * s]);
    int d = last - 1;
    for (; d >= 0; --d) {
      ++idx[d];
      off += p.red_stride[d];
      if (idx[d] < p.red_shape[d]) break;
      off -= p.red_stride[d] * p.red_shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <class T>
T reduce_one(const ReduceParams& p, const T* base) {
  using A = Acc<T>;
  constexpr bool kFloat = std::is_floating_point_v<T>;
  switch (p.kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += v; });
      if (p.kind == ReduceKind::Sum) return static_cast<T>(acc);
      if (p.red_count == 0) return kFloat ? std::numeric_limits<T>::quiet_NaN() : T(0);
      return static_cast<T>(acc / static_cast<A>(p.red_count));
    }
    case ReduceKind::Max:
    case ReduceKind::Min: {
      const bool is_max = p.kind == ReduceKind::Max;
      T acc = kFloat ? (is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity())
                     : (is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max());
      // NaN propagates: once acc is NaN no comparison replaces it.
      if (is_max) for_each_reduced(p, base, [&](T v) { if (v > acc || is_nan(v)) acc = v; });
      else for_each_reduced(p, base, [&](T v) { if (v < acc || is_nan(v)) acc = v; });
      return acc;
    }
    case ReduceKind::Prod: {
      A acc = 1;
      for_each_reduced(p, base, [&](T v) { acc *= v; });
      return static_cast<T>(acc);
    }
    case ReduceKind::L1: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += abs_acc(v); });
      return static_cast<T>(acc);
    }
    case ReduceKind::SumSquare:
    case ReduceKind::L2: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += static_cast<A>(v) * static_cast<A>(v); });
      if (p.kind == ReduceKind::SumSquare) return static_cast<T>(acc);
      return from_double<T>(std::sqrt(static_cast<double>(acc)));
    }
    case ReduceKind::LogSum: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += v; });
      return from_double<T>(std::log(static_cast<double>(acc)));
    }
    case ReduceKind::LogSumExp: {
      double m = -std::numeric_limits<double>::infinity();
      for_each_reduced(p, base, [&](T v) { if (static_cast<double>(v) > m || is_nan(v)) m = static_cast<double>(v); });
      if (std::isinf(m) || std::isnan(m)) return from_double<T>(m);
      double acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += std::exp(static_cast<double>(v) - m); });
      return from_double<T>(m + std::log(acc));
    }
  }
  return T(0);
}

}  // namespace

template <class T>
void reduce(const ReduceParams& p, const T* x, T* y) {
  if (p.out_count == 0) return;
  int64_t idx[kMaxRank] = {};
  int64_t off = 0;
  for (int64_t o = 0; o < p.out_count; ++o) {
    y[o] = reduce_one<T>(p, x + off);
    for (int d = p.kept_rank - 1; d >= 0; --d) {
      ++idx[d];
      off += p.kept_stride[d];
      if (idx[d] < p.kept_shape[d]) break;
      off -= p.kept_stride[d] * p.kept_shape[d];
      idx[d] = 0;
    }
  }
}

// --- ArgMax / ArgMin -----------------------------------------------------------------------

template <class T>
void arg_reduce(const ArgParams& ap, const T* x, int64_t* y) {
  const AxisParams& p = ap.axis;
  const int64_t n = p.n, s = p.inner;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* xr = x + o * n * s + i;
      int64_t best = 0;
      T bv = xr[0];
      for (int64_t j = 1; j < n; ++j) {
        const T v = xr[j * s];
        const bool better = ap.is_max ? (ap.select_last_index ? v >= bv : v > bv)
                                      : (ap.select_last_index ? v <= bv : v < bv);
        if (better) {
          best = j;
          bv = v;
        }
      }
      y[o * p.inner + i] = best;
    }
}

#define RTML_NORM_FLOAT(T)                                                                           \
  template void softmax<T>(const AxisParams&, const T*, T*);                                         \
  template void log_softmax<T>(const AxisParams&, const T*, T*);                                     \
  template void hardmax<T>(const AxisParams&, const T*, T*);                                         \
  template void layer_norm<T>(const LayerNormParams&, const T*, const T*, const T*, T*, T*, T*);     \
  template void instance_norm<T>(const InstanceNormParams&, const T*, const T*, const T*, T*);       \
  template void lp_norm<T>(const LpNormParams&, const T*, T*);

#define RTML_NORM_ANY(T)                                          \
  template void reduce<T>(const ReduceParams&, const T*, T*);     \
  template void arg_reduce<T>(const ArgParams&, const T*, int64_t*);

RTML_NORM_FLOAT(float)
RTML_NORM_FLOAT(double)
RTML_NORM_ANY(float)
RTML_NORM_ANY(double)
RTML_NORM_ANY(int32_t)
RTML_NORM_ANY(int64_t)
RTML_NORM_ANY(uint8_t)
RTML_NORM_ANY(int8_t)

}  // namespace rtml::kernels
