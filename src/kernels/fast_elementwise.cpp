// Fast float32 elementwise kernels, compiled once per Highway target (see
// fast_elementwise.h).
//
// Every op is one vector function (UnaryVec / BinaryVec, `if constexpr` per
// op, as the reference's unary_op / binary_op); rows run it over full
// vectors, then over the remainder through a lane buffer, so nothing is read
// or written past a tensor. One exported function per kind (unary, with
// Clip among them; binary; Where; elementwise chains) takes the op as a
// number: one dispatch per call.

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_elementwise.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <math.h>
#include <string.h>

#include "kernels/elementwise_chain.h"
#include "kernels/fast_elementwise.h"

#ifndef RTML_FAST_ELEMENTWISE_ONCE
#define RTML_FAST_ELEMENTWISE_ONCE
namespace rtml::kernels {
// The ops as numbers: the entries' lists, then the Pow special cases
// (exponent 2, 3, 0.5; -1 is Reciprocal) and Clip, as elementwise_chain.h
// numbers them (a binary chain op is RTML_EW_CHAIN_FIRST_BINARY + its number).
enum class FastUnary : int {
#define RTML_EW_HWY_ENUM(op, Op) Op,
  RTML_EW_CHAIN_UNARY_OPS(RTML_EW_HWY_ENUM)
};
enum class FastBinary : int {
  RTML_EW_CHAIN_BINARY_OPS(RTML_EW_HWY_ENUM)
#undef RTML_EW_HWY_ENUM
};
}  // namespace rtml::kernels
#endif

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
// Lane buffers: at least one vector of any target compiled here.
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);

// ---- pieces -----------------------------------------------------------------------

// r where x is a number, x (NaN) where it is not.
HWY_INLINE V KeepNaN(V x, V r) { return hn::IfThenElse(hn::IsNaN(x), x, r); }

// e^x, +inf above float's range (hn::Exp is valid up to +104; +inf itself
// would wrap its exponent). NaN lanes are the caller's (KeepNaN).
HWY_INLINE V ExpOf(D d, V x) { return hn::Exp(d, hn::Min(x, hn::Set(d, 100.0f))); }
HWY_INLINE V Expm1Of(D d, V x) { return hn::Expm1(d, hn::Min(x, hn::Set(d, 100.0f))); }

// sqrt(x). ARMv7 NEON has no square root: Highway's x * rsqrt(x) (Newton
// steps) gives NaN for +inf there.
HWY_INLINE V SqrtOf(D d, V x) {
#if HWY_ARCH_ARM_V7
  const V inf = hn::Set(d, HUGE_VALF);
  return hn::IfThenElse(hn::Eq(x, inf), inf, hn::Sqrt(x));
#else
  (void)d;
  return hn::Sqrt(x);
#endif
}

HWY_INLINE V Poly(V x, V c0, V c1) { return hn::MulAdd(c1, x, c0); }
template <class... C>
HWY_INLINE V Poly(V x, V c0, V c1, C... rest) { return hn::MulAdd(Poly(x, c1, rest...), x, c0); }

// 1 / (1 + e^-x), as the reference: e^-|x| never overflows, and for x < 0
// the result is e^x / (1 + e^x). NaN lanes are the caller's.
HWY_INLINE V SigmoidOf(D d, V x) {
  const V e = hn::Exp(d, hn::Neg(hn::Abs(x)));
  const V one = hn::Set(d, 1.0f);
  return hn::Div(hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, one), hn::Add(one, e));
}

// erf(a) and erfc(a) for a = |x| >= 0 (or NaN: the caller's).
//   a < 1:  erf = a * P(a^2), P of degree 6 (relative error of erf/a about
//           1e-8 in exact arithmetic);
//   a >= 1: erfc = e^(-a^2) * t * H(t - 1/2), t = 1/a, H of degree 10
//           (relative error of erfc about 5e-8 for a in [1, 10.1]; a is
//           clamped to 10.1, past which erfc is 0 in float after the
//           e^-a^2 underflows). a^2 = hi + lo exactly (a split into two
//           12-bit halves, Dekker's product), e^(-a^2) = e^-hi * (1 - lo):
//           the rounding of a^2 would cost up to 100 * 2^-24 relative at
//           the tail's end.
// The coefficients were fitted (weighted least squares on 3000-4000
// Chebyshev nodes against mpmath's erf / erfc) for this file.
HWY_INLINE void ErfOfAbs(D d, V a, V& erf, V& erfc) {
  const V one = hn::Set(d, 1.0f);
  const auto small = hn::Lt(a, one);
  const V u = hn::Mul(a, a);
  const V ps = hn::Mul(a, Poly(u, hn::Set(d, 1.12837917f), hn::Set(d, -0.376126288f), hn::Set(d, 0.112836124f),
                               hn::Set(d, -0.0268548085f), hn::Set(d, 0.00519005357f), hn::Set(d, -0.00080243541f),
                               hn::Set(d, 7.89821013e-05f)));
  if (hn::AllTrue(d, small)) {
    erf = ps;
    erfc = hn::Sub(one, ps);
    return;
  }
  const V ac = hn::Min(hn::Max(a, one), hn::Set(d, 10.1f));
  const V t = hn::Div(one, ac);
  const V h = Poly(hn::Sub(t, hn::Set(d, 0.5f)), hn::Set(d, 0.510791336f), hn::Set(d, -0.167210774f),
                   hn::Set(d, -0.036628666f), hn::Set(d, 0.118934637f), hn::Set(d, -0.108954017f),
                   hn::Set(d, 0.0434496284f), hn::Set(d, 0.0433242205f), hn::Set(d, -0.117643972f),
                   hn::Set(d, 0.112473542f), hn::Set(d, -0.00657468051f), hn::Set(d, -0.0456488781f));
  const hn::RebindToUnsigned<D> du;
  const V ah = hn::BitCast(d, hn::And(hn::BitCast(du, ac), hn::Set(du, 0xFFFFF000u)));
  const V al = hn::Sub(ac, ah);
  const V hi = hn::Mul(ac, ac);
  const V lo = hn::Add(hn::Add(hn::Sub(hn::Mul(ah, ah), hi), hn::Mul(hn::Add(ah, ah), al)), hn::Mul(al, al));
  const V e = hn::Exp(d, hn::Neg(hi));
  const V tail = hn::Mul(hn::Mul(hn::Sub(e, hn::Mul(e, lo)), t), h);
  erf = hn::IfThenElse(small, ps, hn::Sub(one, tail));
  erfc = hn::IfThenElse(small, hn::Sub(one, ps), tail);
}

// The op on lanes by the scalar reference's function (Sin, Cos out of
// hn::Sin / hn::Cos's range).
template <float (*F)(float)>
HWY_NOINLINE V ByLane(D d, V x) {
  HWY_ALIGN float lanes[kMaxLanes];
  hn::Store(x, d, lanes);
  for (size_t k = 0; k < hn::Lanes(d); ++k) lanes[k] = F(lanes[k]);
  return hn::Load(d, lanes);
}

// ---- unary ------------------------------------------------------------------------

struct UnaryConsts {
  V alpha, beta, gamma;
};

template <FastUnary kOp>
HWY_INLINE V UnaryVec(D d, V x, const UnaryConsts& c) {
  const V zero = hn::Zero(d);
  const V one = hn::Set(d, 1.0f);
  using U = FastUnary;
  if constexpr (kOp == U::Tanh) {
    return KeepNaN(x, hn::Tanh(d, x));
  } else if constexpr (kOp == U::Sigmoid) {
    return KeepNaN(x, SigmoidOf(d, x));
  } else if constexpr (kOp == U::Exp) {
    return KeepNaN(x, ExpOf(d, x));
  } else if constexpr (kOp == U::Log) {
    const V inf = hn::Set(d, HUGE_VALF);
    V r = hn::Log(d, x);
    r = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), r);
    r = hn::IfThenElse(hn::Eq(x, inf), inf, r);
    r = hn::IfThenElse(hn::Lt(x, zero), hn::Set(d, NAN), r);
    return KeepNaN(x, r);
  } else if constexpr (kOp == U::Sin || kOp == U::Cos) {
    if (HWY_UNLIKELY(!hn::AllTrue(d, hn::Le(hn::Abs(x), hn::Set(d, 39000.0f)))))
      return ByLane<kOp == U::Sin ? ::sinf : ::cosf>(d, x);
    return kOp == U::Sin ? hn::Sin(d, x) : hn::Cos(d, x);
  } else if constexpr (kOp == U::Erf) {
    V erf, erfc;
    ErfOfAbs(d, hn::Abs(x), erf, erfc);
    return KeepNaN(x, hn::CopySignToAbs(erf, x));
  } else if constexpr (kOp == U::Gelu) {
    // 0.5 x (1 + erf(x / sqrt 2)); for x < 0, 1 + erf(z) = erfc(|z|).
    const V z = hn::Mul(x, hn::Set(d, 0.707106769f));
    V erf, erfc;
    ErfOfAbs(d, hn::Abs(z), erf, erfc);
    const V s = hn::IfThenElse(hn::Lt(z, zero), erfc, hn::Add(one, erf));
    return KeepNaN(x, hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), s));
  } else if constexpr (kOp == U::GeluTanh) {
    // 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2 / pi) (x + 0.044715 x^3).
    const V x3 = hn::Mul(hn::Mul(x, x), x);
    const V u = hn::Mul(hn::Set(d, 0.797884583f), hn::MulAdd(hn::Set(d, 0.044715f), x3, x));
    return KeepNaN(x, hn::Mul(x, SigmoidOf(d, hn::Add(u, u))));
  } else if constexpr (kOp == U::Sqrt) {
    return SqrtOf(d, x);
  } else if constexpr (kOp == U::Reciprocal) {
    return hn::Div(one, x);
  } else if constexpr (kOp == U::Abs) {
    return hn::Abs(x);
  } else if constexpr (kOp == U::Neg) {
    return hn::Neg(x);
  } else if constexpr (kOp == U::Floor) {
    return hn::Floor(x);
  } else if constexpr (kOp == U::Ceil) {
    return hn::Ceil(x);
  } else if constexpr (kOp == U::Round) {
    return hn::Round(x);  // to nearest, ties to even
  } else if constexpr (kOp == U::Softplus) {
    // max(x, 0) + log1p(e^-|x|)
    const V l = hn::Log1p(d, hn::Exp(d, hn::Neg(hn::Abs(x))));
    return KeepNaN(x, hn::Add(hn::IfThenElse(hn::Gt(x, zero), x, zero), l));
  } else if constexpr (kOp == U::Softsign) {
    return hn::Div(x, hn::Add(one, hn::Abs(x)));
  } else if constexpr (kOp == U::Elu) {
    return hn::IfThenElse(hn::Lt(x, zero), hn::Mul(c.alpha, Expm1Of(d, x)), x);
  } else if constexpr (kOp == U::Selu) {
    const V neg = hn::Mul(c.alpha, Expm1Of(d, x));
    return KeepNaN(x, hn::Mul(c.gamma, hn::IfThenElse(hn::Gt(x, zero), x, neg)));
  } else if constexpr (kOp == U::Celu) {
    // max(0, x) + min(0, alpha (e^(x / alpha) - 1)); NaN gives 0, as fmin does.
    const V neg = hn::Mul(c.alpha, Expm1Of(d, hn::Div(x, c.alpha)));
    return hn::Add(hn::IfThenElse(hn::Gt(x, zero), x, zero), hn::IfThenElse(hn::Lt(neg, zero), neg, zero));
  } else if constexpr (kOp == U::LeakyRelu) {
    return hn::IfThenElse(hn::Lt(x, zero), hn::Mul(c.alpha, x), x);
  } else if constexpr (kOp == U::ThresholdedRelu) {
    return hn::IfThenElse(hn::Gt(x, c.alpha), x, zero);
  } else if constexpr (kOp == U::Relu) {
    return hn::IfThenElse(hn::Gt(x, zero), x, zero);
  } else if constexpr (kOp == U::HardSigmoid) {
    // fmax(0, fmin(1, alpha x + beta)): NaN gives 1, as fmin does.
    const V t = hn::Add(hn::Mul(c.alpha, x), c.beta);
    const V m = hn::IfThenElse(hn::Lt(t, one), t, one);
    return hn::IfThenElse(hn::Gt(m, zero), m, zero);
  } else if constexpr (kOp == U::HardSwish) {
    const V t = hn::Add(hn::Mul(x, hn::Set(d, 1.0f / 6.0f)), hn::Set(d, 0.5f));
    const V m = hn::IfThenElse(hn::Lt(t, one), t, one);
    return hn::Mul(x, hn::IfThenElse(hn::Gt(m, zero), m, zero));
  } else if constexpr (kOp == U::Mish) {
    // x tanh(log(1 + n)) = x q / (q + 2), n = e^x, q = n (n + 2); past
    // x = 20 the fraction is 1 in float.
    const V n = hn::Exp(d, hn::Min(x, hn::Set(d, 20.0f)));
    const V q = hn::Mul(n, hn::Add(n, hn::Set(d, 2.0f)));
    return KeepNaN(x, hn::Mul(x, hn::Div(q, hn::Add(q, hn::Set(d, 2.0f)))));
  } else if constexpr (kOp == U::Square) {
    return hn::Mul(x, x);
  } else if constexpr (kOp == U::Cube) {
    return hn::Mul(hn::Mul(x, x), x);
  } else if constexpr (kOp == U::SqrtPow) {
    // pow(x, 0.5): +0 for -0 (the + 0), +inf for -inf.
    const V inf = hn::Set(d, HUGE_VALF);
    return hn::IfThenElse(hn::Eq(x, hn::Neg(inf)), inf, hn::Add(SqrtOf(d, x), zero));
  } else if constexpr (kOp == U::Clip) {
    // min(max(x, lo = alpha), hi = beta) as the reference compares: NaN stays NaN.
    const V v = hn::IfThenElse(hn::Lt(x, c.alpha), c.alpha, x);
    return hn::IfThenElse(hn::Lt(c.beta, v), c.beta, v);
  }
}

template <FastUnary kOp>
void UnaryRow(const rtml_unary_params& p, const float* x, float* y, size_t n) {
  const D d;
  const UnaryConsts c{hn::Set(d, p.alpha), hn::Set(d, p.beta), hn::Set(d, p.gamma)};
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(UnaryVec<kOp>(d, hn::LoadU(d, x + i), c), d, y + i);
  if (i == n) return;
  HWY_ALIGN float lanes[kMaxLanes] = {};
  memcpy(lanes, x + i, (n - i) * sizeof(float));
  hn::Store(UnaryVec<kOp>(d, hn::Load(d, lanes), c), d, lanes);
  memcpy(y + i, lanes, (n - i) * sizeof(float));
}

void UnaryF32(int op, const rtml_unary_params& p, const float* x, float* y, int64_t count) {
  const size_t n = static_cast<size_t>(count);
  switch (static_cast<FastUnary>(op)) {
#define RTML_EW_HWY_CASE(op, Op) \
  case FastUnary::Op: return UnaryRow<FastUnary::Op>(p, x, y, n);
    RTML_EW_CHAIN_UNARY_OPS(RTML_EW_HWY_CASE)
#undef RTML_EW_HWY_CASE
  }
}

// ---- binary -----------------------------------------------------------------------

template <FastBinary kOp>
HWY_INLINE V BinaryVec(V a, V b) {
  using B = FastBinary;
  if constexpr (kOp == B::Add) return hn::Add(a, b);
  else if constexpr (kOp == B::Sub) return hn::Sub(a, b);
  else if constexpr (kOp == B::Mul) return hn::Mul(a, b);
  else if constexpr (kOp == B::Div) return hn::Div(a, b);
  else if constexpr (kOp == B::PRelu) return hn::IfThenElse(hn::Lt(a, hn::Zero(D())), hn::Mul(a, b), a);
  else {
    // As the reference: NaN in a, else NaN in b, else the larger / smaller.
    const V r = kOp == B::Max ? hn::IfThenElse(hn::Lt(a, b), b, a) : hn::IfThenElse(hn::Lt(b, a), b, a);
    return hn::IfThenElse(hn::IsNaN(a), a, hn::IfThenElse(hn::IsNaN(b), b, r));
  }
}

// One operand of a row: contiguous (read lane by lane) or one value repeated.
template <bool kContiguous, class T = float>
struct RowInput {
  using DT = hn::Rebind<T, D>;
  const T* p;
  hn::Vec<DT> repeated;
  explicit RowInput(const T* ptr) : p(ptr), repeated(hn::Zero(DT())) {
    if constexpr (!kContiguous) repeated = hn::Set(DT(), *ptr);
  }
  HWY_INLINE hn::Vec<DT> At(size_t i) const {
    if constexpr (kContiguous) return hn::LoadU(DT(), p + i);
    else return repeated;
  }
  // Lanes i..n-1 (fewer than a vector), the rest zero.
  HWY_INLINE hn::Vec<DT> Tail(size_t i, size_t n) const {
    if constexpr (kContiguous) {
      HWY_ALIGN T lanes[kMaxLanes] = {};
      memcpy(lanes, p + i, (n - i) * sizeof(T));
      return hn::Load(DT(), lanes);
    } else {
      return repeated;
    }
  }
};

template <class T>
HWY_INLINE void StoreTail(hn::Vec<hn::Rebind<T, D>> v, T* y, size_t i, size_t n) {
  HWY_ALIGN T lanes[kMaxLanes];
  hn::Store(v, hn::Rebind<T, D>(), lanes);
  memcpy(y + i, lanes, (n - i) * sizeof(T));
}

// One element of BinaryVec. ARMv7 NEON divides by a reciprocal estimate
// (within 2 ulps): Div stays the scalar IEEE division there, bit-exact with
// the reference (graphs that quantize by hand, x / scale then Round, depend
// on it).
template <FastBinary kOp>
HWY_INLINE float BinaryOne(float a, float b) {
#if HWY_ARCH_ARM_V7
  if constexpr (kOp == FastBinary::Div) return a / b;
#endif
  return hn::GetLane(BinaryVec<kOp>(hn::Set(D(), a), hn::Set(D(), b)));
}

template <FastBinary kOp, bool kA, bool kB>
void BinaryRow(const float* a, const float* b, float* y, size_t n) {
#if HWY_ARCH_ARM_V7
  if constexpr (kOp == FastBinary::Div) {
    for (size_t i = 0; i < n; ++i) y[i] = BinaryOne<kOp>(a[kA ? i : 0], b[kB ? i : 0]);
    return;
  }
#endif
  const D d;
  const RowInput<kA> ia(a);
  const RowInput<kB> ib(b);
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(BinaryVec<kOp>(ia.At(i), ib.At(i)), d, y + i);
  if (i < n) StoreTail(BinaryVec<kOp>(ia.Tail(i, n), ib.Tail(i, n)), y, i, n);
}

// Element by element: inner strides other than 0 and 1 (which
// make_broadcast does not produce), and rows shorter than a vector (a
// [1, 8, 1] x [1, 8, 2] Mul: eight rows of two), where a row's partial vector
// costs more than its elements one by one.
template <FastBinary kOp>
void BinaryElements(const Broadcast& bc, const float* a, const float* b, float* y) {
  broadcast_for_each(bc, [&](int64_t o, int64_t i, int64_t j, int64_t) { y[o] = BinaryOne<kOp>(a[i], b[j]); });
}

template <FastBinary kOp>
void BinaryBroadcast(const Broadcast& bc, const float* a, const float* b, float* y) {
  if (bc.count == 0) return;
  const int last = bc.rank - 1;
  const int64_t sa = bc.rank ? bc.strides[0][last] : 0, sb = bc.rank ? bc.strides[1][last] : 0;
  const bool short_rows = bc.rank == 0 || bc.shape[last] < static_cast<int64_t>(hn::Lanes(D()));
  if ((sa != 0 && sa != 1) || (sb != 0 && sb != 1) || short_rows) return BinaryElements<kOp>(bc, a, b, y);
  using Row = void (*)(const float*, const float*, float*, size_t);
  static constexpr Row kRows[4] = {BinaryRow<kOp, false, false>, BinaryRow<kOp, false, true>,
                                   BinaryRow<kOp, true, false>, BinaryRow<kOp, true, true>};
  const Row row = kRows[sa * 2 + sb];
  broadcast_for_each_row(bc, [&](int64_t o, int64_t i, int64_t j, int64_t, int64_t n) {
    row(a + i, b + j, y + o, static_cast<size_t>(n));
  });
}

void BinaryF32(int op, const Broadcast& bc, const float* a, const float* b, float* y) {
  switch (static_cast<FastBinary>(op)) {
#define RTML_EW_HWY_CASE(op, Op) \
  case FastBinary::Op: return BinaryBroadcast<FastBinary::Op>(bc, a, b, y);
    RTML_EW_CHAIN_BINARY_OPS(RTML_EW_HWY_CASE)
#undef RTML_EW_HWY_CASE
  }
}

// ---- Where ------------------------------------------------------------------------

// y = c ? x : z on 32-bit elements (moved as uint32_t); c is bytes 0 / 1.
template <bool kC, bool kX, bool kZ>
void WhereRow(const uint8_t* c, const uint32_t* x, const uint32_t* z, uint32_t* y, size_t n) {
  const hn::Rebind<uint32_t, D> du;
  const RowInput<kC, uint8_t> ic(c);
  const RowInput<kX, uint32_t> ix(x);
  const RowInput<kZ, uint32_t> iz(z);
  const auto pick = [&](hn::Vec<hn::Rebind<uint8_t, D>> cv, hn::Vec<decltype(du)> xv, hn::Vec<decltype(du)> zv) {
    return hn::IfThenElse(hn::Ne(hn::PromoteTo(du, cv), hn::Zero(du)), xv, zv);
  };
  const size_t N = hn::Lanes(du);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(pick(ic.At(i), ix.At(i), iz.At(i)), du, y + i);
  if (i < n) StoreTail(pick(ic.Tail(i, n), ix.Tail(i, n), iz.Tail(i, n)), y, i, n);
}

void WhereX32(const Broadcast& bc, const uint8_t* c, const uint32_t* x, const uint32_t* z, uint32_t* y) {
  if (bc.count == 0) return;
  const int last = bc.rank - 1;
  int64_t s[3] = {0, 0, 0};
  for (int k = 0; k < 3 && bc.rank; ++k) s[k] = bc.strides[k][last];
  if ((s[0] | s[1] | s[2]) & ~int64_t{1}) {  // a stride other than 0 and 1
    broadcast_for_each(bc, [&](int64_t o, int64_t i, int64_t j, int64_t k) { y[o] = c[i] ? x[j] : z[k]; });
    return;
  }
  using Row = void (*)(const uint8_t*, const uint32_t*, const uint32_t*, uint32_t*, size_t);
  static constexpr Row kRows[8] = {WhereRow<false, false, false>, WhereRow<false, false, true>,
                                   WhereRow<false, true, false>,  WhereRow<false, true, true>,
                                   WhereRow<true, false, false>,  WhereRow<true, false, true>,
                                   WhereRow<true, true, false>,   WhereRow<true, true, true>};
  const Row row = kRows[s[0] * 4 + s[1] * 2 + s[2]];
  broadcast_for_each_row(bc, [&](int64_t o, int64_t i, int64_t j, int64_t k, int64_t n) {
    row(c + i, x + j, z + k, y + o, static_cast<size_t>(n));
  });
}

// ---- elementwise chains (elementwise_chain.h) --------------------------------------

// Elements per block: every value of the program has a block on the stack
// (16 KiB for 16 instructions, within L1). Each instruction is one call per
// block: 64-element blocks made the calls' set-up cost more than the passes
// saved (Mul + Sin over 16 K floats: 10.1 us fused vs 6.8 us as two steps).
constexpr size_t kChainBlock = 256;

using UnaryRowFn = void (*)(const rtml_unary_params&, const float*, float*, size_t);
using BinaryRowFn = void (*)(const float*, const float*, float*, size_t);

// The program, one instruction at a time over each block of each row of the
// broadcast walk cut to the outputs [begin, end): every instruction is the
// fast kernels' row function. y may be in[0] (a product's store: each block
// of y is written by the last instruction only, after every read of it).
void ChainF32(const rtml_ew_chain_params& p, const float* const* inputs, float* y, int64_t begin, int64_t end) {
  static constexpr UnaryRowFn kUnary[] = {
#define RTML_EW_HWY_ROW(op, Op) UnaryRow<FastUnary::Op>,
      RTML_EW_CHAIN_UNARY_OPS(RTML_EW_HWY_ROW)
#undef RTML_EW_HWY_ROW
  };
  static constexpr BinaryRowFn kBinary[][4] = {
#define RTML_EW_HWY_ROW(op, Op)                                                                          \
  {BinaryRow<FastBinary::Op, false, false>, BinaryRow<FastBinary::Op, false, true>,                      \
   BinaryRow<FastBinary::Op, true, false>, BinaryRow<FastBinary::Op, true, true>},
      RTML_EW_CHAIN_BINARY_OPS(RTML_EW_HWY_ROW)
#undef RTML_EW_HWY_ROW
  };
  const Broadcast& bc = p.bc;
  const int ni = bc.num_inputs;
  const float* in[3] = {};
  bool contiguous[3] = {true, true, true};  // else one value repeated along the row
  for (int j = 0; j < ni; ++j) {
    in[j] = inputs[j];
    if (bc.rank) contiguous[j] = bc.strides[j][bc.rank - 1] != 0;
  }
  rtml_unary_params up[RTML_EW_CHAIN_MAX_OPS];
  for (int i = 0; i < p.n; ++i) up[i] = rtml_unary_params{0, p.alpha[i], p.beta[i], p.gamma[i]};
  HWY_ALIGN float values[RTML_EW_CHAIN_MAX_OPS][kChainBlock];
  // A row shorter than a vector (a [1, 2] chain) runs as one whole vector:
  // its contiguous inputs copied once into zero-padded blocks and the
  // result copied out once, instead of a partial vector (copies in and out)
  // per instruction. The padding lanes' values are never stored.
  HWY_ALIGN float staged[3][kMaxLanes];
  const size_t lanes = hn::Lanes(D());
  static_assert(kChainBlock % kMaxLanes == 0, "a block is whole vectors");
  broadcast_for_each_row_in(bc, begin, end, [&](int64_t out, int64_t o0, int64_t o1, int64_t o2, int64_t len) {
    const int64_t at[3] = {o0, o1, o2};
    const bool padded = len < static_cast<int64_t>(lanes);
    if (padded)
      for (int k = 0; k < ni; ++k)
        if (contiguous[k]) {
          for (size_t l = 0; l < lanes; ++l) staged[k][l] = 0.0f;
          memcpy(staged[k], in[k] + at[k], static_cast<size_t>(len) * sizeof(float));
        }
    for (int64_t j = 0; j < len; j += static_cast<int64_t>(kChainBlock)) {
      const size_t m = padded ? lanes
                              : static_cast<size_t>(len - j < static_cast<int64_t>(kChainBlock) ? len - j : kChainBlock);
      for (int i = 0; i < p.n; ++i) {
        // An operand: its first element and whether it is contiguous.
        auto source = [&](int32_t code, bool& whole) -> const float* {
          whole = code != RTML_EW_CHAIN_IMM;
          if (code >= 0) return values[code];
          if (code == RTML_EW_CHAIN_IMM) return &p.alpha[i];
          const int k = RTML_EW_CHAIN_INPUT(code);
          whole = contiguous[k];
          if (padded && whole) return staged[k];
          return in[k] + at[k] + (whole ? j : 0);
        };
        float* dst = i == p.n - 1 && !padded ? y + out + j : values[i];
        bool wa = true, wb = true;
        const float* a = source(p.a[i], wa);
        if (p.op[i] < RTML_EW_CHAIN_FIRST_BINARY) {
          kUnary[p.op[i]](up[i], a, dst, m);  // a unary op's operand has Y's shape: contiguous
        } else {
          const float* b = source(p.b[i], wb);
          kBinary[p.op[i] - RTML_EW_CHAIN_FIRST_BINARY][wa * 2 + wb](a, b, dst, m);
        }
      }
      if (padded) memcpy(y + out, values[p.n - 1], static_cast<size_t>(len) * sizeof(float));
    }
  });
}

const char* ElementwiseTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(UnaryF32);
HWY_EXPORT(BinaryF32);
HWY_EXPORT(WhereX32);
HWY_EXPORT(ChainF32);
HWY_EXPORT(ElementwiseTargetName);

const char* fast_elementwise_target() { return HWY_DYNAMIC_DISPATCH(ElementwiseTargetName)(); }

namespace {

void unary(FastUnary op, const void* params, void* const* o) {
  const auto& p = *static_cast<const rtml_unary_params*>(params);
  HWY_DYNAMIC_DISPATCH(UnaryF32)(static_cast<int>(op), p, static_cast<const float*>(o[0]), static_cast<float*>(o[1]),
                                 p.count);
}

void binary(FastBinary op, const Broadcast& bc, const void* a, const void* b, void* y) {
  HWY_DYNAMIC_DISPATCH(BinaryF32)(static_cast<int>(op), bc, static_cast<const float*>(a),
                                  static_cast<const float*>(b), static_cast<float*>(y));
}

void binary_entry(FastBinary op, const void* params, void* const* o) {
  binary(op, static_cast<const rtml_broadcast_params*>(params)->bc, o[0], o[1], o[2]);
}

// The exponent when B is one value for every output element, else NaN.
float single_exponent(const Broadcast& bc, const float* b) {
  for (int d = 0; d < bc.rank; ++d)
    if (bc.strides[1][d] != 0) return NAN;
  return b[0];
}

// Sum, Max, Min of n inputs: folded as the reference (variadic_impl).
void variadic(FastBinary op, const void* params, void* const* x) {
  const auto& p = *static_cast<const rtml_variadic_params*>(params);
  void* y = x[p.n];
  if (p.n == 1) {
    if (p.count > 0 && y != x[0]) memmove(y, x[0], static_cast<size_t>(p.count) * sizeof(float));
    return;
  }
  binary(op, p.bc[0], x[0], x[1], y);
  for (int k = 2; k < p.n; ++k) binary(op, p.bc[k - 1], y, x[k], y);
}

// Pow: x^2, x^3, x^0.5 and x^-1 on vectors when B is one value and A is
// the output's shape; any other case by the reference. (The dispatches are
// called from this namespace: on a target without dynamic dispatch
// HWY_DYNAMIC_DISPATCH names the function in the target's namespace.)
int pow_entry(const void* params, void* const* o) {
  const Broadcast& bc = static_cast<const rtml_broadcast_params*>(params)->bc;
  if (bc.count == 0) return 0;
  const float e = single_exponent(bc, static_cast<const float*>(o[1]));
  const bool a_whole = bc.rank == 0 || (bc.rank == 1 && bc.strides[0][0] == 1);
  if (!a_whole || !(e == 2.0f || e == 3.0f || e == 0.5f || e == -1.0f)) return rtml_f32_pow_f32__ref(params, o);
  const FastUnary op = e == 2.0f   ? FastUnary::Square
                       : e == 3.0f ? FastUnary::Cube
                       : e == 0.5f ? FastUnary::SqrtPow
                                   : FastUnary::Reciprocal;
  const rtml_unary_params p{bc.count, 0, 0, 0};
  HWY_DYNAMIC_DISPATCH(UnaryF32)(static_cast<int>(op), p, static_cast<const float*>(o[0]), static_cast<float*>(o[2]),
                                 bc.count);
  return 0;
}

int clip_entry(const void* params, void* const* o) {
  const auto& p = *static_cast<const rtml_clip_params*>(params);
  float lo = -HUGE_VALF, hi = HUGE_VALF;
  if (p.num_inputs > 1 && o[1]) lo = *static_cast<const float*>(o[1]);
  else if (p.has_min) lo = p.min;
  if (p.num_inputs > 2 && o[2]) hi = *static_cast<const float*>(o[2]);
  else if (p.has_max) hi = p.max;
  const rtml_unary_params clip{p.count, lo, hi, 0};
  HWY_DYNAMIC_DISPATCH(UnaryF32)(static_cast<int>(FastUnary::Clip), clip, static_cast<const float*>(o[0]),
                                 static_cast<float*>(o[p.num_inputs]), p.count);
  return 0;
}

int chain_entry(const void* params, void* const* o) {
  const auto& p = *static_cast<const rtml_ew_chain_params*>(params);
  const float* in[3] = {};
  for (int j = 0; j < p.bc.num_inputs; ++j) in[j] = static_cast<const float*>(o[j]);
  HWY_DYNAMIC_DISPATCH(ChainF32)(p, in, static_cast<float*>(o[p.bc.num_inputs]), 0, p.bc.count);
  return 0;
}

}  // namespace

void ew_epilogue_apply_hwy(const rtml_ew_epilogue& e, float* y, void* const* operands, int64_t begin, int64_t end) {
  const float* in[3] = {y, nullptr, nullptr};
  for (int j = 1; j < e.chain.bc.num_inputs; ++j) in[j] = static_cast<const float*>(operands[e.in_slot + j - 1]);
  HWY_DYNAMIC_DISPATCH(ChainF32)(e.chain, in, y, begin, end);
}

namespace {

int where_entry(const void* params, void* const* o) {
  HWY_DYNAMIC_DISPATCH(WhereX32)(static_cast<const rtml_broadcast_params*>(params)->bc,
                                 static_cast<const uint8_t*>(o[0]), static_cast<const uint32_t*>(o[1]),
                                 static_cast<const uint32_t*>(o[2]), static_cast<uint32_t*>(o[3]));
  return 0;
}

}  // namespace
}  // namespace rtml::kernels

using rtml::kernels::FastBinary;
using rtml::kernels::FastUnary;

// rtml_f32_<op>__hwy: `run` (unary, binary_entry, variadic) with the op's number.
#define RTML_EW_HWY_ENTRY(op, run, number)        \
  RTML_KERNEL(rtml_f32_##op##__hwy) {             \
    rtml::kernels::run(number, params, operands); \
    return 0;                                     \
  }
#define RTML_EW_HWY_UNARY_ENTRY(op, Op) RTML_EW_HWY_ENTRY(op, unary, FastUnary::Op)
#define RTML_EW_HWY_BINARY_ENTRY(op, Op) RTML_EW_HWY_ENTRY(op, binary_entry, FastBinary::Op)
#define RTML_EW_HWY_VARIADIC_ENTRY(op, Op) RTML_EW_HWY_ENTRY(op, variadic, FastBinary::Op)
RTML_EW_HWY_UNARY_OPS(RTML_EW_HWY_UNARY_ENTRY)
RTML_EW_HWY_BINARY_OPS(RTML_EW_HWY_BINARY_ENTRY)
RTML_EW_HWY_VARIADIC_OPS(RTML_EW_HWY_VARIADIC_ENTRY)
#undef RTML_EW_HWY_UNARY_ENTRY
#undef RTML_EW_HWY_BINARY_ENTRY
#undef RTML_EW_HWY_VARIADIC_ENTRY
#undef RTML_EW_HWY_ENTRY

RTML_KERNEL(rtml_f32_pow_f32__hwy) { return rtml::kernels::pow_entry(params, operands); }
RTML_KERNEL(rtml_f32_clip__hwy) { return rtml::kernels::clip_entry(params, operands); }
RTML_KERNEL(rtml_x32_where__hwy) { return rtml::kernels::where_entry(params, operands); }
RTML_KERNEL(rtml_f32_elementwise_chain__hwy) { return rtml::kernels::chain_entry(params, operands); }
#endif  // HWY_ONCE
