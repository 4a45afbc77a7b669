// The float32 Highway elementwise kernels (kernels/fast_elementwise.h)
// against the scalar reference entries (kernels/elementwise.h), both found
// through the kernel table, on every Highway target this CPU supports:
//   - unary ops over a range that covers every binade of float (denormals to
//     FLT_MAX), +-0, +-inf, NaN, the ranges where the vector maths changes
//     method (Erf at 1, Exp at 88.7 and -104, Sin / Cos at 39000), ties for
//     Round, and lengths that are not a multiple of any vector width; NaN
//     and infinities must match the reference's exactly, finite values within
//     the op's bound in ulps (docs/kernels.md lists the bounds and the
//     measured maxima); nothing is written past the end;
//   - binary ops, Where, variadic Sum / Max / Min, Clip on broadcast shapes:
//     the same bits as the reference; Pow's special exponents within 1 ulp
//     of the reference's powf (2 on ARMv7), other exponents its bits;
//   - Gelu through the engine against its formula evaluated in double, and
//     the simd kernel set choosing the Highway kernels (the reference set the
//     reference ones).
#include "kernels/fast_elementwise.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "attributes.h"
#include "graph_builder.h"
#include "kernel_call.h"
#include "kernels/broadcast_plan.h"
#include "kernels/table.h"
#include "one_node.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ARMv7 NEON flushes denormals to zero, inputs and results, and divides by
// a reciprocal estimate refined by Newton steps (not correctly rounded; a
// divisor above 2^126 has a denormal reciprocal, so gives 0). There the
// reference is given the inputs as the vector unit sees them, its denormal
// results count as +-0, and the unary ops that divide or take a square root
// may differ by one more ulp (the binary Div stays scalar there).
constexpr bool kArmV7 = HWY_ARCH_ARM_V7;
float flushed(float v) {
  return kArmV7 && std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}

rtml_kernel_fn entry(const std::string& symbol) {
  const kernels::KernelInfo* k = kernels::find_kernel(symbol);
  EXPECT_NE(k, nullptr) << symbol << " is not in the kernel table";
  return k ? k->fn : nullptr;
}

// The distance between |r| and the next float up (the denormal step below
// FLT_MIN; FLT_MAX's step above it).
double ulp_of(float r) {
  const float a = std::fabs(r);
  if (a >= FLT_MAX) return std::ldexp(1.0, 104);
  return static_cast<double>(std::nextafter(a, kInf)) - static_cast<double>(a);
}

// |v - r| in ulps of max(|r|, floor); infinite when the classes differ
// (NaN vs number, inf vs finite, infinities of opposite sign).
double ulps_between(float v, float r, float floor) {
  if (std::isnan(r) || std::isnan(v)) return std::isnan(r) && std::isnan(v) ? 0 : HUGE_VAL;
  if (std::isinf(r) || std::isinf(v)) return v == r ? 0 : HUGE_VAL;
  const double diff = std::fabs(static_cast<double>(v) - static_cast<double>(r));
  return diff / ulp_of(std::max(std::fabs(r), floor));
}

// Every binade from the denormals to FLT_MAX with both signs, the special
// values, the points where the vector maths changes method, ties, and random
// values in [-10, 10] and [-1, 1].
std::vector<float> unary_inputs() {
  std::vector<float> v = {0.0f, -0.0f, kInf, -kInf, kNaN, -kNaN, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
                          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                          1e-40f, -1e-40f, 1.0f, -1.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 3.5f, -3.5f,
                          8388607.5f, -8388607.5f, 8388608.0f, 16777215.0f, 0.99999994f, 1.0000001f, -0.99999994f,
                          88.72283f, 88.72284f, 89.0f, -87.5f, -103.0f, -104.0f, -105.0f, 3.92f, 10.1f, -10.1f,
                          14.5f, -14.5f, 20.0f, -20.0f, 38999.0f, -38999.0f, 39001.0f, -1e6f, 1e6f, 1e30f};
  std::mt19937 rng(19);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int e = -149; e <= 127; ++e)
    for (int k = 0; k < 6; ++k) {
      const float m = std::ldexp(mantissa(rng), e);
      v.push_back(m);
      v.push_back(-m);
    }
  std::uniform_real_distribution<float> wide(-10.0f, 10.0f), unit(-1.0f, 1.0f);
  for (int i = 0; i < 3000; ++i) v.push_back(wide(rng));
  for (int i = 0; i < 2000; ++i) v.push_back(unit(rng));
  for (int k = -200; k <= 200; ++k) {
    v.push_back(static_cast<float>(k) * 3.14159265f / 2);  // near the zeros of Sin and Cos
    v.push_back(static_cast<float>(k) + 0.5f);               // ties for Round
  }
  return v;
}

struct UnaryCase {
  const char* op;
  float alpha, beta, gamma;
  double max_ulps;   // the bound asserted (docs/kernels.md)
  float floor = 0;   // ulps are counted of max(|y|, floor): for results that the
                     // reference itself computes by cancellation (e^x - 1, 1 + erf)
  double max_ulps_armv7 = max_ulps;  // with ARMv7's divisions and square roots
};

// Bounds in ulps (docs/kernels.md has them with the measured maxima).
const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"tanh", 0, 0, 0, 4},
      {"sigmoid", 0, 0, 0, 4},
      {"exp", 0, 0, 0, 2},
      {"log", 0, 0, 0, 4},
      {"sin", 0, 0, 0, 4, 1e-7f},
      {"cos", 0, 0, 0, 4, 1e-7f},
      {"erf", 0, 0, 0, 4},
      {"sqrt", 0, 0, 0, 1, 0, 2},
      {"reciprocal", 0, 0, 0, 1, 0, 2},
      {"abs", 0, 0, 0, 0},
      {"neg", 0, 0, 0, 0},
      {"floor", 0, 0, 0, 0},
      {"ceil", 0, 0, 0, 0},
      {"round", 0, 0, 0, 0},
      {"softplus", 0, 0, 0, 4},
      {"softsign", 0, 0, 0, 1, 0, 2},
      {"elu", 0.7f, 0, 0, 4, 0.7f},
      {"selu", 1.67326319f, 0, 1.05070102f, 4, 1.0f},
      {"celu", 1.3f, 0, 0, 4, 1.3f},
      {"leaky_relu", 0.01f, 0, 0, 0},
      {"hard_sigmoid", 0.2f, 0.5f, 0, 1, 1.0f},
      {"hard_swish", 0, 0, 0, 2, 1.0f},
      {"mish", 0, 0, 0, 6},
      {"gelu", 0, 0, 0, 10, 0, 40},
      {"gelu_tanh", 0, 0, 0, 32, 1e-6f},
      {"thresholded_relu", 1.0f, 0, 0, 0},
      {"relu", 0, 0, 0, 0},
  };
  return cases;
}

// Runs `fn` on x[0, n) into a buffer with sentinels after n; checks them.
std::vector<float> run_unary(rtml_kernel_fn fn, const rtml_unary_params& p, const float* x, size_t n) {
  std::vector<float> y(n + 16, 12345.0f);
  EXPECT_EQ(call(fn, &p, {x, y.data()}), 0);
  for (size_t i = n; i < y.size(); ++i) EXPECT_EQ(y[i], 12345.0f) << "written past the end at " << i;
  y.resize(n);
  return y;
}

// The largest error of op `c` over the inputs (all of them at once, then
// lengths 0, 1, 3, 7, 17, 33 and 65 at odd offsets); fails past the bound.
// `at`: the input with the largest error.
double check_unary(const UnaryCase& c, const std::vector<float>& x_in, float* at = nullptr) {
  std::vector<float> x = x_in;
  for (float& v : x) v = flushed(v);
  const rtml_kernel_fn ref = entry(std::string("rtml_f32_") + c.op + "__ref");
  const rtml_kernel_fn fast = entry(std::string("rtml_f32_") + c.op + "__hwy");
  if (!ref || !fast) return HUGE_VAL;
  double worst = 0;
  const double bound = kArmV7 ? c.max_ulps_armv7 : c.max_ulps;
  auto compare = [&](size_t offset, size_t n) {
    rtml_unary_params p{static_cast<int64_t>(n), c.alpha, c.beta, c.gamma};
    const std::vector<float> want = run_unary(ref, p, x.data() + offset, n);
    const std::vector<float> got = run_unary(fast, p, x.data() + offset, n);
    int reported = 0;
    for (size_t i = 0; i < n; ++i) {
      if (kArmV7 && std::string(c.op) == "softsign" && std::fabs(x[offset + i]) > 1e37f) continue;  // 1 + |x| > 2^126
      if (kArmV7 && std::string(c.op) == "mish" && x[offset + i] < -87.3f) continue;  // e^x is denormal
      const double e = ulps_between(got[i], flushed(want[i]), c.floor);
      if (e > worst && at) *at = x[offset + i];
      worst = std::max(worst, e);
      if (e > bound && reported++ < 5)
        ADD_FAILURE() << c.op << "(" << x[offset + i] << ") = " << got[i] << ", reference " << want[i] << ": " << e
                      << " ulps (bound " << bound << ")";
    }
  };
  compare(0, x.size());
  size_t offset = 1;
  for (size_t n : {0, 1, 3, 7, 17, 33, 65}) {
    compare(offset, n);
    offset += 2 * n + 5;
  }
  return worst;
}

TEST(FastElementwise, UnaryOpsMatchTheReferenceOnEveryTarget) {
  const std::vector<float> x = unary_inputs();
  std::map<std::string, std::pair<double, float>> measured;  // max ulps, at x
  const auto checked = rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [&] {
    for (const UnaryCase& c : unary_cases()) {
      SCOPED_TRACE(c.op);
      float at = 0;
      const double e = check_unary(c, x, &at);
      if (e >= measured[c.op].first) measured[c.op] = {e, at};
    }
  });
  // The measured maxima over every target (the table in docs/kernels.md).
  std::cout << "max error in ulps over";
  for (const std::string& t : checked) std::cout << " " << t;
  std::cout << ":\n";
  for (const auto& [op, e] : measured) std::cout << "  " << op << " " << e.first << " at x = " << e.second << "\n";
}

// Every unary entry of fast_elementwise.h is in the table and has a case above.
TEST(FastElementwise, EveryUnaryKernelIsChecked) {
  std::vector<std::string> listed;
#define RTML_EW_LIST(op, Op) listed.push_back(#op);
  RTML_EW_HWY_UNARY_OPS(RTML_EW_LIST)
#undef RTML_EW_LIST
  for (const std::string& op : listed) {
    bool found = false;
    for (const UnaryCase& c : unary_cases()) found |= op == c.op;
    EXPECT_TRUE(found) << op << " has no case";
    EXPECT_NE(kernels::find_kernel("rtml_f32_" + op + "__hwy"), nullptr) << op;
  }
  EXPECT_EQ(listed.size(), unary_cases().size());
}

// ---- binary --------------------------------------------------------------------

// Random values with some NaN, +-inf, +-0 and negative values.
std::vector<float> binary_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  std::uniform_int_distribution<int> pick(0, 29);
  std::vector<float> v(n);
  for (float& x : v) {
    switch (pick(rng)) {
      case 0: x = kNaN; break;
      case 1: x = kInf; break;
      case 2: x = -kInf; break;
      case 3: x = -0.0f; break;
      case 4: x = 0.0f; break;
      default: x = u(rng);
    }
  }
  return v;
}

bool same_bits_or_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Shapes broadcast against each other: same shape (lengths not a multiple
// of any vector), scalars on either side, rows, columns, a middle axis.
const std::vector<std::vector<Shape>>& broadcast_shapes() {
  static const std::vector<std::vector<Shape>> shapes = {
      {{1}, {1}},          {{7}, {7}},          {{17}, {17}},       {{67}, {67}},        {{3, 33}, {3, 33}},
      {{65}, {1}},         {{1}, {31}},         {{}, {5, 19}},      {{4, 13}, {13}},     {{4, 1}, {4, 13}},
      {{2, 3, 9}, {3, 1}}, {{2, 1, 9}, {1, 5, 9}}, {{6, 1}, {1, 35}}, {{0, 4}, {4}},
      // rows shorter than a vector, element by element (a mixture head's [1, 8, 1] x [1, 8, 2])
      {{1, 8, 1}, {1, 8, 2}}, {{5, 3}, {5, 1}},
  };
  return shapes;
}

std::vector<const void*> operand_ptrs(const std::vector<std::vector<float>>& in, std::vector<float>& y) {
  std::vector<const void*> p;
  for (const auto& v : in) p.push_back(v.data());
  p.push_back(y.data());
  return p;
}

int call_vector(rtml_kernel_fn fn, const void* params, const std::vector<const void*>& ops) {
  std::vector<void*> p;
  for (const void* o : ops) p.push_back(const_cast<void*>(o));
  return fn(params, p.data());
}

// Runs the reference and the fast entry of `op` with the same operands;
// returns {reference, fast} outputs.
std::pair<std::vector<float>, std::vector<float>> run_both(const std::string& ref_symbol, const std::string& fast_symbol,
                                                           const void* params,
                                                           const std::vector<std::vector<float>>& in, size_t count) {
  std::vector<float> want(count + 1, 7.0f), got(count + 1, 7.0f);
  EXPECT_EQ(call_vector(entry(ref_symbol), params, operand_ptrs(in, want)), 0);
  EXPECT_EQ(call_vector(entry(fast_symbol), params, operand_ptrs(in, got)), 0);
  EXPECT_EQ(got[count], 7.0f) << fast_symbol << " wrote past the end";
  return {want, got};
}

TEST(FastElementwise, BinaryOpsGiveTheReferenceBitsOnBroadcastShapes) {
  rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [] {
    std::mt19937 rng(7);
    for (const auto& shapes : broadcast_shapes()) {
      Shape out;
      ASSERT_TRUE(kernels::broadcast_shape(shapes, out));
      rtml_broadcast_params p{};
      ASSERT_TRUE(kernels::make_broadcast(shapes, out, p.bc));
      const std::vector<std::vector<float>> in = {binary_values(static_cast<size_t>(shape_numel(shapes[0])), rng),
                                                  binary_values(static_cast<size_t>(shape_numel(shapes[1])), rng)};
      const size_t count = static_cast<size_t>(shape_numel(out));
      for (const char* op : {"add", "sub", "mul", "div", "prelu"}) {
        if (std::string(op) == "prelu" && out != shapes[0]) continue;  // the slope broadcasts to X only
        SCOPED_TRACE(std::string(op) + " " + shape_str(shapes[0]) + " " + shape_str(shapes[1]));
        const auto [want, got] =
            run_both(std::string("rtml_f32_") + op + "__ref", std::string("rtml_f32_") + op + "__hwy", &p, in, count);
        for (size_t i = 0; i < count; ++i)
          ASSERT_TRUE(same_bits_or_nan(got[i], want[i])) << i << ": " << got[i] << " vs " << want[i];
      }
      // Where on the same shapes (the condition broadcast like the first).
      std::vector<uint8_t> cond(static_cast<size_t>(shape_numel(shapes[0])));
      for (uint8_t& c : cond) c = static_cast<uint8_t>(rng() & 1);
      rtml_broadcast_params wp{};
      ASSERT_TRUE(kernels::make_broadcast({shapes[0], shapes[1], shapes[0]}, out, wp.bc));
      std::vector<float> wy_ref(count + 1, 7.0f), wy_fast(count + 1, 7.0f);
      EXPECT_EQ(call(entry("rtml_x32_where__ref"), &wp, {cond.data(), in[1].data(), in[0].data(), wy_ref.data()}), 0);
      EXPECT_EQ(call(entry("rtml_x32_where__hwy"), &wp, {cond.data(), in[1].data(), in[0].data(), wy_fast.data()}), 0);
      for (size_t i = 0; i <= count; ++i) ASSERT_TRUE(same_bits_or_nan(wy_fast[i], wy_ref[i])) << "where " << i;
    }
  });
}

TEST(FastElementwise, VariadicSumMaxMinGiveTheReferenceBits) {
  rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [] {
    std::mt19937 rng(11);
    const std::vector<Shape> shapes = {{3, 19}, {19}, {3, 1}, {1}};
    const Shape out = {3, 19};
    for (int n = 1; n <= 4; ++n) {
      rtml_variadic_params p{};
      p.n = n;
      p.count = shape_numel(out);
      std::vector<std::vector<float>> in;
      for (int i = 0; i < n; ++i) in.push_back(binary_values(static_cast<size_t>(shape_numel(shapes[i])), rng));
      if (n == 1) in[0] = binary_values(static_cast<size_t>(p.count), rng);
      if (n > 1) {
        ASSERT_TRUE(kernels::make_broadcast({shapes[0], shapes[1]}, out, p.bc[0]));
      }
      for (int i = 2; i < n; ++i) ASSERT_TRUE(kernels::make_broadcast({out, shapes[i]}, out, p.bc[i - 1]));
      for (const char* op : {"sum", "max", "min"}) {
        SCOPED_TRACE(std::string(op) + " of " + std::to_string(n));
        const auto [want, got] = run_both(std::string("rtml_f32_") + op + "__ref",
                                          std::string("rtml_f32_") + op + "__hwy", &p, in, static_cast<size_t>(p.count));
        for (size_t i = 0; i < want.size() - 1; ++i)
          ASSERT_TRUE(same_bits_or_nan(got[i], want[i])) << i << ": " << got[i] << " vs " << want[i];
      }
    }
  });
}

TEST(FastElementwise, ClipGivesTheReferenceBits) {
  rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [] {
    std::mt19937 rng(3);
    for (size_t n : {0, 1, 5, 16, 37}) {
      const std::vector<float> x = binary_values(n, rng);
      const float lo = -1.5f, hi = 2.0f;
      rtml_clip_params with_inputs{static_cast<int64_t>(n), 3, false, false, 0, 0};
      rtml_clip_params with_attrs{static_cast<int64_t>(n), 1, true, true, -0.5f, 0.25f};
      rtml_clip_params only_max{static_cast<int64_t>(n), 3, false, false, 0, 0};
      std::vector<float> want(n + 1, 7.0f), got(n + 1, 7.0f);
      auto both = [&](const rtml_clip_params& p, const float* l, const float* h) {
        const float* y_slot_ref = want.data();
        if (p.num_inputs == 3) {
          EXPECT_EQ(call(entry("rtml_f32_clip__ref"), &p, {x.data(), l, h, y_slot_ref}), 0);
          EXPECT_EQ(call(entry("rtml_f32_clip__hwy"), &p, {x.data(), l, h, got.data()}), 0);
        } else {
          EXPECT_EQ(call(entry("rtml_f32_clip__ref"), &p, {x.data(), y_slot_ref}), 0);
          EXPECT_EQ(call(entry("rtml_f32_clip__hwy"), &p, {x.data(), got.data()}), 0);
        }
        for (size_t i = 0; i <= n; ++i) EXPECT_TRUE(same_bits_or_nan(got[i], want[i])) << i;
      };
      both(with_inputs, &lo, &hi);
      both(with_attrs, nullptr, nullptr);
      both(only_max, nullptr, &hi);
    }
  });
}

TEST(FastElementwise, PowSpecialExponentsOnVectorsOthersAsTheReference) {
  rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [] {
    std::mt19937 rng(5);
    std::vector<float> x = unary_inputs();
    for (float& v : x) v = flushed(v);
    const size_t n = x.size();
    for (float e : {2.0f, 3.0f, 0.5f, -1.0f, 1.7f, -2.0f}) {
      SCOPED_TRACE("exponent " + std::to_string(e));
      rtml_broadcast_params p{};
      ASSERT_TRUE(kernels::make_broadcast({{static_cast<int64_t>(n)}, {1}}, {static_cast<int64_t>(n)}, p.bc));
      const auto [want, got] = run_both("rtml_f32_pow_f32__ref", "rtml_f32_pow_f32__hwy", &p, {x, {e}}, n);
      const bool special = e == 2.0f || e == 3.0f || e == 0.5f || e == -1.0f;  // else the reference's loop
      for (size_t i = 0; i < n; ++i)
        ASSERT_LE(ulps_between(got[i], special ? flushed(want[i]) : want[i], 0), kArmV7 ? 2.0 : 1.0)
            << "x = " << x[i] << ": " << got[i] << " vs " << want[i];
    }
    // An exponent per element: the reference's loop.
    std::vector<float> base = binary_values(40, rng), exps = binary_values(40, rng);
    rtml_broadcast_params p{};
    ASSERT_TRUE(kernels::make_broadcast({{40}, {40}}, {40}, p.bc));
    const auto [want, got] = run_both("rtml_f32_pow_f32__ref", "rtml_f32_pow_f32__hwy", &p, {base, exps}, 40);
    for (size_t i = 0; i < 40; ++i) EXPECT_TRUE(same_bits_or_nan(got[i], want[i])) << i;
    // Empty tensors: nothing read, nothing written.
    rtml_broadcast_params empty{};
    ASSERT_TRUE(kernels::make_broadcast({{0}, {0}}, {0}, empty.bc));
    float sentinel = 7.0f;
    EXPECT_EQ(call(entry("rtml_f32_pow_f32__hwy"), &empty, {nullptr, nullptr, &sentinel}), 0);
    EXPECT_EQ(sentinel, 7.0f);
  });
}

// ---- through the engine ------------------------------------------------------------

// Gelu's two forms against their formulas in double (the ONNX spec's
// definitions), and an unknown approximation refused.
TEST(FastElementwise, GeluThroughTheEngineMatchesItsFormula) {
  std::vector<float> x;
  for (int i = -80; i <= 80; ++i) x.push_back(static_cast<float>(i) * 0.125f);
  for (const char* mode : {"none", "tanh"}) {
    SCOPED_TRACE(mode);
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::String;
    a.s = mode;
    const auto r = rtml::testing::run_one_node("Gelu", 20, {{{static_cast<int64_t>(x.size())}, x}}, {false}, 1,
                                               {{"approximate", a}});
    EXPECT_EQ(r.kernel, std::string("rtml_f32_") + (std::string(mode) == "tanh" ? "gelu_tanh" : "gelu") + "__hwy");
    for (size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      const double want = std::string(mode) == "tanh"
                              ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                              : 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      EXPECT_NEAR(r.outputs[0][i], want, 2e-6 * std::max(1.0, std::fabs(want))) << "x = " << v;
    }
  }
  ir::Attribute bad;
  bad.kind = ir::Attribute::Kind::String;
  bad.s = "fast";
  try {
    rtml::testing::run_one_node("Gelu", 20, {{{3}, {1, 2, 3}}}, {false}, 1, {{"approximate", bad}});
    ADD_FAILURE() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("approximate must be \"none\" or \"tanh\""), std::string::npos) << e.what();
  }
}

// The simd set (the default) takes the Highway kernels; the reference set
// keeps the scalar ones.
TEST(FastElementwise, KernelSetsChooseTheirKernels) {
  rtml::testing::GraphBuilder b;
  const ir::TensorId x = b.input("x", {2, 9});
  const ir::TensorId t = b.node("Tanh", {x});
  const ir::TensorId s = b.node("Add", {t, b.constant("bias", {9}, std::vector<float>(9, 0.5f))});
  const ir::TensorId p = b.node("Pow", {s, b.constant("two", {}, std::vector<float>{2.0f})});
  b.g.outputs = {p};
  std::vector<float> outs[2];
  for (kernels::KernelSet set : {kernels::KernelSet::Simd, kernels::KernelSet::Reference}) {
    plan::PlanOptions o;
    o.kernels = set;
    o.fuse = false;  // one step per node (as a chain they run as one: elementwise_chain_test.cpp)
    plan::Plan plan = plan::build_plan(b.g, o);
    const bool simd = set == kernels::KernelSet::Simd;
    std::vector<std::string> kernels;
    for (const plan::PlanStep& st : plan.steps) kernels.push_back(st.step.kernel);
    const char* impl = simd ? "__hwy" : "__ref";
    EXPECT_EQ(kernels, (std::vector<std::string>{std::string("rtml_f32_tanh") + impl,
                                                 std::string("rtml_f32_add") + impl,
                                                 std::string("rtml_f32_pow_f32") + impl}));
    engine::Session session(std::move(plan));
    float* in = static_cast<float*>(session.input_data(0));
    for (int i = 0; i < 18; ++i) in[i] = 0.3f * static_cast<float>(i - 9);
    ASSERT_TRUE(session.run().ok());
    const float* y = static_cast<const float*>(session.output_data(0));
    outs[simd ? 0 : 1].assign(y, y + 18);
  }
  for (int i = 0; i < 18; ++i) {
    const double v = std::tanh(0.3 * (i - 9)) + 0.5;
    EXPECT_NEAR(outs[0][i], v * v, 1e-6) << i;
    EXPECT_NEAR(outs[1][i], v * v, 1e-6) << i;
  }
}

}  // namespace
