// backends/handwritten: the hand-written baseline the engine is timed against.
// Its outputs are checked against the zoo's test data (PyTorch's own outputs,
// written by zoo/generate.py into RTML_ZOO_TEST_DIR, every set of the zoo):
// every streaming model it must cover matches within 1e-4, every model it
// does cover matches, models outside its patterns are NotCovered with a
// message naming what it covers, malformed models are plain errors, and run()
// allocates nothing.
#include <gtest/gtest.h>

#include "zoo_dir.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/heap_counter.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "core/error.h"
#include "data/test_data.h"
#include "import/onnx_import.h"
#include "onnx.pb.h"

namespace fs = std::filesystem;
using namespace rtml;
using nlohmann::json;

namespace {

using rtml::testing::kZoo;
using rtml::testing::onnx_of;

// Every test set of the model through one prepared backend; returns the number
// of outputs compared. Expected values: the zoo's output_I.pb (PyTorch).
int compare_all_sets(backends::Backend& b, const std::string& model) {
  ir::Graph g = import::load_onnx(onnx_of(model));
  int compared = 0;
  for (const std::string& dir : data::find_test_sets((kZoo / model).string())) {
    data::TestSet set = data::load_test_set(dir, data::model_inputs(g), data::model_outputs(g));
    EXPECT_EQ(b.inputs().size(), set.inputs.size()) << model;
    for (size_t i = 0; i < b.inputs().size() && i < set.inputs.size(); ++i) {
      const auto& info = b.inputs()[i];
      EXPECT_EQ(info.name, set.inputs[i].name) << model;
      EXPECT_EQ(info.shape, set.inputs[i].tensor.shape) << model << " input " << info.name;
      std::memcpy(b.input_data(static_cast<int>(i)), set.inputs[i].tensor.data->data(), info.bytes());
    }
    b.run();
    EXPECT_EQ(b.outputs().size(), set.outputs.size()) << model;
    for (size_t i = 0; i < b.outputs().size() && i < set.outputs.size(); ++i) {
      if (!set.outputs[i]) continue;
      const auto& info = b.outputs()[i];
      data::OutputStats s = data::compare(*set.outputs[i], info.dtype, info.shape, b.output_data(static_cast<int>(i)),
                                          1e-4);
      EXPECT_EQ(s.mismatches, 0) << model << " " << dir << " output " << info.name << ": max abs error "
                                 << s.max_abs_error;
      EXPECT_GT(s.elements, 0);
      ++compared;
    }
  }
  return compared;
}

// The models the baseline exists for: the streaming real-time families.
bool must_cover(const std::string& name, const std::string& family) {
  return family == "matvec" || family == "mlp" || family == "mdn" ||
         (family == "rnn" && name.find("_stream_") != std::string::npos);
}

std::string describe_pattern(const std::string& model) {
  auto b = backends::create("handwritten");
  b->open(onnx_of(model), {});
  b->prepare();
  return b->describe().at("pattern");
}

// A scratch folder per test, removed afterwards.
class HandwrittenFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("rtml_handwritten_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  onnx::ModelProto load(const std::string& model) {
    onnx::ModelProto m;
    std::ifstream in(onnx_of(model), std::ios::binary);
    EXPECT_TRUE(m.ParseFromIstream(&in)) << model;
    return m;
  }
  std::string save(const onnx::ModelProto& m) {
    std::string path = (dir_ / "model.onnx").string();
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }
  // The initializer called `name`, reshaped to `dims` (data cut or padded with zeros).
  static void reshape_initializer(onnx::ModelProto& m, const std::string& name, std::vector<int64_t> dims) {
    for (auto& t : *m.mutable_graph()->mutable_initializer()) {
      if (t.name() != name) continue;
      int64_t n = 1;
      t.clear_dims();
      for (int64_t d : dims) {
        t.add_dims(d);
        n *= d;
      }
      if (!t.raw_data().empty()) t.mutable_raw_data()->resize(static_cast<size_t>(n) * 4);
      else t.mutable_float_data()->Resize(static_cast<int>(n), 0.0f);
      return;
    }
    FAIL() << "no initializer " << name;
  }
  // Backend error message of open() + prepare(); "(no error)" when both work.
  static std::string open_error(const std::string& path, bool* not_covered = nullptr) {
    auto b = backends::create("handwritten");
    try {
      b->open(path, {});
      b->prepare();
    } catch (const backends::NotCovered& e) {
      if (not_covered) *not_covered = true;
      return e.what();
    } catch (const Error& e) {
      if (not_covered) *not_covered = false;
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

}  // namespace

TEST(HandwrittenBackend, IsRegistered) {
  std::set<std::string> names;
  for (const auto& r : backends::registered()) names.insert(r.name);
  EXPECT_TRUE(names.count("handwritten"));
}

// Every streaming model of the zoo (all sets) is covered and matches PyTorch;
// any other model it takes on must match too; the rest are NotCovered.
TEST(HandwrittenBackend, MatchesPyTorchOnEveryStreamingModelOfTheZoo) {
  REQUIRE_ZOO();
  std::ifstream in(kZoo / "manifest.json");
  json manifest = json::parse(in);
  int covered = 0, required = 0;
  std::set<std::string> families;
  for (const auto& e : manifest["models"]) {
    const std::string name = e["name"], family = e["family"];
    SCOPED_TRACE(name);
    auto b = backends::create("handwritten");
    bool open = true;
    try {
      b->open(onnx_of(name), {});
    } catch (const backends::NotCovered& err) {
      open = false;
      EXPECT_FALSE(must_cover(name, family)) << err.what();
    }
    if (!open) continue;
    b->prepare();
    EXPECT_GT(compare_all_sets(*b, name), 0);
    ++covered;
    if (must_cover(name, family)) {
      ++required;
      families.insert(family);
    }
  }
  EXPECT_EQ(families, (std::set<std::string>{"matvec", "mlp", "mdn", "rnn"}));
  // The zoo's "all" set has 8 matvec, 60 mlp, 10 mdn and 6 streaming rnn models.
  EXPECT_GE(required, 80);
  EXPECT_GE(covered, required);
}

TEST(HandwrittenBackend, DescribesThePatternItRecognised) {
  REQUIRE_ZOO();
  EXPECT_EQ(describe_pattern("matvec_256"), "dense 256x256");
  EXPECT_EQ(describe_pattern("mlp_relu_d3_w64"), "mlp 16-64-64-8 relu");
  EXPECT_EQ(describe_pattern("mlp_gelu_d4_w256"), "mlp 16-256-256-256-8 gelu");
  EXPECT_EQ(describe_pattern("mlp_sin_d3_w64"), "mlp 16-64-64-8 sin");
  EXPECT_EQ(describe_pattern("lstm_stream_h64"), "lstm I=16 H=64 one step, head 64-8");
  EXPECT_EQ(describe_pattern("gru_stream_h64"), "gru I=16 H=64 one step, head 64-8");
  EXPECT_EQ(describe_pattern("mdn_k8_d4"), "mdn K=8 D=4, hidden 32-64 tanh");
}

TEST(HandwrittenBackend, OtherModelsAreNotCoveredAndTheMessageSaysWhatIs) {
  REQUIRE_ZOO();
  for (const char* model : {"digits_cnn", "transformer_d32_h2_s16", "lstm_block_h64_s16", "gru_block_h64_s128",
                            "vae_random_f64_z32", "tcn_c8_l64_g1"}) {
    SCOPED_TRACE(model);
    auto b = backends::create("handwritten");
    try {
      b->open(onnx_of(model), {});
      ADD_FAILURE() << "opened";
    } catch (const backends::NotCovered& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(onnx_of(model)), std::string::npos) << msg;
      for (const char* kind : {"dense layer", "MLP", "LSTM", "GRU", "mixture density"})
        EXPECT_NE(msg.find(kind), std::string::npos) << kind << " in: " << msg;
    }
  }
}

TEST_F(HandwrittenFiles, ADenseLayerWithAWrongWeightShapeIsMalformed) {
  REQUIRE_ZOO();
  onnx::ModelProto m = load("matvec_16");
  reshape_initializer(m, m.graph().node(0).input(1), {15, 16});  // the input has 16 values
  bool not_covered = true;
  std::string msg = open_error(save(m), &not_covered);
  EXPECT_FALSE(not_covered) << msg;
  EXPECT_NE(msg.find("15x16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16 values"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed"), std::string::npos) << msg;
}

TEST_F(HandwrittenFiles, AnLstmWithAWrongRecurrentWeightIsMalformed) {
  REQUIRE_ZOO();
  onnx::ModelProto m = load("lstm_stream_h16");
  for (const auto& n : m.graph().node())
    if (n.op_type() == "LSTM") reshape_initializer(m, n.input(2), {1, 64, 15});  // R is 1x64x16
  bool not_covered = true;
  std::string msg = open_error(save(m), &not_covered);
  EXPECT_FALSE(not_covered) << msg;
  EXPECT_NE(msg.find("R is 1x64x15, expected 1x64x16"), std::string::npos) << msg;
}

TEST_F(HandwrittenFiles, AnMlpWithAnActivationItDoesNotKnowIsNotCovered) {
  REQUIRE_ZOO();
  onnx::ModelProto m = load("mlp_relu_d3_w64");
  for (auto& n : *m.mutable_graph()->mutable_node())
    if (n.op_type() == "Relu") n.set_op_type("Softplus");
  bool not_covered = false;
  std::string msg = open_error(save(m), &not_covered);
  EXPECT_TRUE(not_covered) << msg;
  EXPECT_NE(msg.find("Softplus"), std::string::npos) << msg;
}

TEST_F(HandwrittenFiles, AMixtureWhosePickIsNotACumulativeSumIsNotCovered) {
  REQUIRE_ZOO();
  onnx::ModelProto m = load("mdn_k2_d1");
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == "upper") {  // [[1, 1], [0, 1]] -> [[1, 1], [1, 1]]
      ASSERT_EQ(t.raw_data().size(), 16u);
      float one = 1.0f;
      std::memcpy(t.mutable_raw_data()->data() + 8, &one, 4);
    }
  bool not_covered = false;
  std::string msg = open_error(save(m), &not_covered);
  EXPECT_TRUE(not_covered) << msg;
  EXPECT_NE(msg.find("cumulative sum"), std::string::npos) << msg;
}

TEST(HandwrittenBackend, BenchCountsNoAllocationsPerRunAndPassesAccuracy) {
  REQUIRE_ZOO();
  if (!bench::heap_counting_available()) GTEST_SKIP() << "heap counting is off under sanitizers";
  for (const char* model : {"matvec_64", "mlp_gelu_d4_w256", "lstm_stream_h64", "gru_stream_h64", "mdn_k8_d4"}) {
    SCOPED_TRACE(model);
    bench::BenchOptions opt;
    opt.warmup = 5;
    opt.runs = 200;
    bench::ModelSpec spec = {model, onnx_of(model), "", (kZoo / model).string(), std::nullopt};
    json run = bench::bench_model(spec, "handwritten", opt, {});
    ASSERT_EQ(run["status"], "ok") << run.dump();
    EXPECT_EQ(run["heap"]["allocations_per_run"].get<double>(), 0.0);
    EXPECT_EQ(run["heap"]["bytes_per_run"].get<double>(), 0.0);
    EXPECT_TRUE(run["accuracy"]["passed"].get<bool>()) << run["accuracy"].dump();
  }
}

TEST(HandwrittenBackend, BenchListsAModelItDoesNotCoverAsNotCoveredNotAsAnError) {
  REQUIRE_ZOO();
  bench::ModelSpec spec = {"digits_cnn", onnx_of("digits_cnn"), "", (kZoo / "digits_cnn").string(), std::nullopt};
  json run = bench::bench_model(spec, "handwritten", {}, {});
  EXPECT_TRUE(bench::is_not_covered(run)) << run.dump();
  EXPECT_EQ(bench::summary_line(run), "n/a (this backend does not cover the model)");
  json report = bench::new_report(json::object(), json::object());
  bench::add_run(report, run);
  EXPECT_TRUE(report["runs"].empty());
  ASSERT_EQ(report["not_covered"].size(), 1u);
  EXPECT_EQ(report["not_covered"][0]["model"], "digits_cnn");
  EXPECT_EQ(report["not_covered"][0]["backend"], "handwritten");
  EXPECT_NE(report["not_covered"][0]["reason"].get<std::string>().find("Conv"), std::string::npos);
  std::string table = bench::format_table(report);
  EXPECT_EQ(table.find("errors:"), std::string::npos) << table;
  EXPECT_NE(table.find("not covered"), std::string::npos) << table;
  EXPECT_NE(table.find("handwritten: digits_cnn"), std::string::npos) << table;
}
