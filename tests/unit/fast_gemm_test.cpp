// The packed SIMD GEMM (kernels/fast_gemm.h) against the reference
// kernels::gemm on random shapes, most of them not a multiple of the vector
// width or of the micro-kernel's rows; and MatMul / Gemm / Conv nodes with
// constant weights (which take the packed path) against the same nodes with
// the weights fed as graph inputs (which take the reference path), through
// build_plan and a Session; and MatMul of two activations, whose B is packed
// at run time into the step's scratch.
#include "kernels/fast_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/session.h"
#include "hwy/targets.h"
#include "kernels/linear.h"
#include "plan/plan.h"
#include "attributes.h"
#include "one_node.h"
#include "random_floats.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

// max |got - want| / (max |want| + 1) over all elements.
double max_rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double scale = 1, err = 0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)) + 1);
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(static_cast<double>(got[i]) - want[i]));
  return err / scale;
}

// Every shape of the brief's grid, with and without trans_b and bias, some
// with ReLU; returns the number of cases checked.
// The constant rtml_f32_gemm__packed_hwy reads (kernels::pack_constant), and
// the product with it.
std::vector<float> pack(int64_t K, int64_t N, const float* b, int64_t ldb, bool trans_b, float scale,
                        const float* bias) {
  std::vector<float> packed(static_cast<size_t>(kernels::packed_constant_floats(K, N, bias != nullptr)));
  kernels::pack_constant(K, N, b, ldb, trans_b, scale, bias, packed.data());
  return packed;
}
void gemm_packed(int64_t M, const float* a, int64_t lda, int64_t K, int64_t N, const std::vector<float>& packed,
                 bool with_bias, float* c, int64_t ldc, bool relu) {
  kernels::fast_gemm_packed(M, a, lda, K, N, packed.data(),
                            with_bias ? packed.data() + kernels::packed_b_floats(K, N) : nullptr, c, ldc, relu);
}

int check_random_shapes() {
  std::mt19937 rng(1234);
  int cases = 0;
  for (int64_t M : {1, 2, 3, 7, 16, 33})
    for (int64_t N : {1, 3, 8, 15, 17, 64, 100})
      for (int64_t K : {1, 5, 16, 31, 128})
        for (bool trans_b : {false, true})
          for (bool with_bias : {false, true}) {
            const bool relu = with_bias && (M + N) % 2 == 0;  // some cases also fuse ReLU
            const float alpha = trans_b ? 0.5f : 1.0f;
            // A with a leading dimension wider than K, to catch lda mix-ups.
            const int64_t lda = K + 3, ldb = (trans_b ? K : N) + 2, ldc = N + 5;
            const std::vector<float> a = random_floats(static_cast<size_t>(M * lda), rng);
            const std::vector<float> b = random_floats(static_cast<size_t>((trans_b ? N : K) * ldb), rng);
            const std::vector<float> bias = random_floats(static_cast<size_t>(N), rng);
            // Reference: C = bias (beta 1) + alpha * A * op(B), then ReLU.
            std::vector<float> want(static_cast<size_t>(M * ldc), 0.0f);
            for (int64_t i = 0; i < M; ++i)
              for (int64_t j = 0; j < N; ++j) want[i * ldc + j] = with_bias ? bias[j] : 0.0f;
            kernels::gemm<float>(M, N, K, alpha, a.data(), lda, false, b.data(), ldb, trans_b, 1.0f, want.data(), ldc);
            if (relu)
              for (float& x : want) x = std::max(x, 0.0f);
            const std::vector<float> packed = pack(K, N, b.data(), ldb, trans_b, alpha, with_bias ? bias.data() : nullptr);
            // Sentinels in the padding columns of C must survive.
            std::vector<float> got(static_cast<size_t>(M * ldc), 12345.0f);
            gemm_packed(M, a.data(), lda, K, N, packed, with_bias, got.data(), ldc, relu);
            std::vector<float> got_c, want_c;
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < N; ++j) {
                got_c.push_back(got[i * ldc + j]);
                want_c.push_back(want[i * ldc + j]);
              }
              for (int64_t j = N; j < ldc; ++j)
                if (got[i * ldc + j] != 12345.0f) {
                  ADD_FAILURE() << "wrote past column N=" << N << " in row " << i << " (M=" << M << " K=" << K << ")";
                  return cases;
                }
            }
            const double err = max_rel_error(got_c, want_c);
            if (!(err < 1e-6 * static_cast<double>(K) + 1e-6)) {
              ADD_FAILURE() << "error " << err << " at M=" << M << " N=" << N << " K=" << K << " trans_b=" << trans_b
                            << " bias=" << with_bias << " relu=" << relu << " on " << kernels::fast_gemm_target();
              return cases;
            }
            ++cases;
          }
  return cases;
}

// On each SIMD target this CPU supports and the library was compiled for
// (e.g. SSE4, AVX2, AVX3 on x86-64; NEON on ARM), not only the best one.
TEST(FastGemm, MatchesReferenceOnRandomShapesOnEveryTarget) {
  const std::set<std::string> checked = rtml::testing::check_every_dispatched_target(
      kernels::fast_gemm_target, [] { EXPECT_EQ(check_random_shapes(), 6 * 7 * 5 * 4); });
#if HWY_ARCH_X86
  // On x86-64 libhwy and this file agree: every forced target is its own kernel.
  EXPECT_EQ(checked.size(), hwy::SupportedAndGeneratedTargets().size());
#endif
}

TEST(FastGemm, HandComputedProductWithBiasAndRelu) {
  // [1 2; 3 4] * [5 6; 7 -8] = [19 -10; 43 -14]; + bias [1, 2] = [20 -8; 44 -12];
  // ReLU -> [20 0; 44 0].
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, -8}, bias[] = {1, 2};
  const std::vector<float> p = pack(2, 2, b, 2, false, 1.0f, bias);
  float c[4];
  gemm_packed(2, a, 2, 2, 2, p, true, c, 2, false);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{20, -8, 44, -12}));
  gemm_packed(2, a, 2, 2, 2, p, true, c, 2, true);
  EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{20, 0, 44, 0}));
}

// --------------------------------------------------------- through the engine

using rtml::testing::NodeRun;
using rtml::testing::Operand;

// One node: X is a graph input; the other operands are initializers when
// `constant`, else graph inputs too (so the op cannot pack them).
NodeRun run_node(const std::string& op, const Operand& x, const std::vector<Operand>& weights,
                 std::map<std::string, ir::Attribute> attrs, bool constant) {
  std::vector<Operand> operands{x};
  operands.insert(operands.end(), weights.begin(), weights.end());
  std::vector<bool> is_constant(operands.size(), constant);
  is_constant[0] = false;
  return rtml::testing::run_one_node(op, 17, operands, is_constant, 1, std::move(attrs));
}

Operand random_operand(Shape shape, std::mt19937& rng) {
  return {shape, random_floats(static_cast<size_t>(shape_numel(shape)), rng)};
}

// Runs the node both ways and checks the packed kernel was chosen and agrees.
void expect_packed_matches(const std::string& op, const Operand& x, const std::vector<Operand>& weights,
                           const std::map<std::string, ir::Attribute>& attrs, const std::string& packed_kernel,
                           int64_t K) {
  const NodeRun fast = run_node(op, x, weights, attrs, true);
  const NodeRun ref = run_node(op, x, weights, attrs, false);
  EXPECT_EQ(fast.kernel, packed_kernel);
  // The comparison must be against a reference kernel.
  for (const char* fast : {"packed", "pack_at_run", "im2row", "fast", "sparse"})
    EXPECT_EQ(ref.kernel.find(fast), std::string::npos) << ref.kernel;
  ASSERT_EQ(fast.outputs[0].size(), ref.outputs[0].size());
  ASSERT_FALSE(fast.outputs[0].empty());
  EXPECT_LT(max_rel_error(fast.outputs[0], ref.outputs[0]), 1e-6 * static_cast<double>(K) + 1e-6);
}

TEST(FastGemmOps, MatMulWithConstantWeights) {
  std::mt19937 rng(7);
  // Batched A [2, 3, 19] times a constant [19, 33]; and a row vector [19].
  expect_packed_matches("MatMul", random_operand({2, 3, 19}, rng), {random_operand({19, 33}, rng)}, {},
                        "rtml_f32_gemm__packed_hwy", 19);
  expect_packed_matches("MatMul", random_operand({19}, rng), {random_operand({19, 33}, rng)}, {}, "rtml_f32_gemm__packed_hwy",
                        19);
  // A constant 1-D B: a matrix-vector product with N = 1.
  expect_packed_matches("MatMul", random_operand({3, 19}, rng), {random_operand({19}, rng)}, {}, "rtml_f32_gemm__packed_hwy",
                        19);
}

TEST(FastGemmOps, MatMulOfTwoActivationsPacksAtRunTime) {
  std::mt19937 rng(13);
  // A [2, 3, 6, 19] times B [3, 19, 21] (B broadcast over A's first batch dim),
  // both graph inputs; expected from a plain triple loop.
  const Operand a = random_operand({2, 3, 6, 19}, rng), b = random_operand({3, 19, 21}, rng);
  const NodeRun r = run_node("MatMul", a, {b}, {}, false);
  EXPECT_EQ(r.kernel, std::string("rtml_f32_matmul__pack_at_run_hwy"));
  std::vector<float> want;
  for (int64_t i0 = 0; i0 < 2; ++i0)
    for (int64_t i1 = 0; i1 < 3; ++i1)
      for (int64_t m = 0; m < 6; ++m)
        for (int64_t n = 0; n < 21; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < 19; ++k)
            acc += static_cast<double>(a.data[((i0 * 3 + i1) * 6 + m) * 19 + k]) * b.data[(i1 * 19 + k) * 21 + n];
          want.push_back(static_cast<float>(acc));
        }
  ASSERT_EQ(r.outputs[0].size(), want.size());
  EXPECT_LT(max_rel_error(r.outputs[0], want), 2e-6 * 19);
  // Fewer than 4 rows: the reference kernel (packing would not pay).
  EXPECT_EQ(run_node("MatMul", random_operand({3, 19}, rng), {random_operand({19, 5}, rng)}, {}, false).kernel,
            std::string("rtml_f32_matmul__ref"));
}

TEST(FastGemmOps, GemmFoldsAlphaBetaAndBias) {
  std::mt19937 rng(8);
  const std::map<std::string, ir::Attribute> attrs = {
      {"transB", attr_int(1)}, {"alpha", attr_float(0.75f)}, {"beta", attr_float(-2.0f)}};
  // Linear layer: A [3, 40], B [17, 40] (transB), C [17].
  expect_packed_matches("Gemm", random_operand({3, 40}, rng), {random_operand({17, 40}, rng), random_operand({17}, rng)},
                        attrs, "rtml_f32_gemm__packed_hwy", 40);
  // C of shape [1, N], B not transposed, M = 1.
  expect_packed_matches("Gemm", random_operand({1, 40}, rng), {random_operand({40, 17}, rng), random_operand({1, 17}, rng)},
                        {{"beta", attr_float(0.5f)}}, "rtml_f32_gemm__packed_hwy", 40);
  // No C.
  expect_packed_matches("Gemm", random_operand({9, 8}, rng), {random_operand({8, 5}, rng)}, {}, "rtml_f32_gemm__packed_hwy", 8);
}

TEST(FastGemmOps, GemmWithFullCKeepsReferencePath) {
  std::mt19937 rng(9);
  // C [M, N] varies per row: not a per-column bias, so the reference kernel runs.
  const NodeRun r = run_node("Gemm", random_operand({3, 4}, rng),
                             {random_operand({4, 5}, rng), random_operand({3, 5}, rng)}, {}, true);
  EXPECT_EQ(r.kernel, std::string("rtml_f32_gemm__ref"));
}

TEST(FastGemmOps, Conv2dPaddedStridedWithBias) {
  std::mt19937 rng(10);
  // digits_cnn-like: 3x3, pad 1, 3 -> 16 channels on a 9x7 image, batch 2, stride 2 in one dim.
  expect_packed_matches("Conv", random_operand({2, 3, 9, 7}, rng),
                        {random_operand({16, 3, 3, 3}, rng), random_operand({16}, rng)},
                        {{"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({2, 1})}}, "rtml_f32_conv__im2row_hwy",
                        27);
  // Stride 1 goes to the fast 2-D kernel. Dilated, asymmetric pads, no bias,
  // 19 output channels (not a multiple of the panel or the tile).
  expect_packed_matches("Conv", random_operand({1, 5, 8, 8}, rng), {random_operand({19, 5, 2, 3}, rng)},
                        {{"pads", attr_ints({0, 2, 1, 0})}, {"dilations", attr_ints({2, 1})}}, "rtml_f32_conv2d__fast_hwy", 30);
  // Grouped, batch 2, 3x3 pad 1 on a 7x9 image (63 positions: a partial tile).
  expect_packed_matches("Conv", random_operand({2, 6, 7, 9}, rng),
                        {random_operand({10, 3, 3, 3}, rng), random_operand({10}, rng)},
                        {{"pads", attr_ints({1, 1, 1, 1})}, {"group", attr_int(2)}}, "rtml_f32_conv2d__fast_hwy", 27);
}

TEST(FastGemmOps, Conv1dGroupedCausalDilated) {
  std::mt19937 rng(11);
  // TCN layer: 8 -> 12 channels in 4 groups, kernel 3, dilation 2, causal pad 4.
  expect_packed_matches("Conv", random_operand({1, 8, 21}, rng),
                        {random_operand({12, 2, 3}, rng), random_operand({12}, rng)},
                        {{"group", attr_int(4)}, {"dilations", attr_ints({2})}, {"pads", attr_ints({4, 0})}},
                        "rtml_f32_conv1d__fast_hwy", 6);
  // Stride 2: the fast 1-D kernel is for stride 1; im2row + GEMM takes it.
  expect_packed_matches("Conv", random_operand({1, 8, 21}, rng),
                        {random_operand({12, 2, 3}, rng), random_operand({12}, rng)},
                        {{"group", attr_int(4)}, {"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}},
                        "rtml_f32_conv__im2row_hwy", 6);
}

TEST(FastGemmOps, DepthwiseConvSkipsIm2Row) {
  std::mt19937 rng(12);
  // Depthwise would be a 1-column GEMM: 1-D goes to the fast 1-D kernel
  // (vectorized over positions), 2-D keeps the direct one.
  expect_packed_matches("Conv", random_operand({1, 4, 10}, rng), {random_operand({4, 1, 3}, rng)},
                        {{"group", attr_int(4)}}, "rtml_f32_conv1d__fast_hwy", 3);
  const NodeRun r = run_node("Conv", random_operand({1, 4, 6, 5}, rng), {random_operand({4, 1, 3, 3}, rng)},
                             {{"group", attr_int(4)}}, true);
  EXPECT_EQ(r.kernel, std::string("rtml_f32_conv__ref"));
}

}  // namespace
