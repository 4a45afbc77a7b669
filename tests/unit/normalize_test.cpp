// Kernel edge cases for softmax, normalization and reductions. Expected
// values are worked out by hand.
#include "kernels/normalize.h"
#include "kernels/broadcast_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace rtml::kernels;

TEST(NormalizeSoftmax, StridedAxis) {
  // 2x2, softmax over axis 0 (inner = 2). Column 0 = {0, ln 3} -> {1/4, 3/4};
  // column 1 = {0, 0} -> {1/2, 1/2}.
  const float x[] = {0, 0, std::log(3.f), 0};
  float y[4];
  AxisParams p{1, 2, 2};
  softmax<float>(p, x, y);
  EXPECT_NEAR(y[0], 0.25f, 1e-6);
  EXPECT_NEAR(y[2], 0.75f, 1e-6);
  EXPECT_NEAR(y[1], 0.5f, 1e-6);
  EXPECT_NEAR(y[3], 0.5f, 1e-6);
}

TEST(NormalizeSoftmax, LargeValuesDoNotOverflow) {
  const float x[] = {1000, 1000};
  float y[2], ly[2];
  AxisParams p{1, 2, 1};
  softmax<float>(p, x, y);
  log_softmax<float>(p, x, ly);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[1], 0.5f);
  EXPECT_NEAR(ly[0], -std::log(2.f), 1e-6);
}

TEST(NormalizeHardmax, FirstMaximumWins) {
  const double x[] = {1, 3, 3, 2};
  double y[4];
  hardmax<double>(AxisParams{1, 4, 1}, x, y);
  EXPECT_EQ(std::vector<double>(y, y + 4), (std::vector<double>{0, 1, 0, 0}));
}

TEST(NormalizeLayerNorm, ScalarScaleAndBias) {
  // Row {1,2,3,4}: mean 2.5, variance 1.25; scale 2 and bias 1 broadcast.
  const float x[] = {1, 2, 3, 4}, scale[] = {2}, bias[] = {1};
  float y[4], mean[1], inv[1];
  LayerNormParams p;
  p.outer = 1;
  p.n = 4;
  p.epsilon = 0;
  p.has_bias = true;
  ASSERT_TRUE(make_broadcast({{1}, {1}}, {4}, p.affine));
  layer_norm<float>(p, x, scale, bias, y, mean, inv);
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
  instance_norm<float>(p, x, scale, bias, y);
  EXPECT_FLOAT_EQ(y[0], -2.f);  // (1-2)/1 * 2
  EXPECT_FLOAT_EQ(y[1], 2.f);
  p.epsilon = 1.0;
  instance_norm<float>(p, x, scale, bias, y);
  EXPECT_FLOAT_EQ(y[2], 7.f);
  EXPECT_FLOAT_EQ(y[0], -2.f / std::sqrt(2.f));
}

TEST(NormalizeReduce, LayoutMergesAdjacentDims) {
  ReduceParams p;
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
  ReduceParams p;
  ASSERT_TRUE(make_reduce({2, 3, 2}, {false, true, false}, p));
  reduce<int64_t>(p, x, y);
  EXPECT_EQ(std::vector<int64_t>(y, y + 4), (std::vector<int64_t>{6, 9, 24, 27}));
}

TEST(NormalizeReduce, MaxPropagatesNaNAndLogSumExpIsStable) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float x[] = {1, nan, 3};
  float y;
  ReduceParams p;
  ASSERT_TRUE(make_reduce({3}, {true}, p));
  p.kind = ReduceKind::Max;
  reduce<float>(p, x, &y);
  EXPECT_TRUE(std::isnan(y));

  const double big[] = {1000, 1000};
  double z;
  ASSERT_TRUE(make_reduce({2}, {true}, p));
  p.kind = ReduceKind::LogSumExp;
  reduce<double>(p, big, &z);
  EXPECT_NEAR(z, 1000 + std::log(2.0), 1e-9);
}

TEST(NormalizeReduce, EmptyReductionGivesIdentity) {
  // Reducing a [2, 0] tensor over axis 1 yields 2 outputs.
  float y[2] = {5, 5};
  ReduceParams p;
  ASSERT_TRUE(make_reduce({2, 0}, {false, true}, p));
  p.kind = ReduceKind::Sum;
  reduce<float>(p, nullptr, y);
  EXPECT_EQ(y[0], 0.f);
  p.kind = ReduceKind::Prod;
  reduce<float>(p, nullptr, y);
  EXPECT_EQ(y[1], 1.f);
  p.kind = ReduceKind::Max;
  reduce<float>(p, nullptr, y);
  EXPECT_EQ(y[0], -std::numeric_limits<float>::infinity());
}

TEST(NormalizeArg, SelectLastIndex) {
  const int32_t x[] = {1, 3, 3, 2};
  int64_t y;
  ArgParams p;
  p.axis = AxisParams{1, 4, 1};
  arg_reduce<int32_t>(p, x, &y);
  EXPECT_EQ(y, 1);
  p.select_last_index = true;
  arg_reduce<int32_t>(p, x, &y);
  EXPECT_EQ(y, 2);
  p.is_max = false;
  p.select_last_index = false;
  arg_reduce<int32_t>(p, x, &y);
  EXPECT_EQ(y, 0);
}

TEST(NormalizeLp, ZeroVectorStaysZero) {
  const float x[] = {3, 4, 0, 0};
  float y[4];
  LpNormParams p;
  p.axis = AxisParams{2, 2, 1};
  p.p = 2;
  lp_norm<float>(p, x, y);
  EXPECT_FLOAT_EQ(y[0], 0.6f);
  EXPECT_FLOAT_EQ(y[1], 0.8f);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[3], 0.f);
}
