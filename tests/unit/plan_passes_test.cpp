// The passes of build_plan (plan/pass.h), each on a small hand-built graph:
// what it changed in the plan and the line it reports (`rtml info
// --passes`). Expected values are worked out by hand in the comments.
#include "plan/pass.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attributes.h"
#include "engine/session.h"
#include "graph_builder.h"
#include "random_floats.h"
#include "plan/plan.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

const plan::PassReport& report_of(const plan::Plan& p, const std::string& name) {
  for (const plan::PassReport& r : p.passes)
    if (r.name == name) return r;
  throw std::runtime_error("no pass " + name);
}

int64_t number_of(const plan::PassReport& r, const std::string& name) {
  for (const auto& [key, value] : r.numbers)
    if (key == name) return value;
  throw std::runtime_error("pass " + r.name + " reports no " + name);
}

// The tensor index of a step's operand slot.
int operand(const plan::Plan& p, size_t step, uint32_t slot) {
  return p.operands[p.steps[step].first_operand + slot];
}

}  // namespace

TEST(PlanPasses, RunInTheDocumentedOrderAndEachReportsALine) {
  GraphBuilder gb;
  gb.g.outputs.push_back(gb.node("Relu", {gb.input("x", {4})}));
  const plan::Plan p = plan::build_plan(gb.g);
  std::vector<std::string> names;
  for (const plan::PassReport& r : p.passes) {
    names.push_back(r.name);
    EXPECT_FALSE(r.summary.empty()) << r.name;
    EXPECT_EQ(r.summary.find('\n'), std::string::npos) << r.name;
  }
  // The list in plan/pass.h and ARCHITECTURE.md.
  EXPECT_EQ(names, (std::vector<std::string>{"fold_transpose_matmul", "resolve_inputs", "apply_schedule", "prepare_fold",
                                             "fold_pad", "fold_causal_slice",
                                             "fuse_layer_norm", "fuse_softmax", "fuse_qdq",
                                             "drop_dead_steps", "fuse_epilogues", "fuse_elementwise_chains", "tile_rows",
                                             "alias_views", "emit_steps", "place_arena"}));
}

TEST(PlanPasses, ResolveInputsTakesTheGivenShape) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {-1, 3});
  gb.g.outputs.push_back(gb.node("Relu", {x}));
  plan::PlanOptions opt;
  opt.input_shapes["x"] = {2, 3};
  const plan::Plan p = plan::build_plan(gb.g, opt);
  EXPECT_EQ(report_of(p, "resolve_inputs").summary, "1 input: x 2x3 (given); 0 initializers");
  EXPECT_EQ(p.tensors[p.inputs[0]].shape, (Shape{2, 3}));
}

TEST(PlanPasses, PrepareFoldFoldsAShapeGatherConcatChain) {
  // x: 2x3x4. Shape(x) = [2 3 4], Gather([2]) = [4], Concat([-1], [4]) = [-1 4]:
  // all known now, so only the Reshape runs, and it gives 6x4.
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {2, 3, 4});
  const ir::TensorId dim = gb.node("Gather", {gb.node("Shape", {x}), gb.constant("last", {1}, std::vector<int64_t>{2})});
  const ir::TensorId shape =
      gb.node("Concat", {gb.constant("minus_one", {1}, std::vector<int64_t>{-1}), dim}, {{"axis", attr_int(0)}});
  gb.g.outputs.push_back(gb.node("Reshape", {x, shape}));

  const plan::Plan p = plan::build_plan(gb.g);
  const plan::PassReport& fold = report_of(p, "prepare_fold");
  EXPECT_EQ(fold.summary, "prepared 4 nodes: 1 step, folded 3 (Concat, Gather, Shape)");
  EXPECT_EQ(number_of(fold, "folded_nodes"), 3);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].op_type, "Reshape");
  EXPECT_EQ(p.tensors[p.outputs[0]].shape, (Shape{6, 4}));
  // The folded shape is a constant operand of the Reshape step: [-1, 4].
  const plan::TensorPlan& folded = p.tensors[operand(p, 0, 1)];
  ASSERT_EQ(folded.storage, plan::Storage::Constant);
  const int64_t* v = static_cast<const int64_t*>(folded.constant->data());
  EXPECT_EQ(std::vector<int64_t>(v, v + 2), (std::vector<int64_t>{-1, 4}));
  // From a graph input to a graph output: the view must copy.
  EXPECT_EQ(report_of(p, "alias_views").summary,
            "no view aliases its input; 1 view copies (from or to a graph input, output or constant)");
}

TEST(PlanPasses, DropDeadStepsDropsABranchNoOutputNeeds) {
  // x -> Relu -> y (the output); x -> Sigmoid -> Neg leads nowhere.
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {4});
  gb.g.outputs.push_back(gb.node("Relu", {x}));
  gb.node("Neg", {gb.node("Sigmoid", {x})});

  // The passes one by one on the shared state, as build_plan runs them.
  plan::PlanState state(gb.g, {});
  for (const plan::Pass& pass : plan::plan_passes()) {
    plan::run_pass(state, pass);
    if (std::string(pass.name) == "drop_dead_steps") break;
  }
  ASSERT_EQ(state.steps.size(), 3u);  // prepared, not folded (x is not constant)
  EXPECT_TRUE(state.steps[0].keep);
  EXPECT_FALSE(state.steps[1].keep);
  EXPECT_FALSE(state.steps[2].keep);
  EXPECT_EQ(state.plan.passes.back().summary, "dropped 2 dead steps: n1, n2");

  const plan::Plan p = plan::build_plan(gb.g);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].op_type, "Relu");
  EXPECT_EQ(number_of(report_of(p, "drop_dead_steps"), "dropped_steps"), 2);
}

namespace {

// x (1x2x8) -> Conv (2 -> 2 channels, 3 taps, pads 1/1: 1x2x8) -> Relu.
struct ConvRelu {
  GraphBuilder gb;
  ir::TensorId conv;
  ConvRelu() {
    const ir::TensorId x = gb.input("x", {1, 2, 8});
    conv = gb.node("Conv", {x, gb.constant("w", {2, 2, 3}, std::vector<float>(12, 0.5f))},
                   {{"pads", attr_ints({1, 1})}});
    gb.g.outputs.push_back(gb.node("Relu", {conv}));
  }
};

}  // namespace

TEST(PlanPasses, FuseEpiloguesRunsConvAndReluInOneStep) {
  ConvRelu m;
  const plan::Plan p = plan::build_plan(m.gb.g);
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].node_name, "n0 + n1");
  EXPECT_EQ(p.steps[0].op_type, "Conv+Relu");
  EXPECT_EQ(std::string(p.steps[0].step.kernel).find("+relu") != std::string::npos, true) << p.steps[0].step.kernel;
  const plan::PassReport& fuse = report_of(p, "fuse_epilogues");
  EXPECT_EQ(fuse.summary, "fused 1 node into 1 step: n0 + n1");
  EXPECT_EQ(number_of(fuse, "fused_nodes"), 1);
  // The step writes the Relu's output, the graph output.
  EXPECT_EQ(operand(p, 0, p.steps[0].num_inputs), p.outputs[0]);
}

TEST(PlanPasses, FuseEpiloguesLeavesAConvOutputUsedTwice) {
  ConvRelu m;  // the Conv's output also feeds a Sigmoid: the Relu cannot take it over
  m.gb.g.outputs.push_back(m.gb.node("Sigmoid", {m.conv}));
  const plan::Plan p = plan::build_plan(m.gb.g);
  EXPECT_EQ(p.steps.size(), 3u);
  EXPECT_EQ(report_of(p, "fuse_epilogues").summary, "nothing fused");
  EXPECT_EQ(number_of(report_of(p, "fuse_epilogues"), "fused_nodes"), 0);
}

TEST(PlanPasses, FuseEpiloguesOffKeepsOneStepPerNode) {
  ConvRelu m;
  plan::PlanOptions opt;
  opt.fuse = false;
  const plan::Plan p = plan::build_plan(m.gb.g, opt);
  EXPECT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(report_of(p, "fuse_epilogues").summary, "off (PlanOptions::fuse = false)");
}

TEST(PlanPasses, AliasViewsLetsAReshapeShareItsInput) {
  // x (2x3) -> Relu -> a -> Reshape [6] -> b -> Sigmoid -> y: a and b are both
  // in the arena, so b is a's bytes and the Reshape runs no step (its shape
  // operand is never emitted: tensors x, a, y).
  GraphBuilder gb;
  const ir::TensorId a = gb.node("Relu", {gb.input("x", {2, 3})});
  const ir::TensorId b = gb.node("Reshape", {a, gb.constant("shape", {1}, std::vector<int64_t>{6})});
  gb.g.outputs.push_back(gb.node("Sigmoid", {b}));
  const plan::Plan p = plan::build_plan(gb.g);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].op_type, "Relu");
  EXPECT_EQ(p.steps[1].op_type, "Sigmoid");
  EXPECT_EQ(operand(p, 1, 0), operand(p, 0, 1));  // Sigmoid reads what Relu wrote
  const plan::PassReport& alias = report_of(p, "alias_views");
  EXPECT_EQ(alias.summary, "1 view aliases its input (Reshape)");
  EXPECT_EQ(number_of(alias, "aliased_views"), 1);
  EXPECT_EQ(report_of(p, "emit_steps").summary, "2 steps, 3 tensors (1 arena, 0 constant, 1 input, 1 output)");
}

TEST(PlanPasses, PlaceArenaReachesTheHandComputedLowerBound) {
  // x: 256 floats (1024 B per tensor). Steps: 0 a = Relu(x), 1 b = Sigmoid(a),
  // 2 c = Tanh(b), 3 d = Neg(c), 4 y = Add(a, d) (y is the graph output).
  // Lifetimes: a [0, 4], b [1, 2], c [2, 3], d [3, 4]. Live at step 2: a, b,
  // c; at step 3: a, c, d. So the lower bound is 3 x 1024 = 3072 B; d can
  // take b's bytes, so the arena can be as small; no reuse is 4 x 1024.
  GraphBuilder gb;
  const ir::TensorId a = gb.node("Relu", {gb.input("x", {256})});
  const ir::TensorId d = gb.node("Neg", {gb.node("Tanh", {gb.node("Sigmoid", {a})})});
  gb.g.outputs.push_back(gb.node("Add", {a, d}));
  plan::PlanOptions one_step_per_node;  // (Sigmoid .. Add would be one elementwise chain)
  one_step_per_node.fuse = false;
  const plan::Plan p = plan::build_plan(gb.g, one_step_per_node);
  EXPECT_EQ(p.steps.size(), 5u);
  EXPECT_EQ(p.arena_lower_bound_bytes, 3072u);
  EXPECT_EQ(p.arena_bytes, 3072u);
  EXPECT_EQ(p.arena_no_reuse_bytes, 4096u);
  const plan::PassReport& place = report_of(p, "place_arena");
  EXPECT_EQ(place.summary, "4 buffers in an arena of 3,072 B = lower bound, no reuse 4,096 B");
  EXPECT_EQ(number_of(place, "arena_bytes"), 3072);
  EXPECT_EQ(number_of(place, "lower_bound_bytes"), 3072);
}

namespace {

// x (1x2x8) -> Pad -> Conv (3 output channels, 3 taps, pads 1/1, no bias).
// The Pad adds `pads` (ONNX layout: begins, then ends, over N, C, L) filled
// with `value`; from opset 11 pads and value are inputs (pads computed by a
// Concat of two halves, as exporters do), before as attributes. The Conv's
// output is the graph output; the Pad's too when `pad_is_output`.
ir::Graph pad_conv(int opset, std::vector<int64_t> pads, float value = 0, const std::string& mode = "constant",
                   bool pad_is_output = false) {
  GraphBuilder gb;
  gb.g.opset = opset;
  const ir::TensorId x = gb.input("x", {1, 2, 8});
  std::map<std::string, ir::Attribute> pad_attrs;
  if (mode != "constant") {
    pad_attrs["mode"].kind = ir::Attribute::Kind::String;
    pad_attrs["mode"].s = mode;
  }
  ir::TensorId padded;
  if (opset < 11) {
    pad_attrs["pads"] = attr_ints(pads);
    pad_attrs["value"] = attr_float(value);
    padded = gb.node("Pad", {x}, pad_attrs);
  } else {
    const ir::TensorId begins = gb.constant("begins", {3}, std::vector<int64_t>(pads.begin(), pads.begin() + 3));
    const ir::TensorId ends = gb.constant("ends", {3}, std::vector<int64_t>(pads.begin() + 3, pads.end()));
    const ir::TensorId computed = gb.node("Concat", {begins, ends}, {{"axis", attr_int(0)}});
    padded = gb.node("Pad", {x, computed, gb.constant("value", {}, std::vector<float>{value})}, pad_attrs);
  }
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  const int64_t channels = 2 + pads[1] + pads[4];
  std::vector<float> w(static_cast<size_t>(3 * channels * 3));
  for (float& v : w) v = u(rng);
  gb.g.outputs.push_back(gb.node("Conv", {padded, gb.constant("w", {3, channels, 3}, w)}, {{"pads", attr_ints({1, 1})}}));
  if (pad_is_output) gb.g.outputs.push_back(padded);
  return gb.g;
}

std::vector<float> run_first_output(plan::Plan p, const std::vector<float>& x) {
  engine::Session s(std::move(p));
  std::memcpy(s.input_data(0), x.data(), x.size() * sizeof(float));
  EXPECT_TRUE(s.run().ok());
  const float* y = static_cast<const float*>(s.output_data(0));
  return std::vector<float>(y, y + shape_numel(s.output(0).shape));
}

}  // namespace

TEST(PlanPasses, FoldPadIntoConvComputesWhatThePadAndConvDo) {
  // Zeros: 2 before and 1 after the length. With the Conv's own 1/1 the
  // Conv pads 3/2: out length 8 + 3 + 2 - 3 + 1 = 11.
  const std::vector<int64_t> pads = {0, 0, 2, 0, 0, 1};
  std::vector<float> x(16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 1.5f;
  for (int opset : {10, 17}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    plan::Plan folded = plan::build_plan(pad_conv(opset, pads));
    // Opset 17 computes the pads with a Concat (node n0), folded first.
    EXPECT_EQ(report_of(folded, "fold_pad").summary,
              opset < 11 ? "folded 1 Pad into the Conv or pool after it: n0 -> n1"
                         : "folded 1 Pad into the Conv or pool after it: n1 -> n2");
    EXPECT_EQ(number_of(report_of(folded, "fold_pad"), "folded_pads"), 1);
    ASSERT_EQ(folded.steps.size(), 1u);
    EXPECT_EQ(folded.steps[0].op_type, "Conv");
    EXPECT_EQ(folded.tensors[folded.outputs[0]].shape, (Shape{1, 3, 11}));
    EXPECT_EQ(folded.graph_op_counts.at("Pad"), 1);  // the file's ops, as `rtml info` lists them
    EXPECT_EQ(folded.plan_op_counts.count("Pad"), 0u);

    // The same graph with the Pad's output also a graph output keeps the Pad step.
    plan::Plan padded = plan::build_plan(pad_conv(opset, pads, 0, "constant", true));
    EXPECT_EQ(report_of(padded, "fold_pad").summary, "no Pad to fold into a Conv or pool");
    ASSERT_EQ(padded.steps.size(), 2u);
    EXPECT_EQ(padded.steps[0].op_type, "Pad");

    const std::vector<float> want = run_first_output(std::move(padded), x);
    const std::vector<float> got = run_first_output(std::move(folded), x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
    // Output 0 of each channel sees only padding (3 zeros before x): 0, no bias.
    for (int c = 0; c < 3; ++c) EXPECT_EQ(got[c * 11], 0.0f);
  }
}

TEST(PlanPasses, FoldPadIntoConvLeavesPadsTheConvCannotDo) {
  const struct {
    const char* what;
    ir::Graph g;
  } cases[] = {
      {"reflect mode", pad_conv(17, {0, 0, 1, 0, 0, 1}, 0, "reflect")},
      {"a nonzero value", pad_conv(17, {0, 0, 1, 0, 0, 1}, 0.5f)},
      {"the channel dimension", pad_conv(17, {0, 1, 1, 0, 0, 1})},
      {"a negative pad (a crop)", pad_conv(17, {0, 0, -1, 0, 0, 1})},
      {"a nonzero value (opset 10)", pad_conv(10, {0, 0, 1, 0, 0, 1}, 0.5f)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const plan::Plan p = plan::build_plan(c.g);
    EXPECT_EQ(report_of(p, "fold_pad").summary, "no Pad to fold into a Conv or pool");
    ASSERT_EQ(p.steps.size(), 2u);
    EXPECT_EQ(p.steps[0].op_type, "Pad");
  }
}

TEST(PlanPasses, SummaryHelpers) {
  EXPECT_EQ(plan::count_by_kind({"Shape", "Constant", "Shape", "Gather", "Constant", "Constant"}),
            "Constant x3, Shape x2, Gather");
  EXPECT_EQ(plan::count_by_kind({"A", "B", "C"}, 2), "A, B, ...");
  EXPECT_EQ(plan::first_few({"a", "b", "c", "d", "e", "f"}), "a, b, c, d, ... (+2 more)");
  EXPECT_EQ(plan::plural(1, "step"), "1 step");
  EXPECT_EQ(plan::plural(0, "step"), "0 steps");
  EXPECT_EQ(plan::with_commas(0), "0");
  EXPECT_EQ(plan::with_commas(999), "999");
  EXPECT_EQ(plan::with_commas(3072), "3,072");
  EXPECT_EQ(plan::with_commas(1234567), "1,234,567");
}

namespace {

std::vector<float> ramp(size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7) % 13) + offset;
  return v;
}

// x (2x3x8) -> LayerNorm over the last dim as torch.onnx writes it below
// opset 17: nodes n0 ReduceMean, n1 Sub, n2 Pow(2) (or Mul(d, d)), n3
// ReduceMean, n4 Add(eps), n5 Sqrt, n6 Div, then n7 Mul(gamma), n8
// Add(beta) when `affine`. `axes` is the means' attribute.
ir::Graph written_layer_norm(bool affine, bool square_by_mul = false, std::vector<int64_t> axes = {-1},
                             bool d_is_output = false) {
  GraphBuilder gb;
  gb.g.opset = 13;
  const ir::TensorId x = gb.input("x", {2, 3, 8});
  const ir::TensorId m = gb.node("ReduceMean", {x}, {{"axes", attr_ints(axes)}});
  const ir::TensorId d = gb.node("Sub", {x, m});
  const ir::TensorId sq = square_by_mul ? gb.node("Mul", {d, d})
                                        : gb.node("Pow", {d, gb.constant("two", {}, std::vector<float>{2})});
  const ir::TensorId v = gb.node("ReduceMean", {sq}, {{"axes", attr_ints(axes)}});
  const ir::TensorId s = gb.node("Sqrt", {gb.node("Add", {v, gb.constant("eps", {}, std::vector<float>{1e-3f})})});
  ir::TensorId y = gb.node("Div", {d, s});
  if (affine) {
    y = gb.node("Mul", {y, gb.constant("gamma", {8}, ramp(8, 0.25f, 0.5f))});
    y = gb.node("Add", {gb.constant("beta", {8}, ramp(8, -0.1f, 0.3f)), y});
  }
  gb.g.outputs.push_back(y);
  if (d_is_output) gb.g.outputs.push_back(d);
  return gb.g;
}

plan::PlanOptions no_rewrites() {
  plan::PlanOptions o;
  o.fuse = false;
  return o;
}

}  // namespace

TEST(PlanPasses, FuseLayerNormComputesWhatTheWrittenOutChainDoes) {
  const std::vector<float> x = ramp(48, 0.7f, -3.0f);
  for (bool affine : {true, false})
    for (bool by_mul : {false, true}) {
      SCOPED_TRACE(std::string(affine ? "affine" : "no gamma/beta") + (by_mul ? ", Mul(d, d)" : ", Pow(d, 2)"));
      plan::Plan fused = plan::build_plan(written_layer_norm(affine, by_mul));
      const plan::PassReport& r = report_of(fused, "fuse_layer_norm");
      const int nodes = affine ? 9 : 7;
      EXPECT_EQ(r.summary, "replaced 1 LayerNorm chain (" + std::to_string(nodes) +
                               " nodes) by LayerNormalization: n0 .. n" + std::to_string(nodes - 1));
      EXPECT_EQ(number_of(r, "absorbed_nodes"), nodes);
      ASSERT_EQ(fused.steps.size(), 1u);
      EXPECT_EQ(fused.steps[0].op_type, "LayerNormalization");
      // The step keeps the names of the nodes it replaced, for the profile.
      EXPECT_EQ(fused.steps[0].node_name, affine ? "n0 + n1 + n2 + n3 + n4 + n5 + n6 + n7 + n8"
                                            : "n0 + n1 + n2 + n3 + n4 + n5 + n6");

      plan::Plan chain = plan::build_plan(written_layer_norm(affine, by_mul), no_rewrites());
      EXPECT_EQ(report_of(chain, "fuse_layer_norm").summary, "off (PlanOptions::fuse = false)");
      EXPECT_EQ(chain.steps.size(), static_cast<size_t>(nodes));
      const std::vector<float> want = run_first_output(std::move(chain), x);
      const std::vector<float> got = run_first_output(std::move(fused), x);
      ASSERT_EQ(got.size(), 48u);
      const std::vector<float> gamma = ramp(8, 0.25f, 0.5f), beta = ramp(8, -0.1f, 0.3f);
      for (size_t row = 0; row < 6; ++row) {
        // The definition, in double: (x - mean) / sqrt(var + eps) * gamma + beta.
        double mean = 0, var = 0;
        for (size_t j = 0; j < 8; ++j) mean += x[row * 8 + j] / 8.0;
        for (size_t j = 0; j < 8; ++j) var += (x[row * 8 + j] - mean) * (x[row * 8 + j] - mean) / 8.0;
        for (size_t j = 0; j < 8; ++j) {
          double y = (x[row * 8 + j] - mean) / std::sqrt(var + 1e-3);
          if (affine) y = y * gamma[j] + beta[j];
          EXPECT_NEAR(got[row * 8 + j], y, 1e-5) << row << "," << j;
          EXPECT_NEAR(got[row * 8 + j], want[row * 8 + j], 1e-5) << row << "," << j;
        }
      }
    }
}

TEST(PlanPasses, FuseLayerNormLeavesChainsItCannotReplace) {
  const struct {
    const char* what;
    ir::Graph g;
  } cases[] = {
      {"the means over a leading dim", written_layer_norm(true, false, {1})},
      {"d also a graph output", written_layer_norm(true, false, {-1}, true)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const plan::Plan p = plan::build_plan(c.g);
    EXPECT_EQ(report_of(p, "fuse_layer_norm").summary, "no written-out LayerNorm");
    EXPECT_EQ(p.plan_op_counts.count("LayerNormalization"), 0u);
  }
}

namespace {

// x (2x6) -> softmax over the last dim written out: [n0 ReduceMax, n1 Sub,]
// Exp, ReduceSum (axes an input, opset 13), Div.
ir::Graph written_softmax(bool subtract_max, int64_t axis = 1) {
  GraphBuilder gb;
  gb.g.opset = 13;
  ir::TensorId x = gb.input("x", {2, 6});
  if (subtract_max) x = gb.node("Sub", {x, gb.node("ReduceMax", {x}, {{"axes", attr_ints({axis})}})});
  const ir::TensorId e = gb.node("Exp", {x});
  const ir::TensorId s = gb.node("ReduceSum", {e, gb.constant("axes", {1}, std::vector<int64_t>{axis})});
  gb.g.outputs.push_back(gb.node("Div", {e, s}));
  return gb.g;
}

}  // namespace

TEST(PlanPasses, FuseSoftmaxComputesWhatTheChainDoesAndDoesNotOverflow) {
  for (bool subtract_max : {true, false}) {
    SCOPED_TRACE(subtract_max ? "max subtracted" : "plain Exp");
    plan::Plan fused = plan::build_plan(written_softmax(subtract_max));
    const int nodes = subtract_max ? 5 : 3;
    EXPECT_EQ(report_of(fused, "fuse_softmax").summary,
              "replaced 1 softmax chain (" + std::to_string(nodes) + " nodes) by Softmax: n0 .. n" +
                  std::to_string(nodes - 1));
    ASSERT_EQ(fused.steps.size(), 1u);
    EXPECT_EQ(fused.steps[0].op_type, "Softmax");
    EXPECT_EQ(fused.steps[0].node_name, subtract_max ? "n0 + n1 + n2 + n3 + n4" : "n0 + n1 + n2");

    // Row 0 small, row 1 large: exp(100) overflows float.
    const std::vector<float> x = {-1, 0, 1, 2, 0.5f, -0.5f, 100, 101, 99, 100, 98, 102};
    const std::vector<float> got = run_first_output(std::move(fused), x);
    const std::vector<float> chain = run_first_output(plan::build_plan(written_softmax(subtract_max), no_rewrites()), x);
    for (int row = 0; row < 2; ++row) {
      double sum = 0;
      for (int j = 0; j < 6; ++j) sum += std::exp(static_cast<double>(x[row * 6 + j]) - x[row * 6 + 5 * row]);
      for (int j = 0; j < 6; ++j) {
        const double want = std::exp(static_cast<double>(x[row * 6 + j]) - x[row * 6 + 5 * row]) / sum;
        EXPECT_NEAR(got[row * 6 + j], want, 1e-6) << row << "," << j;
        // The written-out chain: the same where it is finite; NaN where Exp overflows.
        if (row == 0 || subtract_max) EXPECT_NEAR(chain[row * 6 + j], want, 1e-6) << row << "," << j;
        else EXPECT_TRUE(std::isnan(chain[row * 6 + j])) << j;
      }
    }
  }
  // Over the first axis, or with the max taken over another axis: left alone
  // (the second is not a softmax).
  GraphBuilder gb;
  gb.g.opset = 13;
  const ir::TensorId x = gb.input("x", {2, 6});
  const ir::TensorId e = gb.node("Exp", {gb.node("Sub", {x, gb.node("ReduceMax", {x}, {{"axes", attr_ints({0})}})})});
  gb.g.outputs.push_back(
      gb.node("Div", {e, gb.node("ReduceSum", {e, gb.constant("axes", {1}, std::vector<int64_t>{1})})}));
  const plan::Plan mixed = plan::build_plan(gb.g);
  EXPECT_EQ(report_of(mixed, "fuse_softmax").summary, "replaced 1 softmax chain (3 nodes) by Softmax: n2 .. n4");
  EXPECT_EQ(mixed.steps.size(), 3u);  // ReduceMax, Sub, Softmax
  const plan::Plan first_axis = plan::build_plan(written_softmax(true, 0));
  EXPECT_EQ(report_of(first_axis, "fuse_softmax").summary,
            "replaced 1 softmax chain (5 nodes) by Softmax: n0 .. n4");
}

namespace {

// x (1x2x8) [-> Relu] -> Pad (pads 2 before, 1 after the length, `value`,
// opset 17) -> `pool` (kernel 3, stride 2, `attrs`); the Pad's output also a
// graph output when `pad_is_output` (then nothing folds: the reference).
ir::Graph pad_pool(const std::string& pool, float value, bool relu, std::map<std::string, ir::Attribute> attrs,
                   bool pad_is_output = false) {
  GraphBuilder gb;
  ir::TensorId x = gb.input("x", {1, 2, 8});
  if (relu) x = gb.node("Relu", {x});
  const ir::TensorId padded = gb.node(
      "Pad", {x, gb.constant("pads", {6}, std::vector<int64_t>{0, 0, 2, 0, 0, 1}), gb.constant("v", {}, std::vector<float>{value})});
  attrs["kernel_shape"] = attr_ints({3});
  attrs["strides"] = attr_ints({2});
  gb.g.outputs.push_back(gb.node(pool, {padded}, attrs));
  if (pad_is_output) gb.g.outputs.push_back(padded);
  return gb.g;
}

}  // namespace

TEST(PlanPasses, FoldPadIntoPoolsWhereThePoolPadsTheSame) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {-1, 2, -3, 4, 0.5f, -6, 7, -8, 1, -2, 3, -4, 5, -0.5f, 6, -7};
  const struct {
    const char* what;
    std::string pool;
    float value;
    bool relu;
    std::map<std::string, ir::Attribute> attrs;
    bool folds;
  } cases[] = {
      {"AveragePool, zeros", "AveragePool", 0, false, {}, true},
      {"AveragePool counting its own pads", "AveragePool", 0, false,
       {{"pads", attr_ints({1, 0})}, {"count_include_pad", attr_int(1)}}, true},
      {"AveragePool not counting its own pads", "AveragePool", 0, false, {{"pads", attr_ints({1, 0})}}, false},
      {"AveragePool, a nonzero value", "AveragePool", 1, false, {}, false},
      {"AveragePool, ceil_mode", "AveragePool", 0, false, {{"ceil_mode", attr_int(1)}}, false},
      {"MaxPool, -inf", "MaxPool", -inf, false, {}, true},
      {"MaxPool, zeros after a Relu", "MaxPool", 0, true, {}, true},
      {"MaxPool, zeros without a Relu", "MaxPool", 0, false, {}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    plan::Plan p = plan::build_plan(pad_pool(c.pool, c.value, c.relu, c.attrs));
    EXPECT_EQ(report_of(p, "fold_pad").summary, c.folds ? "folded 1 Pad into the Conv or pool after it: n" +
                                                              std::to_string(c.relu ? 1 : 0) + " -> n" +
                                                              std::to_string(c.relu ? 2 : 1)
                                                        : "no Pad to fold into a Conv or pool");
    EXPECT_EQ(p.plan_op_counts.count("Pad"), c.folds ? 0u : 1u);
    const std::vector<float> got = run_first_output(std::move(p), x);
    const std::vector<float> want = run_first_output(plan::build_plan(pad_pool(c.pool, c.value, c.relu, c.attrs, true)), x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << i;
  }
  // By hand, AveragePool over zeros-padded x (0 0 -1 2 -3 4 .5 -6 7 -8 0), windows
  // at 0, 2, ...: (0 + 0 - 1) / 3, (-1 + 2 - 3) / 3, ...
  const std::vector<float> avg = run_first_output(plan::build_plan(pad_pool("AveragePool", 0, false, {})), x);
  EXPECT_FLOAT_EQ(avg[0], -1.0f / 3);
  EXPECT_FLOAT_EQ(avg[1], -2.0f / 3);  // (-1 + 2 - 3) / 3
  EXPECT_FLOAT_EQ(avg[4], -1.0f / 3);  // (7 - 8 + 0) / 3
}

namespace {

// x (1x2x8) -> Conv (2 -> 3 channels, kernel 3, dilation 2, stride `stride`,
// pads 4/4: length (8 + 8 - 5) / stride + 1) -> Slice(starts, ends, axes);
// the Conv's output also a graph output when `conv_is_output`; with `qdq`,
// quantized between them (QuantizeLinear -> DequantizeLinear, int8, scale
// 0.05, zero point 3), as a QDQ model writes a Conv's output.
ir::Graph conv_slice(int64_t stride, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                     bool conv_is_output = false, bool qdq = false) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 2, 8});
  std::vector<float> w(18);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.125f * static_cast<float>(i % 7) - 0.3f;
  const ir::TensorId y = gb.node(
      "Conv", {x, gb.constant("w", {3, 2, 3}, w)},
      {{"pads", attr_ints({4, 4})}, {"dilations", attr_ints({2})}, {"strides", attr_ints({stride})}});
  const size_t n = starts.size();
  ir::TensorId sliced = y;
  if (qdq) {
    const ir::TensorId scale = gb.constant("scale", {}, std::vector<float>{0.05f});
    const ir::TensorId zero = gb.constant("zero_point", {}, std::vector<int8_t>{3});
    sliced = gb.node("DequantizeLinear", {gb.node("QuantizeLinear", {y, scale, zero}), scale, zero});
  }
  gb.g.outputs.push_back(gb.node("Slice", {sliced, gb.constant("starts", {static_cast<int64_t>(n)}, starts),
                                           gb.constant("ends", {static_cast<int64_t>(n)}, ends),
                                           gb.constant("axes", {static_cast<int64_t>(n)}, axes)}));
  if (conv_is_output) gb.g.outputs.push_back(y);
  return gb.g;
}

}  // namespace

TEST(PlanPasses, FoldCausalSliceIntoTheConvBeforeIt) {
  const std::vector<float> x = ramp(16, 0.5f, -2.0f);
  const struct {
    const char* what;
    int64_t stride;
    std::vector<int64_t> starts, ends, axes;
    bool folds;
  } cases[] = {
      {"causal: the first 8 of 12 outputs", 1, {0}, {8}, {2}, true},
      {"causal as [..., :-4]", 1, {0}, {-4}, {-1}, true},
      {"outputs dropped at both ends, stride 2", 2, {1}, {5}, {2}, true},
      {"the whole channel axis and a crop", 1, {0, 2}, {INT64_MAX, 10}, {1, 2}, true},
      {"more dropped than padded", 1, {0}, {7}, {2}, false},
      {"a slice of the channels", 1, {1}, {3}, {1}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    plan::Plan p = plan::build_plan(conv_slice(c.stride, c.starts, c.ends, c.axes));
    EXPECT_EQ(report_of(p, "fold_causal_slice").summary, c.folds ? "folded 1 Slice into the Conv before it: n0 -> n1"
                                                                 : "no Slice to fold into the Conv before it");
    EXPECT_EQ(p.steps.size(), c.folds ? 1u : 2u);
    plan::Plan ref = plan::build_plan(conv_slice(c.stride, c.starts, c.ends, c.axes, true));
    EXPECT_EQ(report_of(ref, "fold_causal_slice").summary, "no Slice to fold into the Conv before it");
    EXPECT_EQ(p.tensors[p.outputs[0]].shape, ref.tensors[ref.outputs[0]].shape);
    const std::vector<float> got = run_first_output(std::move(p), x), want = run_first_output(std::move(ref), x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << i;
  }
  // Causal: output 0 sees x[0] alone, through the last tap: w[c][i][2] = (c*6 + i*3 + 2) % 7 / 8 - 0.3.
  const std::vector<float> y = run_first_output(plan::build_plan(conv_slice(1, {0}, {8}, {2})), x);
  for (int c = 0; c < 3; ++c) {
    const float w0 = 0.125f * static_cast<float>((c * 6 + 2) % 7) - 0.3f, w1 = 0.125f * static_cast<float>((c * 6 + 5) % 7) - 0.3f;
    EXPECT_NEAR(y[c * 8], w0 * x[0] + w1 * x[8], 1e-6) << c;
  }
}

// Through the QuantizeLinear -> DequantizeLinear pair of a QDQ model (both
// elementwise, per tensor: quantizing the kept outputs only is the same).
TEST(PlanPasses, FoldCausalSliceThroughQuantizeDequantize) {
  const std::vector<float> x = ramp(16, 0.5f, -2.0f);
  plan::Plan p = plan::build_plan(conv_slice(1, {0}, {-4}, {-1}, false, true));
  EXPECT_EQ(report_of(p, "fold_causal_slice").summary,
            "folded 1 Slice into the Conv before it: n0 -> QuantizeLinear -> DequantizeLinear -> n3");
  EXPECT_EQ(p.steps.size(), 3u);  // Conv, QuantizeLinear, DequantizeLinear
  EXPECT_EQ(p.plan_op_counts.count("Slice"), 0u);
  // Left alone when the pair's output has another reader (here: a graph output).
  ir::Graph g = conv_slice(1, {0}, {-4}, {-1}, false, true);
  g.outputs.push_back(g.nodes[2].outputs[0]);
  plan::Plan ref = plan::build_plan(g);
  EXPECT_EQ(report_of(ref, "fold_causal_slice").summary, "no Slice to fold into the Conv before it");
  ASSERT_EQ(p.tensors[p.outputs[0]].shape, (Shape{1, 3, 8}));
  const std::vector<float> got = run_first_output(std::move(p), x), want = run_first_output(std::move(ref), x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
  // By hand, output 0 of channel c: the causal tap sum (above) on the grid of 0.05 (zero point 3), nearest.
  for (int c = 0; c < 3; ++c) {
    const float w0 = 0.125f * static_cast<float>((c * 6 + 2) % 7) - 0.3f, w1 = 0.125f * static_cast<float>((c * 6 + 5) % 7) - 0.3f;
    EXPECT_NEAR(got[static_cast<size_t>(c) * 8], w0 * x[0] + w1 * x[8], 0.025 + 1e-6) << c;
    EXPECT_NEAR(got[static_cast<size_t>(c) * 8] / 0.05, std::nearbyint(got[static_cast<size_t>(c) * 8] / 0.05), 1e-3) << c;
  }
}

namespace {

// Runs g with every input set from `inputs` (in order); all outputs.
std::vector<std::vector<float>> run_all(const ir::Graph& g, const plan::PlanOptions& o,
                                        const std::vector<std::vector<float>>& inputs) {
  engine::Session s(plan::build_plan(g, o));
  for (size_t i = 0; i < inputs.size(); ++i)
    std::memcpy(s.input_data(static_cast<int>(i)), inputs[i].data(), inputs[i].size() * sizeof(float));
  EXPECT_TRUE(s.run().ok());
  std::vector<std::vector<float>> out;
  for (int k = 0; k < s.num_outputs(); ++k) {
    const float* y = static_cast<const float*>(s.output_data(k));
    out.emplace_back(y, y + shape_numel(s.output(k).shape));
  }
  return out;
}

// x @ W.T (W a constant, as torch.onnx writes Linear without constant
// folding), Gemm(x, W.T) with transB already set, and attention's
// Q @ K^T with K an activation [2, 9, 8] and perm [0, 2, 1].
ir::Graph transposed_products() {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {5, 8});
  const ir::TensorId w = gb.constant("w", {6, 8}, seeded_floats(48, 1));
  gb.g.outputs.push_back(gb.node("MatMul", {x, gb.node("Transpose", {w}, {{"perm", attr_ints({1, 0})}})}));
  const ir::TensorId v = gb.constant("v", {8, 6}, seeded_floats(48, 2));
  gb.g.outputs.push_back(gb.node("Gemm", {x, gb.node("Transpose", {v}, {{"perm", attr_ints({1, 0})}})},
                                 {{"transB", attr_int(1)}, {"alpha", attr_float(0.5f)}}));
  const ir::TensorId q = gb.input("q", {2, 9, 8});
  const ir::TensorId k = gb.input("k", {2, 9, 8});
  gb.g.outputs.push_back(gb.node("MatMul", {q, gb.node("Transpose", {k}, {{"perm", attr_ints({0, 2, 1})}})}));
  // A Transpose that is not a swap of the last two dims stays.
  const ir::TensorId k3 = gb.input("k3", {8, 2, 9});
  gb.g.outputs.push_back(gb.node("MatMul", {q, gb.node("Transpose", {k3}, {{"perm", attr_ints({1, 0, 2})}})}));
  return gb.g;
}

}  // namespace

TEST(PlanPasses, FoldTransposeMatMulGivesWhatTheTransposesGive) {
  const ir::Graph g = transposed_products();
  const std::vector<std::vector<float>> in = {seeded_floats(40, 3), seeded_floats(144, 4), seeded_floats(144, 5), seeded_floats(144, 6)};
  for (kernels::KernelSet set : {kernels::KernelSet::Simd, kernels::KernelSet::Reference}) {
    plan::PlanOptions on, off = no_rewrites();
    on.kernels = off.kernels = set;
    const plan::Plan p = plan::build_plan(g, on);
    EXPECT_EQ(number_of(report_of(p, "fold_transpose_matmul"), "folded"), 3);
    EXPECT_EQ(number_of(report_of(p, "fold_transpose_matmul"), "removed"), 3);
    int transposes = 0;
    for (const plan::PlanStep& st : p.steps) transposes += st.op_type == "Transpose";
    EXPECT_EQ(transposes, 1);  // the [1, 0, 2] one
    const auto got = run_all(g, on, in), want = run_all(g, off, in);
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < got.size(); ++o) {
      ASSERT_EQ(got[o].size(), want[o].size());
      for (size_t i = 0; i < got[o].size(); ++i) EXPECT_NEAR(got[o][i], want[o][i], 1e-5f) << o << " " << i;
    }
  }
  // By hand: output 0 is x @ w^T.
  const std::vector<float>& x = in[0];
  const float* w = g.tensors[g.find("w")].as<float>();
  const auto got = run_all(g, plan::PlanOptions{}, in);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 6; ++j) {
      double s = 0;
      for (int k = 0; k < 8; ++k) s += static_cast<double>(x[i * 8 + k]) * w[j * 8 + k];
      EXPECT_NEAR(got[0][i * 6 + j], s, 1e-5) << i << " " << j;
    }
}

TEST(PlanPasses, FoldTransposeMatMulKeepsATransposeReadElsewhere) {
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {4, 8});
  const ir::TensorId k = gb.input("k", {3, 8});
  const ir::TensorId kt = gb.node("Transpose", {k}, {{"perm", attr_ints({1, 0})}});
  gb.g.outputs = {gb.node("MatMul", {x, kt}), kt};
  const plan::Plan p = plan::build_plan(gb.g);
  EXPECT_EQ(number_of(report_of(p, "fold_transpose_matmul"), "folded"), 1);
  EXPECT_EQ(number_of(report_of(p, "fold_transpose_matmul"), "removed"), 0);
  const std::vector<std::vector<float>> in = {seeded_floats(32, 7), seeded_floats(24, 8)};
  const auto got = run_all(gb.g, plan::PlanOptions{}, in), want = run_all(gb.g, no_rewrites(), in);
  for (size_t o = 0; o < 2; ++o)
    for (size_t i = 0; i < got[o].size(); ++i) EXPECT_NEAR(got[o][i], want[o][i], 1e-5f);
}
