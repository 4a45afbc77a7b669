// The fast 1-D convolution (kernels/fast_conv.h) against the reference
// kernels::conv_f32 (plus a plain residual add and ReLU), and its tiles over
// an explicit im2col matrix (the 2-D Conv) against a triple loop, on random shapes,
// most of them not a multiple of the vector width or the tile's rows, on
// every SIMD target; and epilogue fusion through build_plan and a Session:
// a ResNet-1D block (Conv, Relu, Conv, Add, Relu) planned with fusion runs
// in two steps and agrees with the same graph planned without fusion
// (PlanOptions::fuse = false, one step per node) and with a computation
// from the reference kernels; graphs that must not fuse keep their steps.
#include "kernels/fast_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/session.h"
#include "hwy/targets.h"
#include "kernels/conv.h"
#include "plan/plan.h"
#include "attributes.h"
#include "graph_builder.h"
#include "random_floats.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(static_cast<double>(a[i]) - b[i]));
  return e;
}

struct Geometry {
  int64_t batch, c, m, group, len, taps, dilation, pad_begin, pad_end;
};

// Reference: conv_f32, then + residual, then x > 0 ? x : 0.
std::vector<float> reference(const Geometry& g, const std::vector<float>& x, const std::vector<float>& w,
                             const float* bias, const float* residual, bool relu, int64_t out_len) {
  kernels::ConvParams p{};
  p.spatial = 1;
  p.batch = g.batch;
  p.in_channels = g.c;
  p.out_channels = g.m;
  p.group = g.group;
  p.in_shape[0] = g.len;
  p.out_shape[0] = out_len;
  p.kernel[0] = g.taps;
  p.stride[0] = 1;
  p.dilation[0] = g.dilation;
  p.pad_begin[0] = g.pad_begin;
  p.in_size = g.len;
  p.out_size = out_len;
  p.kernel_size = g.taps;
  std::vector<float> y(static_cast<size_t>(g.batch * g.m * out_len));
  kernels::conv_f32(p, x.data(), w.data(), bias, y.data());
  for (size_t i = 0; i < y.size(); ++i) {
    if (residual) y[i] += residual[i];
    if (relu) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
  }
  return y;
}

// Random geometries and every epilogue; returns the number of cases checked.
int check_random_shapes() {
  std::mt19937 rng(4321);
  const std::vector<Geometry> shapes = {
      {1, 32, 32, 1, 64, 3, 1, 1, 1},   // resnet1d_c32_l64's layers
      {1, 1, 1 + 1, 1, 1, 1, 1, 0, 0},  // one position
      {2, 3, 5, 1, 17, 3, 1, 1, 1},     // 5 channels: tail tiles; 17 positions: a partial tile
      {1, 8, 12, 4, 21, 3, 2, 4, 0},    // grouped, dilated, causal (TCN)
      {1, 7, 9, 1, 33, 5, 3, 12, 0},    // pads beyond the kernel extent
      {3, 4, 14, 2, 40, 2, 1, 0, 1},    // even kernel, asymmetric pads, batch 3
      {1, 16, 19, 1, 100, 1, 1, 0, 0},  // pointwise, 19 channels
      {1, 6, 10, 2, 31, 4, 4, 3, 9},    // padding at the end longer than the kernel
      {1, 6, 6, 6, 29, 3, 2, 2, 2},     // depthwise: one output channel per group
      {2, 4, 8, 4, 19, 5, 1, 4, 0},     // depthwise with multiplier 2
  };
  int cases = 0;
  for (const Geometry& g : shapes) {
    const int64_t cg = g.c / g.group;
    const int64_t ek = (g.taps - 1) * g.dilation + 1;
    const int64_t out_len = g.len + g.pad_begin + g.pad_end - ek + 1;
    const std::vector<float> x = random_floats(static_cast<size_t>(g.batch * g.c * g.len), rng);
    const std::vector<float> w = random_floats(static_cast<size_t>(g.m * cg * g.taps), rng);
    const std::vector<float> bias = random_floats(static_cast<size_t>(g.m), rng);
    const std::vector<float> res = random_floats(static_cast<size_t>(g.batch * g.m * out_len), rng);
    kernels::FastConv1dParams p{};
    p.batch = g.batch;
    p.in_channels = g.c;
    p.out_channels = g.m;
    p.group = g.group;
    p.in_len = g.len;
    p.out_len = out_len;
    p.taps = g.taps;
    p.dilation = g.dilation;
    p.pad_begin = g.pad_begin;
    std::vector<float> scratch(static_cast<size_t>(kernels::fast_conv1d_prepare(p)), std::nanf(""));
    for (int variant = 0; variant < 8; ++variant) {
      const bool with_bias = variant & 1, with_res = variant & 2, relu = variant & 4;
      const std::vector<float> want =
          reference(g, x, w, with_bias ? bias.data() : nullptr, with_res ? res.data() : nullptr, relu, out_len);
      // A sentinel past the end must survive.
      std::vector<float> got(want.size() + 1, 12345.0f);
      kernels::fast_conv1d_f32(p, x.data(), w.data(), with_bias ? bias.data() : nullptr,
                               with_res ? res.data() : nullptr, relu, got.data(), scratch.data());
      if (got.back() != 12345.0f) {
        ADD_FAILURE() << "wrote past the output (channels " << g.m << ", length " << out_len << ")";
        return cases;
      }
      got.pop_back();
      const double err = max_abs_diff(got, want);
      if (!(err < 1e-5)) {
        ADD_FAILURE() << "error " << err << " for C=" << g.c << " M=" << g.m << " group=" << g.group
                      << " L=" << g.len << " taps=" << g.taps << " dilation=" << g.dilation << " pads=" << g.pad_begin
                      << "," << g.pad_end << " bias=" << with_bias << " residual=" << with_res << " relu=" << relu
                      << " on " << kernels::fast_conv_target();
        return cases;
      }
      if (relu && with_res && std::count(got.begin(), got.end(), 0.0f) == 0 && got.size() > 8) {
        ADD_FAILURE() << "ReLU clamped nothing: the test data should have negative sums";
        return cases;
      }
      ++cases;
    }
  }
  return cases;
}

// fast_conv_gemm_f32 (the 2-D Conv's tiles over an explicit im2col matrix)
// against a plain triple loop; returns the number of cases checked.
int check_conv_gemm() {
  std::mt19937 rng(99);
  int cases = 0;
  for (int64_t M : {1, 5, 8, 19})
    for (int64_t N : {1, 17, 64, 71})
      for (int64_t K : {1, 9, 40}) {
        const int64_t ldb = kernels::fast_conv_gemm_ldb(N);
        const std::vector<float> w = random_floats(static_cast<size_t>(M * K), rng);
        const std::vector<float> b = random_floats(static_cast<size_t>(K * ldb), rng);
        const std::vector<float> bias = random_floats(static_cast<size_t>(M), rng);
        const std::vector<float> res = random_floats(static_cast<size_t>(M * N), rng);
        const bool relu = (M + N + K) % 2 == 0, with_res = N % 2 == 1;
        std::vector<float> want(static_cast<size_t>(M * N));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double acc = bias[m];
            for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(w[m * K + k]) * b[k * ldb + n];
            if (with_res) acc += res[m * N + n];
            want[m * N + n] = relu && acc < 0 ? 0.0f : static_cast<float>(acc);
          }
        std::vector<float> got(want.size() + 1, 12345.0f);
        kernels::fast_conv_gemm_f32(M, K, N, w.data(), b.data(), ldb, bias.data(), with_res ? res.data() : nullptr,
                                    relu, got.data());
        const bool overran = got.back() != 12345.0f;
        got.pop_back();
        if (overran || !(max_abs_diff(got, want) < 1e-5)) {
          ADD_FAILURE() << "fast_conv_gemm_f32 M=" << M << " N=" << N << " K=" << K << " on "
                        << kernels::fast_conv_target() << (overran ? ": wrote past y" : ": wrong values");
          return cases;
        }
        ++cases;
      }
  return cases;
}

TEST(FastConv1d, MatchesReferenceOnRandomShapesOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_conv_target, [] {
    EXPECT_EQ(check_random_shapes(), 10 * 8);
    EXPECT_EQ(check_conv_gemm(), 4 * 4 * 3);
  });
}

TEST(FastConv1d, HandComputedResidualAndRelu) {
  // X = [1 2 3 4] (1 channel), W = [1 -1] per output channel (2 channels,
  // the second scaled by 2), pads 1/0, bias [0.5, -1]:
  //   conv ch0: [0-1, 1-2, 2-3, 3-4] + 0.5   = [-0.5, -0.5, -0.5, -0.5]
  //   conv ch1: 2 * [-1, -1, -1, -1] - 1     = [-3, -3, -3, -3]
  // + residual [1 0 2 0 | 4 3 2 1] = [0.5 -0.5 1.5 -0.5 | 1 0 -1 -2], ReLU.
  kernels::FastConv1dParams p{};
  p.batch = p.group = p.dilation = 1;
  p.in_channels = 1;
  p.out_channels = 2;
  p.in_len = 4;
  p.out_len = 4;
  p.taps = 2;
  p.pad_begin = 1;
  std::vector<float> scratch(static_cast<size_t>(kernels::fast_conv1d_prepare(p)));
  const float x[] = {1, 2, 3, 4}, w[] = {1, -1, 2, -2}, b[] = {0.5f, -1}, res[] = {1, 0, 2, 0, 4, 3, 2, 1};
  float y[8];
  kernels::fast_conv1d_f32(p, x, w, b, res, true, y, scratch.data());
  EXPECT_EQ(std::vector<float>(y, y + 8), (std::vector<float>{0.5f, 0, 1.5f, 0, 1, 0, 0, 0}));
}

// --------------------------------------------------------- fusion in the plan

using rtml::testing::GraphBuilder;

struct Ran {
  std::vector<std::vector<float>> outputs;
  std::vector<std::string> kernels;
};

Ran run_graph(const ir::Graph& g, bool fuse, const std::vector<std::vector<float>>& inputs) {
  plan::PlanOptions opt;
  opt.fuse = fuse;
  plan::Plan p = plan::build_plan(g, opt);
  Ran r;
  for (const auto& s : p.steps) r.kernels.push_back(s.step.kernel);
  engine::Session s(std::move(p));
  for (size_t i = 0; i < inputs.size(); ++i)
    std::memcpy(s.input_data(static_cast<int>(i)), inputs[i].data(), inputs[i].size() * sizeof(float));
  for (int run = 0; run < 2; ++run) EXPECT_TRUE(s.run().ok());
  for (int k = 0; k < s.num_outputs(); ++k) {
    const float* y = static_cast<const float*>(s.output_data(k));
    r.outputs.emplace_back(y, y + shape_numel(s.output(k).shape));
  }
  return r;
}

const std::map<std::string, ir::Attribute> kPad1 = {{"pads", attr_ints({1, 1})}};

TEST(ConvFusion, ResNet1dBlockRunsInTwoStepsAndMatchesReference) {
  std::mt19937 rng(77);
  const int64_t c = 13, len = 37;  // neither a multiple of a vector width
  const std::vector<float> w1 = random_floats(c * c * 3, rng), b1 = random_floats(c, rng);
  const std::vector<float> w2 = random_floats(c * c * 3, rng), b2 = random_floats(c, rng);
  const std::vector<float> x = random_floats(c * len, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId h = gb.node("Relu", {gb.node("Conv", {in, gb.constant("w1", {c, c, 3}, w1), gb.constant("b1", {c}, b1)}, kPad1)});
  const ir::TensorId y2 = gb.node("Conv", {h, gb.constant("w2", {c, c, 3}, w2), gb.constant("b2", {c}, b2)}, kPad1);
  gb.g.outputs.push_back(gb.node("Relu", {gb.node("Add", {y2, in})}));

  const Ran fused = run_graph(gb.g, true, {x});
  const Ran plain = run_graph(gb.g, false, {x});
  EXPECT_EQ(fused.kernels, (std::vector<std::string>{"rtml_f32_conv1d__fast_hwy+relu", "rtml_f32_conv1d__fast_hwy+add+relu"}));
  EXPECT_EQ(plain.kernels.size(), 5u);
  // Independent of the engine: the reference conv, add and ReLU.
  const Geometry geo{1, c, c, 1, len, 3, 1, 1, 1};
  const std::vector<float> hr = reference(geo, x, w1, b1.data(), nullptr, true, len);
  const std::vector<float> want = reference(geo, hr, w2, b2.data(), x.data(), true, len);
  EXPECT_LT(max_abs_diff(fused.outputs[0], want), 1e-5);
  EXPECT_LT(max_abs_diff(plain.outputs[0], want), 1e-5);
  EXPECT_GT(std::count(want.begin(), want.end(), 0.0f), 0);  // the ReLU had work to do
}

TEST(ConvFusion, AddOfAnOperandComputedLaterOrBroadcastDoesNotFuse) {
  std::mt19937 rng(78);
  const int64_t c = 4, len = 9;
  const std::vector<float> w = random_floats(c * c * 3, rng), x = random_floats(c * len, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId wt = gb.constant("w", {c, c, 3}, w);
  // conv(x) + Sigmoid(conv2(x)): the Sigmoid runs after the first conv, so
  // that conv cannot take the Add; the Sigmoid and the Add run as one
  // elementwise chain in the second conv's store (the first conv's output
  // exists by then).
  const ir::TensorId a = gb.node("Conv", {in, wt}, kPad1);
  const ir::TensorId later = gb.node("Sigmoid", {gb.node("Conv", {in, wt}, kPad1)});
  const ir::TensorId sum = gb.node("Add", {a, later});
  // A broadcast Add (per-channel [c, 1]) is no epilogue Add either (a chain in the store).
  const ir::TensorId bias = gb.constant("c", {c, 1}, random_floats(c, rng));
  const ir::TensorId a3 = gb.node("Conv", {in, wt}, kPad1);
  const ir::TensorId sum2 = gb.node("Add", {a3, bias});
  gb.g.outputs = {sum, sum2};
  const Ran fused = run_graph(gb.g, true, {x});
  const Ran plain = run_graph(gb.g, false, {x});
  // No conv takes an Add as its epilogue; the first takes nothing, the
  // other two their chains: 3 steps.
  ASSERT_EQ(fused.kernels.size(), 3u);
  for (const std::string& k : fused.kernels) EXPECT_EQ(k.find("+add"), std::string::npos) << k;
  EXPECT_EQ(fused.kernels[0].find("chain"), std::string::npos) << fused.kernels[0];
  EXPECT_NE(fused.kernels[1].find("chain"), std::string::npos) << fused.kernels[1];
  EXPECT_NE(fused.kernels[2].find("chain"), std::string::npos) << fused.kernels[2];
  for (size_t k = 0; k < 2; ++k) EXPECT_LT(max_abs_diff(fused.outputs[k], plain.outputs[k]), 1e-6);
}

TEST(ConvFusion, ReluThenAddFusesTheReluAndChainsTheAdd) {
  std::mt19937 rng(79);
  const int64_t c = 5, len = 11;
  const std::vector<float> w = random_floats(c * c * 3, rng), x = random_floats(c * len, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId r = gb.node("Relu", {gb.node("Conv", {in, gb.constant("w", {c, c, 3}, w)}, kPad1)});
  gb.g.outputs = {gb.node("Add", {r, in})};
  const Ran fused = run_graph(gb.g, true, {x});
  // The Relu as the kernel's epilogue, then the Add (of the conv's input,
  // which exists before it) as a chain in its store: one step.
  ASSERT_EQ(fused.kernels.size(), 1u);
  EXPECT_EQ(fused.kernels[0], std::string("rtml_f32_conv1d_chain__fast_hwy+relu"));
  const Geometry geo{1, c, c, 1, len, 3, 1, 1, 1};
  std::vector<float> want = reference(geo, x, w, nullptr, nullptr, true, len);
  for (size_t i = 0; i < want.size(); ++i) want[i] += x[i];
  EXPECT_LT(max_abs_diff(fused.outputs[0], want), 1e-5);
}

TEST(ConvFusion, ConvOutputUsedTwiceOrAGraphOutputIsNotFused) {
  std::mt19937 rng(80);
  const int64_t c = 3, len = 8;
  const std::vector<float> w = random_floats(c * c * 3, rng), x = random_floats(c * len, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId conv = gb.node("Conv", {in, gb.constant("w", {c, c, 3}, w)}, kPad1);
  gb.g.outputs = {gb.node("Relu", {conv}), conv};
  const Ran fused = run_graph(gb.g, true, {x});
  ASSERT_EQ(fused.kernels.size(), 2u);
  EXPECT_EQ(fused.kernels[0], std::string("rtml_f32_conv1d__fast_hwy"));
  const Geometry geo{1, c, c, 1, len, 3, 1, 1, 1};
  EXPECT_LT(max_abs_diff(fused.outputs[0], reference(geo, x, w, nullptr, nullptr, true, len)), 1e-5);
  EXPECT_LT(max_abs_diff(fused.outputs[1], reference(geo, x, w, nullptr, nullptr, false, len)), 1e-5);
}

TEST(ConvFusion, StridedConvUsesIm2RowAndFusesToo) {
  std::mt19937 rng(81);
  const int64_t c = 6, len = 23;
  const std::vector<float> w = random_floats(c * c * 3, rng), x = random_floats(c * len, rng);
  const std::vector<float> w2 = random_floats(c * c * 1, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId down =
      gb.node("Conv", {in, gb.constant("w", {c, c, 3}, w)}, {{"pads", attr_ints({1, 1})}, {"strides", attr_ints({2})}});
  const ir::TensorId skip =
      gb.node("Conv", {in, gb.constant("w2", {c, c, 1}, w2)}, {{"strides", attr_ints({2})}});
  // skip is listed first in the Add but computed after `down`: `down` cannot
  // take it; `skip` (the later conv) takes `down` as its residual.
  gb.g.outputs = {gb.node("Relu", {gb.node("Add", {skip, down})})};
  const Ran fused = run_graph(gb.g, true, {x});
  const Ran plain = run_graph(gb.g, false, {x});
  EXPECT_EQ(fused.kernels,
            (std::vector<std::string>{"rtml_f32_conv__im2row_hwy", "rtml_f32_conv__im2row_hwy+add+relu"}));
  EXPECT_EQ(plain.kernels.size(), 4u);
  EXPECT_LT(max_abs_diff(fused.outputs[0], plain.outputs[0]), 1e-5);
}

TEST(ConvFusion, Conv2dResidualBlockMatchesReference) {
  // digits_cnn-like 3x3 pad 1 convolutions on a 7x6 image (42 positions:
  // not a multiple of any tile), 5 channels, residual and ReLU fused.
  std::mt19937 rng(83);
  const int64_t c = 5, h = 7, wd = 6;
  const std::vector<float> w = random_floats(c * c * 9, rng), b = random_floats(c, rng), x = random_floats(c * h * wd, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, h, wd});
  const ir::TensorId conv =
      gb.node("Conv", {in, gb.constant("w", {c, c, 3, 3}, w), gb.constant("b", {c}, b)}, {{"pads", attr_ints({1, 1, 1, 1})}});
  gb.g.outputs = {gb.node("Relu", {gb.node("Add", {in, conv})})};
  const Ran fused = run_graph(gb.g, true, {x});
  const Ran plain = run_graph(gb.g, false, {x});
  EXPECT_EQ(fused.kernels, (std::vector<std::string>{"rtml_f32_conv2d__fast_hwy+add+relu"}));
  EXPECT_EQ(plain.kernels.size(), 3u);
  kernels::ConvParams p{};
  p.spatial = 2;
  p.batch = p.group = 1;
  p.in_channels = p.out_channels = c;
  p.in_shape[0] = p.out_shape[0] = h;
  p.in_shape[1] = p.out_shape[1] = wd;
  p.kernel[0] = p.kernel[1] = 3;
  p.stride[0] = p.stride[1] = 1;
  p.dilation[0] = p.dilation[1] = 1;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  p.in_size = p.out_size = h * wd;
  p.kernel_size = 9;
  std::vector<float> want(static_cast<size_t>(c * h * wd));
  kernels::conv_f32(p, x.data(), w.data(), b.data(), want.data());
  for (size_t i = 0; i < want.size(); ++i) want[i] = std::max(want[i] + x[i], 0.0f);
  EXPECT_LT(max_abs_diff(fused.outputs[0], want), 1e-5);
  EXPECT_LT(max_abs_diff(plain.outputs[0], want), 1e-5);
}

TEST(GemmFusion, GemmThenReluFuses) {
  std::mt19937 rng(82);
  const std::vector<float> w = random_floats(7 * 9, rng), b = random_floats(7, rng), x = random_floats(2 * 9, rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {2, 9});
  gb.g.outputs = {gb.node(
      "Relu", {gb.node("Gemm", {in, gb.constant("w", {7, 9}, w), gb.constant("b", {7}, b)}, {{"transB", attr_int(1)}})})};
  const Ran fused = run_graph(gb.g, true, {x});
  EXPECT_EQ(fused.kernels, (std::vector<std::string>{"rtml_f32_gemm__packed_hwy+relu"}));
  std::vector<float> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 7; ++j) {
      double s = b[j];
      for (int k = 0; k < 9; ++k) s += static_cast<double>(x[i * 9 + k]) * w[j * 9 + k];
      want.push_back(s > 0 ? static_cast<float>(s) : 0.0f);
    }
  EXPECT_LT(max_abs_diff(fused.outputs[0], want), 1e-5);
}

}  // namespace
