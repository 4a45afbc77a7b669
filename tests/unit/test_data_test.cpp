// data/test_data: the ONNX backend test layout (test_data_set_N folders of
// input_I.pb / output_I.pb / label.pb), comparison with tolerance, top-1.
// Models and tensors are written here with the ONNX protobuf classes; the
// real case is libonnx-testdata's test_relu.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <unistd.h>

#include "core/error.h"
#include "data/test_data.h"
#include "import/onnx_import.h"
#include "onnx.pb.h"
#include "error_of.h"
#include "util/npy.h"

namespace fs = std::filesystem;
using namespace rtml;

namespace {

const fs::path kRelu = "/usr/share/libonnx-testdata/data/node/test_relu";

// A fresh scratch folder per test, removed afterwards.
class TestData : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("rtml_test_data_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

void write_proto(const fs::path& path, const google::protobuf::MessageLite& m) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
}

void write_floats(const fs::path& path, const std::string& name, const Shape& dims, const std::vector<float>& v) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float x : v) t.add_float_data(x);
  write_proto(path, t);
}

void write_label(const fs::path& path, int64_t label) {
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(1);
  t.add_int64_data(label);
  write_proto(path, t);
}

// y = Relu(x) over float[n]; or, with two inputs, y = Add(a, b).
onnx::ModelProto model(const std::vector<std::string>& inputs, int64_t n) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto add_vi = [n](onnx::ValueInfoProto* vi, const std::string& name) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(n);
  };
  for (const auto& name : inputs) add_vi(g->add_input(), name);
  add_vi(g->add_output(), "y");
  auto* node = g->add_node();
  node->set_op_type(inputs.size() == 1 ? "Relu" : "Add");
  node->set_name("node");
  for (const auto& name : inputs) node->add_input(name);
  node->add_output("y");
  return m;
}

ir::Graph save_and_load(const onnx::ModelProto& m, const fs::path& path) {
  write_proto(path, m);
  return import::load_onnx(path.string());
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

}  // namespace

TEST_F(TestData, SetsAreFoundInNumericOrder) {
  for (const char* s : {"test_data_set_10", "test_data_set_2", "test_data_set_0"}) fs::create_directories(dir_ / s);
  fs::create_directories(dir_ / "test_data_set_x");       // not a set
  std::ofstream(dir_ / "test_data_set_5") << "a file";    // not a folder
  auto sets = data::find_test_sets(dir_.string());
  ASSERT_EQ(sets.size(), 3u);
  EXPECT_EQ(fs::path(sets[0]).filename(), "test_data_set_0");
  EXPECT_EQ(fs::path(sets[1]).filename(), "test_data_set_2");
  EXPECT_EQ(fs::path(sets[2]).filename(), "test_data_set_10");
  // A set folder itself is one set.
  auto one = data::find_test_sets((dir_ / "test_data_set_2").string());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(fs::path(one[0]).filename(), "test_data_set_2");
}

TEST_F(TestData, MissingOrEmptyDirectoryIsAClearError) {
  std::string missing = (dir_ / "absent").string();
  std::string msg = error_of([&] { data::find_test_sets(missing); });
  EXPECT_HAS(msg, missing);
  EXPECT_HAS(msg, "no such directory");
  msg = error_of([&] { data::find_test_sets(dir_.string()); });
  EXPECT_HAS(msg, dir_.string());
  EXPECT_HAS(msg, "no test_data_set_N folders");
}

TEST_F(TestData, RealCasePassesAndAPerturbedValueFails) {
  if (!fs::exists(kRelu / "model.onnx")) GTEST_SKIP() << "libonnx-testdata is not installed";
  ir::Graph g = import::load_onnx((kRelu / "model.onnx").string());
  auto sets = data::load_test_data(kRelu.string(), g);
  ASSERT_EQ(sets.size(), 1u);
  data::Evaluation ev = data::evaluate(g, sets);
  EXPECT_EQ(ev.sets, 1);
  ASSERT_EQ(ev.outputs.size(), 1u);
  EXPECT_TRUE(ev.outputs[0].compared);
  EXPECT_EQ(ev.outputs[0].elements, 60);
  EXPECT_EQ(ev.outputs[0].mismatches, 0);
  EXPECT_TRUE(ev.passed());

  // The same case with one expected value off by 1e-3.
  fs::path set = dir_ / "test_data_set_0";
  fs::create_directories(set);
  fs::copy_file(kRelu / "test_data_set_0" / "input_0.pb", set / "input_0.pb");
  onnx::TensorProto t;
  {
    std::ifstream in(kRelu / "test_data_set_0" / "output_0.pb", std::ios::binary);
    ASSERT_TRUE(t.ParseFromIstream(&in));
  }
  ASSERT_EQ(t.data_type(), onnx::TensorProto::FLOAT);
  if (t.has_raw_data()) {
    std::string raw = t.raw_data();
    float v;
    std::memcpy(&v, raw.data() + 7 * sizeof v, sizeof v);
    v += 1e-3f;
    std::memcpy(raw.data() + 7 * sizeof v, &v, sizeof v);
    t.set_raw_data(raw);
  } else {
    t.set_float_data(7, t.float_data(7) + 1e-3f);
  }
  write_proto(set / "output_0.pb", t);
  ev = data::evaluate(g, data::load_test_data(dir_.string(), g));
  EXPECT_EQ(ev.outputs[0].mismatches, 1);
  EXPECT_NEAR(ev.outputs[0].max_abs_error, 1e-3, 1e-6);
  EXPECT_FALSE(ev.passed());
}

TEST(TestDataTolerance, RelativeOrAbsolute) {
  EXPECT_TRUE(data::within_tolerance(1000.05, 1000.0, 1e-4));  // relative: 0.05 <= 0.1
  EXPECT_TRUE(data::within_tolerance(5e-5, 0.0, 1e-4));        // absolute near zero
  EXPECT_FALSE(data::within_tolerance(1.001, 1.0, 1e-4));      // 1e-3 is neither
  EXPECT_FALSE(data::within_tolerance(1000.2, 1000.0, 1e-4));  // 0.2 > 0.1
  EXPECT_TRUE(data::within_tolerance(1.001, 1.0, 1e-2));
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(data::within_tolerance(nan, 1.0, 1e-4));
  EXPECT_FALSE(data::within_tolerance(1.0, nan, 1e-4));
  EXPECT_TRUE(data::within_tolerance(nan, nan, 1e-4));
  EXPECT_TRUE(data::within_tolerance(inf, inf, 1e-4));
  EXPECT_FALSE(data::within_tolerance(-inf, inf, 1e-4));
  EXPECT_FALSE(data::within_tolerance(1.0, inf, 1e-4));  // tol * |inf| must not excuse it
  EXPECT_FALSE(data::within_tolerance(inf, 1.0, 1e-4));
}

TEST(TestDataTolerance, CompareCountsAndMeasures) {
  data::TestTensor expected;
  expected.name = "y";
  expected.file = "output_0.pb";
  expected.tensor.dtype = DType::F32;
  expected.tensor.shape = {4};
  auto buf = std::make_shared<ir::Buffer>(4 * sizeof(float));
  const float e[4] = {1000.f, 0.f, 1.f, -2.f};
  std::memcpy(buf->data(), e, sizeof e);
  expected.tensor.data = buf;

  const float a[4] = {1000.05f, 5e-5f, 1.001f, -2.f};
  data::OutputStats s = data::compare(expected, DType::F32, {4}, a);
  EXPECT_TRUE(s.compared);
  EXPECT_EQ(s.elements, 4);
  EXPECT_EQ(s.mismatches, 1);  // only 1.001 vs 1
  EXPECT_NEAR(s.max_abs_error, 0.05, 1e-4);
  EXPECT_NEAR(s.max_rel_error, 1e-3, 1e-6);  // the 0 expected value is left out of the relative error

  const float with_nan[4] = {1000.f, std::nanf(""), 1.f, -2.f};
  s = data::compare(expected, DType::F32, {4}, with_nan);
  EXPECT_EQ(s.mismatches, 1);
  EXPECT_TRUE(std::isinf(s.max_abs_error));

  std::string msg = error_of([&] { data::compare(expected, DType::F32, {2, 2}, a); });
  EXPECT_HAS(msg, "output_0.pb");
  EXPECT_HAS(msg, "float 4");
  EXPECT_HAS(msg, "float 2x2");
}

TEST_F(TestData, TopOneCountsLabelledSets) {
  ir::Graph g = save_and_load(model({"x"}, 4), dir_ / "model.onnx");
  fs::path d = dir_ / "data";
  // Scores (Relu keeps them: all positive) and labels: right, wrong, right, no label.
  write_floats(d / "test_data_set_0" / "input_0.pb", "x", {4}, {0.1f, 0.9f, 0.3f, 0.2f});
  write_label(d / "test_data_set_0" / "label.pb", 1);
  write_floats(d / "test_data_set_1" / "input_0.pb", "x", {4}, {0.8f, 0.1f, 0.3f, 0.2f});
  write_label(d / "test_data_set_1" / "label.pb", 3);
  write_floats(d / "test_data_set_2" / "input_0.pb", "x", {4}, {0.1f, 0.2f, 0.3f, 0.4f});
  write_label(d / "test_data_set_2" / "label.pb", 3);
  write_floats(d / "test_data_set_3" / "input_0.pb", "x", {4}, {0.5f, 0.2f, 0.3f, 0.4f});
  auto sets = data::load_test_data(d.string(), g);
  ASSERT_EQ(sets.size(), 4u);
  EXPECT_EQ(sets[0].label.value_or(-1), 1);
  EXPECT_FALSE(sets[3].label.has_value());
  EXPECT_FALSE(sets[0].outputs[0].has_value());  // no output_0.pb

  data::Evaluation ev = data::evaluate(g, sets);
  EXPECT_EQ(ev.sets, 4);
  EXPECT_FALSE(ev.outputs[0].compared);  // not compared, and that is not a failure
  EXPECT_TRUE(ev.passed());
  EXPECT_EQ(ev.top1.labelled, 3);
  EXPECT_EQ(ev.top1.correct, 2);
  ASSERT_TRUE(ev.top1.accuracy().has_value());
  EXPECT_NEAR(*ev.top1.accuracy(), 2.0 / 3.0, 1e-12);

  const float two_rows[4] = {1, 2, 3, 4};
  EXPECT_EQ(data::argmax_last_axis("t", DType::F32, {1, 4}, two_rows), 3);
  std::string msg = error_of([&] { data::argmax_last_axis("output 'y'", DType::F32, {2, 2}, two_rows); });
  EXPECT_HAS(msg, "output 'y' is 2x2");
  EXPECT_HAS(msg, "one row");
}

TEST_F(TestData, FilesMatchByTensorNameThenByNumber) {
  ir::Graph g = save_and_load(model({"a", "b"}, 2), dir_ / "model.onnx");
  fs::path set = dir_ / "test_data_set_0";
  write_floats(set / "input_0.pb", "b", {2}, {10, 20});  // named: goes to b although it is number 0
  write_floats(set / "input_1.pb", "a", {2}, {1, 2});
  write_floats(set / "output_0.pb", "", {2}, {11, 22});  // unnamed: number 0 is y
  auto sets = data::load_test_data(dir_.string(), g);
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].inputs[0].name, "a");
  EXPECT_EQ(fs::path(sets[0].inputs[0].file).filename(), "input_1.pb");
  EXPECT_EQ(sets[0].inputs[1].name, "b");
  data::Evaluation ev = data::evaluate(g, sets);
  EXPECT_TRUE(ev.outputs[0].compared);
  EXPECT_EQ(ev.outputs[0].mismatches, 0);

  // Two files for the same input.
  write_floats(set / "input_1.pb", "b", {2}, {1, 2});
  std::string msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_HAS(msg, "both hold input 'b'");
}

TEST_F(TestData, WrongShapeTypeOrMissingInputIsAClearError) {
  ir::Graph g = save_and_load(model({"x"}, 4), dir_ / "model.onnx");
  fs::path set = dir_ / "test_data_set_0";
  write_floats(set / "input_0.pb", "x", {5}, {1, 2, 3, 4, 5});
  std::string file = (set / "input_0.pb").string();
  std::string msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_HAS(msg, file);
  EXPECT_HAS(msg, "holds float 5");
  EXPECT_HAS(msg, "input 'x' is float 4");

  onnx::TensorProto t;
  t.set_name("x");
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(4);
  for (int i = 0; i < 4; ++i) t.add_int64_data(i);
  write_proto(set / "input_0.pb", t);
  msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_HAS(msg, file);
  EXPECT_HAS(msg, "holds int64 4");

  fs::remove(set / "input_0.pb");
  write_floats(set / "output_0.pb", "y", {4}, {1, 2, 3, 4});
  msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_HAS(msg, "no data for the model's input 'x'");

  write_floats(set / "input_3.pb", "", {4}, {1, 2, 3, 4});  // unnamed, and there is no input 3
  msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_HAS(msg, "input_3.pb");
  EXPECT_HAS(msg, "the model has 1 input ('x')");
}

TEST_F(TestData, NpyLayoutMatchesByNameAndCatchesAPerturbedValue) {
  if (!fs::exists(kRelu / "model.onnx")) GTEST_SKIP() << "libonnx-testdata is not installed";
  ir::Graph g = import::load_onnx((kRelu / "model.onnx").string());
  // The relu case's own .pb data, rewritten as inputs/x.npy and expected/y.npy.
  ir::Tensor x = import::load_tensor_pb((kRelu / "test_data_set_0" / "input_0.pb").string());
  ir::Tensor y = import::load_tensor_pb((kRelu / "test_data_set_0" / "output_0.pb").string());
  fs::create_directories(dir_ / "inputs");
  fs::create_directories(dir_ / "expected");
  util::write_npy((dir_ / "inputs" / "x.npy").string(), x.dtype, x.shape, x.data->data());
  util::write_npy((dir_ / "expected" / "y.npy").string(), y.dtype, y.shape, y.data->data());
  auto sets = data::load_test_data(dir_.string(), g);  // the folder itself is the one set
  ASSERT_EQ(sets.size(), 1u);
  data::Evaluation ev = data::evaluate(g, sets);
  EXPECT_TRUE(ev.passed());
  EXPECT_EQ(ev.outputs[0].elements, 60);

  std::vector<float> bad(static_cast<const float*>(y.data->data()), static_cast<const float*>(y.data->data()) + 60);
  bad[11] += 1e-2f;
  util::write_npy((dir_ / "expected" / "y.npy").string(), DType::F32, y.shape, bad.data());
  ev = data::evaluate(g, data::load_test_data(dir_.string(), g));
  EXPECT_FALSE(ev.passed());
  EXPECT_EQ(ev.outputs[0].mismatches, 1);

  // An input file under another name is a clear error naming the expected file.
  fs::rename(dir_ / "inputs" / "x.npy", dir_ / "inputs" / "input.npy");
  std::string msg = error_of([&] { data::load_test_data(dir_.string(), g); });
  EXPECT_NE(msg.find("inputs/x.npy"), std::string::npos) << msg;
}
