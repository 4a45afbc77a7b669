// The sparse-weights GEMM (kernels/fast_sparse.h) against the reference
// kernels::gemm on random shapes, mostly not a multiple of the lane count,
// with and without trans_b, scale, bias and ReLU, on every SIMD target;
// rows of A holding inf or NaN give NaN exactly where the dense product
// does; and MatMul / Gemm nodes with mostly-zero constant weights choose it
// (and dense weights do not) through build_plan and a Session.
#include "kernels/fast_sparse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/linear.h"
#include "attributes.h"
#include "one_node.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

// Values in [-1, 1], each zero with probability `zeros`.
std::vector<float> sparse_floats(size_t n, double zeros, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::bernoulli_distribution z(zeros);
  std::vector<float> v(n);
  for (float& x : v) x = z(rng) ? 0.0f : u(rng);
  return v;
}

// Dense reference: bias + scale * A * op(B), then ReLU (x > 0 ? x : 0).
std::vector<float> reference(int64_t M, int64_t N, int64_t K, const std::vector<float>& a, const std::vector<float>& b,
                             int64_t ldb, bool trans_b, float scale, const float* bias, bool relu) {
  std::vector<float> c(static_cast<size_t>(M * N), 0.0f);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) c[i * N + j] = bias ? bias[j] : 0.0f;
  kernels::gemm<float>(M, N, K, scale, a.data(), K, false, b.data(), ldb, trans_b, 1.0f, c.data(), N);
  if (relu)
    for (float& x : c) x = x > 0.0f ? x : 0.0f;
  return c;
}

int check_random_shapes() {
  std::mt19937 rng(2024);
  int cases = 0;
  for (int64_t M : {1, 2, 4})
    for (int64_t N : {1, 7, 16, 33, 256})
      for (int64_t K : {1, 9, 64, 256})
        for (bool trans_b : {false, true}) {
          const bool with_bias = (N + K) % 2 == 0, relu = (M + N) % 2 == 1;
          const float scale = trans_b ? 0.5f : 1.0f;
          const int64_t ldb = (trans_b ? K : N) + 3;
          const std::vector<float> a = sparse_floats(static_cast<size_t>(M * K), 0.0, rng);
          // Mostly 90% zeros; K = 64 at 30%, so blocks need up to L steps.
          const std::vector<float> b =
              sparse_floats(static_cast<size_t>((trans_b ? N : K) * ldb), K == 64 ? 0.3 : 0.9, rng);
          const std::vector<float> bias = sparse_floats(static_cast<size_t>(N), 0.0, rng);
          const float* bp = with_bias ? bias.data() : nullptr;
          const std::vector<float> want = reference(M, N, K, a, b, ldb, trans_b, scale, bp, relu);
          const kernels::SparseB packed = kernels::pack_sparse_b(K, N, b.data(), ldb, trans_b, scale, bp);
          std::vector<float> got(static_cast<size_t>(M * N) + 1, 12345.0f);
          kernels::fast_sparse_gemm(M, a.data(), K, packed, b.data(), ldb, trans_b, got.data(), N, relu);
          if (got.back() != 12345.0f) {
            ADD_FAILURE() << "wrote past C at M=" << M << " N=" << N;
            return cases;
          }
          double err = 0;
          for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(double(got[i]) - want[i]));
          if (!(err < 1e-5)) {
            ADD_FAILURE() << "error " << err << " at M=" << M << " N=" << N << " K=" << K << " trans_b=" << trans_b
                          << " on " << kernels::fast_sparse_target();
            return cases;
          }
          ++cases;
        }
  return cases;
}

TEST(FastSparse, MatchesReferenceOnRandomShapesOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_sparse_target,
                                              [] { EXPECT_EQ(check_random_shapes(), 3 * 5 * 4 * 2); });
}

TEST(FastSparse, HandComputedLayoutAndProduct) {
  // B (3 x 2) = [[0, 2], [0, 0], [5, 0]] -> column 0: row 2 (5); column 1: row 0 (2).
  const float b[] = {0, 2, 0, 0, 5, 0};
  EXPECT_DOUBLE_EQ(kernels::zero_fraction(3, 2, b, 2, false), 4.0 / 6.0);
  const kernels::SparseB p = kernels::pack_sparse_b(3, 2, b, 2, false);
  // One group of columns, one block of rows (K = 3 < L lanes), one step.
  ASSERT_EQ(p.group_entry, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(p.entry_block, (std::vector<int32_t>{0}));
  EXPECT_EQ(p.entry_steps, (std::vector<int32_t>{1}));
  EXPECT_EQ(p.index[0], 2);
  EXPECT_EQ(p.index[1], 0);
  EXPECT_EQ(p.value[0], 5.0f);
  EXPECT_EQ(p.value[1], 2.0f);
  const float a[] = {1, 10, 100};
  float c[2];
  kernels::fast_sparse_gemm(1, a, 3, p, b, 2, false, c, 2);
  EXPECT_EQ(c[0], 500.0f);
  EXPECT_EQ(c[1], 2.0f);
}

TEST(FastSparse, NonFiniteInputsGiveTheDenseProductsNaNs) {
  // A row with inf at k = 1: the dense product is inf * 0 = NaN in every
  // column whose B row 1 is zero, and +-inf where it is not.
  std::mt19937 rng(5);
  const int64_t K = 20, N = 19;
  std::vector<float> b = sparse_floats(static_cast<size_t>(K * N), 0.9, rng);
  for (int64_t j = 0; j < N; ++j) b[1 * N + j] = j == 3 ? -2.0f : 0.0f;  // row 1: only column 3 is nonzero
  std::vector<float> a = sparse_floats(static_cast<size_t>(2 * K), 0.0, rng);
  a[1] = std::numeric_limits<float>::infinity();  // row 0
  a[K + 4] = std::nanf("");                       // row 1
  const kernels::SparseB p = kernels::pack_sparse_b(K, N, b.data(), N, false);
  std::vector<float> got(static_cast<size_t>(2 * N));
  kernels::fast_sparse_gemm(2, a.data(), K, p, b.data(), N, false, got.data(), N);
  for (int64_t j = 0; j < N; ++j) {
    if (j == 3) EXPECT_EQ(got[j], -std::numeric_limits<float>::infinity());
    else EXPECT_TRUE(std::isnan(got[j])) << "column " << j;
    EXPECT_TRUE(std::isnan(got[N + j])) << "row 1 column " << j;
  }
}

// --------------------------------------------------------- through the engine

using rtml::testing::NodeRun;
using rtml::testing::Operand;

NodeRun run_node(const std::string& op, const Operand& x, const std::vector<Operand>& weights,
                 std::map<std::string, ir::Attribute> attrs, bool constant) {
  std::vector<Operand> operands{x};
  operands.insert(operands.end(), weights.begin(), weights.end());
  std::vector<bool> is_constant(operands.size(), constant);
  is_constant[0] = false;
  return rtml::testing::run_one_node(op, 17, operands, is_constant, 1, std::move(attrs));
}

TEST(FastSparseOps, MostlyZeroWeightsTakeTheSparseKernel) {
  std::mt19937 rng(6);
  const Operand x{{1, 45}, sparse_floats(45, 0.0, rng)};
  const Operand w{{45, 37}, sparse_floats(45 * 37, 0.9, rng)};
  const NodeRun fast = run_node("MatMul", x, {w}, {}, true);
  const NodeRun ref = run_node("MatMul", x, {w}, {}, false);
  EXPECT_EQ(fast.kernel, std::string("rtml_f32_gemm__sparse_hwy"));
  EXPECT_EQ(ref.kernel, std::string("rtml_f32_matmul__ref"));
  ASSERT_EQ(fast.outputs[0].size(), ref.outputs[0].size());
  for (size_t i = 0; i < ref.outputs[0].size(); ++i) EXPECT_NEAR(fast.outputs[0][i], ref.outputs[0][i], 1e-5);

  // Gemm: transB, alpha, beta * C.
  const Operand wt{{37, 45}, sparse_floats(45 * 37, 0.8, rng)}, c{{37}, sparse_floats(37, 0.0, rng)};
  const std::map<std::string, ir::Attribute> attrs = {
      {"transB", attr_int(1)}, {"alpha", attr_float(0.75f)}, {"beta", attr_float(-2.0f)}};
  const NodeRun gf = run_node("Gemm", x, {wt, c}, attrs, true);
  const NodeRun gr = run_node("Gemm", x, {wt, c}, attrs, false);
  EXPECT_EQ(gf.kernel, std::string("rtml_f32_gemm__sparse_hwy"));
  for (size_t i = 0; i < gr.outputs[0].size(); ++i) EXPECT_NEAR(gf.outputs[0][i], gr.outputs[0][i], 1e-5);
}

TEST(FastSparseOps, DenseWeightsOrManyRowsKeepThePackedGemm) {
  std::mt19937 rng(7);
  // Half zeros: below the threshold.
  EXPECT_EQ(run_node("MatMul", {{1, 30}, sparse_floats(30, 0.0, rng)}, {{{30, 20}, sparse_floats(600, 0.5, rng)}}, {},
                     true)
                .kernel,
            std::string("rtml_f32_gemm__packed_hwy"));
  // Sparse, but more rows than kSparseMaxRows.
  EXPECT_EQ(run_node("MatMul", {{8, 30}, sparse_floats(240, 0.0, rng)}, {{{30, 20}, sparse_floats(600, 0.95, rng)}}, {},
                     true)
                .kernel,
            std::string("rtml_f32_gemm__packed_hwy"));
}

}  // namespace
