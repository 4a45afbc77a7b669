// What the portable kernels use instead of the C++ standard library (they
// include C headers only: kernels/rtml_kernel.h). Overloads for float and
// double over <math.h>'s functions, min / max / abs, and the numeric limits
// of the element types kernels are instantiated for, integer arithmetic that
// wraps (wrap_add, wrap_mul). GCC and Clang builtins
// classify floats, since <math.h>'s isnan is a macro that C++ may replace.
#pragma once

#include <float.h>
#include <math.h>
#include <stdint.h>

// <math.h> may define these as function-like macros (picolibc does), which
// would rewrite km::isnan(x); the templates below take their names.
#undef isnan
#undef isinf
#undef isfinite

namespace rtml::kernels::km {

template <class T>
constexpr T min(T a, T b) { return b < a ? b : a; }
template <class T>
constexpr T max(T a, T b) { return a < b ? b : a; }
template <class T>
constexpr T abs(T a) { return a < T(0) ? -a : a; }

template <class T>
constexpr bool isnan(T x) { return __builtin_isnan(x); }
template <class T>
constexpr bool isinf(T x) { return __builtin_isinf(x); }
template <class T>
constexpr bool isfinite(T x) { return __builtin_isfinite(x); }

#define RTML_KM_UNARY(name)                         \
  inline float name(float x) { return ::name##f(x); } \
  inline double name(double x) { return ::name(x); }
RTML_KM_UNARY(sqrt) RTML_KM_UNARY(exp) RTML_KM_UNARY(expm1) RTML_KM_UNARY(log) RTML_KM_UNARY(log1p)
RTML_KM_UNARY(sin) RTML_KM_UNARY(cos) RTML_KM_UNARY(tan) RTML_KM_UNARY(asin) RTML_KM_UNARY(acos)
RTML_KM_UNARY(atan) RTML_KM_UNARY(sinh) RTML_KM_UNARY(cosh) RTML_KM_UNARY(tanh) RTML_KM_UNARY(asinh)
RTML_KM_UNARY(acosh) RTML_KM_UNARY(atanh) RTML_KM_UNARY(erf) RTML_KM_UNARY(erfc) RTML_KM_UNARY(floor) RTML_KM_UNARY(ceil)
RTML_KM_UNARY(fabs) RTML_KM_UNARY(nearbyint) RTML_KM_UNARY(trunc)
#undef RTML_KM_UNARY
inline float pow(float x, float y) { return ::powf(x, y); }
inline double pow(double x, double y) { return ::pow(x, y); }
inline float fmod(float x, float y) { return ::fmodf(x, y); }
inline double fmod(double x, double y) { return ::fmod(x, y); }

// Integer + and * that wrap around in two's complement, as ONNX Runtime and
// NumPy do, instead of overflowing (undefined for signed types): computed in
// uint64_t, whose low bits are the result's for every integer type. Floating
// types compute as usual.
template <class T>
constexpr T wrap_add(T a, T b) {
  if constexpr (static_cast<T>(0.5) != T(0)) return a + b;
  else return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
template <class T>
constexpr T wrap_mul(T a, T b) {
  if constexpr (static_cast<T>(0.5) != T(0)) return a * b;
  else return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// numeric_limits' lowest() and max() for the kernels' element types.
template <class T>
struct limits;
#define RTML_KM_LIMITS(T, LO, HI)                  \
  template <>                                      \
  struct limits<T> {                               \
    static constexpr T lowest() { return LO; }     \
    static constexpr T max() { return HI; }        \
  };
RTML_KM_LIMITS(int8_t, INT8_MIN, INT8_MAX)
RTML_KM_LIMITS(uint8_t, 0, UINT8_MAX)
RTML_KM_LIMITS(int16_t, INT16_MIN, INT16_MAX)
RTML_KM_LIMITS(uint16_t, 0, UINT16_MAX)
RTML_KM_LIMITS(int32_t, INT32_MIN, INT32_MAX)
RTML_KM_LIMITS(uint32_t, 0, UINT32_MAX)
RTML_KM_LIMITS(int64_t, INT64_MIN, INT64_MAX)
RTML_KM_LIMITS(uint64_t, 0, UINT64_MAX)
RTML_KM_LIMITS(float, -FLT_MAX, FLT_MAX)
RTML_KM_LIMITS(double, -DBL_MAX, DBL_MAX)
#undef RTML_KM_LIMITS

}  // namespace rtml::kernels::km

namespace rtml::kernels::km {
// math.h's fmin / fmax (a NaN operand yields the other one) and ldexp.
inline float fmin(float x, float y) { return ::fminf(x, y); }
inline double fmin(double x, double y) { return ::fmin(x, y); }
inline float fmax(float x, float y) { return ::fmaxf(x, y); }
inline double fmax(double x, double y) { return ::fmax(x, y); }
inline float ldexp(float x, int e) { return ::ldexpf(x, e); }
inline double ldexp(double x, int e) { return ::ldexp(x, e); }
}  // namespace rtml::kernels::km
