// The Highway Softmax (kernels/fast_softmax.h) against the scalar reference
// (kernels/normalize.cpp) on every dispatched SIMD target: row lengths around
// the vector widths, large and tiny values, -inf elements, rows holding NaN
// or +inf.
#include "kernels/fast_softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "simd_targets.h"

using namespace rtml;

namespace {

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
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "n " << n << " element " << i << ": " << got[i];
      continue;
    }
    // Exp within 1 ulp, the row's sum in float: within 1e-5 relative.
    EXPECT_NEAR(got[i], want[i], 1e-5 * want[i] + 1e-37) << "n " << n << " element " << i;
  }
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
