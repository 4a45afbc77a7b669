// Schedules (plan/schedule.h) through build_plan, and tuning records
// (tune/tune.h): a choice changes the step's kernel and not its results
// (checked against a hand-computed convolution); bad schedules and records
// for another model, target or kernel set are refused with their reason.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/session.h"
#include "attributes.h"
#include "graph_builder.h"
#include "plan/plan.h"
#include "tune/tune.h"

namespace rtml {
namespace {

using testing::GraphBuilder;

// Conv 2 -> 3 channels, 3x3, stride 1, pad 1 over a 2x5x5 input; then Relu.
GraphBuilder conv_graph() {
  GraphBuilder b;
  const ir::TensorId x = b.input("x", {1, 2, 5, 5});
  std::vector<float> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i % 7) - 3) / 4;
  const ir::TensorId wt = b.constant("w", {3, 2, 3, 3}, w);
  const ir::TensorId y = b.node("Conv", {x, wt}, {{"pads", attr_ints({1, 1, 1, 1})}});
  const ir::TensorId r = b.node("Relu", {y});
  b.g.outputs = {r};
  return b;
}

// The Relu'd convolution at every output, computed directly.
std::vector<float> expected(const std::vector<float>& x, const GraphBuilder& b) {
  const float* w = static_cast<const float*>(b.g.tensors[1].data->data());
  std::vector<float> y(3 * 25);
  for (int m = 0; m < 3; ++m)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) {
        double s = 0;
        for (int c = 0; c < 2; ++c)
          for (int ki = 0; ki < 3; ++ki)
            for (int kj = 0; kj < 3; ++kj) {
              const int yi = i + ki - 1, xj = j + kj - 1;
              if (yi < 0 || yi >= 5 || xj < 0 || xj >= 5) continue;
              s += double(x[c * 25 + yi * 5 + xj]) * w[((m * 2 + c) * 3 + ki) * 3 + kj];
            }
        y[m * 25 + i * 5 + j] = static_cast<float>(s > 0 ? s : 0);
      }
  return y;
}

std::vector<float> run(const plan::Plan& p, std::vector<float> x) {
  engine::Session s(p);
  s.bind_input(0, x.data());
  EXPECT_TRUE(s.run().ok());
  const float* y = static_cast<const float*>(s.output_data(0));
  return std::vector<float>(y, y + 75);
}

TEST(Schedule, ImplAndConvKnobsChangeTheKernelNotTheResult) {
  GraphBuilder b = conv_graph();
  std::vector<float> x(50);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 7 % 11) - 5) / 3;
  const std::vector<float> want = expected(x, b);
  plan::PlanOptions o;
  const plan::Plan def = plan::build_plan(b.g, o);
  ASSERT_EQ(def.steps[0].key, "n0");
  EXPECT_NE(def.steps[0].step.info->symbol, std::string("rtml_f32_conv__ref"));
  for (const plan::StepChoices& c : {plan::StepChoices{{"impl", "reference"}}, plan::StepChoices{{"conv", "im2row"}},
                                     plan::StepChoices{{"impl", "cortex-m"}}}) {
    o.schedule = {{"n0", c}};
    const plan::Plan p = plan::build_plan(b.g, o);
    const std::string k = p.steps[0].step.info->symbol;
    if (c.count("conv")) EXPECT_NE(k, def.steps[0].step.info->symbol) << "conv=im2row";
    else  // the reference Conv, or its "_chain" entry when the Relu after it runs in its store
      EXPECT_TRUE(k == "rtml_f32_conv__ref" || k == "rtml_f32_conv_chain__ref") << plan::choices_str(c) << ": " << k;
    const std::vector<float> got = run(p, x);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << plan::choices_str(c) << " at " << i;
    bool reported = false;
    for (const plan::PassReport& r : p.passes)
      if (r.name == "apply_schedule") reported = r.summary.find("n0 " + plan::choices_str(c)) != std::string::npos;
    EXPECT_TRUE(reported) << "apply_schedule names the step and its choices";
  }
}

std::string error_of(const ir::Graph& g, const plan::Schedule& s) {
  plan::PlanOptions o;
  o.schedule = s;
  try {
    plan::build_plan(g, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Schedule, BadSchedulesAreRefused) {
  GraphBuilder b = conv_graph();
  EXPECT_NE(error_of(b.g, {{"nope", {{"impl", "reference"}}}}).find("no node of that name"), std::string::npos);
  EXPECT_NE(error_of(b.g, {{"n0", {{"tile", "4"}}}}).find("unknown knob 'tile'"), std::string::npos);
  EXPECT_NE(error_of(b.g, {{"n0", {{"impl", "gpu"}}}}).find("impl=gpu is not a choice"), std::string::npos);
  EXPECT_NE(error_of(b.g, {{"n0", {{"impl", "cmsis-nn"}}}}).find("needs a plan with --kernels cmsis-nn"), std::string::npos);
}

TEST(TuningRecord, AnotherModelTargetOrKernelSetIsRefused) {
  const std::string dir = ::testing::TempDir();
  const std::string model = dir + "/tune_model_a.bin", other = dir + "/tune_model_b.bin", file = dir + "/tune_rec.json";
  std::ofstream(model) << "model a";
  std::ofstream(other) << "model b";
  nlohmann::json rec = {{"schema", tune::kRecordSchema},
                        {"model", model},
                        {"model_hash", tune::model_hash(model)},
                        {"target", "cortex-m7"},
                        {"kernels", "cortex-m"},
                        {"schedule", {{"n0", {{"impl", "reference"}}}}}};
  std::ofstream(file) << rec.dump();
  const nlohmann::json loaded = tune::load_record(file);
  const plan::Schedule s = tune::record_schedule(loaded, file, model, "cortex-m7", kernels::KernelSet::CortexM);
  EXPECT_EQ(s.at("n0").at("impl"), "reference");
  const auto message = [&](const std::string& m, const std::string& t, kernels::KernelSet k) {
    try {
      tune::record_schedule(loaded, file, m, t, k);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(other, "cortex-m7", kernels::KernelSet::CortexM).find("for another model"), std::string::npos);
  EXPECT_NE(message(model, "cortex-m4", kernels::KernelSet::CortexM).find("for target cortex-m7, not cortex-m4"),
            std::string::npos);
  EXPECT_NE(message(model, "cortex-m7", kernels::KernelSet::Reference).find("--kernels cortex-m"), std::string::npos);
  std::ofstream(file) << R"({"schema": "rtml.bench/1"})";
  EXPECT_THROW(tune::load_record(file), Error);
  EXPECT_NE(tune::model_hash(model), tune::model_hash(other));
}

}  // namespace
}  // namespace rtml
