// Elementwise ops through build_plan and a Session with each kernel set: the
// default zoo's elementwise steps (Add, Mul, Sub, Div, Relu, Tanh, Exp, Sin,
// Sigmoid, Erf, Less, Equal, Clip, Cast, Where, Sum, Mean) pick the
// reference entries rtml_<t>_<op>__ref with the reference and cortex-m sets,
// and their Highway versions (kernels/fast_elementwise.h) where there is one
// with the simd set, and compute what <cmath> computes on the same inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/session.h"
#include "kernels/table.h"
#include "plan/plan.h"
#include "attributes.h"
#include "graph_builder.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

struct Ran {
  std::vector<float> y;
  std::vector<std::string> kernels;
};

Ran run(const ir::Graph& g, kernels::KernelSet set, const std::vector<float>& x) {
  plan::PlanOptions opt;
  opt.kernels = set;
  opt.fuse = false;  // one step per node: the kernel each op picks (chains: elementwise_chain_test.cpp)
  plan::Plan p = plan::build_plan(g, opt);
  Ran r;
  for (const auto& s : p.steps) r.kernels.push_back(s.step.kernel);
  engine::Session s(std::move(p));
  std::memcpy(s.input_data(0), x.data(), x.size() * sizeof(float));
  EXPECT_TRUE(s.run().ok());
  const float* y = static_cast<const float*>(s.output_data(0));
  r.y.assign(y, y + shape_numel(s.output(0).shape));
  return r;
}

// x [2, 3] -> a chain of the default zoo's elementwise ops, one output [2, 3].
ir::Graph zoo_ops_graph() {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {2, 3});
  const ir::TensorId row = gb.constant("row", {3}, std::vector<float>{0.5f, -1.0f, 2.0f});
  const ir::TensorId half = gb.constant("half", {1}, std::vector<float>{0.5f});
  const ir::TensorId a = gb.node("Add", {x, row});                       // broadcast a row
  const ir::TensorId m = gb.node("Mul", {a, half});                      // broadcast a scalar
  const ir::TensorId d = gb.node("Div", {gb.node("Sub", {m, x}), row});  // (m - x) / row
  const ir::TensorId t = gb.node("Tanh", {gb.node("Relu", {d})});
  const ir::TensorId e = gb.node("Exp", {gb.node("Sin", {x})});
  const ir::TensorId s = gb.node("Sigmoid", {gb.node("Erf", {x})});
  const ir::TensorId sum = gb.node("Sum", {t, e, s});
  const ir::TensorId mean = gb.node("Mean", {sum, x});
  const ir::TensorId less = gb.node("Less", {x, half});
  const ir::TensorId eq = gb.node("Equal", {x, half});
  const ir::TensorId w = gb.node("Where", {less, mean, gb.node("Cast", {eq}, {{"to", attr_int(1)}})});
  const ir::TensorId lo = gb.constant("lo", {}, std::vector<float>{-0.25f});
  const ir::TensorId hi = gb.constant("hi", {}, std::vector<float>{1.5f});
  gb.g.outputs.push_back(gb.node("Clip", {w, lo, hi}));
  return gb.g;
}

// The same computation with <cmath>, in float like the kernels.
std::vector<float> expected(const std::vector<float>& x) {
  const float row[3] = {0.5f, -1.0f, 2.0f};
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float r = row[i % 3];
    const float m = (x[i] + r) * 0.5f;
    const float d = (m - x[i]) / r;
    const float t = std::tanh(d > 0 ? d : 0.0f);
    const float e = std::exp(std::sin(x[i]));
    const float s = 1.0f / (1.0f + std::exp(-std::erf(x[i])));
    const float mean = ((t + e) + s + x[i]) / 2.0f;
    const float w = x[i] < 0.5f ? mean : (x[i] == 0.5f ? 1.0f : 0.0f);
    y[i] = std::fmin(std::fmax(w, -0.25f), 1.5f);
  }
  return y;
}

TEST(ElementwisePlan, KernelSetsTakeTheirEntriesAndAgree) {
  const ir::Graph g = zoo_ops_graph();
  const std::vector<float> x = {-2.0f, -0.5f, 0.0f, 0.25f, 0.5f, 3.0f};
  const Ran simd = run(g, kernels::KernelSet::Simd, x);
  const Ran ref = run(g, kernels::KernelSet::Reference, x);
  const Ran cm = run(g, kernels::KernelSet::CortexM, x);
  EXPECT_EQ(cm.y, ref.y);
  EXPECT_EQ(cm.kernels, ref.kernels);
  // simd: the same steps, each the Highway version where the table has one.
  ASSERT_EQ(simd.kernels.size(), ref.kernels.size());
  for (size_t i = 0; i < ref.kernels.size(); ++i) {
    const std::string fast = ref.kernels[i].substr(0, ref.kernels[i].size() - 5) + "__hwy";
    EXPECT_EQ(simd.kernels[i], kernels::find_kernel(fast) ? fast : ref.kernels[i]);
  }
  for (const char* want : {"rtml_f32_tanh__hwy", "rtml_f32_sum__hwy", "rtml_x32_where__hwy", "rtml_f32_less__ref"})
    EXPECT_NE(std::find(simd.kernels.begin(), simd.kernels.end(), want), simd.kernels.end()) << want;
  for (const std::string& k : ref.kernels) {
    EXPECT_EQ(k.find("_hwy"), std::string::npos) << k;
    EXPECT_EQ(k.rfind("rtml_", 0), 0u) << k;
  }
  for (const char* want : {"rtml_f32_add__ref", "rtml_f32_tanh__ref", "rtml_f32_sum__ref", "rtml_f32_mean__ref",
                           "rtml_f32_less__ref", "rtml_b8_cast_f32__ref", "rtml_x32_where__ref", "rtml_f32_clip__ref"})
    EXPECT_NE(std::find(ref.kernels.begin(), ref.kernels.end(), want), ref.kernels.end()) << want;
  const std::vector<float> want = expected(x);
  ASSERT_EQ(ref.y.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(ref.y[i], want[i], 1e-6f) << i;
  ASSERT_EQ(simd.y.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(simd.y[i], want[i], 1e-6f) << i;
}

TEST(ElementwisePlan, UnsupportedTypeNamesTheTypesTheTableHas) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {2});
  gb.g.outputs.push_back(gb.node("Tanh", {gb.node("Cast", {x}, {{"to", attr_int(7)}})}));  // int64
  try {
    plan::build_plan(gb.g, plan::PlanOptions{});
    FAIL() << "Tanh of int64 planned";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("int64"), std::string::npos) << m;
    EXPECT_NE(m.find("supported: float, double, float16, bfloat16"), std::string::npos) << m;
  }
}

}  // namespace
