// Elementwise kernel edge cases the ONNX test data covers thinly. Every
// expected value is worked out by hand from the ONNX spec.
#include "kernels/elementwise.h"

#include "kernels/broadcast_plan.h"
#include "kernels/table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace rtml;
using namespace rtml::kernels;

namespace {

// Runs the table entry `symbol` on `operands` with params `p`.
template <class P>
void call(const char* symbol, const P& p, std::vector<void*> operands) {
  const KernelInfo& k = kernel(symbol);
  ASSERT_EQ(k.params->size, sizeof(P)) << symbol;
  EXPECT_EQ(k.fn(&p, operands.data()), 0) << symbol;
}

template <class A, class B, class Y>
std::vector<Y> run_binary(const char* symbol, const Shape& sa, const std::vector<A>& a, const Shape& sb,
                          const std::vector<B>& b) {
  Shape out;
  EXPECT_TRUE(broadcast_shape({sa, sb}, out));
  rtml_broadcast_params p{};
  EXPECT_TRUE(make_broadcast({sa, sb}, out, p.bc));
  std::vector<Y> y(static_cast<size_t>(shape_numel(out)));
  call(symbol, p, {const_cast<A*>(a.data()), const_cast<B*>(b.data()), y.data()});
  return y;
}

template <class T, class Y = T>
std::vector<Y> run_unary(const char* symbol, const std::vector<T>& x, float alpha = 0, float beta = 0) {
  rtml_unary_params p{};
  p.count = static_cast<int64_t>(x.size());
  p.alpha = alpha;
  p.beta = beta;
  std::vector<Y> y(x.size());
  call(symbol, p, {const_cast<T*>(x.data()), y.data()});
  return y;
}

}  // namespace

TEST(Elementwise, RoundIsHalfToEven) {
  std::vector<float> x = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.4f, -2.6f, 3.5f};
  std::vector<float> want = {-2, -2, 0, 0, 2, 2, 2, -3, 4};
  EXPECT_EQ(run_unary("rtml_f32_round__ref", x), want);
}

TEST(Elementwise, IntegerDivTruncatesAndNeverTraps) {
  const int32_t kMin = std::numeric_limits<int32_t>::min();
  auto y = run_binary<int32_t, int32_t, int32_t>("rtml_s32_div__ref", {6}, {7, -7, 7, -7, 5, kMin},
                                                 {6}, {2, 2, -2, -2, 0, -1});
  EXPECT_EQ(y, (std::vector<int32_t>{3, -3, -3, 3, 0, kMin}));
}

TEST(Elementwise, ModFollowsDivisorSignAndFModFollowsDividend) {
  std::vector<int32_t> a = {7, -7, 7, -7, 6}, b = {3, 3, -3, -3, 0};
  EXPECT_EQ((run_binary<int32_t, int32_t, int32_t>("rtml_s32_mod__ref", {5}, a, {5}, b)),
            (std::vector<int32_t>{1, 2, -2, -1, 0}));
  EXPECT_EQ((run_binary<int32_t, int32_t, int32_t>("rtml_s32_fmod__ref", {5}, a, {5}, b)),
            (std::vector<int32_t>{1, -1, 1, -1, 0}));
  // 5.5 = -3 * -2 - 0.5 (Python %), 5.5 = -2 * -2 + 1.5 (C fmod)
  EXPECT_EQ((run_binary<float, float, float>("rtml_f32_mod__ref", {1}, {5.5f}, {1}, {-2.f})),
            (std::vector<float>{-0.5f}));
  EXPECT_EQ((run_binary<float, float, float>("rtml_f32_fmod__ref", {1}, {5.5f}, {1}, {-2.f})),
            (std::vector<float>{1.5f}));
}

TEST(Elementwise, PowIntegerAndMixedTypes) {
  EXPECT_EQ((run_binary<int64_t, int64_t, int64_t>("rtml_s64_pow_s64__ref", {5}, {3, 2, -1, 1, -2},
                                                   {5}, {4, -1, -3, -7, 3})),
            (std::vector<int64_t>{81, 0, -1, 1, -8}));
  // 3^39 does not fit in a double's 53-bit mantissa; integer pow is exact.
  EXPECT_EQ((run_binary<int64_t, int64_t, int64_t>("rtml_s64_pow_s64__ref", {1}, {3}, {1}, {39})),
            (std::vector<int64_t>{4052555153018976267LL}));
  EXPECT_EQ((run_binary<int32_t, float, int32_t>("rtml_s32_pow_f32__ref", {2}, {4, 9}, {}, {0.5f})),
            (std::vector<int32_t>{2, 3}));
  EXPECT_EQ((run_binary<float, int64_t, float>("rtml_f32_pow_s64__ref", {2}, {2.f, -3.f}, {}, {3})),
            (std::vector<float>{8.f, -27.f}));
}

TEST(Elementwise, SmallIntegersWrapAround) {
  EXPECT_EQ((run_binary<uint8_t, uint8_t, uint8_t>("rtml_u8_add__ref", {2}, {200, 1}, {2}, {100, 2})),
            (std::vector<uint8_t>{44, 3}));
  EXPECT_EQ((run_binary<uint8_t, uint8_t, uint8_t>("rtml_u8_sub__ref", {1}, {1}, {1}, {2})),
            (std::vector<uint8_t>{255}));
  EXPECT_EQ((run_binary<int8_t, int8_t, int8_t>("rtml_s8_mul__ref", {1}, {64}, {1}, {2})),
            (std::vector<int8_t>{-128}));
}

TEST(Elementwise, BroadcastRowColumnAndUnmergeableDims) {
  // [2,3] + [3]: row vector
  EXPECT_EQ((run_binary<float, float, float>("rtml_f32_add__ref", {2, 3}, {1, 2, 3, 4, 5, 6}, {3},
                                             {10, 20, 30})),
            (std::vector<float>{11, 22, 33, 14, 25, 36}));
  // [2,1] - [1,3]: outer difference
  EXPECT_EQ((run_binary<float, float, float>("rtml_f32_sub__ref", {2, 1}, {10, 20}, {1, 3},
                                             {1, 2, 3})),
            (std::vector<float>{9, 8, 7, 19, 18, 17}));
  // [2,1,2] * [1,2,1] -> [2,2,2]; no dims can merge.
  EXPECT_EQ((run_binary<int32_t, int32_t, int32_t>("rtml_s32_mul__ref", {2, 1, 2}, {1, 2, 3, 4},
                                                   {1, 2, 1}, {10, 100})),
            (std::vector<int32_t>{10, 20, 100, 200, 30, 40, 300, 400}));
  // scalar - tensor (scalar on the left)
  EXPECT_EQ((run_binary<double, double, double>("rtml_f64_sub__ref", {}, {1}, {3}, {1, 2, 3})),
            (std::vector<double>{0, -1, -2}));
}

TEST(Elementwise, ComparisonsAndNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a = {1, 2, nan, 3}, b = {1, 3, nan, 2};
  EXPECT_EQ((run_binary<float, float, uint8_t>("rtml_f32_equal__ref", {4}, a, {4}, b)),
            (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ((run_binary<float, float, uint8_t>("rtml_f32_less_or_equal__ref", {4}, a, {4}, b)),
            (std::vector<uint8_t>{1, 1, 0, 0}));
  // Max of two inputs: the variadic entry with n = 2.
  std::vector<float> x0 = {nan, 1}, x1 = {1, nan}, m(2);
  rtml_variadic_params vp{};
  vp.n = 2;
  vp.count = 2;
  ASSERT_TRUE(make_broadcast({{2}, {2}}, {2}, vp.bc[0]));
  call("rtml_f32_max__ref", vp, {x0.data(), x1.data(), m.data()});
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_EQ(find_kernel("rtml_f32_logical_and__ref"), nullptr);
}

TEST(Elementwise, BitShiftByWidthGivesZero) {
  EXPECT_EQ((run_binary<uint8_t, uint8_t, uint8_t>("rtml_u8_bitshift_left__ref", {3}, {1, 3, 255},
                                                   {3}, {7, 1, 8})),
            (std::vector<uint8_t>{128, 6, 0}));
  EXPECT_EQ(find_kernel("rtml_s32_bitshift_left__ref"), nullptr);
}

TEST(Elementwise, VariadicSumAndMeanBroadcastAllInputs) {
  // Sum([3], [1], [2,3]) -> [2,3]; the first two inputs alone broadcast to [3].
  std::vector<float> x0 = {1, 2, 3}, x1 = {10}, x2 = {100, 200, 300, 400, 500, 600};
  rtml_variadic_params p{};
  p.n = 3;
  p.count = 6;
  Shape out = {2, 3};
  ASSERT_TRUE(make_broadcast({{3}, {1}}, out, p.bc[0]));
  ASSERT_TRUE(make_broadcast({out, {2, 3}}, out, p.bc[1]));
  std::vector<float> y(6);
  call("rtml_f32_sum__ref", p, {x0.data(), x1.data(), x2.data(), y.data()});
  EXPECT_EQ(y, (std::vector<float>{111, 212, 313, 411, 512, 613}));

  call("rtml_f32_mean__ref", p, {x0.data(), x1.data(), x2.data(), y.data()});
  EXPECT_FLOAT_EQ(y[0], 37.f);
  EXPECT_FLOAT_EQ(y[5], 613.f / 3);
}

TEST(Elementwise, WhereBroadcastsConditionAndBothBranches) {
  rtml_broadcast_params p{};
  Shape out = {2, 2};
  ASSERT_TRUE(make_broadcast({{2, 1}, {2}, {}}, out, p.bc));
  std::vector<uint8_t> cond = {1, 0};
  std::vector<int64_t> x = {1, 2}, z = {-7}, y(4);
  call("rtml_x64_where__ref", p, {cond.data(), x.data(), z.data(), y.data()});
  EXPECT_EQ(y, (std::vector<int64_t>{1, 2, -7, -7}));
}

TEST(Elementwise, CastFloatToIntTruncatesSaturatesAndMapsNaNToZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {2.9f, -2.9f, 1e10f, -1e10f, nan, 300.f};
  std::vector<int32_t> y(x.size());
  rtml_cast_params p{6, 1};
  call("rtml_f32_cast_s32__ref", p, {x.data(), y.data()});
  EXPECT_EQ(y, (std::vector<int32_t>{2, -2, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(),
                                     0, 300}));
  std::vector<uint8_t> b(x.size());
  call("rtml_f32_cast_b8__ref", p, {x.data(), b.data()});
  EXPECT_EQ(b, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1}));
}

TEST(Elementwise, HalfAndBFloat16Conversions) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.f), 0x7BFF);                  // largest finite
  EXPECT_EQ(float_to_half(65520.f), 0x7C00);                  // rounds up to inf
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -25)), 0x0000);     // tie -> even (0)
  EXPECT_EQ(float_to_half(std::ldexp(3.f, -25)), 0x0002);     // 1.5 ulp tie -> even (2)
  EXPECT_EQ(float_to_half(1.f + std::ldexp(1.f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(float_to_half(1.f + std::ldexp(3.f, -11)), 0x3C02);  // tie -> even
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7C00, 0x7C00);
  EXPECT_NE(float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x03FF, 0);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.f + std::ldexp(1.f, -8)), 0x3F80);  // tie -> even
  EXPECT_EQ(float_to_bfloat16(1.f + std::ldexp(3.f, -8)), 0x3F82);  // tie -> even
  EXPECT_EQ(bfloat16_to_float(0xC040), -3.0f);
}

TEST(Elementwise, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const bool nan = (bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0;
    const float f = half_to_float(bits);
    if (nan) {
      ASSERT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(float_to_half(f), bits) << h;
  }
}

TEST(Elementwise, HalfArithmeticRunsInFloat) {
  // 1 + 2048 = 2049 is not representable in half; rounds to even 2048.
  std::vector<uint16_t> a = {float_to_half(1.f), float_to_half(2048.f)}, b = {float_to_half(0.5f), float_to_half(1.f)};
  auto y = run_binary<uint16_t, uint16_t, uint16_t>("rtml_f16_add__ref", {2}, a, {2}, b);
  EXPECT_EQ(half_to_float(y[0]), 1.5f);
  EXPECT_EQ(half_to_float(y[1]), 2048.f);
}

TEST(Elementwise, ClipBoundsFromOperandsAttributesOrNone) {
  std::vector<int8_t> x = {-128, -5, 0, 5, 127}, y(5);
  rtml_clip_params p{};
  p.count = 5;
  p.num_inputs = 1;
  call("rtml_s8_clip__ref", p, {x.data(), y.data()});
  EXPECT_EQ(y, x);
  int8_t hi = 4;
  p.num_inputs = 3;
  call("rtml_s8_clip__ref", p, {x.data(), nullptr, &hi, y.data()});
  EXPECT_EQ(y, (std::vector<int8_t>{-128, -5, 0, 4, 4}));
  p.has_min = true;
  p.min = -1;
  p.num_inputs = 1;
  call("rtml_s8_clip__ref", p, {x.data(), y.data()});
  EXPECT_EQ(y, (std::vector<int8_t>{-1, -1, 0, 5, 127}));
}

TEST(Elementwise, ActivationsStayFiniteForLargeInputs) {
  auto sp = run_unary<float>("rtml_f32_softplus__ref", {100.f, -100.f, 0.f});
  EXPECT_EQ(sp[0], 100.f);
  EXPECT_GE(sp[1], 0.f);
  EXPECT_LT(sp[1], 1e-40f);
  EXPECT_FLOAT_EQ(sp[2], std::log(2.f));
  auto sg = run_unary<float>("rtml_f32_sigmoid__ref", {-1000.f, 1000.f, 0.f});
  EXPECT_EQ(sg, (std::vector<float>{0.f, 1.f, 0.5f}));
  // HardSwish: x * clamp(x/6 + 1/2, 0, 1)
  EXPECT_EQ(run_unary<float>("rtml_f32_hard_swish__ref", {-4.f, 3.f, 0.f, 4.f}),
            (std::vector<float>{0.f, 3.f, 0.f, 4.f}));
}

TEST(Elementwise, IsInfHonoursDetectFlagsAndSignHandlesIntegers) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {inf, -inf, 1.f, std::numeric_limits<float>::quiet_NaN()};
  auto y = run_unary<float, uint8_t>("rtml_f32_isinf__ref", x, 0.f, 1.f);  // positive only
  EXPECT_EQ(y, (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(run_unary<int32_t>("rtml_s32_sign__ref", {-7, 0, 9}), (std::vector<int32_t>{-1, 0, 1}));
  EXPECT_EQ(run_unary<int8_t>("rtml_s8_abs__ref", {-128, -3}), (std::vector<int8_t>{-128, 3}));
  EXPECT_EQ(find_kernel("rtml_s32_exp__ref"), nullptr);
}
