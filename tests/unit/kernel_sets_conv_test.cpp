// The conv, pool and recurrent families in the reference and simd kernel
// sets (PlanOptions::kernels): on zoo models that use Conv (1-D, 2-D,
// grouped, depthwise), MaxPool, GRU and LSTM (block and streaming, with
// their initial-state inputs), the reference set picks only portable
// reference kernels for those ops, and both sets reproduce PyTorch's outputs
// (the zoo's test data) and agree with each other.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "data/test_data.h"
#include "engine/session.h"
#include "import/onnx_import.h"
#include "plan/plan.h"
#include "zoo_dir.h"

using namespace rtml;

namespace {

const std::set<std::string> kFamilyOps = {"Conv",          "ConvTranspose",     "MaxPool",      "AveragePool",
                                          "LpPool",        "GlobalMaxPool",     "GlobalAveragePool",
                                          "GlobalLpPool",  "BatchNormalization", "RNN",         "GRU",
                                          "LSTM"};

struct Ran {
  std::vector<std::string> family_kernels;  // the kernels of kFamilyOps' steps
  std::vector<const kernels::KernelInfo*> family_infos;
  std::vector<std::vector<float>> outputs;  // of every test set, in order
};

// Plans `model` with the kernel set, runs every test set and checks each
// output against PyTorch's (tolerance 1e-4, data::compare's default rule).
Ran run_model(const std::string& model, kernels::KernelSet set) {
  const ir::Graph g = import::load_onnx(rtml::testing::onnx_of(model));
  const std::vector<data::TestSet> sets = data::load_test_data((rtml::testing::kZoo / model).string(), g);
  plan::PlanOptions opt;
  opt.kernels = set;
  opt.input_shapes = data::input_shapes(sets.at(0));
  plan::Plan p = plan::build_plan(g, opt);
  Ran r;
  for (const plan::PlanStep& s : p.steps)
    if (kFamilyOps.count(s.op_type.substr(0, s.op_type.find('+')))) {  // "Conv+Relu": a fused step
      r.family_kernels.push_back(s.step.kernel);
      r.family_infos.push_back(s.step.info);
    }
  engine::Session session(std::move(p));
  for (const data::TestSet& ts : sets) {
    data::copy_inputs(ts, session);
    EXPECT_TRUE(session.run().ok()) << model;
    for (int k = 0; k < session.num_outputs(); ++k) {
      const plan::TensorPlan& out = session.output(k);
      EXPECT_EQ(out.dtype, DType::F32);
      const float* y = static_cast<const float*>(session.output_data(k));
      r.outputs.emplace_back(y, y + shape_numel(out.shape));
      if (k < static_cast<int>(ts.outputs.size()) && ts.outputs[k]) {
        const data::OutputStats s = data::compare(*ts.outputs[k], out.dtype, out.shape, y, 1e-4);
        EXPECT_EQ(s.mismatches, 0) << model << " (" << kernels::kernel_set_name(set) << ") " << ts.dir
                                   << " output " << k << ": max abs error " << s.max_abs_error;
      }
    }
  }
  return r;
}

class KernelSetsConv : public ::testing::TestWithParam<const char*> {};

TEST_P(KernelSetsConv, ReferenceIsPortableAndBothSetsMatchPyTorch) {
  REQUIRE_ZOO();
  const std::string model = GetParam();
  const Ran ref = run_model(model, kernels::KernelSet::Reference);
  const Ran simd = run_model(model, kernels::KernelSet::Simd);
  ASSERT_FALSE(ref.family_kernels.empty()) << model << " has no conv, pool or recurrent node";
  for (size_t i = 0; i < ref.family_kernels.size(); ++i) {
    EXPECT_EQ(ref.family_kernels[i].find("_hwy"), std::string::npos) << model << ": " << ref.family_kernels[i];
    ASSERT_NE(ref.family_infos[i], nullptr) << model << ": " << ref.family_kernels[i] << " is not in the table";
    EXPECT_TRUE(ref.family_infos[i]->portable) << ref.family_kernels[i];
  }
  // The simd set does take a Highway kernel somewhere (else this compares nothing).
  bool simd_fast = false;
  for (const std::string& k : simd.family_kernels) simd_fast |= k.find("_hwy") != std::string::npos;
  EXPECT_TRUE(simd_fast) << model;
  // Same outputs up to float32 summation order and SIMD exp/tanh: 1e-4
  // relative to the output's largest magnitude (or absolute below 1).
  ASSERT_EQ(ref.outputs.size(), simd.outputs.size());
  for (size_t o = 0; o < ref.outputs.size(); ++o) {
    ASSERT_EQ(ref.outputs[o].size(), simd.outputs[o].size());
    double scale = 1.0, err = 0.0;
    for (size_t i = 0; i < ref.outputs[o].size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(ref.outputs[o][i])));
      err = std::max(err, std::fabs(static_cast<double>(ref.outputs[o][i]) - simd.outputs[o][i]));
    }
    EXPECT_LE(err, 1e-4 * scale) << model << " output " << o;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, KernelSetsConv,
                         ::testing::Values("digits_cnn", "gesture_cnn", "resnet1d_c8_l64", "tcn_c8_l64_g1",
                                           "tcn_c8_l64_g4", "tcn_c8_l64_dw", "gru_stream_h16", "gru_block_h16_s16",
                                           "lstm_stream_h16", "lstm_block_h64_s16"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
