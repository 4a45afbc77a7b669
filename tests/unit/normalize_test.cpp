// Kernel edge cases for softmax, normalization and reductions. Expected
// values are worked out by hand.
#include "kernels/normalize.h"
#include "kernels/broadcast_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/normalize_plan.h"
#include "kernel_call.h"

using namespace rtml::kernels;

TEST(NormalizeSoftmax, StridedAxis) {
  // 2x2, softmax over axis 0 (inner = 2). Column 0 = {0, ln 3} -> {1/4, 3/4};
  // column 1 = {0, 0} -> {1/2, 1/2}.
  const float x[] = {0, 0, std::log(3.f), 0};
  float y[4];
  AxisParams p{1, 2, 2};
  ASSERT_EQ(call(rtml_f32_softmax__ref, &p, {x, y}), 0);
  EXPECT_NEAR(y[0], 0.25f, 1e-6);
  EXPECT_NEAR(y[2], 0.75f, 1e-6);
  EXPECT_NEAR(y[1], 0.5f, 1e-6);
  EXPECT_NEAR(y[3], 0.5f, 1e-6);
}

TEST(NormalizeSoftmax, LargeValuesDoNotOverflow) {
  const float x[] = {1000, 1000};
  float y[2], ly[2];
  AxisParams p{1, 2, 1};
  call(rtml_f32_softmax__ref, &p, {x, y});
  call(rtml_f32_log_softmax__ref, &p, {x, ly});
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[1], 0.5f);
  EXPECT_NEAR(ly[0], -std::log(2.f), 1e-6);
}

TEST(NormalizeHardmax, FirstMaximumWins) {
  const double x[] = {1, 3, 3, 2};
  double y[4];
  const AxisParams p{1, 4, 1};
  call(rtml_f64_hardmax__ref, &p, {x, y});
  EXPECT_EQ(std::vector<double>(y, y + 4), (std::vector<double>{0, 1, 0, 0}));
}

TEST(NormalizeLayerNorm, ScalarScaleAndBias) {
  // Row {1,2,3,4}: mean 2.5, variance 1.25; scale 2 and bias 1 broadcast.
  const float x[] = {1, 2, 3, 4}, scale[] = {2}, bias[] = {1};
  float y[4], mean[1], inv[1];
  LayerNormParams p{};
  p.outer = 1;
  p.n = 4;
  p.epsilon = 0;
  p.has_bias = true;
  p.num_inputs = 3;
  p.num_outputs = 3;
  const rtml::Shape b1{1};
  ASSERT_TRUE(make_layer_norm_affine({4}, {1}, &b1, p));
  call(rtml_f32_layer_norm__ref, &p, {x, scale, bias, y, mean, inv});
  const float is = 1 / std::sqrt(1.25f);
  EXPECT_FLOAT_EQ(mean[0], 2.5f);
  EXPECT_FLOAT_EQ(inv[0], is);
  EXPECT_FLOAT_EQ(y[0], 2 * -1.5f * is + 1);
  EXPECT_FLOAT_EQ(y[3], 2 * 1.5f * is + 1);
}

TEST(NormalizeInstanceNorm, PerChannelScaleAndBias) {
  // N=1, C=2, 2 elements per plane: {1,3} and {5,5}. eps 0 except the second
  // plane has zero variance, so give eps=1: plane 1 -> (x-5)/1 = 0.
  const float x[] = {1, 3, 5, 5}, scale[] = {2, 3}, bias[] = {0, 7};
  float y[4];
  InstanceNormParams p{1, 2, 2, 0.0};
  call(rtml_f32_instance_norm__ref, &p, {x, scale, bias, y});
  EXPECT_FLOAT_EQ(y[0], -2.f);  // (1-2)/1 * 2
  EXPECT_FLOAT_EQ(y[1], 2.f);
  p.epsilon = 1.0;
  call(rtml_f32_instance_norm__ref, &p, {x, scale, bias, y});
  EXPECT_FLOAT_EQ(y[2], 7.f);
  EXPECT_FLOAT_EQ(y[0], -2.f / std::sqrt(2.f));
}

TEST(NormalizeReduce, LayoutMergesAdjacentDims) {
  ReduceParams p{};
  ASSERT_TRUE(make_reduce({2, 3, 4}, {false, true, false}, p));
  EXPECT_EQ(p.kept_rank, 2);
  EXPECT_EQ(p.kept_shape[0], 2);
  EXPECT_EQ(p.kept_stride[0], 12);
  EXPECT_EQ(p.kept_shape[1], 4);
  EXPECT_EQ(p.kept_stride[1], 1);
  EXPECT_EQ(p.red_rank, 1);
  EXPECT_EQ(p.red_shape[0], 3);
  EXPECT_EQ(p.red_stride[0], 4);
  // Reducing the last two dims of [2,3,4] (a size-1 dim in between is dropped).
  ASSERT_TRUE(make_reduce({2, 3, 1, 4}, {false, true, true, true}, p));
  EXPECT_EQ(p.red_rank, 1);
  EXPECT_EQ(p.red_shape[0], 12);
  EXPECT_EQ(p.red_stride[0], 1);
  EXPECT_EQ(p.out_count, 2);
}

TEST(NormalizeReduce, SumOverMiddleAxis) {
  // x = 0..11 as [2,3,2]; sum over axis 1.
  int64_t x[12];
  for (int i = 0; i < 12; ++i) x[i] = i;
  int64_t y[4];
  ReduceParams p{};
  p.out_slot = 1;
  ASSERT_TRUE(make_reduce({2, 3, 2}, {false, true, false}, p));
  call(rtml_s64_reduce_sum__ref, &p, {x, y});
  EXPECT_EQ(std::vector<int64_t>(y, y + 4), (std::vector<int64_t>{6, 9, 24, 27}));
}

TEST(NormalizeReduce, MaxPropagatesNaNAndLogSumExpIsStable) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float x[] = {1, nan, 3};
  float y;
  ReduceParams p{};
  p.out_slot = 1;
  ASSERT_TRUE(make_reduce({3}, {true}, p));
  call(rtml_f32_reduce_max__ref, &p, {x, &y});
  EXPECT_TRUE(std::isnan(y));

  const double big[] = {1000, 1000};
  double z;
  ASSERT_TRUE(make_reduce({2}, {true}, p));
  call(rtml_f64_reduce_log_sum_exp__ref, &p, {big, &z});
  EXPECT_NEAR(z, 1000 + std::log(2.0), 1e-9);
}

TEST(NormalizeReduce, EmptyReductionGivesIdentity) {
  // Reducing a [2, 0] tensor over axis 1 yields 2 outputs.
  float y[2] = {5, 5};
  ReduceParams p{};
  p.out_slot = 1;
  ASSERT_TRUE(make_reduce({2, 0}, {false, true}, p));
  call(rtml_f32_reduce_sum__ref, &p, {nullptr, y});
  EXPECT_EQ(y[0], 0.f);
  call(rtml_f32_reduce_prod__ref, &p, {nullptr, y});
  EXPECT_EQ(y[1], 1.f);
  call(rtml_f32_reduce_max__ref, &p, {nullptr, y});
  EXPECT_EQ(y[0], -std::numeric_limits<float>::infinity());
}

TEST(NormalizeArg, SelectLastIndex) {
  const int32_t x[] = {1, 3, 3, 2};
  int64_t y;
  ArgParams p{};
  p.axis = AxisParams{1, 4, 1};
  call(rtml_s32_argmax__ref, &p, {x, &y});
  EXPECT_EQ(y, 1);
  p.select_last_index = true;
  call(rtml_s32_argmax__ref, &p, {x, &y});
  EXPECT_EQ(y, 2);
  p.select_last_index = false;
  call(rtml_s32_argmin__ref, &p, {x, &y});
  EXPECT_EQ(y, 0);
}

TEST(NormalizeLp, ZeroVectorStaysZero) {
  const float x[] = {3, 4, 0, 0};
  float y[4];
  LpNormParams p{};
  p.axis = AxisParams{2, 2, 1};
  p.p = 2;
  call(rtml_f32_lp_norm__ref, &p, {x, y});
  EXPECT_FLOAT_EQ(y[0], 0.6f);
  EXPECT_FLOAT_EQ(y[1], 0.8f);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[3], 0.f);
}

TEST(NormalizeLayerNorm, ScaleAndBiasBroadcastAlongDifferentDims) {
  // One row over normalized dims [2, 3]: x = 0..5, mean 2.5, variance 17.5/6.
  // Scale [3] varies along the columns, B [2, 1] along the rows.
  const float x[] = {0, 1, 2, 3, 4, 5}, scale[] = {1, 2, 3}, bias[] = {10, 20};
  float y[6];
  LayerNormParams p{};
  p.outer = 1;
  p.n = 6;
  p.has_bias = true;
  p.num_inputs = 3;
  p.num_outputs = 1;
  const rtml::Shape b{2, 1};
  ASSERT_TRUE(make_layer_norm_affine({2, 3}, {3}, &b, p));
  EXPECT_FALSE(make_layer_norm_affine({2, 3}, {2}, nullptr, p));  // [2] does not broadcast to [2, 3]
  ASSERT_TRUE(make_layer_norm_affine({2, 3}, {3}, &b, p));
  call(rtml_f32_layer_norm__ref, &p, {x, scale, bias, y});
  const double is = 1 / std::sqrt(17.5 / 6);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(y[r * 3 + c], (r * 3 + c - 2.5) * is * scale[c] + bias[r], 1e-5) << r << "," << c;
}
