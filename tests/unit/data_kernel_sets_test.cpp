// The normalize, tensor_ops and random families under the kernel sets: a
// small graph of the ops the default zoo uses (Transpose, Slice, Reshape,
// Concat, Softmax, LayerNormalization, ReduceSum, ReduceMean,
// RandomNormalLike) gives the same numbers with the reference kernels as
// with the default simd set, and the reference set picks no Highway kernel.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "attributes.h"
#include "engine/session.h"
#include "graph_builder.h"
#include "plan/plan.h"

using namespace rtml;

namespace {

ir::Graph zoo_ops_graph() {
  rtml::testing::GraphBuilder b;
  const ir::TensorId x = b.input("x", {2, 3, 4});
  const ir::TensorId t = b.node("Transpose", {x}, {{"perm", attr_ints({0, 2, 1})}});  // [2, 4, 3]
  const ir::TensorId s = b.node("Slice", {t, b.constant("starts", {1}, std::vector<int64_t>{1}),
                                          b.constant("ends", {1}, std::vector<int64_t>{4}),
                                          b.constant("axes", {1}, std::vector<int64_t>{1})});  // [2, 3, 3]
  const ir::TensorId r = b.node("Reshape", {s, b.constant("shape", {2}, std::vector<int64_t>{2, 9})});
  const ir::TensorId noise = b.node("RandomNormalLike", {r}, {{"seed", attr_float(2.0f)}});
  const ir::TensorId c = b.node("Concat", {r, noise}, {{"axis", attr_int(1)}});  // [2, 18]
  const ir::TensorId sm = b.node("Softmax", {c}, {{"axis", attr_int(-1)}});
  const ir::TensorId ln = b.node("LayerNormalization", {c, b.constant("scale", {18}, std::vector<float>(18, 1.5f)),
                                                        b.constant("bias", {18}, std::vector<float>(18, 0.25f))});
  const ir::TensorId sum = b.node("ReduceSum", {sm, b.constant("axes", {1}, std::vector<int64_t>{1})});
  const ir::TensorId mean = b.node("ReduceMean", {ln}, {{"axes", attr_ints({0})}});
  b.g.outputs = {sm, ln, sum, mean};
  return b.g;
}

std::vector<std::vector<float>> run(kernels::KernelSet set, plan::Plan* out_plan = nullptr) {
  plan::PlanOptions o;
  o.kernels = set;
  plan::Plan p = plan::build_plan(zoo_ops_graph(), o);
  if (out_plan) *out_plan = p;
  engine::Session s(std::move(p));
  float* x = static_cast<float*>(s.input_data(0));
  for (int i = 0; i < 24; ++i) x[i] = std::sin(0.7f * static_cast<float>(i)) * 3;
  EXPECT_TRUE(s.run().ok());
  std::vector<std::vector<float>> outs;
  for (int k = 0; k < s.num_outputs(); ++k) {
    const float* y = static_cast<const float*>(s.output_data(k));
    outs.emplace_back(y, y + s.output(k).bytes / sizeof(float));
  }
  return outs;
}

TEST(DataKernelSets, ReferenceMatchesSimdOnTheZooOps) {
  plan::Plan ref_plan;
  const auto ref = run(kernels::KernelSet::Reference, &ref_plan);
  const auto simd = run(kernels::KernelSet::Simd);
  ASSERT_EQ(ref.size(), simd.size());
  // The data movement and the random op run the same reference kernels in
  // both sets; Softmax (output 0), LayerNormalization (output 1), the
  // ReduceSum of the softmax rows (output 2) and the ReduceMean over rows
  // (output 3, the reference's) read what they produce, and the first three
  // have Highway kernels in the simd set, within 1e-5 relative of the
  // reference (kernels/fast_softmax.h). (LayerNorm's outputs are even
  // identical on x86-64, where the reference's multiply and add stay apart;
  // on aarch64 GCC fuses them in the reference, not in the fast kernel.)
  for (size_t k = 0; k < ref.size(); ++k) {
    ASSERT_EQ(ref[k].size(), simd[k].size());
    for (size_t i = 0; i < ref[k].size(); ++i)
      EXPECT_NEAR(ref[k][i], simd[k][i], 1e-5f * std::fabs(ref[k][i]) + 1e-6f) << "output " << k << " element " << i;
  }
  // Softmax rows sum to 1 (ReduceSum), so the graph computed something real.
  ASSERT_EQ(ref[2].size(), 2u);
  EXPECT_NEAR(ref[2][0], 1.0f, 1e-5f);
  EXPECT_NEAR(ref[2][1], 1.0f, 1e-5f);
  for (const plan::PlanStep& st : ref_plan.steps) {
    EXPECT_EQ(st.step.kernel.find("_hwy"), std::string::npos) << st.node_name << ": " << st.step.kernel;
    ASSERT_NE(st.step.info, nullptr) << st.node_name << " (" << st.op_type << ") runs a kernel not in the table";
    EXPECT_TRUE(st.step.info->portable) << st.step.kernel;
  }
}

}  // namespace
