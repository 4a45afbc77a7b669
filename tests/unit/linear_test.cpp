// Kernel edge cases for MatMul / Gemm. Expected values are worked out by hand.
#include "kernels/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace rtml::kernels;

TEST(LinearGemm, PlainProduct) {
  // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50]
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  float c[4];
  gemm<float>(2, 2, 2, 1.f, a, 2, false, b, 2, false, 0.f, c, 2);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{19, 22, 43, 50}));
}

TEST(LinearGemm, TransposesAlphaAndBeta) {
  // A stored 2x3 (K x M) so op(A) = A^T is 3x2; B stored 2x2 (N x K) so op(B) = B^T.
  // A^T = [1 4; 2 5; 3 6], B^T = [1 0; 1 1] (B = [1 1; 0 1]).
  // A^T * B^T = [5 4; 7 5; 9 6]; alpha 2, beta 0.5 with C = all 2 -> 2*x + 1.
  const double a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 1, 0, 1};
  double c[] = {2, 2, 2, 2, 2, 2};
  gemm<double>(3, 2, 2, 2.0, a, 3, true, b, 2, true, 0.5, c, 2);
  EXPECT_EQ(std::vector<double>(c, c + 6), (std::vector<double>{11, 9, 15, 11, 19, 13}));
}

TEST(LinearGemm, BetaZeroIgnoresGarbageInC) {
  const float a[] = {2}, b[] = {3};
  float c[] = {std::numeric_limits<float>::quiet_NaN()};
  gemm<float>(1, 1, 1, 1.f, a, 1, false, b, 1, false, 0.f, c, 1);
  EXPECT_EQ(c[0], 6.f);
}

TEST(LinearGemm, EmptyInnerDimensionGivesZeros) {
  float c[] = {7, 7, 7, 7};
  gemm<float>(2, 2, 0, 1.f, nullptr, 0, false, nullptr, 2, false, 0.f, c, 2);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{0, 0, 0, 0}));
}

TEST(LinearMatMul, BroadcastsBatchOfB) {
  // A: 2 batches of 1x2; B: one 2x1 shared by both (batch stride 0).
  const float a[] = {1, 2, 3, 4}, b[] = {10, 1};
  float y[2];
  MatMulParams p{};
  p.M = 1;
  p.N = 1;
  p.K = 2;
  p.batch_rank = 1;
  p.batch_shape[0] = 2;
  p.a_stride[0] = 2;
  p.b_stride[0] = 0;
  p.batch_count = 2;
  matmul<float>(p, a, b, y);
  EXPECT_EQ(y[0], 12.f);  // 1*10 + 2*1
  EXPECT_EQ(y[1], 34.f);  // 3*10 + 4*1
}

TEST(LinearGemmOp, BroadcastsColumnBias) {
  // Y = I * [1 2; 3 4] + C where C is 2x1 = [10; 20] (row stride 1, col stride 0).
  const int32_t a[] = {1, 0, 0, 1}, b[] = {1, 2, 3, 4}, c[] = {10, 20};
  int32_t y[4];
  GemmParams p{};
  p.alpha = p.beta = 1;  // ONNX defaults (C params have no member defaults)
  p.M = p.N = p.K = 2;
  p.lda = p.ldb = 2;
  p.c_row_stride = 1;
  p.c_col_stride = 0;
  gemm_op<int32_t>(p, a, b, c, y);
  EXPECT_EQ(std::vector<int32_t>(y, y + 4), (std::vector<int32_t>{11, 12, 23, 24}));
}
