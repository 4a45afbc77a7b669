#include "kernels/elementwise.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace rtml::kernels {

namespace {

// ---- element types ------------------------------------------------------------

// Storage types for float16 / bfloat16; arithmetic on them runs in float.
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

template <class T>
constexpr bool is_float_v = std::is_floating_point_v<T>;
template <class T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Calls f(T{}) with the C++ type for `t`; returns false for unsupported types.
// Bool is stored as uint8_t but passed as bool so functors can tell.
template <class F>
bool with_type(DType t, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); return true;
    case DType::F64: f(double{}); return true;
    case DType::I8: f(int8_t{}); return true;
    case DType::I16: f(int16_t{}); return true;
    case DType::I32: f(int32_t{}); return true;
    case DType::I64: f(int64_t{}); return true;
    case DType::U8: f(uint8_t{}); return true;
    case DType::U16: f(uint16_t{}); return true;
    case DType::U32: f(uint32_t{}); return true;
    case DType::U64: f(uint64_t{}); return true;
    case DType::Bool: f(bool{}); return true;
    case DType::F16: f(Half{}); return true;
    case DType::BF16: f(BFloat16{}); return true;
    default: return false;
  }
}

// In-memory type for an element type (bool lives in one byte, 0 or 1).
template <class T>
using Mem = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;

template <class T>
constexpr bool is_half_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// The type arithmetic runs in, and loads / stores converting to it.
template <class T>
using Compute = std::conditional_t<is_half_v<T>, float, T>;

template <class T>
inline Compute<T> load(Mem<T> v) {
  if constexpr (std::is_same_v<T, Half>) return half_to_float(v.bits);
  else if constexpr (std::is_same_v<T, BFloat16>) return bfloat16_to_float(v.bits);
  else return static_cast<T>(v);
}

template <class T, class V>
inline Mem<T> store(V v) {
  if constexpr (std::is_same_v<T, Half>) return Half{float_to_half(static_cast<float>(v))};
  else if constexpr (std::is_same_v<T, BFloat16>) return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  else return static_cast<Mem<T>>(v);
}

// The stored result type of an op on T whose computed result type is R.
template <class T, class R>
using Result = std::conditional_t<is_half_v<T> && !std::is_same_v<R, bool>, T, R>;

// Wrapping integer arithmetic without signed-overflow UB.
template <class T>
using Wide = std::make_unsigned_t<std::conditional_t<(sizeof(T) < sizeof(int)), int, T>>;

// ---- unary functors -------------------------------------------------------------

template <class T>
T round_half_even(T x) {
  if (!std::isfinite(x)) return x;
  T f = std::floor(x);
  T d = x - f;
  if (d > T(0.5)) return f + 1;
  if (d < T(0.5)) return f;
  return std::fmod(f, T(2)) == 0 ? f : f + 1;
}

template <class T>
T softplus(T x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  return (x > 0 ? x : T(0)) + std::log1p(std::exp(-std::fabs(x)));
}

template <class T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <UnaryOp Op, class T>
inline auto unary_op(T x, const UnaryParams& p) {
  using R = std::conditional_t<Op == UnaryOp::IsNaN || Op == UnaryOp::IsInf, bool, T>;
  [[maybe_unused]] const T a = static_cast<T>(p.alpha);
  if constexpr (Op == UnaryOp::Identity) return x;
  else if constexpr (Op == UnaryOp::Neg) {
    if constexpr (is_int_v<T>) return static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(x));
    else return static_cast<T>(-x);
  } else if constexpr (Op == UnaryOp::Abs) {
    if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (is_int_v<T>) return x < 0 ? static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(x)) : x;
    else return std::fabs(x);
  } else if constexpr (Op == UnaryOp::Sign) {
    if constexpr (is_float_v<T>) { if (std::isnan(x)) return x; }
    return static_cast<T>((T(0) < x) - (x < T(0)));
  } else if constexpr (Op == UnaryOp::Relu) return x > T(0) ? x : T(0);
  else if constexpr (Op == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (Op == UnaryOp::Exp) return std::exp(x);
  else if constexpr (Op == UnaryOp::Log) return std::log(x);
  else if constexpr (Op == UnaryOp::Sin) return std::sin(x);
  else if constexpr (Op == UnaryOp::Cos) return std::cos(x);
  else if constexpr (Op == UnaryOp::Tan) return std::tan(x);
  else if constexpr (Op == UnaryOp::Asin) return std::asin(x);
  else if constexpr (Op == UnaryOp::Acos) return std::acos(x);
  else if constexpr (Op == UnaryOp::Atan) return std::atan(x);
  else if constexpr (Op == UnaryOp::Sinh) return std::sinh(x);
  else if constexpr (Op == UnaryOp::Cosh) return std::cosh(x);
  else if constexpr (Op == UnaryOp::Asinh) return std::asinh(x);
  else if constexpr (Op == UnaryOp::Acosh) return std::acosh(x);
  else if constexpr (Op == UnaryOp::Atanh) return std::atanh(x);
  else if constexpr (Op == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (Op == UnaryOp::Erf) return std::erf(x);
  else if constexpr (Op == UnaryOp::Sigmoid) return sigmoid(x);
  else if constexpr (Op == UnaryOp::Reciprocal) return T(1) / x;
  else if constexpr (Op == UnaryOp::Floor) return std::floor(x);
  else if constexpr (Op == UnaryOp::Ceil) return std::ceil(x);
  else if constexpr (Op == UnaryOp::Round) return round_half_even(x);
  else if constexpr (Op == UnaryOp::LeakyRelu) return x < 0 ? a * x : x;
  else if constexpr (Op == UnaryOp::Elu) return x < 0 ? a * (std::exp(x) - T(1)) : x;
  else if constexpr (Op == UnaryOp::Selu)
    return static_cast<T>(p.gamma) * (x > 0 ? x : a * std::exp(x) - a);
  else if constexpr (Op == UnaryOp::Celu)
    return (x > 0 ? x : T(0)) + std::fmin(T(0), a * (std::exp(x / a) - T(1)));
  else if constexpr (Op == UnaryOp::ThresholdedRelu) return x > a ? x : T(0);
  else if constexpr (Op == UnaryOp::HardSigmoid)
    return std::fmax(T(0), std::fmin(T(1), a * x + static_cast<T>(p.beta)));
  else if constexpr (Op == UnaryOp::HardSwish) return x * std::fmax(T(0), std::fmin(T(1), x / T(6) + T(0.5)));
  else if constexpr (Op == UnaryOp::Softplus) return softplus(x);
  else if constexpr (Op == UnaryOp::Softsign) return x / (T(1) + std::fabs(x));
  else if constexpr (Op == UnaryOp::Mish) return x * std::tanh(softplus(x));
  else if constexpr (Op == UnaryOp::DivideBy) return x / a;
  else if constexpr (Op == UnaryOp::IsNaN) return static_cast<R>(std::isnan(x));
  else if constexpr (Op == UnaryOp::IsInf)
    return static_cast<R>(std::isinf(x) && ((x < 0 && p.alpha != 0) || (x > 0 && p.beta != 0)));
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

constexpr bool unary_any_type(UnaryOp op) { return op <= UnaryOp::Relu; }
constexpr bool unary_bool_only(UnaryOp op) { return op == UnaryOp::Not; }

template <class T, int I = 0>
UnaryFn unary_lookup(UnaryOp op) {
  constexpr UnaryOp kOp = static_cast<UnaryOp>(I);
  if constexpr (I > static_cast<int>(UnaryOp::Not)) {
    return nullptr;
  } else {
    if (op != kOp) return unary_lookup<T, I + 1>(op);
    constexpr bool ok = std::is_same_v<T, bool> ? unary_bool_only(kOp)
                        : is_float_v<Compute<T>> ? !unary_bool_only(kOp)
                                                : unary_any_type(kOp);
    if constexpr (ok) return &unary_impl<kOp, T>;
    else return nullptr;
  }
}

// ---- binary functors -------------------------------------------------------------

template <class T>
T int_pow(T base, T exp) {
  if constexpr (std::is_signed_v<T>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp % 2) ? T(-1) : T(1);
      return 0;  // |base| >= 2: truncates to 0; 0^-n has no integer answer
    }
  }
  Wide<T> r = 1, b = static_cast<Wide<T>>(base);
  auto e = static_cast<std::make_unsigned_t<T>>(exp);
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
      if constexpr (std::is_same_v<A, B>) return int_pow<A>(a, b);
      else return static_cast<A>(int_pow<int64_t>(static_cast<int64_t>(a), static_cast<int64_t>(b)));
    } else if constexpr (std::is_same_v<A, float> && is_int_v<B>) {
      return static_cast<A>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    } else if constexpr (std::is_same_v<A, B>) {
      return static_cast<A>(std::pow(a, b));
    } else {
      double r = std::pow(static_cast<double>(a), static_cast<double>(b));
      if constexpr (is_int_v<A>) {
        if (!(r >= static_cast<double>(std::numeric_limits<A>::lowest()) &&
              r <= static_cast<double>(std::numeric_limits<A>::max())))
          return A(0);
      }
      return static_cast<A>(r);
    }
  } else {
    using T = A;
    static_assert(std::is_same_v<A, B>);
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
        if constexpr (std::is_signed_v<T>)
          if (b == T(-1)) return static_cast<T>(Wide<T>(0) - static_cast<Wide<T>>(a));
        return static_cast<T>(a / b);
      } else {
        return static_cast<T>(a / b);
      }
    } else if constexpr (Op == BinaryOp::Mod || Op == BinaryOp::FMod) {
      T r;
      if constexpr (is_int_v<T>) {
        if (b == 0) return T(0);
        if constexpr (std::is_signed_v<T>)
          if (b == T(-1)) return T(0);
        r = static_cast<T>(a % b);
      } else {
        r = std::fmod(a, b);
      }
      if constexpr (Op == BinaryOp::Mod && std::is_signed_v<T>)
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else if constexpr (Op == BinaryOp::Max || Op == BinaryOp::Min) {
      if constexpr (is_float_v<T>) {
        if (std::isnan(a)) return a;
        if (std::isnan(b)) return b;
      }
      if constexpr (Op == BinaryOp::Max) return a < b ? b : a;
      else return b < a ? b : a;
    } else if constexpr (Op == BinaryOp::PRelu) {
      return a < T(0) ? static_cast<T>(a * b) : a;
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

constexpr bool binary_is_compare(BinaryOp op) { return op >= BinaryOp::Equal && op <= BinaryOp::GreaterOrEqual; }
constexpr bool binary_is_logic(BinaryOp op) { return op >= BinaryOp::And && op <= BinaryOp::Xor; }
constexpr bool binary_is_shift(BinaryOp op) { return op == BinaryOp::BitShiftLeft || op == BinaryOp::BitShiftRight; }

template <class T, int I = 0>
BinaryFn binary_lookup(BinaryOp op) {
  constexpr BinaryOp kOp = static_cast<BinaryOp>(I);
  if constexpr (I > static_cast<int>(BinaryOp::BitShiftRight)) {
    return nullptr;
  } else {
    if (op != kOp) return binary_lookup<T, I + 1>(op);
    constexpr bool is_bool = std::is_same_v<T, bool>;
    constexpr bool ok = binary_is_logic(kOp)   ? is_bool
                        : binary_is_compare(kOp) ? true
                        : binary_is_shift(kOp)   ? std::is_unsigned_v<T> && !is_bool
                                                 : !is_bool && (kOp != BinaryOp::PRelu || !std::is_unsigned_v<T>);
    if constexpr (ok) return &binary_impl<kOp, T, T>;
    else return nullptr;
  }
}

// ---- cast -----------------------------------------------------------------------

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <class T>
float to_float_if_half(T v) {
  if constexpr (std::is_same_v<T, Half>) return half_to_float(v.bits);
  else return bfloat16_to_float(v.bits);
}

template <class To, class From>
To convert(From v) {
  constexpr bool from_half = std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>;
  if constexpr (from_half) {
    return convert<To, float>(to_float_if_half(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (is_float_v<From> && is_int_v<To>) {
    if (std::isnan(v)) return To(0);
    // Saturate. The bounds -2^(N-1) (or 0) and 2^(N-1) (or 2^N) are exact in double.
    const double d = static_cast<double>(v);
    const double hi = std::ldexp(1.0, static_cast<int>(sizeof(To) * 8) - (std::is_signed_v<To> ? 1 : 0));
    if (d <= static_cast<double>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (d >= hi) return std::numeric_limits<To>::max();
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

template <class T>
void clip_impl(const ClipParams& p, const void* xv, const void* lov, const void* hiv, void* yv) {
  using C = Compute<T>;
  const Mem<T>* x = static_cast<const Mem<T>*>(xv);
  Mem<T>* y = static_cast<Mem<T>*>(yv);
  C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
  if constexpr (is_float_v<C>) {
    lo = -std::numeric_limits<C>::infinity();
    hi = std::numeric_limits<C>::infinity();
  }
  if (lov) lo = load<T>(*static_cast<const Mem<T>*>(lov));
  else if (p.has_min_attr) lo = convert<C, float>(p.min_attr);
  if (hiv) hi = load<T>(*static_cast<const Mem<T>*>(hiv));
  else if (p.has_max_attr) hi = convert<C, float>(p.max_attr);
  for (int64_t i = 0, n = p.count; i < n; ++i) {
    C v = load<T>(x[i]);
    v = v < lo ? lo : v;
    y[i] = store<T>(hi < v ? hi : v);
  }
}

}  // namespace

// ---- public -----------------------------------------------------------------------

UnaryFn find_unary(UnaryOp op, DType t) {
  UnaryFn fn = nullptr;
  with_type(t, [&](auto v) { fn = unary_lookup<decltype(v)>(op); });
  return fn;
}

BinaryFn find_binary(BinaryOp op, DType a, DType b) {
  BinaryFn fn = nullptr;
  if (op == BinaryOp::Pow) {
    // Base and exponent may differ; both numeric.
    with_type(a, [&](auto x) {
      using A = decltype(x);
      if constexpr (!std::is_same_v<A, bool>)
        with_type(b, [&](auto z) {
          using B = decltype(z);
          if constexpr (!std::is_same_v<B, bool>) fn = &binary_impl<BinaryOp::Pow, A, B>;
        });
    });
    return fn;
  }
  if (a != b) return nullptr;
  with_type(a, [&](auto v) { fn = binary_lookup<decltype(v)>(op); });
  return fn;
}

void variadic(const VariadicParams& p, const void* const* x, void* y) {
  if (p.n == 1) {
    p.copy.fn(p.copy, x[0], y);
  } else {
    p.fn(p.bc[0], x[0], x[1], y);
    for (int k = 2; k < p.n; ++k) p.fn(p.bc[k - 1], y, x[k], y);
  }
  if (p.post.fn) p.post.fn(p.post, y, y);
}

void where(const WhereParams& p, const void* condv, const void* xv, const void* zv, void* yv) {
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const uint8_t* c = static_cast<const uint8_t*>(condv);
    const T* x = static_cast<const T*>(xv);
    const T* z = static_cast<const T*>(zv);
    T* y = static_cast<T*>(yv);
    broadcast_for_each(p.bc, [&](int64_t o, int64_t i, int64_t j, int64_t k) { y[o] = c[i] ? x[j] : z[k]; });
  };
  switch (p.elem_size) {
    case 1: run(uint8_t{}); break;
    case 2: run(uint16_t{}); break;
    case 4: run(uint32_t{}); break;
    case 8: run(uint64_t{}); break;
    default: break;
  }
}

CastFn find_cast(DType from, DType to) {
  CastFn fn = nullptr;
  with_type(from, [&](auto f) {
    with_type(to, [&](auto t) { fn = &cast_impl<decltype(f), decltype(t)>; });
  });
  return fn;
}

ClipFn find_clip(DType t) {
  ClipFn fn = nullptr;
  with_type(t, [&](auto v) {
    using T = decltype(v);
    if constexpr (!std::is_same_v<T, bool>) fn = &clip_impl<T>;
  });
  return fn;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf / NaN
  if (exp == 0) {
    // zero or subnormal: man * 2^-24
    float f = std::ldexp(static_cast<float>(man), -24);
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
    float fl = std::floor(scaled), d = scaled - fl;
    float r = d > 0.5f ? fl + 1 : d < 0.5f ? fl : (std::fmod(fl, 2.0f) == 0 ? fl : fl + 1);
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
