// Elementwise reference kernels (kernels/elementwise.h): one template per
// operation, instantiated per element type by the entry macros at the end.
#include "kernels/elementwise.h"

#include <math.h>
#include <string.h>

#include "kernels/elementwise_chain.h"
#include "kernels/kmath.h"

namespace rtml::kernels {

namespace {

// ---- element types ------------------------------------------------------------

// Storage types for float16 / bfloat16; arithmetic on them runs in float.
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

// The few type traits the templates need (no <type_traits> here).
template <class A, class B>
struct Same { static constexpr bool value = false; };
template <class A>
struct Same<A, A> { static constexpr bool value = true; };
template <class A, class B>
constexpr bool is_same_v = Same<A, B>::value;

template <bool C, class A, class B>
struct Cond { using type = A; };
template <class A, class B>
struct Cond<false, A, B> { using type = B; };
template <bool C, class A, class B>
using conditional_t = typename Cond<C, A, B>::type;

template <class T>
struct Unsigned;
// By the fundamental types: int32_t is long on some targets, int on others.
template <> struct Unsigned<signed char> { using type = unsigned char; };
template <> struct Unsigned<short> { using type = unsigned short; };
template <> struct Unsigned<int> { using type = unsigned; };
template <> struct Unsigned<long> { using type = unsigned long; };
template <> struct Unsigned<long long> { using type = unsigned long long; };
template <> struct Unsigned<unsigned char> { using type = unsigned char; };
template <> struct Unsigned<unsigned short> { using type = unsigned short; };
template <> struct Unsigned<unsigned> { using type = unsigned; };
template <> struct Unsigned<unsigned long> { using type = unsigned long; };
template <> struct Unsigned<unsigned long long> { using type = unsigned long long; };
template <class T>
using make_unsigned_t = typename Unsigned<T>::type;

template <class T>
constexpr bool is_float_v = is_same_v<T, float> || is_same_v<T, double>;
template <class T>
constexpr bool is_int_v = is_same_v<T, int8_t> || is_same_v<T, int16_t> || is_same_v<T, int32_t> ||
                          is_same_v<T, int64_t> || is_same_v<T, uint8_t> || is_same_v<T, uint16_t> ||
                          is_same_v<T, uint32_t> || is_same_v<T, uint64_t>;
// For arithmetic T (float, double and the integers).
template <class T>
constexpr bool is_signed_v = T(-1) < T(0);
template <class T>
constexpr bool is_unsigned_v = is_int_v<T> && !is_signed_v<T>;

// In-memory type for an element type (bool lives in one byte, 0 or 1).
template <class T>
using Mem = conditional_t<is_same_v<T, bool>, uint8_t, T>;

template <class T>
constexpr bool is_half_v = is_same_v<T, Half> || is_same_v<T, BFloat16>;

// The type arithmetic runs in, and loads / stores converting to it.
template <class T>
using Compute = conditional_t<is_half_v<T>, float, T>;

template <class T>
inline Compute<T> load(Mem<T> v) {
  if constexpr (is_same_v<T, Half>) return half_to_float(v.bits);
  else if constexpr (is_same_v<T, BFloat16>) return bfloat16_to_float(v.bits);
  else return static_cast<T>(v);
}

template <class T, class V>
inline Mem<T> store(V v) {
  if constexpr (is_same_v<T, Half>) return Half{float_to_half(static_cast<float>(v))};
  else if constexpr (is_same_v<T, BFloat16>) return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  else return static_cast<Mem<T>>(v);
}

// The stored result type of an op on T whose computed result type is R.
template <class T, class R>
using Result = conditional_t<is_half_v<T> && !is_same_v<R, bool>, T, R>;

// Wrapping integer arithmetic without signed-overflow UB.
template <class T>
using Wide = make_unsigned_t<conditional_t<(sizeof(T) < sizeof(int)), int, T>>;

// ---- unary --------------------------------------------------------------------

enum class UnaryOp : uint8_t {
  Neg, Abs, Sign, Relu,
  Sqrt, Exp, Log, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Tanh, Erf,
  Sigmoid, Reciprocal, Floor, Ceil, Round,
  LeakyRelu,        // x < 0 ? alpha * x : x
  Elu,              // x < 0 ? alpha * (exp(x) - 1) : x
  Selu,             // gamma * (x > 0 ? x : alpha * (exp(x) - 1))
  Celu,             // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
  ThresholdedRelu,  // x > alpha ? x : 0
  HardSigmoid,      // max(0, min(1, alpha * x + beta))
  HardSwish,        // x * max(0, min(1, x / 6 + 1 / 2))
  Softplus,         // log(1 + exp(x)), overflow-free
  Softsign,         // x / (1 + |x|)
  Mish,             // x * tanh(softplus(x))
  Gelu,             // x / 2 * (1 + erf(x / sqrt(2))), as x / 2 * erfc(-x / sqrt(2))
  GeluTanh,         // x / 2 * (1 + tanh(u)), u = sqrt(2 / pi) * (x + 0.044715 x^3), as x * sigmoid(2u)
  IsNaN,            // -> bool
  IsInf,            // -> bool; alpha != 0: detect -inf, beta != 0: detect +inf
  Not,              // bool only
};

enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Mod, FMod, Max, Min, PRelu,   // -> type of a
  Equal, Less, Greater, LessOrEqual, GreaterOrEqual,     // -> bool
  And, Or, Xor,                                          // bool -> bool
  BitShiftLeft, BitShiftRight,                           // unsigned ints
};

using UnaryParams = rtml_unary_params;

// ---- unary functors -------------------------------------------------------------

template <class T>
T round_half_even(T x) {
  if (!km::isfinite(x)) return x;
  T f = km::floor(x);
  T d = x - f;
  if (d > T(0.5)) return f + 1;
  if (d < T(0.5)) return f;
  return km::fmod(f, T(2)) == 0 ? f : f + 1;
}

template <class T>
T softplus(T x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  return (x > 0 ? x : T(0)) + km::log1p(km::exp(-km::fabs(x)));
}

template <class T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + km::exp(-x));
  T e = km::exp(x);
  return e / (T(1) + e);
}

template <UnaryOp Op, class T>
inline auto unary_op(T x, const UnaryParams& p) {
  using R = conditional_t<Op == UnaryOp::IsNaN || Op == UnaryOp::IsInf, bool, T>;
  [[maybe_unused]] const T a = static_cast<T>(p.alpha);
  if constexpr (Op == UnaryOp::Neg) {
    if constexpr (is_int_v<T>) return static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(x));
    else return static_cast<T>(-x);
  } else if constexpr (Op == UnaryOp::Abs) {
    if constexpr (is_unsigned_v<T>) return x;
    else if constexpr (is_int_v<T>) return x < 0 ? static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(x)) : x;
    else return km::fabs(x);
  } else if constexpr (Op == UnaryOp::Sign) {
    if constexpr (is_float_v<T>) { if (km::isnan(x)) return x; }
    return static_cast<T>((T(0) < x) - (x < T(0)));
  } else if constexpr (Op == UnaryOp::Relu) return x > T(0) ? x : T(0);
  else if constexpr (Op == UnaryOp::Sqrt) return km::sqrt(x);
  else if constexpr (Op == UnaryOp::Exp) return km::exp(x);
  else if constexpr (Op == UnaryOp::Log) return km::log(x);
  else if constexpr (Op == UnaryOp::Sin) return km::sin(x);
  else if constexpr (Op == UnaryOp::Cos) return km::cos(x);
  else if constexpr (Op == UnaryOp::Tan) return km::tan(x);
  else if constexpr (Op == UnaryOp::Asin) return km::asin(x);
  else if constexpr (Op == UnaryOp::Acos) return km::acos(x);
  else if constexpr (Op == UnaryOp::Atan) return km::atan(x);
  else if constexpr (Op == UnaryOp::Sinh) return km::sinh(x);
  else if constexpr (Op == UnaryOp::Cosh) return km::cosh(x);
  else if constexpr (Op == UnaryOp::Asinh) return km::asinh(x);
  else if constexpr (Op == UnaryOp::Acosh) return km::acosh(x);
  else if constexpr (Op == UnaryOp::Atanh) return km::atanh(x);
  else if constexpr (Op == UnaryOp::Tanh) return km::tanh(x);
  else if constexpr (Op == UnaryOp::Erf) return km::erf(x);
  else if constexpr (Op == UnaryOp::Sigmoid) return sigmoid(x);
  else if constexpr (Op == UnaryOp::Reciprocal) return T(1) / x;
  else if constexpr (Op == UnaryOp::Floor) return km::floor(x);
  else if constexpr (Op == UnaryOp::Ceil) return km::ceil(x);
  else if constexpr (Op == UnaryOp::Round) return round_half_even(x);
  else if constexpr (Op == UnaryOp::LeakyRelu) return x < 0 ? a * x : x;
  else if constexpr (Op == UnaryOp::Elu) return x < 0 ? a * (km::exp(x) - T(1)) : x;
  else if constexpr (Op == UnaryOp::Selu)
    return static_cast<T>(p.gamma) * (x > 0 ? x : a * km::exp(x) - a);
  else if constexpr (Op == UnaryOp::Celu)
    return (x > 0 ? x : T(0)) + km::fmin(T(0), a * (km::exp(x / a) - T(1)));
  else if constexpr (Op == UnaryOp::ThresholdedRelu) return x > a ? x : T(0);
  else if constexpr (Op == UnaryOp::HardSigmoid)
    return km::fmax(T(0), km::fmin(T(1), a * x + static_cast<T>(p.beta)));
  else if constexpr (Op == UnaryOp::HardSwish) return x * km::fmax(T(0), km::fmin(T(1), x / T(6) + T(0.5)));
  else if constexpr (Op == UnaryOp::Softplus) return softplus(x);
  else if constexpr (Op == UnaryOp::Softsign) return x / (T(1) + km::fabs(x));
  else if constexpr (Op == UnaryOp::Mish) return x * km::tanh(softplus(x));
  else if constexpr (Op == UnaryOp::Gelu) return T(0.5) * x * km::erfc(-x * T(0.70710678118654752440));
  else if constexpr (Op == UnaryOp::GeluTanh) {
    const T u = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
    return x * sigmoid(u + u);
  }
  else if constexpr (Op == UnaryOp::IsNaN) return static_cast<R>(km::isnan(x));
  else if constexpr (Op == UnaryOp::IsInf)
    return static_cast<R>(km::isinf(x) && ((x < 0 && p.alpha != 0) || (x > 0 && p.beta != 0)));
  else if constexpr (Op == UnaryOp::Not) return !x;
}

template <UnaryOp Op, class T>
void unary_impl(const UnaryParams& p, const void* xv, void* yv) {
  using C = Compute<T>;
  using R = Result<T, decltype(unary_op<Op, C>(C{}, p))>;
  const Mem<T>* x = static_cast<const Mem<T>*>(xv);
  Mem<R>* y = static_cast<Mem<R>*>(yv);
  const int64_t n = p.count;
  for (int64_t i = 0; i < n; ++i) y[i] = store<R>(unary_op<Op, C>(load<T>(x[i]), p));
}

// ---- binary functors -------------------------------------------------------------

template <class T>
T int_pow(T base, T exp) {
  if constexpr (is_signed_v<T>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp % 2) ? T(-1) : T(1);
      return 0;  // |base| >= 2: truncates to 0; 0^-n has no integer answer
    }
  }
  Wide<T> r = 1, b = static_cast<Wide<T>>(base);
  auto e = static_cast<make_unsigned_t<T>>(exp);
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return static_cast<T>(r);
}

template <BinaryOp Op, class A, class B>
inline auto binary_op(A a, B b) {
  if constexpr (Op == BinaryOp::Pow) {
    if constexpr (is_int_v<A> && is_int_v<B>) {
      if constexpr (is_same_v<A, B>) return int_pow<A>(a, b);
      else return static_cast<A>(int_pow<int64_t>(static_cast<int64_t>(a), static_cast<int64_t>(b)));
    } else if constexpr (is_same_v<A, float> && is_int_v<B>) {
      return static_cast<A>(km::pow(static_cast<double>(a), static_cast<double>(b)));
    } else if constexpr (is_same_v<A, B>) {
      return static_cast<A>(km::pow(a, b));
    } else {
      double r = km::pow(static_cast<double>(a), static_cast<double>(b));
      if constexpr (is_int_v<A>) {
        if (!(r >= static_cast<double>(km::limits<A>::lowest()) &&
              r <= static_cast<double>(km::limits<A>::max())))
          return A(0);
      }
      return static_cast<A>(r);
    }
  } else {
    using T = A;
    static_assert(is_same_v<A, B>);
    if constexpr (Op == BinaryOp::Add || Op == BinaryOp::Sub || Op == BinaryOp::Mul) {
      if constexpr (is_int_v<T>) {
        Wide<T> x = static_cast<Wide<T>>(a), y = static_cast<Wide<T>>(b);
        if constexpr (Op == BinaryOp::Add) return static_cast<T>(x + y);
        else if constexpr (Op == BinaryOp::Sub) return static_cast<T>(x - y);
        else return static_cast<T>(x * y);
      } else {
        if constexpr (Op == BinaryOp::Add) return static_cast<T>(a + b);
        else if constexpr (Op == BinaryOp::Sub) return static_cast<T>(a - b);
        else return static_cast<T>(a * b);
      }
    } else if constexpr (Op == BinaryOp::Div) {
      if constexpr (is_int_v<T>) {
        if (b == 0) return T(0);
        if constexpr (is_signed_v<T>)
          if (b == T(-1)) return static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(a));
        return static_cast<T>(a / b);
      } else {
        return static_cast<T>(a / b);
      }
    } else if constexpr (Op == BinaryOp::Mod || Op == BinaryOp::FMod) {
      T r;
      if constexpr (is_int_v<T>) {
        if (b == 0) return T(0);
        if constexpr (is_signed_v<T>)
          if (b == T(-1)) return T(0);
        r = static_cast<T>(a % b);
      } else {
        r = km::fmod(a, b);
      }
      if constexpr (Op == BinaryOp::Mod && is_signed_v<T>)
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else if constexpr (Op == BinaryOp::Max || Op == BinaryOp::Min) {
      if constexpr (is_float_v<T>) {
        if (km::isnan(a)) return a;
        if (km::isnan(b)) return b;
      }
      if constexpr (Op == BinaryOp::Max) return a < b ? b : a;
      else return b < a ? b : a;
    } else if constexpr (Op == BinaryOp::PRelu) {
      return a < T(0) ? km::wrap_mul(a, b) : a;
    } else if constexpr (Op == BinaryOp::Equal) return a == b;
    else if constexpr (Op == BinaryOp::Less) return a < b;
    else if constexpr (Op == BinaryOp::Greater) return a > b;
    else if constexpr (Op == BinaryOp::LessOrEqual) return a <= b;
    else if constexpr (Op == BinaryOp::GreaterOrEqual) return a >= b;
    else if constexpr (Op == BinaryOp::And) return a && b;
    else if constexpr (Op == BinaryOp::Or) return a || b;
    else if constexpr (Op == BinaryOp::Xor) return a != b;
    else if constexpr (Op == BinaryOp::BitShiftLeft)
      return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(a << b);
    else if constexpr (Op == BinaryOp::BitShiftRight)
      return b >= T(sizeof(T) * 8) ? T(0) : static_cast<T>(a >> b);
  }
}

template <BinaryOp Op, class A, class B>
void binary_impl(const Broadcast& bc, const void* av, const void* bv, void* yv) {
  using CA = Compute<A>;
  using CB = Compute<B>;
  using R = Result<A, decltype(binary_op<Op, CA, CB>(CA{}, CB{}))>;
  const Mem<A>* a = static_cast<const Mem<A>*>(av);
  const Mem<B>* b = static_cast<const Mem<B>*>(bv);
  Mem<R>* y = static_cast<Mem<R>*>(yv);
  auto f = [](Mem<A> x, Mem<B> z) { return store<R>(binary_op<Op, CA, CB>(load<A>(x), load<B>(z))); };
  if (bc.rank <= 1 && bc.count > 0) {
    // Fast paths: same shape, or one side a scalar.
    const int64_t n = bc.count;
    const int64_t sa = bc.rank ? bc.strides[0][0] : 0, sb = bc.rank ? bc.strides[1][0] : 0;
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
    } else if (sa == 1) {
      const Mem<B> s = b[0];
      for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], s);
    } else if (sb == 1) {
      const Mem<A> s = a[0];
      for (int64_t i = 0; i < n; ++i) y[i] = f(s, b[i]);
    } else {
      const Mem<R> v = f(a[0], b[0]);
      for (int64_t i = 0; i < n; ++i) y[i] = v;
    }
    return;
  }
  broadcast_for_each(bc, [&](int64_t o, int64_t i, int64_t j, int64_t) { y[o] = f(a[i], b[j]); });
}

// ---- cast -----------------------------------------------------------------------

uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

template <class T>
float to_float_if_half(T v) {
  if constexpr (is_same_v<T, Half>) return half_to_float(v.bits);
  else return bfloat16_to_float(v.bits);
}

template <class To, class From>
To convert(From v) {
  constexpr bool from_half = is_same_v<From, Half> || is_same_v<From, BFloat16>;
  if constexpr (from_half) {
    return convert<To, float>(to_float_if_half(v));
  } else if constexpr (is_same_v<To, Half>) {
    return Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (is_same_v<To, BFloat16>) {
    return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  } else if constexpr (is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (is_float_v<From> && is_int_v<To>) {
    if (km::isnan(v)) return To(0);
    // Saturate. The bounds -2^(N-1) (or 0) and 2^(N-1) (or 2^N) are exact in double.
    const double d = static_cast<double>(v);
    const double hi = km::ldexp(1.0, static_cast<int>(sizeof(To) * 8) - (is_signed_v<To> ? 1 : 0));
    if (d <= static_cast<double>(km::limits<To>::lowest())) return km::limits<To>::lowest();
    if (d >= hi) return km::limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <class From, class To>
void cast_impl(int64_t n, const void* xv, void* yv) {
  const Mem<From>* x = static_cast<const Mem<From>*>(xv);
  Mem<To>* y = static_cast<Mem<To>*>(yv);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<Mem<To>>(convert<To, From>(static_cast<From>(x[i])));
}

// ---- clip -----------------------------------------------------------------------

// min(max(v, lo), hi) compared so that NaN stays NaN.
template <class C>
C clamp(C v, C lo, C hi) {
  v = v < lo ? lo : v;
  return hi < v ? hi : v;
}

template <class T>
void clip_impl(const rtml_clip_params& p, const void* xv, const void* lov, const void* hiv, void* yv) {
  using C = Compute<T>;
  const Mem<T>* x = static_cast<const Mem<T>*>(xv);
  Mem<T>* y = static_cast<Mem<T>*>(yv);
  C lo = km::limits<C>::lowest(), hi = km::limits<C>::max();
  if constexpr (is_float_v<C>) {
    lo = -static_cast<C>(INFINITY);
    hi = static_cast<C>(INFINITY);
  }
  if (lov) lo = load<T>(*static_cast<const Mem<T>*>(lov));
  else if (p.has_min) lo = convert<C, float>(p.min);
  if (hiv) hi = load<T>(*static_cast<const Mem<T>*>(hiv));
  else if (p.has_max) hi = convert<C, float>(p.max);
  for (int64_t i = 0, n = p.count; i < n; ++i) y[i] = store<T>(clamp(load<T>(x[i]), lo, hi));
}



// ---- variadic, Where ---------------------------------------------------------------

template <BinaryOp Op, class T, bool Mean>
void variadic_impl(const rtml_variadic_params& p, void* const* x) {
  void* y = x[p.n];
  if (p.n == 1) {
    const Mem<T>* x0 = static_cast<const Mem<T>*>(x[0]);
    Mem<T>* out = static_cast<Mem<T>*>(y);
    for (int64_t i = 0; i < p.count; ++i) out[i] = x0[i];
  } else {
    binary_impl<Op, T, T>(p.bc[0], x[0], x[1], y);
    for (int k = 2; k < p.n; ++k) binary_impl<Op, T, T>(p.bc[k - 1], y, x[k], y);
  }
  if constexpr (Mean) {
    using C = Compute<T>;
    Mem<T>* out = static_cast<Mem<T>*>(y);
    const C n = static_cast<C>(p.n);
    for (int64_t i = 0; i < p.count; ++i) out[i] = store<T>(load<T>(out[i]) / n);
  }
}

// y = cond ? x : z with three-way broadcasting, for elements of T's size.
template <class T>
void where_impl(const Broadcast& bc, const void* condv, const void* xv, const void* zv, void* yv) {
  const uint8_t* c = static_cast<const uint8_t*>(condv);
  const T* x = static_cast<const T*>(xv);
  const T* z = static_cast<const T*>(zv);
  T* y = static_cast<T*>(yv);
  broadcast_for_each(bc, [&](int64_t o, int64_t i, int64_t j, int64_t k) { y[o] = c[i] ? x[j] : z[k]; });
}

// ---- elementwise chains (elementwise_chain.h) ----------------------------------------

float chain_unary(int32_t op, float x, const UnaryParams& p) {
  switch (op) {
#define RTML_EW_CHAIN_CASE(op, Op) \
  case RTML_EW_CHAIN_##Op: return unary_op<UnaryOp::Op, float>(x, p);
    RTML_EW_HWY_UNARY_OPS(RTML_EW_CHAIN_CASE)
#undef RTML_EW_CHAIN_CASE
    case RTML_EW_CHAIN_Square: return binary_op<BinaryOp::Pow, float, float>(x, 2.0f);
    case RTML_EW_CHAIN_Cube: return binary_op<BinaryOp::Pow, float, float>(x, 3.0f);
    case RTML_EW_CHAIN_SqrtPow: return binary_op<BinaryOp::Pow, float, float>(x, 0.5f);
    case RTML_EW_CHAIN_Clip: return clamp(x, p.alpha, p.beta);
    default: return x;
  }
}

float chain_binary(int32_t op, float a, float b) {
  switch (op) {
#define RTML_EW_CHAIN_CASE(op, Op) \
  case RTML_EW_CHAIN_##Op: return binary_op<BinaryOp::Op, float, float>(a, b);
    RTML_EW_CHAIN_BINARY_OPS(RTML_EW_CHAIN_CASE)
#undef RTML_EW_CHAIN_CASE
    default: return a;
  }
}

// Element by element: the program over the values of in[0..2] at the outputs
// [begin, end) of the walk (y may be in[0]: each element is read before it is written).
void chain_impl(const rtml_ew_chain_params& p, const float* const* in, float* y, int64_t begin, int64_t end) {
  UnaryParams up[RTML_EW_CHAIN_MAX_OPS];
  for (int i = 0; i < p.n; ++i) up[i] = UnaryParams{0, p.alpha[i], p.beta[i], p.gamma[i]};
  const int last = p.bc.rank - 1;
  const int64_t s0 = p.bc.rank ? p.bc.strides[0][last] : 0, s1 = p.bc.rank ? p.bc.strides[1][last] : 0,
                s2 = p.bc.rank ? p.bc.strides[2][last] : 0;
  broadcast_for_each_row_in(p.bc, begin, end, [&](int64_t out, int64_t b0, int64_t b1, int64_t b2, int64_t len) {
    for (int64_t e = 0; e < len; ++e) {
      const int64_t at[3] = {b0 + e * s0, b1 + e * s1, b2 + e * s2};
      float r[RTML_EW_CHAIN_MAX_OPS];
      for (int i = 0; i < p.n; ++i) {
        auto value = [&](int32_t code) {
          if (code >= 0) return r[code];
          if (code == RTML_EW_CHAIN_IMM) return p.alpha[i];
          const int j = RTML_EW_CHAIN_INPUT(code);  // -2 - (-2 - j) = j
          return in[j][at[j]];
        };
        r[i] = p.op[i] < RTML_EW_CHAIN_FIRST_BINARY ? chain_unary(p.op[i], value(p.a[i]), up[i])
                                                    : chain_binary(p.op[i], value(p.a[i]), value(p.b[i]));
      }
      y[out + e] = r[p.n - 1];
    }
  });
}

// ---- entry bodies (the calling convention of kernels/rtml_kernel.h) ----------------

template <UnaryOp Op, class T>
int unary_entry(const void* p, void* const* o) {
  unary_impl<Op, T>(*static_cast<const rtml_unary_params*>(p), o[0], o[1]);
  return 0;
}
template <BinaryOp Op, class A, class B>
int binary_entry(const void* p, void* const* o) {
  binary_impl<Op, A, B>(static_cast<const rtml_broadcast_params*>(p)->bc, o[0], o[1], o[2]);
  return 0;
}
template <BinaryOp Op, class T, bool Mean>
int variadic_entry(const void* p, void* const* o) {
  variadic_impl<Op, T, Mean>(*static_cast<const rtml_variadic_params*>(p), o);
  return 0;
}
template <class T>
int where_entry(const void* p, void* const* o) {
  where_impl<T>(static_cast<const rtml_broadcast_params*>(p)->bc, o[0], o[1], o[2], o[3]);
  return 0;
}
template <class From, class To>
int cast_entry(const void* pv, void* const* o) {
  const auto& p = *static_cast<const rtml_cast_params*>(pv);
  cast_impl<From, To>(p.count, o[0], o[p.out_slot]);
  return 0;
}
template <class T>
int clip_entry(const void* pv, void* const* o) {
  const auto& p = *static_cast<const rtml_clip_params*>(pv);
  clip_impl<T>(p, o[0], p.num_inputs > 1 ? o[1] : nullptr, p.num_inputs > 2 ? o[2] : nullptr, o[p.num_inputs]);
  return 0;
}

}  // namespace

// ---- float16 / bfloat16 ------------------------------------------------------------

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf / NaN
  if (exp == 0) {
    // zero or subnormal: man * 2^-24
    float f = km::ldexp(static_cast<float>(man), -24);
    return sign ? -f : f;
  }
  return bits_float(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | (abs > 0x7f800000u ? 0x7e00 : 0x7c00);  // NaN / inf
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: overflow to inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero) in half: value / 2^-24, rounded to even.
    float a = bits_float(abs);
    float scaled = a * 16777216.0f;  // exact (power of two)
    float fl = km::floor(scaled), d = scaled - fl;
    float r = d > 0.5f ? fl + 1 : d < 0.5f ? fl : (km::fmod(fl, 2.0f) == 0 ? fl : fl + 1);
    return sign | static_cast<uint16_t>(r);
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits (nearest even).
  uint32_t m = abs + 0xfff + ((abs >> 13) & 1);
  m -= 0x38000000u;  // exponent bias 127 -> 15
  return sign | static_cast<uint16_t>(m >> 13);
}

float bfloat16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bfloat16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}


}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------------

// The C++ element type of each type tag.
#define RTML_EW_T_f32 float
#define RTML_EW_T_f64 double
#define RTML_EW_T_f16 rtml::kernels::Half
#define RTML_EW_T_bf16 rtml::kernels::BFloat16
#define RTML_EW_T_s8 int8_t
#define RTML_EW_T_s16 int16_t
#define RTML_EW_T_s32 int32_t
#define RTML_EW_T_s64 int64_t
#define RTML_EW_T_u8 uint8_t
#define RTML_EW_T_u16 uint16_t
#define RTML_EW_T_u32 uint32_t
#define RTML_EW_T_u64 uint64_t
#define RTML_EW_T_b8 bool
#define RTML_EW_T(t) RTML_EW_T_##t

#define RTML_EW_UNARY(t, op, Op)                                                                          \
  RTML_KERNEL(rtml_##t##_##op##__ref) {                                                                   \
    return rtml::kernels::unary_entry<rtml::kernels::UnaryOp::Op, RTML_EW_T(t)>(params, operands);        \
  }
#define RTML_EW_BINARY(t, op, Op)                                                                         \
  RTML_KERNEL(rtml_##t##_##op##__ref) {                                                                   \
    return rtml::kernels::binary_entry<rtml::kernels::BinaryOp::Op, RTML_EW_T(t), RTML_EW_T(t)>(params,   \
                                                                                               operands); \
  }
#define RTML_EW_VARIADIC(t, op, Op)                                                                       \
  RTML_KERNEL(rtml_##t##_##op##__ref) {                                                                   \
    return rtml::kernels::variadic_entry<rtml::kernels::BinaryOp::Op, RTML_EW_T(t), false>(params,        \
                                                                                            operands);    \
  }
#define RTML_EW_MEAN(t, op, Op)                                                                           \
  RTML_KERNEL(rtml_##t##_mean__ref) {                                                                     \
    return rtml::kernels::variadic_entry<rtml::kernels::BinaryOp::Add, RTML_EW_T(t), true>(params,        \
                                                                                            operands);    \
  }
#define RTML_EW_CLIP(t, op, Op)                                                                           \
  RTML_KERNEL(rtml_##t##_clip__ref) { return rtml::kernels::clip_entry<RTML_EW_T(t)>(params, operands); }
#define RTML_EW_WHERE(x, T) \
  RTML_KERNEL(rtml_##x##_where__ref) { return rtml::kernels::where_entry<T>(params, operands); }
#define RTML_EW_CAST(a, b)                                                                                \
  RTML_KERNEL(rtml_##a##_cast_##b##__ref) {                                                               \
    return rtml::kernels::cast_entry<RTML_EW_T(a), RTML_EW_T(b)>(params, operands);                       \
  }
#define RTML_EW_PAIR(a, b)                                                                                \
  RTML_EW_CAST(a, b)                                                                                      \
  RTML_KERNEL(rtml_##a##_pow_##b##__ref) {                                                                \
    return rtml::kernels::binary_entry<rtml::kernels::BinaryOp::Pow, RTML_EW_T(a), RTML_EW_T(b)>(params,  \
                                                                                                operands); \
  }

#define RTML_EW_UNARY_NUMERIC(op, Op) RTML_EW_NUMERIC_TYPES(RTML_EW_UNARY, op, Op)
#define RTML_EW_UNARY_FLOAT(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_UNARY, op, Op)
#define RTML_EW_UNARY_BOOL(op, Op) RTML_EW_UNARY(b8, op, Op)
#define RTML_EW_BINARY_NUMERIC(op, Op) RTML_EW_NUMERIC_TYPES(RTML_EW_BINARY, op, Op)
#define RTML_EW_BINARY_SIGNED(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_BINARY, op, Op) RTML_EW_SINT_TYPES(RTML_EW_BINARY, op, Op)
#define RTML_EW_BINARY_ALL(op, Op) RTML_EW_ALL_TYPES(RTML_EW_BINARY, op, Op)
#define RTML_EW_BINARY_BOOL(op, Op) RTML_EW_BINARY(b8, op, Op)
#define RTML_EW_BINARY_UINT(op, Op) RTML_EW_UINT_TYPES(RTML_EW_BINARY, op, Op)
#define RTML_EW_VARIADIC_NUMERIC(op, Op) RTML_EW_NUMERIC_TYPES(RTML_EW_VARIADIC, op, Op)
#define RTML_EW_PAIRS(a, u, v) RTML_EW_NUMERIC_TYPES_2(RTML_EW_PAIR, a)
#define RTML_EW_BOOL_CASTS(a, u, v) RTML_EW_CAST(a, b8) RTML_EW_CAST(b8, a)

RTML_EW_UNARY_NUMERIC_OPS(RTML_EW_UNARY_NUMERIC)
RTML_EW_UNARY_FLOAT_OPS(RTML_EW_UNARY_FLOAT)
RTML_EW_UNARY_BOOL_OPS(RTML_EW_UNARY_BOOL)
RTML_EW_BINARY_NUMERIC_OPS(RTML_EW_BINARY_NUMERIC)
RTML_EW_BINARY_SIGNED_OPS(RTML_EW_BINARY_SIGNED)
RTML_EW_BINARY_ALL_OPS(RTML_EW_BINARY_ALL)
RTML_EW_BINARY_BOOL_OPS(RTML_EW_BINARY_BOOL)
RTML_EW_BINARY_UINT_OPS(RTML_EW_BINARY_UINT)
RTML_EW_VARIADIC_OPS(RTML_EW_VARIADIC_NUMERIC)
RTML_EW_FLOAT_TYPES(RTML_EW_MEAN, _, _)
RTML_EW_NUMERIC_TYPES(RTML_EW_PAIRS, _, _)
RTML_EW_NUMERIC_TYPES(RTML_EW_BOOL_CASTS, _, _)
RTML_EW_CAST(b8, b8)
RTML_EW_NUMERIC_TYPES(RTML_EW_CLIP, _, _)
RTML_EW_WHERE_SIZES(RTML_EW_WHERE)
RTML_KERNEL(rtml_f32_elementwise_chain__ref) {
  const auto& p = *static_cast<const rtml_ew_chain_params*>(params);
  const float* in[3] = {};
  for (int j = 0; j < p.bc.num_inputs; ++j) in[j] = static_cast<const float*>(operands[j]);
  rtml::kernels::chain_impl(p, in, static_cast<float*>(operands[p.bc.num_inputs]), 0, p.bc.count);
  return 0;
}

void rtml_ew_epilogue_apply_ref(const rtml_ew_epilogue* e, float* y, void* const* operands, int64_t begin,
                                int64_t end) {
  const float* in[3] = {y, nullptr, nullptr};
  for (int j = 1; j < e->chain.bc.num_inputs; ++j) in[j] = static_cast<const float*>(operands[e->in_slot + j - 1]);
  rtml::kernels::chain_impl(e->chain, in, y, begin, end);
}
