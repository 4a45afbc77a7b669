// Elementwise chains (plan/passes/fuse_elementwise_chains.cpp, kernels/
// elementwise_chain.h) through build_plan and a Session: a chain runs as one
// step named after its nodes, and gives bit for bit what the unfused graph
// (PlanOptions::fuse = false, one step per node) gives with the same kernel
// set, on every dispatched SIMD target and with the reference set, NaN and
// infinities included; the numbers agree with the formula computed in double
// here; chains that must not fuse stay apart; a run allocates nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bench/heap_counter.h"
#include "engine/session.h"
#include "kernels/fast_elementwise.h"
#include "plan/plan.h"
#include "attributes.h"
#include "graph_builder.h"
#include "random_floats.h"
#include "simd_targets.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Ran {
  std::vector<std::vector<float>> outputs;
  std::vector<std::string> kernels, names, op_types;
};

Ran run(const ir::Graph& g, bool fuse, kernels::KernelSet set, const std::vector<std::vector<float>>& inputs) {
  plan::PlanOptions opt;
  opt.fuse = fuse;
  opt.kernels = set;
  plan::Plan p = plan::build_plan(g, opt);
  Ran r;
  for (const auto& s : p.steps) {
    r.kernels.push_back(s.step.kernel);
    r.names.push_back(s.node_name);
    r.op_types.push_back(s.op_type);
  }
  engine::Session s(std::move(p));
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(shape_numel(s.input(static_cast<int>(i)).shape)), inputs[i].size());
    std::memcpy(s.input_data(static_cast<int>(i)), inputs[i].data(), inputs[i].size() * sizeof(float));
  }
  EXPECT_TRUE(s.run().ok());
  for (int k = 0; k < s.num_outputs(); ++k) {
    const float* y = static_cast<const float*>(s.output_data(k));
    r.outputs.emplace_back(y, y + shape_numel(s.output(k).shape));
  }
  return r;
}

// Same bits, or both NaN.
void expect_same(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    uint32_t ua, ub;
    std::memcpy(&ua, &a[i], 4);
    std::memcpy(&ub, &b[i], 4);
    EXPECT_EQ(ua, ub) << "element " << i << ": " << a[i] << " vs " << b[i];
  }
}

// Within rel * max(1, |want|) of the double-precision value; NaN where it is NaN.
void expect_near(const std::vector<float>& got, const std::vector<double>& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i << ": " << got[i];
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(static_cast<double>(got[i]), want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], rel * std::fmax(1.0, std::fabs(want[i]))) << "element " << i;
    }
  }
}

// n values in [-6, 6], then the special ones.
std::vector<float> with_specials(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-6.0f, 6.0f);
  std::vector<float> x(n);
  for (float& v : x) v = u(rng);
  const float special[] = {kNaN, kInf, -kInf, 0.0f, -0.0f, 1e-40f, -1e-40f, 1e30f, -1e30f, 20.0f, -20.0f};
  for (size_t i = 0; i < sizeof(special) / sizeof(special[0]) && i < n; ++i) x[i * 7 % n] = special[i];
  return x;
}

// Fused equals unfused, bit for bit, with the simd set on every target the
// fast elementwise kernels dispatch to and with the reference set; returns
// the simd run (fused) on the last target for the other checks.
Ran check_fused_equals_unfused(const ir::Graph& g, const std::vector<std::vector<float>>& inputs,
                               bool same_steps = true) {
  Ran simd;
  rtml::testing::check_every_dispatched_target(kernels::fast_elementwise_target, [&] {
    simd = run(g, true, kernels::KernelSet::Simd, inputs);
    const Ran plain = run(g, false, kernels::KernelSet::Simd, inputs);
    for (size_t k = 0; k < plain.outputs.size(); ++k) expect_same(simd.outputs[k], plain.outputs[k]);
  });
  const Ran ref = run(g, true, kernels::KernelSet::Reference, inputs);
  const Ran ref_plain = run(g, false, kernels::KernelSet::Reference, inputs);
  for (size_t k = 0; k < ref.outputs.size(); ++k) expect_same(ref.outputs[k], ref_plain.outputs[k]);
  if (same_steps) EXPECT_EQ(ref.names, simd.names);
  for (const std::string& k : ref.kernels) EXPECT_EQ(k.find("__hwy"), std::string::npos) << k;
  return simd;
}

// The steps' order is one topological order of the graph: compare as sets.
std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

size_t count_of(const std::vector<std::string>& v, const std::string& s) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), s));
}

// GELU as torch.onnx writes nn.GELU() below opset 20: x * (erf(x / sqrt 2) + 1) * 0.5.
ir::Graph gelu_graph(const Shape& shape) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", shape);
  const ir::TensorId erf = gb.node("Erf", {gb.node("Div", {x, gb.constant("sqrt2", {}, std::vector<float>{1.41421354f})})});
  const ir::TensorId add = gb.node("Add", {erf, gb.constant("one", {}, std::vector<float>{1.0f})});
  gb.g.outputs.push_back(gb.node("Mul", {gb.node("Mul", {x, add}), gb.constant("half", {}, std::vector<float>{0.5f})}));
  return gb.g;
}

TEST(ElementwiseChain, GeluWrittenOutIsOneStepAndMatchesUnfused) {
  const ir::Graph g = gelu_graph({2, 3, 101});  // 606 elements: two blocks of 256 and a tail of 94
  const std::vector<float> x = with_specials(606, 1);
  const Ran fused = check_fused_equals_unfused(g, {x});
  ASSERT_EQ(fused.kernels, std::vector<std::string>{"rtml_f32_elementwise_chain__hwy"});
  EXPECT_EQ(fused.names[0], "n0 + n1 + n2 + n3 + n4");
  EXPECT_EQ(fused.op_types[0], "Div+Erf+Add+Mul+Mul");
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    want[i] = v * (std::erf(v / 1.41421354) + 1.0) * 0.5;
  }
  expect_near(fused.outputs[0], want, 2e-6);
  // -inf * (erf(-inf) + 1) is -inf * 0: NaN, as the graph says.
  EXPECT_TRUE(std::isnan(fused.outputs[0][2 * 7 % 606]));
}

TEST(ElementwiseChain, SwishIsOneStepAndMatchesUnfused) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 150});
  gb.g.outputs.push_back(gb.node("Mul", {x, gb.node("Sigmoid", {x})}));
  const std::vector<float> xs = with_specials(150, 2);
  const Ran fused = check_fused_equals_unfused(gb.g, {xs});
  ASSERT_EQ(fused.kernels.size(), 1u);
  EXPECT_EQ(fused.op_types[0], "Sigmoid+Mul");
  std::vector<double> want(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) want[i] = xs[i] * (1.0 / (1.0 + std::exp(-static_cast<double>(xs[i]))));
  expect_near(fused.outputs[0], want, 2e-6);
}

TEST(ElementwiseChain, BiasAndLeakyReluAfterConvRunInTheConvsStore) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t c = 5, len = 19;
  std::vector<float> w(c * c * 3), b(c), x(c * len);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  for (float& v : x) v = u(rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, c, len});
  const ir::TensorId conv = gb.node("Conv", {in, gb.constant("w", {c, c, 3}, w)}, {{"pads", attr_ints({1, 1})}});
  const ir::TensorId biased = gb.node("Add", {conv, gb.constant("b", {c, 1}, b)});
  gb.g.outputs.push_back(gb.node("LeakyRelu", {biased}, {{"alpha", attr_float(0.1f)}}));
  const Ran fused = check_fused_equals_unfused(gb.g, {x});
  ASSERT_EQ(fused.kernels.size(), 1u);
  EXPECT_EQ(fused.kernels[0], "rtml_f32_conv1d_chain__fast_hwy");
  EXPECT_EQ(fused.names[0], "n0 + n1 + n2");
  EXPECT_EQ(fused.op_types[0], "Conv+Add+LeakyRelu");
  std::vector<double> want(c * len);
  for (int64_t o = 0; o < c; ++o)
    for (int64_t t = 0; t < len; ++t) {
      double s = b[o];
      for (int64_t i = 0; i < c; ++i)
        for (int64_t k = 0; k < 3; ++k) {
          const int64_t at = t + k - 1;
          if (at >= 0 && at < len) s += static_cast<double>(w[(o * c + i) * 3 + k]) * x[i * len + at];
        }
      want[o * len + t] = s < 0 ? 0.1 * s : s;
    }
  expect_near(fused.outputs[0], want, 1e-5);
}

TEST(ElementwiseChain, BiasAndLeakyReluAfterGemmRunInTheGemmsStore) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t m = 3, k = 7, n = 9;
  std::vector<float> a(m * k), w(k * n), b(n);
  for (float& v : a) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  GraphBuilder gb;
  const ir::TensorId in = gb.input("a", {m, k});
  const ir::TensorId y = gb.node("Gemm", {in, gb.constant("w", {k, n}, w)});
  const ir::TensorId biased = gb.node("Add", {y, gb.constant("b", {n}, b)});
  gb.g.outputs.push_back(gb.node("LeakyRelu", {biased}, {{"alpha", attr_float(0.2f)}}));
  const Ran fused = check_fused_equals_unfused(gb.g, {a});
  ASSERT_EQ(fused.kernels.size(), 1u);
  EXPECT_EQ(fused.kernels[0], "rtml_f32_gemm_chain__packed_hwy");
  EXPECT_EQ(fused.op_types[0], "Gemm+Add+LeakyRelu");
  std::vector<double> want(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = b[j];
      for (int64_t q = 0; q < k; ++q) s += static_cast<double>(a[i * k + q]) * w[q * n + j];
      want[i * n + j] = s < 0 ? 0.2 * s : s;
    }
  expect_near(fused.outputs[0], want, 1e-5);
}

// A product, then `chain(y)` written out by `add_chain`; one step when fused.
struct ProductCase {
  const char* what;
  ir::Graph g;
  std::vector<std::vector<float>> inputs;
  const char* simd_kernel;  // the fused step's kernel with the simd set; nullptr: a chain step of its own
  const char* ref_kernel;
};

// GELU as torch.onnx writes it, after `y` (one more node per op: Div, Erf, Add, Mul, Mul).
ir::TensorId gelu_after(GraphBuilder& gb, ir::TensorId y) {
  const ir::TensorId erf = gb.node("Erf", {gb.node("Div", {y, gb.constant("sqrt2", {}, std::vector<float>{1.41421354f})})});
  const ir::TensorId add = gb.node("Add", {erf, gb.constant("one", {}, std::vector<float>{1.0f})});
  return gb.node("Mul", {gb.node("Mul", {y, add}), gb.constant("half", {}, std::vector<float>{0.5f})});
}

// Swish: Mul(y, Sigmoid(y)).
ir::TensorId swish_after(GraphBuilder& gb, ir::TensorId y) { return gb.node("Mul", {y, gb.node("Sigmoid", {y})}); }

std::vector<ProductCase> product_cases() {
  std::vector<ProductCase> cases;
  {  // MatMul of a 3-D activation by a constant (packed), GELU: 2 x 9 rows, 37 columns (a partial panel)
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {2, 9, 11});
    const ir::TensorId y = gb.node("MatMul", {x, gb.constant("w", {11, 37}, seeded_floats(11 * 37, 11))});
    gb.g.outputs.push_back(gelu_after(gb, y));
    cases.push_back({"matmul gelu", gb.g, {seeded_floats(2 * 9 * 11, 12, -3, 3)}, "rtml_f32_gemm_chain__packed_hwy",
                     "rtml_f32_matmul_chain__ref"});
  }
  {  // one row (matrix-vector), bias as a broadcast Add of a [N] constant, then Tanh
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {1, 24});
    const ir::TensorId y = gb.node("MatMul", {x, gb.constant("w", {24, 70}, seeded_floats(24 * 70, 13))});
    gb.g.outputs.push_back(gb.node("Tanh", {gb.node("Add", {y, gb.constant("b", {70}, seeded_floats(70, 14))})}));
    cases.push_back({"matvec bias tanh", gb.g, {seeded_floats(24, 15, -2, 2)}, "rtml_f32_gemm_chain__packed_hwy",
                     "rtml_f32_matmul_chain__ref"});
  }
  {  // two activations (B packed at run time), Swish, then a multiply by a second input [1, N]
    GraphBuilder gb;
    const ir::TensorId a = gb.input("a", {6, 13});
    const ir::TensorId b = gb.input("b", {13, 21});
    const ir::TensorId s = gb.input("s", {1, 21});
    gb.g.outputs.push_back(gb.node("Mul", {swish_after(gb, gb.node("MatMul", {a, b})), s}));
    cases.push_back({"matmul of activations swish", gb.g,
                     {seeded_floats(6 * 13, 16, -2, 2), seeded_floats(13 * 21, 17), seeded_floats(21, 18)},
                     "rtml_f32_matmul_chain__pack_at_run_hwy", "rtml_f32_matmul_chain__ref"});
  }
  {  // Gemm with transA: the reference kernel even with the simd set, which
     // keeps the chain a step of its own there (the vector chain's bits)
    GraphBuilder gb;
    const ir::TensorId a = gb.input("a", {7, 5});
    const ir::TensorId y = gb.node("Gemm", {a, gb.constant("w", {7, 9}, seeded_floats(63, 19)), gb.constant("c", {9}, seeded_floats(9, 20))},
                                   {{"transA", attr_int(1)}, {"alpha", attr_float(0.5f)}});
    gb.g.outputs.push_back(swish_after(gb, y));
    cases.push_back({"gemm transA swish", gb.g, {seeded_floats(35, 21, -3, 3)}, nullptr, "rtml_f32_gemm_chain__ref"});
  }
  {  // Conv1d, Relu (fused by fuse_epilogues first), then GELU; 41 positions: a partial tile
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {2, 4, 41});
    const ir::TensorId y = gb.node("Conv", {x, gb.constant("w", {7, 4, 3}, seeded_floats(84, 22)), gb.constant("b", {7}, seeded_floats(7, 23))},
                                   {{"pads", attr_ints({2, 0})}});
    gb.g.outputs.push_back(gelu_after(gb, gb.node("Relu", {y})));
    cases.push_back({"conv1d relu gelu", gb.g, {seeded_floats(2 * 4 * 41, 24, -2, 2)}, "rtml_f32_conv1d_chain__fast_hwy+relu",
                     "rtml_f32_conv_chain__ref"});
  }
  {  // Conv2d (im2col tiles), a residual Add fused first, then Swish
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {1, 3, 6, 7});
    const ir::TensorId r = gb.input("r", {1, 5, 6, 7});
    const ir::TensorId y = gb.node("Conv", {x, gb.constant("w", {5, 3, 3, 3}, seeded_floats(135, 25))}, {{"pads", attr_ints({1, 1, 1, 1})}});
    gb.g.outputs.push_back(swish_after(gb, gb.node("Add", {y, r})));
    cases.push_back({"conv2d residual swish", gb.g, {seeded_floats(126, 26, -2, 2), seeded_floats(210, 27)},
                     "rtml_f32_conv2d_chain__fast_hwy+add", "rtml_f32_conv_chain__ref"});
  }
  {  // strided Conv (im2row), a per-channel bias Add, then LeakyRelu
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {1, 3, 9, 8});
    const ir::TensorId y = gb.node("Conv", {x, gb.constant("w", {6, 3, 3, 3}, seeded_floats(162, 28))}, {{"strides", attr_ints({2, 2})}});
    const ir::TensorId biased = gb.node("Add", {y, gb.constant("b", {6, 1, 1}, seeded_floats(6, 29))});
    gb.g.outputs.push_back(gb.node("LeakyRelu", {biased}, {{"alpha", attr_float(0.1f)}}));
    cases.push_back({"strided conv bias leaky", gb.g, {seeded_floats(216, 30, -2, 2)}, "rtml_f32_conv_chain__im2row_hwy",
                     "rtml_f32_conv_chain__ref"});
  }
  return cases;
}

TEST(ElementwiseChain, ChainsAfterProductsRunInTheirStoreAndMatchUnfused) {
  for (const ProductCase& c : product_cases()) {
    SCOPED_TRACE(c.what);
    const Ran fused = check_fused_equals_unfused(c.g, c.inputs, c.simd_kernel != nullptr);
    const Ran ref = run(c.g, true, kernels::KernelSet::Reference, c.inputs);
    ASSERT_EQ(ref.kernels.size(), 1u);
    EXPECT_EQ(ref.kernels[0], c.ref_kernel);
    // The fused step keeps every node's name.
    const size_t nodes = c.g.nodes.size();
    std::string names = "n0";
    for (size_t i = 1; i < nodes; ++i) names += " + n" + std::to_string(i);
    EXPECT_EQ(ref.names[0], names);
    if (!c.simd_kernel) {
      EXPECT_EQ(fused.kernels.size(), 2u);
      continue;
    }
    ASSERT_EQ(fused.kernels.size(), 1u);
    EXPECT_EQ(fused.kernels[0], c.simd_kernel);
  }
}

TEST(ElementwiseChain, ChainsInAStoreMatchAHandComputedGelu) {
  // MatMul then GELU, against the formula in double over the product in double.
  const ProductCase c = product_cases()[0];
  const Ran fused = run(c.g, true, kernels::KernelSet::Simd, c.inputs);
  const float* w = c.g.tensors[c.g.nodes[0].inputs[1]].as<float>();
  const std::vector<float>& x = c.inputs[0];
  std::vector<double> want(2 * 9 * 37);
  for (int64_t r = 0; r < 18; ++r)
    for (int64_t j = 0; j < 37; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 11; ++k) s += static_cast<double>(x[r * 11 + k]) * w[k * 37 + j];
      want[r * 37 + j] = s * (std::erf(s / 1.41421354) + 1.0) * 0.5;
    }
  expect_near(fused.outputs[0], want, 2e-5);
}

TEST(ElementwiseChain, AChainInputMadeAfterTheProductKeepsItsOwnStep) {
  // y = conv(x); z = conv2(x); out = tanh(y * z): z exists only after conv
  // runs, so the chain cannot run in conv's store; it runs in conv2's.
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 2, 20});
  const ir::TensorId y = gb.node("Conv", {x, gb.constant("w", {3, 2, 1}, seeded_floats(6, 31))});
  const ir::TensorId z = gb.node("Conv", {x, gb.constant("w2", {3, 2, 1}, seeded_floats(6, 32))});
  gb.g.outputs.push_back(gb.node("Tanh", {gb.node("Mul", {y, z})}));
  const Ran fused = check_fused_equals_unfused(gb.g, {seeded_floats(40, 33)});
  ASSERT_EQ(fused.kernels.size(), 2u);
  EXPECT_EQ(fused.kernels[0], "rtml_f32_conv1d__fast_hwy");
  EXPECT_EQ(fused.kernels[1], "rtml_f32_conv1d_chain__fast_hwy");
  EXPECT_EQ(fused.names[1], "n1 + n2 + n3");
}

TEST(ElementwiseChain, BroadcastTensorsOfAnotherInputAndAConstant) {
  // tanh(x * s + t): s a per-channel constant [3, 1], t a second graph input [5].
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {2, 3, 5});
  const ir::TensorId t = gb.input("t", {5});
  const std::vector<float> s = {0.5f, -2.0f, 3.0f};
  const ir::TensorId scaled = gb.node("Mul", {x, gb.constant("s", {3, 1}, s)});
  gb.g.outputs.push_back(gb.node("Tanh", {gb.node("Add", {scaled, t})}));
  const std::vector<float> xs = with_specials(30, 5), ts = {0.25f, -1.0f, 0.0f, 2.0f, kNaN};
  const Ran fused = check_fused_equals_unfused(gb.g, {xs, ts});
  ASSERT_EQ(fused.kernels.size(), 1u);
  EXPECT_EQ(fused.op_types[0], "Mul+Add+Tanh");
  std::vector<double> want(30);
  for (size_t i = 0; i < 30; ++i) want[i] = std::tanh(static_cast<double>(xs[i]) * s[i / 5 % 3] + ts[i % 5]);
  expect_near(fused.outputs[0], want, 1e-5);
}

TEST(ElementwiseChain, PowClipMaxAndAConstantFirstOperand) {
  // max(x, clip(1 - x^3 * 0.25, -2, 2)) and sqrt(x^2) from the same x.
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {67});
  const ir::TensorId cube = gb.node("Pow", {x, gb.constant("three", {}, std::vector<float>{3.0f})});
  const ir::TensorId q = gb.node("Mul", {cube, gb.constant("quarter", {}, std::vector<float>{0.25f})});
  const ir::TensorId d = gb.node("Sub", {gb.constant("one", {1}, std::vector<float>{1.0f}), q});
  const ir::TensorId c = gb.node("Clip", {d, gb.constant("lo", {}, std::vector<float>{-2.0f}),
                                          gb.constant("hi", {}, std::vector<float>{2.0f})});
  gb.g.outputs.push_back(gb.node("Max", {x, c}));
  const ir::TensorId sq = gb.node("Pow", {x, gb.constant("two", {}, std::vector<float>{2.0f})});
  gb.g.outputs.push_back(gb.node("Pow", {sq, gb.constant("half", {}, std::vector<float>{0.5f})}));
  const std::vector<float> xs = with_specials(67, 6);
  const Ran fused = check_fused_equals_unfused(gb.g, {xs});
  EXPECT_EQ(sorted(fused.op_types), (std::vector<std::string>{"Pow+Mul+Sub+Clip+Max", "Pow+Pow"}));
  std::vector<double> want(67), want_abs(67);
  for (size_t i = 0; i < 67; ++i) {
    const double v = xs[i];
    const double cl = std::fmin(std::fmax(1.0 - v * v * v * 0.25, -2.0), 2.0);
    want[i] = std::isnan(v) ? v : std::fmax(v, cl);
    want_abs[i] = std::fabs(v) > 1.8e19 ? INFINITY : std::fabs(v);  // x^2 overflows float past 1.8e19
  }
  expect_near(fused.outputs[0], want, 1e-6);
  expect_near(fused.outputs[1], want_abs, 1e-6);
}

TEST(ElementwiseChain, ResultsReadElsewhereStayOutOfTheChain) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {40});
  // tanh -> exp -> neg where exp's result is also a graph output: tanh and
  // exp fuse, neg stays its own step.
  const ir::TensorId e = gb.node("Exp", {gb.node("Tanh", {x})});
  gb.g.outputs = {gb.node("Neg", {e}), e};
  // sin's result read by two nodes: none of the three fuse.
  const ir::TensorId s = gb.node("Sin", {x});
  gb.g.outputs.push_back(gb.node("Cos", {s}));
  gb.g.outputs.push_back(gb.node("Abs", {s}));
  const Ran fused = check_fused_equals_unfused(gb.g, {with_specials(40, 7)});
  EXPECT_EQ(sorted(fused.names), (std::vector<std::string>{"n0 + n1", "n2", "n3", "n4", "n5"}));
  EXPECT_EQ(count_of(fused.kernels, "rtml_f32_elementwise_chain__hwy"), 1u);
}

TEST(ElementwiseChain, PassReportNamesTheChainsAndOffMeansNone) {
  const ir::Graph g = gelu_graph({8});
  const plan::Plan p = plan::build_plan(g, plan::PlanOptions{});
  bool found = false;
  for (const plan::PassReport& r : p.passes)
    if (r.name == "fuse_elementwise_chains") {
      found = true;
      EXPECT_EQ(r.summary, "fused 5 nodes into 1 chain step: n0 + n1 + n2 + n3 + n4");
    }
  EXPECT_TRUE(found);
  plan::PlanOptions off;
  off.fuse = false;
  const plan::Plan q = plan::build_plan(g, off);
  EXPECT_EQ(q.steps.size(), 5u);
}

TEST(ElementwiseChain, RunAllocatesNothing) {
  if (!bench::heap_counting_available()) GTEST_SKIP() << "heap counting is off under sanitizers";
  std::vector<ir::Graph> graphs = {gelu_graph({4, 300})};
  for (const ProductCase& c : product_cases()) graphs.push_back(c.g);
  for (const ir::Graph& g : graphs)
  for (kernels::KernelSet set : {kernels::KernelSet::Simd, kernels::KernelSet::Reference}) {
    plan::PlanOptions opt;
    opt.kernels = set;
    engine::Session s(plan::build_plan(g, opt));
    ASSERT_LE(s.plan().steps.size(), 2u);  // one, or with simd the Gemm with transA and its chain
    for (int i = 0; i < static_cast<int>(g.inputs.size()); ++i)
      std::memset(s.input_data(i), 0, static_cast<size_t>(shape_numel(s.input(i).shape)) * sizeof(float));
    ASSERT_TRUE(s.run().ok());
    const int64_t before = bench::heap_counts().allocations;
    bench::heap_counting(true);
    for (int r = 0; r < 20; ++r) s.run();
    bench::heap_counting(false);
    EXPECT_EQ(bench::heap_counts().allocations - before, 0);
  }
}

}  // namespace
