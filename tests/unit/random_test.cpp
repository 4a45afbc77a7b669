// RandomNormal / RandomUniform (and the *Like forms): reproducibility,
// Session::reset() replay, and statistical properties of the draws.
#include "kernels/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/session.h"
#include "plan/plan.h"
#include "attributes.h"

using namespace rtml;

namespace {

// A graph with one random node. For the *Like ops the input is a graph input
// of `like_type`/`like_shape`.
ir::Graph random_graph(const std::string& op, std::map<std::string, ir::Attribute> attrs,
                       DType like_type = DType::F32, Shape like_shape = {}) {
  ir::Graph g;
  g.opset = 17;
  g.source = "random_test";
  ir::Node n;
  n.name = "rand";
  n.op_type = op;
  n.attrs = std::move(attrs);
  if (op.size() > 4 && op.substr(op.size() - 4) == "Like") {
    ir::Tensor in;
    in.name = "like";
    in.dtype = like_type;
    in.shape = like_shape;
    ir::TensorId t = g.add_tensor(in);
    g.inputs.push_back(t);
    n.inputs.push_back(t);
  }
  ir::Tensor out;
  out.name = "out";
  ir::TensorId o = g.add_tensor(out);
  n.outputs.push_back(o);
  g.outputs.push_back(o);
  g.nodes.push_back(n);
  return g;
}

std::vector<float> draw(engine::Session& s) {
  EXPECT_TRUE(s.run().ok());
  const float* p = static_cast<const float*>(s.output_data(0));
  return std::vector<float>(p, p + s.output(0).shape[0]);
}

TEST(Random, Pcg32MatchesReferenceSequence) {
  // pcg32-demo (pcg-c-basic): pcg32_srandom_r(&rng, 42u, 54u), first draws.
  kernels::Pcg32 g;
  kernels::pcg32_seed(g, 42u, 54u);
  const uint32_t want[] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
  for (uint32_t w : want) EXPECT_EQ(kernels::pcg32_next(g), w);
}

TEST(Random, SameSeedSameNumbersDifferentSeedDifferent) {
  auto make = [](float seed) {
    return plan::build_plan(random_graph("RandomNormal", {{"shape", attr_ints({64})}, {"seed", attr_float(seed)}}), {});
  };
  engine::Session a(make(7.0f)), b(make(7.0f)), c(make(8.0f));
  std::vector<float> va = draw(a), vb = draw(b), vc = draw(c);
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  // Successive runs continue the sequence rather than repeating it.
  EXPECT_NE(draw(a), va);
}

TEST(Random, NoSeedIsReproducibleToo) {
  auto make = [] { return plan::build_plan(random_graph("RandomUniform", {{"shape", attr_ints({32})}}), {}); };
  engine::Session a(make()), b(make());
  EXPECT_EQ(draw(a), draw(b));
}

TEST(Random, ResetReplaysTheSequence) {
  for (const char* op : {"RandomNormal", "RandomUniform"}) {
    // An odd count checks that the cached second Box-Muller value is reset too.
    engine::Session s(plan::build_plan(random_graph(op, {{"shape", attr_ints({33})}, {"seed", attr_float(3.5f)}}), {}));
    std::vector<float> first = draw(s), second = draw(s);
    EXPECT_NE(first, second) << op;
    s.reset();
    EXPECT_EQ(draw(s), first) << op;
    EXPECT_EQ(draw(s), second) << op;
  }
}

TEST(Random, EachSessionOfOnePlanHasItsOwnSequence) {
  // The generator is the step's state (Storage::State), not its params: two
  // sessions of one plan draw the same numbers, neither advancing the other.
  const plan::Plan p = plan::build_plan(random_graph("RandomNormal", {{"shape", attr_ints({5})}}), {});
  ASSERT_EQ(p.steps.size(), 1u);
  const plan::PlanStep& st = p.steps[0];
  EXPECT_EQ(st.step.kernel, "rtml_f32_random_normal__ref");
  ASSERT_GT(st.step.state_bytes, 0u);
  const plan::TensorPlan& state = p.tensors[p.operands[st.first_operand + st.num_operands - 1]];
  EXPECT_EQ(state.storage, plan::Storage::State);
  EXPECT_GE(p.state_bytes, st.step.state_bytes);
  engine::Session a(p), b(p);
  std::vector<float> a1 = draw(a), a2 = draw(a);
  EXPECT_EQ(draw(b), a1);
  EXPECT_EQ(draw(b), a2);
}

void moments(const std::vector<float>& v, double& mean, double& stdev) {
  double sum = 0, sq = 0;
  for (float x : v) sum += x;
  mean = sum / static_cast<double>(v.size());
  for (float x : v) sq += (x - mean) * (x - mean);
  stdev = std::sqrt(sq / static_cast<double>(v.size() - 1));
}

TEST(Random, NormalMomentsMatchMeanAndScale) {
  engine::Session s(plan::build_plan(
      random_graph("RandomNormal",
                   {{"shape", attr_ints({100000})}, {"mean", attr_float(2.0f)}, {"scale", attr_float(3.0f)}}),
      {}));
  double mean, stdev;
  moments(draw(s), mean, stdev);
  // Standard error of the mean is 3/sqrt(1e5) ~ 0.0095; allow ~5 of them.
  EXPECT_NEAR(mean, 2.0, 0.05);
  EXPECT_NEAR(stdev, 3.0, 0.05);
}

TEST(Random, UniformStaysInRangeWithUniformMoments) {
  engine::Session s(plan::build_plan(
      random_graph("RandomUniform",
                   {{"shape", attr_ints({100000})}, {"low", attr_float(-1.0f)}, {"high", attr_float(3.0f)}}),
      {}));
  std::vector<float> v = draw(s);
  for (float x : v) {
    ASSERT_GE(x, -1.0f);
    ASSERT_LT(x, 3.0f);
  }
  double mean, stdev;
  moments(v, mean, stdev);
  EXPECT_NEAR(mean, 1.0, 0.02);                       // se ~ 0.0037
  EXPECT_NEAR(stdev, 4.0 / std::sqrt(12.0), 0.02);  // 1.1547
}

TEST(Random, LikeTakesShapeAndTypeFromInput) {
  plan::Plan p = plan::build_plan(random_graph("RandomNormalLike", {}, DType::F64, {2, 3}), {});
  engine::Session s(std::move(p));
  EXPECT_EQ(s.output(0).dtype, DType::F64);
  EXPECT_EQ(s.output(0).shape, (Shape{2, 3}));
  ASSERT_TRUE(s.run().ok());

  // dtype overrides the input's type; an int input needs it.
  engine::Session f(plan::build_plan(random_graph("RandomUniformLike", {{"dtype", attr_int(1)}}, DType::I64, {4}), {}));
  EXPECT_EQ(f.output(0).dtype, DType::F32);
  EXPECT_EQ(f.output(0).shape, (Shape{4}));
  EXPECT_THROW(plan::build_plan(random_graph("RandomUniformLike", {}, DType::I64, {4}), {}), Error);
}

TEST(Random, BadAttributesFailInPrepare) {
  EXPECT_THROW(plan::build_plan(random_graph("RandomNormal", {}), {}), Error);  // no shape
  EXPECT_THROW(plan::build_plan(random_graph("RandomNormal", {{"shape", attr_ints({-2})}}), {}), Error);
  EXPECT_THROW(plan::build_plan(random_graph("RandomNormal", {{"shape", attr_ints({2})}, {"dtype", attr_int(6)}}), {}),
               Error);
}

}  // namespace
