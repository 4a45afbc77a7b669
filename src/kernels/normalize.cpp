// Normalization and reduction kernels (kernels/normalize.h). Portable:
// freestanding C++17.
#include "kernels/normalize.h"

#include <math.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

namespace {
// Accumulator type: double for floating inputs, int64 for integers, whose
// sums and products wrap around (km::wrap_add, km::wrap_mul) as in ONNX Runtime.
template <class T> struct AccOf { using type = int64_t; };
template <> struct AccOf<float> { using type = double; };
template <> struct AccOf<double> { using type = double; };
template <class T>
using Acc = typename AccOf<T>::type;
template <class T>
constexpr bool kIsFloat = static_cast<T>(0.5) != static_cast<T>(0);
// (NaN and infinity tests use the compiler builtins: <math.h>'s isnan and
// isinf macros hide km::isnan / km::isinf in a freestanding host build.)
template <class T>
constexpr bool kIsUnsigned = static_cast<T>(-1) > static_cast<T>(0);

// A double result (a logarithm, a square root) as T: integer types saturate
// (the LogSum of zeros is -inf) and NaN becomes 0, where a plain cast would
// be undefined.
template <class T>
T from_double(double v) {
  if constexpr (!kIsFloat<T>) {
    if (__builtin_isnan(v)) return T(0);
    if (v <= static_cast<double>(km::limits<T>::lowest())) return km::limits<T>::lowest();
    if (v >= static_cast<double>(km::limits<T>::max())) return km::limits<T>::max();
  }
  return static_cast<T>(v);
}

template <class T>
inline bool is_nan(T v) {
  if constexpr (kIsFloat<T>) return __builtin_isnan(v);
  else return false;
}

template <class T>
inline Acc<T> abs_acc(T v) {
  const Acc<T> a = static_cast<Acc<T>>(v);
  if constexpr (kIsUnsigned<T>) return a;
  else return v < T(0) ? km::wrap_mul(a, Acc<T>(-1)) : a;  // |INT64_MIN| wraps to itself
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
      const T e = km::exp(xr[j * s] - m);
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
    for (int64_t j = 0; j < n; ++j) sum += km::exp(static_cast<double>(xr[j * s] - m));
    // (x - m) - log(sum): subtracting m first keeps precision for large x.
    const T lse = static_cast<T>(km::log(sum));
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

namespace {
// Calls f(j, scale_offset, bias_offset) for the n elements of one row, j in
// row-major order over the normalized dims (an odometer over p.shape).
template <class F>
void for_each_affine(const LayerNormParams& p, F&& f) {
  if (p.n == 0) return;
  if (p.rank == 0) {
    f(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  const int last = p.rank - 1;
  const int64_t len = p.shape[last], ss = p.scale_stride[last], bs = p.bias_stride[last];
  int64_t idx[RTML_MAX_RANK] = {};
  int64_t so = 0, bo = 0;
  for (int64_t j = 0; j < p.n; j += len) {
    for (int64_t i = 0; i < len; ++i) f(j + i, so + i * ss, bo + i * bs);
    for (int d = last - 1; d >= 0; --d) {
      ++idx[d];
      so += p.scale_stride[d];
      bo += p.bias_stride[d];
      if (idx[d] < p.shape[d]) break;
      so -= p.scale_stride[d] * p.shape[d];
      bo -= p.bias_stride[d] * p.shape[d];
      idx[d] = 0;
    }
  }
}
}  // namespace

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
    const double inv = 1.0 / km::sqrt(var + p.epsilon);
    const T m = static_cast<T>(mean), is = static_cast<T>(inv);
    if (mean_out) mean_out[r] = m;
    if (inv_std_out) inv_std_out[r] = is;
    if (p.has_bias)
      for_each_affine(p, [&](int64_t j, int64_t s, int64_t b) { yr[j] = (xr[j] - m) * is * scale[s] + bias[b]; });
    else
      for_each_affine(p, [&](int64_t j, int64_t s, int64_t) { yr[j] = (xr[j] - m) * is * scale[s]; });
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
      const T k = static_cast<T>(scale[c] / km::sqrt(var + p.epsilon));
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
        norm += lp.p == 1 ? km::fabs(v) : v * v;
      }
      if (lp.p == 2) norm = km::sqrt(norm);
      for (int64_t j = 0; j < n; ++j) yr[j * s] = norm == 0 ? T(0) : static_cast<T>(xr[j * s] / norm);
    }
}

// --- Reductions ---------------------------------------------------------------------------

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
  int64_t idx[RTML_MAX_RANK] = {};
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

template <class T, ReduceKind K>
T reduce_one(const ReduceParams& p, const T* base) {
  using A = Acc<T>;
  constexpr bool kFloat = kIsFloat<T>;
  switch (K) {
    case ReduceKind::Sum:
    case ReduceKind::Mean: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc = km::wrap_add(acc, static_cast<A>(v)); });
      if (K == ReduceKind::Sum) return static_cast<T>(acc);
      if (p.red_count == 0) return kFloat ? static_cast<T>(NAN) : T(0);
      return static_cast<T>(acc / static_cast<A>(p.red_count));
    }
    case ReduceKind::Max:
    case ReduceKind::Min: {
      const bool is_max = K == ReduceKind::Max;
      T acc = kFloat ? (is_max ? static_cast<T>(-INFINITY) : static_cast<T>(INFINITY))
                     : (is_max ? km::limits<T>::lowest() : km::limits<T>::max());
      // NaN propagates: once acc is NaN no comparison replaces it.
      if (is_max) for_each_reduced(p, base, [&](T v) { if (v > acc || is_nan(v)) acc = v; });
      else for_each_reduced(p, base, [&](T v) { if (v < acc || is_nan(v)) acc = v; });
      return acc;
    }
    case ReduceKind::Prod: {
      A acc = 1;
      for_each_reduced(p, base, [&](T v) { acc = km::wrap_mul(acc, static_cast<A>(v)); });
      return static_cast<T>(acc);
    }
    case ReduceKind::L1: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc = km::wrap_add(acc, abs_acc(v)); });
      return static_cast<T>(acc);
    }
    case ReduceKind::SumSquare:
    case ReduceKind::L2: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) {
        const A a = static_cast<A>(v);
        acc = km::wrap_add(acc, km::wrap_mul(a, a));
      });
      if (K == ReduceKind::SumSquare) return static_cast<T>(acc);
      return from_double<T>(km::sqrt(static_cast<double>(acc)));
    }
    case ReduceKind::LogSum: {
      A acc = 0;
      for_each_reduced(p, base, [&](T v) { acc = km::wrap_add(acc, static_cast<A>(v)); });
      return from_double<T>(km::log(static_cast<double>(acc)));
    }
    case ReduceKind::LogSumExp: {
      double m = -static_cast<double>(INFINITY);
      for_each_reduced(p, base, [&](T v) { if (static_cast<double>(v) > m || is_nan(v)) m = static_cast<double>(v); });
      if (__builtin_isinf(m) || __builtin_isnan(m)) return from_double<T>(m);
      double acc = 0;
      for_each_reduced(p, base, [&](T v) { acc += km::exp(static_cast<double>(v) - m); });
      return from_double<T>(m + km::log(acc));
    }
  }
  return T(0);
}

}  // namespace

template <class T, ReduceKind K>
void reduce(const ReduceParams& p, const T* x, T* y) {
  if (p.out_count == 0) return;
  int64_t idx[RTML_MAX_RANK] = {};
  int64_t off = 0;
  for (int64_t o = 0; o < p.out_count; ++o) {
    y[o] = reduce_one<T, K>(p, x + off);
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
void arg_reduce(const ArgParams& ap, bool is_max, const T* x, int64_t* y) {
  const AxisParams& p = ap.axis;
  const int64_t n = p.n, s = p.inner;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const T* xr = x + o * n * s + i;
      int64_t best = 0;
      T bv = xr[0];
      for (int64_t j = 1; j < n; ++j) {
        const T v = xr[j * s];
        const bool better = is_max ? (ap.select_last_index ? v >= bv : v > bv)
                                      : (ap.select_last_index ? v <= bv : v < bv);
        if (better) {
          best = j;
          bv = v;
        }
      }
      y[o * p.inner + i] = best;
    }
}

}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

namespace rtml::kernels {
namespace {

template <class T, void (*F)(const AxisParams&, const T*, T*)>
int axis_entry(const void* params, void* const* operands) {
  F(*static_cast<const AxisParams*>(params), static_cast<const T*>(operands[0]), static_cast<T*>(operands[1]));
  return 0;
}

template <class T>
int layer_norm_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const LayerNormParams*>(params);
  const int o = p.num_inputs;
  layer_norm<T>(p, static_cast<const T*>(operands[0]), static_cast<const T*>(operands[1]),
                p.has_bias ? static_cast<const T*>(operands[2]) : nullptr, static_cast<T*>(operands[o]),
                p.num_outputs > 1 ? static_cast<T*>(operands[o + 1]) : nullptr,
                p.num_outputs > 2 ? static_cast<T*>(operands[o + 2]) : nullptr);
  return 0;
}

template <class T>
int instance_norm_entry(const void* params, void* const* operands) {
  instance_norm<T>(*static_cast<const InstanceNormParams*>(params), static_cast<const T*>(operands[0]),
                   static_cast<const T*>(operands[1]), static_cast<const T*>(operands[2]),
                   static_cast<T*>(operands[3]));
  return 0;
}

template <class T>
int lp_norm_entry(const void* params, void* const* operands) {
  lp_norm<T>(*static_cast<const LpNormParams*>(params), static_cast<const T*>(operands[0]),
             static_cast<T*>(operands[1]));
  return 0;
}

template <class T, ReduceKind K>
int reduce_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const ReduceParams*>(params);
  reduce<T, K>(p, static_cast<const T*>(operands[0]), static_cast<T*>(operands[p.out_slot]));
  return 0;
}

template <class T, bool IsMax>
int arg_entry(const void* params, void* const* operands) {
  arg_reduce<T>(*static_cast<const ArgParams*>(params), IsMax, static_cast<const T*>(operands[0]),
                static_cast<int64_t*>(operands[1]));
  return 0;
}

}  // namespace
}  // namespace rtml::kernels

#define RTML_NORMALIZE_DEFINE_FLOAT(t, T)                                                                      \
  RTML_KERNEL(rtml_##t##_softmax__ref) { return rtml::kernels::axis_entry<T, rtml::kernels::softmax<T>>(params, operands); } \
  RTML_KERNEL(rtml_##t##_log_softmax__ref) {                                                                 \
    return rtml::kernels::axis_entry<T, rtml::kernels::log_softmax<T>>(params, operands);                    \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_hardmax__ref) { return rtml::kernels::axis_entry<T, rtml::kernels::hardmax<T>>(params, operands); } \
  RTML_KERNEL(rtml_##t##_layer_norm__ref) { return rtml::kernels::layer_norm_entry<T>(params, operands); }   \
  RTML_KERNEL(rtml_##t##_instance_norm__ref) { return rtml::kernels::instance_norm_entry<T>(params, operands); } \
  RTML_KERNEL(rtml_##t##_lp_norm__ref) { return rtml::kernels::lp_norm_entry<T>(params, operands); }
RTML_NORMALIZE_FLOAT_TYPES(RTML_NORMALIZE_DEFINE_FLOAT)

#define RTML_NORMALIZE_DEFINE_REDUCE(t, T)                                                                  \
  RTML_KERNEL(rtml_##t##_argmax__ref) { return rtml::kernels::arg_entry<T, true>(params, operands); }       \
  RTML_KERNEL(rtml_##t##_argmin__ref) { return rtml::kernels::arg_entry<T, false>(params, operands); }
#define RTML_NORMALIZE_DEFINE_KIND(t, T, name, Kind)                                                       \
  RTML_KERNEL(rtml_##t##_reduce_##name##__ref) {                                                            \
    return rtml::kernels::reduce_entry<T, rtml::kernels::ReduceKind::Kind>(params, operands);               \
  }
#define RTML_NORMALIZE_DEFINE_KINDS(t, T)                                                                   \
  RTML_NORMALIZE_DEFINE_REDUCE(t, T)                                                                        \
  RTML_NORMALIZE_DEFINE_KIND(t, T, sum, Sum) RTML_NORMALIZE_DEFINE_KIND(t, T, mean, Mean)                   \
  RTML_NORMALIZE_DEFINE_KIND(t, T, max, Max) RTML_NORMALIZE_DEFINE_KIND(t, T, min, Min)                     \
  RTML_NORMALIZE_DEFINE_KIND(t, T, prod, Prod) RTML_NORMALIZE_DEFINE_KIND(t, T, l1, L1)                     \
  RTML_NORMALIZE_DEFINE_KIND(t, T, l2, L2) RTML_NORMALIZE_DEFINE_KIND(t, T, log_sum, LogSum)                \
  RTML_NORMALIZE_DEFINE_KIND(t, T, log_sum_exp, LogSumExp) RTML_NORMALIZE_DEFINE_KIND(t, T, sum_square, SumSquare)
RTML_NORMALIZE_ANY_TYPES(RTML_NORMALIZE_DEFINE_KINDS)
