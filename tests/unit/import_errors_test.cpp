// Bad model files give clear errors naming the file, node and op type, and
// never crash. Models are built here with the ONNX protobuf classes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/error.h"
#include "import/onnx_import.h"
#include "onnx.pb.h"
#include "plan/plan.h"

namespace fs = std::filesystem;
using namespace rtml;

namespace {

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("rtml_import_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

onnx::ModelProto relu_model(int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  auto add_vi = [](onnx::ValueInfoProto* vi, const std::string& name) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  };
  add_vi(g->add_input(), "x");
  add_vi(g->add_output(), "y");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->set_name("act");
  n->add_input("x");
  n->add_output("y");
  return m;
}

std::string save(const onnx::ModelProto& m, const std::string& name) {
  std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

// Loads and plans; returns the error message ("" if it succeeded).
std::string error_of(const std::string& path, const import::ImportOptions& opt = {}) {
  try {
    plan::build_plan(import::load_onnx(path, opt));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ImportErrors, ValidModelLoads) { EXPECT_EQ(error_of(save(relu_model(), "ok.onnx")), ""); }

TEST(ImportErrors, MissingFile) {
  std::string msg = error_of(temp_path("absent.onnx"));
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST(ImportErrors, NotOnnx) {
  std::string path = temp_path("text.onnx");
  std::ofstream(path) << "this is not a model\n";
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("not"), std::string::npos) << msg;
}

TEST(ImportErrors, TruncatedFileIsRejected) {
  onnx::ModelProto m = relu_model();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("unused");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(256);
  w->set_raw_data(std::string(1024, '\1'));
  std::string bytes = m.SerializeAsString();
  std::string path = temp_path("truncated.onnx");
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string msg = error_of(path);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(ImportErrors, TooLarge) {
  import::ImportOptions opt;
  opt.max_file_bytes = 8;
  std::string msg = error_of(save(relu_model(), "large.onnx"), opt);
  EXPECT_NE(msg.find("over the limit"), std::string::npos) << msg;
}

TEST(ImportErrors, UnsupportedOpNamesNodeAndOp) {
  onnx::ModelProto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyOp");
  std::string msg = error_of(save(m, "unsupported.onnx"));
  EXPECT_NE(msg.find("'act'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("FancyOp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not supported"), std::string::npos) << msg;
}

TEST(ImportErrors, WrongInputCount) {
  onnx::ModelProto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("Add");  // Add needs 2 inputs, has 1
  std::string msg = error_of(save(m, "inputs.onnx"));
  EXPECT_NE(msg.find("'act' (Add)"), std::string::npos) << msg;
}

TEST(ImportErrors, BadAttribute) {
  onnx::ModelProto m = relu_model();
  auto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("Softmax");
  auto* a = n->add_attribute();
  a->set_name("axis");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(7);  // rank is 1
  std::string msg = error_of(save(m, "attr.onnx"));
  EXPECT_NE(msg.find("'act' (Softmax)"), std::string::npos) << msg;
}

TEST(ImportErrors, CycleNamesANode) {
  onnx::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(0, "z");  // act reads z ...
  auto* n = g->add_node();                 // ... and loop makes z from y
  n->set_op_type("Relu");
  n->set_name("loop");
  n->add_input("y");
  n->add_output("z");
  std::string msg = error_of(save(m, "cycle.onnx"));
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
}

TEST(ImportErrors, DynamicDimensionNeedsShape) {
  onnx::ModelProto m = relu_model();
  auto* dim = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0);
  dim->set_dim_param("batch");
  std::string path = save(m, "dynamic.onnx");
  std::string msg = error_of(path);
  EXPECT_NE(msg.find("'x'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--shape"), std::string::npos) << msg;
  plan::PlanOptions po;
  po.input_shapes["x"] = {6};
  EXPECT_EQ(plan::build_plan(import::load_onnx(path), po).tensors[0].shape, Shape({6}));
}

TEST(ImportErrors, ExternalDataMayNotLeaveTheModelFolder) {
  onnx::ModelProto m = relu_model();
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = w->add_external_data();
  kv->set_key("location");
  kv->set_value("../../etc/passwd");
  std::string msg = error_of(save(m, "external.onnx"));
  EXPECT_NE(msg.find("leaves the model's folder"), std::string::npos) << msg;
}

TEST(ImportErrors, ExternalDataIsRead) {
  onnx::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  std::string data_name = "rtml_import_test_" + std::to_string(::getpid()) + "_weights.bin";
  auto* kv = w->add_external_data();
  kv->set_key("location");
  kv->set_value(data_name);
  float values[4] = {1, -2, 3, -4};
  std::ofstream((fs::temp_directory_path() / data_name).string(), std::ios::binary)
      .write(reinterpret_cast<const char*>(values), sizeof values);
  ir::Graph graph = import::load_onnx(save(m, "external_ok.onnx"));
  const ir::Tensor& t = graph.tensors[graph.find("w")];
  ASSERT_TRUE(t.is_constant());
  EXPECT_EQ(t.as<float>()[1], -2.f);
  EXPECT_EQ(t.as<float>()[3], -4.f);
}
