// Elementwise kernels: unary math and activations, binary arithmetic /
// comparison / logic with NumPy broadcasting, variadic Sum/Max/Min/Mean,
// Where, Cast and Clip.
//
// Each kernel is a template over the element type instantiated once per
// (operation, type) pair. The op layer picks the instantiation at prepare
// time with find_*() (nullptr when the pair is unsupported) and stores the
// function pointer in the params struct, so the run-time path is a single
// indirect call followed by a tight loop, with no per-element dispatch.
//
// Broadcasting walks a kernels::Broadcast computed at prepare time. Same
// shapes and scalar operands collapse to rank <= 1, where the loop is a plain
// strided (stride 0 or 1) loop the compiler can vectorize.
//
// Integer semantics (matching ONNX Runtime / the ONNX reference):
//   Div truncates toward zero; x / 0 gives 0 instead of trapping.
//   Mod (fmod=0) takes the sign of the divisor (Python %); FMod (fmod=1)
//   takes the sign of the dividend (C fmod / %). x mod 0 gives 0.
//   Add/Sub/Mul/Neg wrap around on overflow (computed in unsigned).
//   Pow with two integer operands uses exact repeated squaring; otherwise it
//   is computed in double and converted to the base's type.
// Round is round-half-to-even, independent of the floating-point environment.
// Cast from floating point to integer truncates toward zero, saturates out of
// range values and maps NaN to 0 (ONNX leaves these undefined).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/broadcast.h"

namespace rtml::kernels {

// ---- unary ------------------------------------------------------------------

enum class UnaryOp : uint8_t {
  // any numeric type
  Identity, Neg, Abs, Sign, Relu,
  // floating point only
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
  DivideBy,         // x / alpha (Mean's final step)
  IsNaN,            // -> bool
  IsInf,            // -> bool; alpha != 0: detect -inf, beta != 0: detect +inf
  // bool only
  Not,
};

struct UnaryParams;
using UnaryFn = void (*)(const UnaryParams& p, const void* x, void* y);

struct UnaryParams {
  UnaryFn fn = nullptr;
  int64_t count = 0;
  float alpha = 0, beta = 0, gamma = 0;
};

// The kernel for `op` on elements of type `t`, or nullptr if unsupported.
// The output type equals `t` except for IsNaN / IsInf (bool).
UnaryFn find_unary(UnaryOp op, DType t);
inline void unary(const UnaryParams& p, const void* x, void* y) { p.fn(p, x, y); }

// ---- binary -----------------------------------------------------------------

enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Mod, FMod, Max, Min, PRelu,   // -> type of a
  Equal, Less, Greater, LessOrEqual, GreaterOrEqual,     // -> bool
  And, Or, Xor,                                          // bool -> bool
  BitShiftLeft, BitShiftRight,                           // unsigned ints
};

struct BinaryParams;
using BinaryFn = void (*)(const Broadcast& b, const void* a, const void* c, void* y);

struct BinaryParams {
  BinaryFn fn = nullptr;
  Broadcast bc;  // two inputs
};

// The kernel for `op` with operand types `a` and `b` (they must be equal
// except for Pow's exponent), or nullptr if unsupported.
BinaryFn find_binary(BinaryOp op, DType a, DType b);
inline void binary(const BinaryParams& p, const void* a, const void* b, void* y) { p.fn(p.bc, a, b, y); }

// ---- variadic (Sum, Max, Min, Mean) -------------------------------------------

constexpr int kMaxVariadicInputs = 16;

// y = x0 op x1 op ... op x(n-1), folded left to right into y. Step 0 reads
// x0 and x1 (bc[0]); step k >= 1 reads y and x(k+1) (bc[k]); every step
// writes the whole output. n == 1 copies x0 (`copy`). `post` (if set) then
// runs in place on y (Mean's division).
struct VariadicParams {
  int n = 0;
  BinaryFn fn = nullptr;
  UnaryParams copy;
  UnaryParams post;
  Broadcast bc[kMaxVariadicInputs - 1];
};
void variadic(const VariadicParams& p, const void* const* x, void* y);

// ---- Where ------------------------------------------------------------------

// y = cond ? x : z with three-way broadcasting; any element size 1, 2, 4, 8.
struct WhereParams {
  int elem_size = 0;
  Broadcast bc;  // inputs: cond, x, z
};
void where(const WhereParams& p, const void* cond, const void* x, const void* z, void* y);

// ---- Cast -------------------------------------------------------------------

struct CastParams;
using CastFn = void (*)(int64_t count, const void* x, void* y);
struct CastParams {
  CastFn fn = nullptr;
  int64_t count = 0;
};
// Any pair of numeric types, bool, float16 and bfloat16; nullptr otherwise.
CastFn find_cast(DType from, DType to);
inline void cast(const CastParams& p, const void* x, void* y) { p.fn(p.count, x, y); }

// IEEE half and bfloat16 conversions (round to nearest even; NaN stays NaN).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);

// ---- Clip -------------------------------------------------------------------

// y = min(max(x, lo), hi). lo / hi come from the optional scalar operands
// when given, else from the attribute values when has_*_attr, else the
// type's limits (no bound).
struct ClipParams;
using ClipFn = void (*)(const ClipParams& p, const void* x, const void* lo, const void* hi, void* y);
struct ClipParams {
  ClipFn fn = nullptr;
  int64_t count = 0;
  bool has_min_attr = false, has_max_attr = false;
  float min_attr = 0, max_attr = 0;
};
ClipFn find_clip(DType t);
inline void clip(const ClipParams& p, const void* x, const void* lo, const void* hi, void* y) {
  p.fn(p, x, lo, hi, y);
}

}  // namespace rtml::kernels
