// The Highway Softmax and LayerNormalization (kernels/fast_softmax.h) against the scalar reference
// (kernels/normalize.cpp) on every dispatched SIMD target: row lengths around
// the vector widths, large and tiny values, -inf elements, rows holding NaN
// or +inf.
#include "kernels/fast_softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/normalize_plan.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

// got against want element by element: NaN where want is NaN, infinities
// equal, the rest within rel * |want| + abs.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, double abs,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " element " << i << ": " << got[i];
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << what << " element " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs) << what << " element " << i;
    }
  }
}

void check_rows(int64_t outer, int64_t n, std::vector<float> x) {
  kernels::AxisParams p{};
  p.outer = outer;
  p.n = n;
  p.inner = 1;
  ASSERT_TRUE(kernels::fast_softmax_supported(p));
  std::vector<float> want(x.size()), got(x.size(), -1.0f);
  void* ref_operands[] = {x.data(), want.data()};
  ASSERT_EQ(rtml_f32_softmax__ref(&p, ref_operands), 0);
  kernels::fast_softmax_f32(p, x.data(), got.data());
  // Exp within 1 ulp, the row's sum in float: within 1e-5 relative.
  expect_close(got, want, 1e-5, 1e-37, "n " + std::to_string(n));
}

}  // namespace

TEST(FastSoftmax, MatchesTheReferenceOnEveryTarget) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  rtml::testing::check_every_dispatched_target(kernels::fast_softmax_target, [&] {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (int64_t n : {1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000}) {
      std::vector<float> x(static_cast<size_t>(3 * n));
      for (float& v : x) v = normal(rng);
      x[0] = 80.0f;          // exp(80) alone is near float's limit: the max is subtracted first
      x[x.size() - 1] = -200.0f;  // exp(-200 - max) underflows to 0
      check_rows(3, n, x);
    }
    // Large values (exp(x) would overflow), -inf elements, a row of one value.
    check_rows(1, 5, {1000, 1001, 999, 1002, 998});
    check_rows(1, 6, {-inf, 0, 1, -inf, 2, 3});
    check_rows(1, 17, std::vector<float>(17, 0.25f));
    // A NaN or +inf anywhere in a row makes the whole row NaN, as in the reference.
    for (size_t at : {0u, 5u, 16u}) {
      std::vector<float> x(17, 1.0f);
      x[at] = nan;
      check_rows(1, 17, x);
      x[at] = inf;
      check_rows(1, 17, x);
    }
  });
}

namespace {

// LayerNormalization over `outer` rows of n: the fast kernel against the
// reference, Y, Mean and InvStdDev; the sums are the same double sums in
// another order, so within 1e-6 relative (and 1e-6 absolute near 0).
void check_layer_norm(int64_t outer, int64_t n, bool bias, float offset, std::mt19937& rng) {
  kernels::LayerNormParams p{};
  p.outer = outer;
  p.n = n;
  p.epsilon = 1e-5;
  p.has_bias = bias;
  p.num_inputs = bias ? 3 : 2;
  p.num_outputs = 3;
  p.rank = 1;
  p.shape[0] = n;
  p.scale_stride[0] = p.bias_stride[0] = 1;
  ASSERT_TRUE(kernels::fast_layer_norm_supported(p));
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(outer * n)), scale(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  for (float& v : x) v = offset + normal(rng);
  for (float& v : scale) v = normal(rng);
  for (float& v : b) v = normal(rng);
  const size_t rows = static_cast<size_t>(outer);
  std::vector<float> y_ref(x.size()), y(x.size(), -7.0f), m_ref(rows), m(rows), s_ref(rows), s(rows);
  std::vector<void*> ops = {x.data(), scale.data()};
  if (bias) ops.push_back(b.data());
  const size_t out = ops.size();
  ops.insert(ops.end(), {y_ref.data(), m_ref.data(), s_ref.data()});
  ASSERT_EQ(rtml_f32_layer_norm__ref(&p, ops.data()), 0);
  ops[out] = y.data();
  ops[out + 1] = m.data();
  ops[out + 2] = s.data();
  ASSERT_EQ(rtml_f32_layer_norm__hwy(&p, ops.data()), 0);
  const std::string what = "n " + std::to_string(n);
  expect_close(y, y_ref, 1e-6, 1e-6, what + " Y");
  expect_close(m, m_ref, 1e-6, 1e-6, what + " Mean");
  expect_close(s, s_ref, 1e-6, 1e-6, what + " InvStdDev");
}

}  // namespace

TEST(FastLayerNorm, MatchesTheReferenceOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_softmax_target, [&] {
    std::mt19937 rng(5);
    for (int64_t n : {1, 3, 4, 7, 8, 9, 16, 17, 31, 32, 33, 64, 100, 768})
      for (bool bias : {false, true}) {
        check_layer_norm(3, n, bias, 0.0f, rng);
        check_layer_norm(2, n, bias, 1000.0f, rng);  // a large mean: the variance is of x - mean
      }
  });
}

// Scale or B broadcast inside the row (per channel of [C, L]): the reference's case.
TEST(FastLayerNorm, BroadcastScaleIsLeftToTheReference) {
  kernels::LayerNormParams p{};
  p.outer = 1;
  p.n = 12;
  p.rank = 2;
  p.shape[0] = 3;
  p.shape[1] = 4;
  p.scale_stride[0] = 4;
  p.scale_stride[1] = 1;
  EXPECT_TRUE(kernels::fast_layer_norm_supported(p));
  p.scale_stride[0] = 1;  // Scale [3, 1]: one value per row of 4
  p.scale_stride[1] = 0;
  EXPECT_FALSE(kernels::fast_layer_norm_supported(p));
  p.scale_stride[0] = 4;
  p.scale_stride[1] = 1;
  p.has_bias = true;
  p.bias_stride[0] = 0;  // B [4]: broadcast over the rows
  p.bias_stride[1] = 1;
  EXPECT_FALSE(kernels::fast_layer_norm_supported(p));
}

namespace {

// ReduceSum and ReduceMean of x (shape) over `reduced`: the fast kernel
// against the reference (the same double sums in another order: within
// 1e-6 relative; NaN and infinities where the reference gives them).
void check_reduce(const Shape& shape, const std::vector<bool>& reduced, const std::vector<float>& x) {
  kernels::ReduceParams p{};
  ASSERT_TRUE(kernels::make_reduce(shape, reduced, p));
  p.out_slot = 1;
  ASSERT_TRUE(kernels::fast_reduce_supported(p));
  for (const bool mean : {false, true}) {
    std::vector<float> want(static_cast<size_t>(p.out_count)), got(want.size(), -7.0f);
    void* ops[] = {const_cast<float*>(x.data()), want.data()};
    ASSERT_EQ((mean ? rtml_f32_reduce_mean__ref : rtml_f32_reduce_sum__ref)(&p, ops), 0);
    ops[1] = got.data();
    ASSERT_EQ((mean ? rtml_f32_reduce_mean__hwy : rtml_f32_reduce_sum__hwy)(&p, ops), 0);
    expect_close(got, want, 1e-6, 1e-30, std::string(mean ? "mean of " : "sum of ") + shape_str(shape));
  }
}

}  // namespace

TEST(FastReduce, SumAndMeanOverInnermostAxesMatchTheReferenceOnEveryTarget) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  rtml::testing::check_every_dispatched_target(kernels::fast_softmax_target, [&] {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(100.0f, 30.0f);
    for (int64_t n : {1, 3, 7, 8, 9, 16, 17, 50, 1000}) {
      std::vector<float> x(static_cast<size_t>(4 * n));
      for (float& v : x) v = normal(rng);
      check_reduce({4, n}, {false, true}, x);                 // the last axis
      check_reduce({2, 2, n}, {false, true, true}, x);        // the last two
      check_reduce({4, n}, {true, true}, x);                  // all of them
    }
    check_reduce({2, 3}, {false, true}, {1, nan, 2, inf, 1, -inf});  // NaN and inf - inf: NaN; inf alone: inf
    check_reduce({2, 3}, {false, true}, {inf, 1, 2, 3, 4, 5});
  });
}

// A reduction over an outer axis is left to the reference.
TEST(FastReduce, OuterAxisIsLeftToTheReference) {
  kernels::ReduceParams p{};
  ASSERT_TRUE(kernels::make_reduce({3, 4}, {true, false}, p));
  EXPECT_FALSE(kernels::fast_reduce_supported(p));
  ASSERT_TRUE(kernels::make_reduce({3, 4}, {false, true}, p));
  EXPECT_TRUE(kernels::fast_reduce_supported(p));
}
