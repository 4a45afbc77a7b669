// The requantization routine and the quantized kernels against numbers
// computed by hand (docs/quantization.md has the worked example), and the
// quantized ONNX ops through the engine.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/session.h"
#include "error_of.h"
#include "ir/graph.h"
#include "kernels/quant.h"
#include "plan/plan.h"
#include "quant_graph.h"

namespace rtml {
namespace {

// ---- the routine -------------------------------------------------------------

TEST(Requantize, WorkedExampleOfTheDocs) {
  int32_t m = 0, s = 0;
  rtml_quantize_scales(0.5f, 0.0625f, 0.75f, &m, &s);  // 1/24 = 2/3 * 2^-4
  EXPECT_EQ(m, 1431655765);                            // round(2/3 * 2^31)
  EXPECT_EQ(s, -4);
  EXPECT_EQ(rtml_srdhm(84, m), 56);   // 56.49.. truncated
  EXPECT_EQ(rtml_srdhm(-84, m), -56);
  EXPECT_EQ(rtml_requantize(84, m, s), 4);    // 3.5 -> 4 (ties away from zero)
  EXPECT_EQ(rtml_requantize(-84, m, s), -4);  // -3.5 -> -4
  EXPECT_EQ(rtml_requantize(59, m, s), 2);    // 2.458 -> 2
  EXPECT_EQ(rtml_requantize(-59, m, s), -2);
}

TEST(Requantize, RoundingDivideByPowerOfTwoRoundsTiesAwayFromZero) {
  EXPECT_EQ(rtml_rounding_divide_by_pot(5, 1), 3);    // 2.5
  EXPECT_EQ(rtml_rounding_divide_by_pot(-5, 1), -3);  // -2.5
  EXPECT_EQ(rtml_rounding_divide_by_pot(-4, 1), -2);
  EXPECT_EQ(rtml_rounding_divide_by_pot(-7, 2), -2);  // -1.75
  EXPECT_EQ(rtml_rounding_divide_by_pot(6, 2), 2);    // 1.5
  EXPECT_EQ(rtml_rounding_divide_by_pot(5, 2), 1);    // 1.25
  EXPECT_EQ(rtml_rounding_divide_by_pot(100, 0), 100);
}

TEST(Requantize, SaturatesTheOneOverflowingProduct) {
  EXPECT_EQ(rtml_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(rtml_srdhm(INT32_MIN, INT32_MAX), -INT32_MAX);  // -(2^31-1), rounded: -2^31 * (2^31-1) * 2 / 2^32
  EXPECT_EQ(rtml_srdhm(1 << 30, 1 << 30), 1 << 29);         // 2 * 2^60 / 2^32
}

// rtml_srdhm is written as floor((ab + 2^30) / 2^31); TFLite (gemmlowp's
// SaturatingRoundingDoublingHighMul) writes it with a sign-dependent nudge and
// a division truncating toward zero. Both on ties of either sign, near the
// int32 ends and on random pairs; and the output clamp on sums past int32.
TEST(Requantize, HighMulIsTFLitesFormulaForEverySign) {
  const auto tflite = [](int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    const int64_t ab = int64_t{a} * b;
    const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
    return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  };
  std::vector<std::pair<int32_t, int32_t>> cases = {{1 << 30, 1}, {-(1 << 30), 1}, {3 << 29, 2}, {-(3 << 29), 2},
                                                    {INT32_MIN, 1}, {INT32_MAX, INT32_MAX}, {INT32_MIN, INT32_MAX},
                                                    {-1, 1}, {1, -1}, {0, INT32_MIN}, {-1, INT32_MIN}};
  uint64_t state = 88172645463325252u;  // xorshift64: random pairs
  for (int i = 0; i < 200000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    cases.push_back({static_cast<int32_t>(state), static_cast<int32_t>(state >> 32) >> (i % 31)});
  }
  for (const auto& [a, b] : cases) ASSERT_EQ(rtml_srdhm(a, b), tflite(a, b)) << a << " * " << b;
  // r + zero point past INT32_MAX / INT32_MIN still clamps to hi / lo.
  EXPECT_EQ(rtml_requantize_output(INT32_MAX, INT32_MAX, 0, 100, -128, 127), 127);
  EXPECT_EQ(rtml_requantize_output(INT32_MIN, INT32_MAX, 0, -100, -128, 127), -128);
  EXPECT_EQ(rtml_requantize_output(INT32_MAX, INT32_MAX, 0, 1, INT32_MIN, INT32_MAX), INT32_MAX);
  EXPECT_EQ(rtml_requantize_output(-INT32_MAX, INT32_MAX, 0, -5, INT32_MIN, INT32_MAX), INT32_MIN);
}

// rtml_requant_apply (the cortex-m kernels' form: shifts and mask per
// channel, no saturating case) equals rtml_requantize for every multiplier
// rtml_quantize_multiplier makes, at rounding ties, wrapping left shifts and
// the extremes of the accumulator.
TEST(Requantize, PerChannelFormEqualsTheRoutine) {
  const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30), -84, -59, -3, -2, -1, 0, 1, 2, 3, 59, 84, 255,
                          1 << 30, INT32_MAX - 1, INT32_MAX};
  int checked = 0;
  for (int e = -40; e <= 34; ++e)
    for (double f : {0.5, 0.6180339, 0.75, 0.9999999}) {
      int32_t m = 0, s = 0;
      rtml_quantize_multiplier(std::ldexp(f, e), &m, &s);
      const rtml_requant r = rtml_requant_of(m, s);
      for (int32_t acc : accs) {
        EXPECT_EQ(rtml_requant_apply(acc, r), rtml_requantize(acc, m, s)) << "acc " << acc << " m " << m << " s " << s;
        ++checked;
      }
      for (int32_t acc = -70000; acc <= 70000; acc += 997) EXPECT_EQ(rtml_requant_apply(acc, r), rtml_requantize(acc, m, s));
    }
  EXPECT_GT(checked, 1000);
}

TEST(Requantize, MultiplierAboveOneShiftsLeftFirst) {
  int32_t m = 0, s = 0;
  rtml_quantize_multiplier(3.0, &m, &s);  // 0.75 * 2^2
  EXPECT_EQ(m, 1610612736);               // 0.75 * 2^31
  EXPECT_EQ(s, 2);
  EXPECT_EQ(rtml_requantize(5, m, s), 15);
  EXPECT_EQ(rtml_requantize(-7, m, s), -21);
}

TEST(Requantize, QuantizeMultiplierEdgeCases) {
  int32_t m = 1, s = 1;
  rtml_quantize_multiplier(0.0, &m, &s);
  EXPECT_EQ(m, 0);
  EXPECT_EQ(s, 0);
  rtml_quantize_multiplier(1.0 - 1.0 / (1ll << 40), &m, &s);  // q rounds up to 1: halved, shift + 1
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 1);
  rtml_quantize_multiplier(1.0 / (1ll << 40), &m, &s);  // below 2^-31: flushed to zero
  EXPECT_EQ(m, 0);
  EXPECT_EQ(s, 0);
  rtml_quantize_multiplier(0.5, &m, &s);
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 0);
  rtml_quantize_multiplier(double(1ll << 40), &m, &s);  // saturates rather than shift left by 41
  EXPECT_EQ(m, INT32_MAX);
  EXPECT_EQ(s, 31);
  rtml_quantize_multiplier(std::nan(""), &m, &s);
  EXPECT_EQ(m, 0);
  EXPECT_EQ(s, 0);
}

TEST(Requantize, SoftmaxScalingAsTFLitesPrepare) {
  // beta * input_scale * 2^26 (Q5.26) as a multiplier above one, and
  // diff_min = -floor(31 * 2^26 / 2^left_shift).
  int32_t m = 0, s = 0, diff_min = 0;
  ASSERT_TRUE(rtml_softmax_scaling(1.0 / 16, &m, &s, &diff_min));  // 2^22 = 0.5 * 2^23
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 23);
  EXPECT_EQ(diff_min, -248);  // 31 * 8
  ASSERT_TRUE(rtml_softmax_scaling(1.0, &m, &s, &diff_min));  // 2^26 = 0.5 * 2^27
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(s, 27);
  EXPECT_EQ(diff_min, -15);  // floor(15.5)
  ASSERT_TRUE(rtml_softmax_scaling(0.1, &m, &s, &diff_min));  // 6710886.4 = 0.8 * 2^23
  EXPECT_EQ(m, 1717986918);                                    // round(0.8 * 2^31)
  EXPECT_EQ(s, 23);
  ASSERT_TRUE(rtml_softmax_scaling(100.0, &m, &s, &diff_min));  // capped at 2^31 - 1
  EXPECT_EQ(m, INT32_MAX);
  EXPECT_EQ(s, 31);
  EXPECT_EQ(diff_min, 0);  // only the row's maxima count
  EXPECT_FALSE(rtml_softmax_scaling(1e-9, &m, &s, &diff_min));  // 0.067 * 2^0: not above one
  EXPECT_FALSE(rtml_softmax_scaling(std::nan(""), &m, &s, &diff_min));
}

// ---- kernels, called through the table's calling convention -------------------

TEST(QuantKernels, FullyConnectedWorkedExample) {
  const int8_t x[3] = {10, -3, 7};
  const int8_t w[6] = {3, -5, 2, -3, 5, -2};  // [N=2 x K=3], as TFLite stores it
  const int32_t bias[2] = {25, -25};
  int32_t mult = 0, shift = 0;
  rtml_quantize_scales(0.5f, 0.0625f, 0.75f, &mult, &shift);
  int8_t y[2] = {0, 0};
  rtml_qmatmul_params p{};
  p.M = 1;
  p.N = 2;
  p.K = 3;
  p.w_stride_k = 1;
  p.w_stride_n = 3;
  p.batch_count = 1;
  p.w_slot = 1;
  p.x_zero_point = -2;
  p.y_zero_point = 5;
  p.x_zp_slot = p.w_zp_slot = p.y_zp_slot = -1;
  p.act_min = -128;
  p.act_max = 127;
  p.out_slot = 2;
  p.bias_slot = 3;
  p.multiplier_slot = 4;
  p.shift_slot = 5;
  void* ops[6] = {const_cast<int8_t*>(x), const_cast<int8_t*>(w), y, const_cast<int32_t*>(bias), &mult, &shift};
  ASSERT_EQ(rtml_s8_fully_connected__ref(&p, ops), 0);
  EXPECT_EQ(y[0], 9);
  EXPECT_EQ(y[1], 1);
  // A fused Relu is the clamp [y_zero_point, 127].
  p.act_min = 5;
  ASSERT_EQ(rtml_s8_fully_connected__ref(&p, ops), 0);
  EXPECT_EQ(y[0], 9);
  EXPECT_EQ(y[1], 5);
}

TEST(QuantKernels, ConvByHand) {
  // ConvInteger: a 1x1x3x3 input (zero point 1), one 2x2 filter (zero point
  // 3), stride 1, padded by 1 at the top and left only: a 3x3 output.
  const uint8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // minus 1: 0..8
  const uint8_t w[4] = {2, 3, 4, 5};                  // zero point 3: -1, 0, 1, 2
  int32_t acc[9] = {};
  rtml_qconv_params p{};
  p.N = p.C = p.C_out = p.group = 1;
  p.H = p.W = 3;
  p.KH = p.KW = 2;
  p.OH = p.OW = 3;
  p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
  p.pad_top = p.pad_left = 1;
  p.w_slot = 1;
  p.x_zero_point = 1;
  p.w_zero_point = 3;
  p.x_zp_slot = p.w_zp_slot = p.y_zp_slot = p.bias_slot = p.multiplier_slot = -1;
  p.out_slot = 2;
  void* ops[3] = {const_cast<uint8_t*>(x), const_cast<uint8_t*>(w), acc};
  ASSERT_EQ(rtml_u8_conv_integer__ref(&p, ops), 0);
  // X' = [[0,1,2],[3,4,5],[6,7,8]] padded with a zero row above and column to
  // the left; W' = [[-1,0],[1,2]]; out(i,j) = -X'(i-1,j-1) + X'(i,j-1) + 2 X'(i,j).
  const int32_t expected[9] = {0, 2, 5, 6, 11, 13, 12, 17, 19};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(acc[i], expected[i]) << "element " << i;
}

TEST(QuantKernels, QuantizeRoundsHalfToEvenAndSaturates) {
  const float x[6] = {2.5f, 3.5f, -2.5f, 300.0f, -300.0f, 0.74f};
  const float scale = 1.0f;
  const int8_t zp = 0;
  int8_t y[6] = {};
  rtml_quantize_params p{};
  p.outer = p.axis_dim = 1;
  p.inner = 6;
  p.has_zero_point = true;
  p.out_slot = 3;
  void* ops[4] = {const_cast<float*>(x), const_cast<float*>(&scale), const_cast<int8_t*>(&zp), y};
  ASSERT_EQ(rtml_s8_quantize__ref(&p, ops), 0);
  const int8_t expected[6] = {2, 4, -2, 127, -128, 1};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
}

// Extremes (by hand, ONNX's saturate(round_half_to_even(x / scale) + zp); NaN
// goes to the type's lowest, as kernels/quant.cpp documents) and ties next to
// the zero point, on uint8 with zero point 128.
TEST(QuantKernels, QuantizeExtremesAndTiesOnUint8) {
  const float inf = std::numeric_limits<float>::infinity();
  const float x[9] = {inf, -inf, std::nanf(""), 1e30f, -1e30f, -0.5f, 1.5f, 126.5f, 127.5f};
  const float scale = 1.0f;
  const uint8_t zp = 128;
  uint8_t y[9] = {};
  rtml_quantize_params p{};
  p.outer = p.axis_dim = 1;
  p.inner = 9;
  p.has_zero_point = true;
  p.out_slot = 3;
  void* ops[4] = {const_cast<float*>(x), const_cast<float*>(&scale), const_cast<uint8_t*>(&zp), y};
  ASSERT_EQ(rtml_u8_quantize__ref(&p, ops), 0);
  const uint8_t expected[9] = {255, 0, 0, 255, 0, 128, 130, 254, 255};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
}

// Per axis: two channels of two elements, scales {1, 0.5}, zero points {0, 10}:
// 1.5 -> 2, 2.5 -> 2; 1.5 / 0.5 = 3 -> 13, -2.25 / 0.5 = -4.5 -> -4 -> 6.
TEST(QuantKernels, QuantizePerAxisUsesEachChannelsScaleAndZeroPoint) {
  const float x[4] = {1.5f, 2.5f, 1.5f, -2.25f};
  const float scale[2] = {1.0f, 0.5f};
  const int8_t zp[2] = {0, 10};
  int8_t y[4] = {};
  rtml_quantize_params p{};
  p.outer = 1;
  p.axis_dim = 2;
  p.inner = 2;
  p.per_axis = true;
  p.has_zero_point = true;
  p.out_slot = 3;
  void* ops[4] = {const_cast<float*>(x), const_cast<float*>(scale), const_cast<int8_t*>(zp), y};
  ASSERT_EQ(rtml_s8_quantize__ref(&p, ops), 0);
  const int8_t expected[4] = {2, 2, 13, 6};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], expected[i]) << "element " << i;
  float back[4] = {};
  void* dops[4] = {y, const_cast<float*>(scale), const_cast<int8_t*>(zp), back};
  ASSERT_EQ(rtml_s8_dequantize__ref(&p, dops), 0);
  const float expected_back[4] = {2.0f, 2.0f, 1.5f, -2.0f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], expected_back[i]) << "element " << i;
}

// Softmax rows through rtml_<t>_softmax__ref with the multiplier of
// rtml_softmax_scaling(input_scale); the output's scale is 1/256.
template <class T>
std::vector<T> softmax_rows(const std::vector<T>& x, int64_t row_size, double input_scale, rtml_kernel_fn fn) {
  rtml_qsoftmax_params p{};
  p.rows = static_cast<int64_t>(x.size()) / row_size;
  p.row_size = row_size;
  EXPECT_TRUE(rtml_softmax_scaling(input_scale, &p.input_multiplier, &p.input_left_shift, &p.diff_min));
  p.out_slot = 1;
  std::vector<T> y(x.size());
  void* ops[2] = {const_cast<T*>(x.data()), y.data()};
  EXPECT_EQ(fn(&p, ops), 0);
  return y;
}

TEST(QuantKernels, SoftmaxByHand) {
  // n equal values: 1/n each, 256/n rounded, minus 128 (n = 1: 256, clamped).
  for (const auto& [n, want] : {std::pair<int, int>{1, 127}, {2, 0}, {3, -43}, {4, -64}, {10, -102}}) {
    SCOPED_TRACE(n);
    const std::vector<int8_t> y = softmax_rows(std::vector<int8_t>(2 * n, 37), n, 1.0 / 16, rtml_s8_softmax__ref);
    for (int8_t v : y) EXPECT_EQ(v, want);
  }
  // {0, -1} at scale 1/16: 1 / (1 + e^-1) = 0.7311 -> 187.2 -> 187 - 128 = 59,
  // 0.2689 -> 68.8 -> 69 - 128 = -59.
  EXPECT_EQ(softmax_rows(std::vector<int8_t>{20, 4}, 2, 1.0 / 16, rtml_s8_softmax__ref), (std::vector<int8_t>{59, -59}));
  // Scale 1: diff_min -15, so 127 - (-128) = 255 below it: 0 -> -128; the max alone 127.
  EXPECT_EQ(softmax_rows(std::vector<int8_t>{-128, 127}, 2, 1.0, rtml_s8_softmax__ref), (std::vector<int8_t>{-128, 127}));
  // uint8: the same without the -128.
  EXPECT_EQ(softmax_rows(std::vector<uint8_t>{200, 200, 200, 200, 50, 34}, 2, 1.0 / 16, rtml_u8_softmax__ref),
            (std::vector<uint8_t>{128, 128, 128, 128, 187, 69}));
}

// ---- the ops through the engine ------------------------------------------------

// QLinearMatMul of the worked example (without bias: y = 59 -> 2, -59 -> -2,
// plus 5), its scales either constants (multipliers made at prepare) or
// graph inputs (made each run).
using testing::QLinearGraph;

// The worked example as a QLinearMatMul graph; B of type b_type.
QLinearGraph qlinear_matmul_graph(bool constant_scales, DType b_type = DType::I8) {
  QLinearGraph q;
  q.g.opset = 13;
  q.g.source = "quant_test";
  const int8_t a[3] = {10, -3, 7}, b[6] = {3, -3, -5, 5, 2, -2};  // B is [K=3 x N=2]
  const float as = 0.5f, bs = 0.0625f, ys = 0.75f;
  const int8_t azp = -2, bzp = 0, yzp = 5;
  ir::Node n;
  n.name = "qmm";
  n.op_type = "QLinearMatMul";
  n.inputs = {q.add("a", DType::I8, {1, 3}, a, 3, false),
              q.add("a_scale", DType::F32, {}, &as, 4, constant_scales),
              q.add("a_zp", DType::I8, {}, &azp, 1, true),
              q.add("b", b_type, {3, 2}, b, 6, true),
              q.add("b_scale", DType::F32, {}, &bs, 4, constant_scales),
              q.add("b_zp", b_type, {}, &bzp, 1, true),
              q.add("y_scale", DType::F32, {}, &ys, 4, constant_scales),
              q.add("y_zp", DType::I8, {}, &yzp, 1, true)};
  ir::Tensor out;
  out.name = "y";
  n.outputs = {q.g.add_tensor(out)};
  q.g.outputs = {n.outputs[0]};
  q.g.nodes.push_back(n);
  return q;
}

plan::PlanOptions reference_kernels() {
  plan::PlanOptions po;
  po.kernels = kernels::KernelSet::Reference;
  return po;
}

TEST(QuantOps, QLinearMatMulWithConstantAndRunTimeScales) {
  for (bool constant : {true, false}) {
    const QLinearGraph q = qlinear_matmul_graph(constant);
    engine::Session s(plan::build_plan(q.g, reference_kernels()));
    for (size_t i = 0; i < q.feeds.size(); ++i)
      std::memcpy(s.input_data(static_cast<int>(i)), q.feeds[i].second.data(), q.feeds[i].second.size());
    ASSERT_TRUE(s.run().ok());
    const auto* y = static_cast<const int8_t*>(s.output_data(0));
    EXPECT_EQ(s.plan().steps.back().step.kernel, "rtml_s8_fully_connected__ref");
    // Constant scales become (multiplier, shift) constants of the step.
    EXPECT_EQ(s.plan().steps.back().step.constants.size(), constant ? 2u : 0u);
    EXPECT_EQ(std::vector<int8_t>(y, y + 2), (std::vector<int8_t>{7, 3})) << (constant ? "constant scales" : "scales as inputs");
  }
}

TEST(QuantOps, Int8DataWithUint8WeightsFailsClearly) {
  const QLinearGraph q = qlinear_matmul_graph(true, DType::U8);
  const std::string e = error_of([&] { plan::build_plan(q.g, reference_kernels()); });
  EXPECT_NE(e.find("qmm"), std::string::npos) << e;
  EXPECT_NE(e.find("QLinearMatMul"), std::string::npos) << e;
  EXPECT_NE(e.find("int8 data with uint8 weights is not supported"), std::string::npos) << e;
}

// ONNX Runtime's dynamic quantization: uint8 activations times int8 weights.
TEST(QuantOps, MatMulIntegerOfUint8DataAndInt8Weights) {
  QLinearGraph q;
  q.g.opset = 13;
  q.g.source = "quant_test";
  const uint8_t a[4] = {200, 3, 128, 255};  // [2 x 2], zero point 128: [[72, -125], [0, 127]]
  const int8_t b[2] = {-5, 7};              // [2 x 1], zero point 0
  const uint8_t azp = 128;
  ir::Node n;
  n.name = "mmi";
  n.op_type = "MatMulInteger";
  n.inputs = {q.add("a", DType::U8, {2, 2}, a, 4, false), q.add("b", DType::I8, {2, 1}, b, 2, true),
              q.add("a_zp", DType::U8, {}, &azp, 1, true)};
  ir::Tensor out;
  out.name = "y";
  n.outputs = {q.g.add_tensor(out)};
  q.g.outputs = {n.outputs[0]};
  q.g.nodes.push_back(n);
  engine::Session s(plan::build_plan(q.g, reference_kernels()));
  std::memcpy(s.input_data(0), a, 4);
  ASSERT_TRUE(s.run().ok());
  EXPECT_EQ(s.plan().steps.back().step.kernel, "rtml_u8s8_matmul_integer__ref");
  const auto* y = static_cast<const int32_t*>(s.output_data(0));
  EXPECT_EQ(y[0], 72 * -5 + -125 * 7);  // -1235
  EXPECT_EQ(y[1], 0 * -5 + 127 * 7);    // 889
}

}  // namespace
}  // namespace rtml
