// Hostile inputs (issue 20): shapes whose products wrap 64 bits, byte counts
// that do not match the data present, .npy headers that lie, and files that
// would need more memory than the limit. Each must end in an rtml::Error
// that names the file and the problem: never a crash, never a huge
// allocation, never "internal error". Expected numbers are computed by hand
// in the comments.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"
#include "core/size.h"
#include "error_of.h"
#include "import/onnx_import.h"
#include "onnx.pb.h"
#include "plan/plan.h"
#include "util/npy.h"

namespace fs = std::filesystem;
using namespace rtml;

namespace {

constexpr int64_t k2to32 = int64_t(1) << 32;
constexpr int64_t k2to62 = int64_t(1) << 62;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("rtml_hostile_" + std::to_string(::getpid()) + "_" + name)).string();
}

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

// A model: initializer `w` (float, `dims`, `raw` bytes of raw_data) -> one node `op` -> y.
onnx::ModelProto initializer_model(const std::vector<int64_t>& dims, size_t raw, const std::string& op) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) w->add_dims(d);
  w->set_raw_data(std::string(raw, '\0'));
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n");
  n->add_input("w");
  n->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

// Adds an int64 initializer `name` holding `values` (1-D).
void add_ints(onnx::ModelProto& m, const std::string& name, const std::vector<int64_t>& values) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(values.size()));
  for (int64_t v : values) t->add_int64_data(v);
}

std::string save(const onnx::ModelProto& m, const std::string& name) {
  std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

std::string plan_error(const std::string& path, uint64_t max_memory = default_memory_limit()) {
  return error_of([&] {
    import::ImportOptions io;
    io.max_memory_bytes = max_memory;
    plan::PlanOptions po;
    po.max_memory_bytes = max_memory;
    plan::build_plan(import::load_onnx(path, io), po);
  });
}

// A .npy file: magic, version 1, the header (padded to a multiple of 64 with
// its newline unless `raw_header`), then `data_bytes` zero bytes.
std::string npy_file(const std::string& name, const std::string& dict, size_t data_bytes, int header_len = -1) {
  std::string header = dict;
  if (header_len < 0) {
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    header_len = static_cast<int>(header.size());
  }
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header_len & 0xff);
  bytes += static_cast<char>((header_len >> 8) & 0xff);
  bytes += header + std::string(data_bytes, '\0');
  std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string npy_error(const std::string& path, uint64_t max_memory = default_memory_limit()) {
  return error_of([&] { util::read_npy(path, max_memory); });
}

}  // namespace

TEST(CheckedSizes, ProductsThatWrapAreRefused) {
  // 2^32 * 2^32 = 2^64 wraps to 0 in 64 bits.
  EXPECT_FALSE(checked_numel({k2to32, k2to32}));
  EXPECT_FALSE(checked_numel({k2to62, 2}));
  EXPECT_FALSE(checked_numel({3, -1}));
  EXPECT_EQ(checked_numel({k2to62, 1}), k2to62);
  EXPECT_EQ(checked_numel({}), 1);
  EXPECT_EQ(checked_numel({7, 0, k2to62}), 0);
  // 2^61 float elements = 2^63 bytes: over 2^62.
  EXPECT_FALSE(checked_bytes({int64_t(1) << 61}, DType::F32));
  EXPECT_EQ(checked_bytes({3, 5}, DType::F64), 120);
  EXPECT_THROW(shape_numel({k2to32, k2to32}), Error);
  EXPECT_EQ(format_bytes(34'400'000'000), "34.4 GB");
  EXPECT_EQ(format_bytes(512), "512 bytes");
  EXPECT_EQ(format_bytes(12'000'000'000), "12.0 GB");
  EXPECT_GT(default_memory_limit(), 0u);
}

TEST(CheckedSizes, MemorySizesParse) {
  EXPECT_EQ(parse_memory_size("4000000"), 4'000'000u);
  EXPECT_EQ(parse_memory_size("512M"), 512'000'000u);
  EXPECT_EQ(parse_memory_size("1.5G"), 1'500'000'000u);
  EXPECT_EQ(parse_memory_size("2GB"), 2'000'000'000u);
  EXPECT_EQ(parse_memory_size("64k"), 64'000u);
  for (const char* bad : {"", "lots", "-1G", "12 G", "3X", "1e30"})
    EXPECT_NE(error_of([&] { parse_memory_size(bad); }).find("bad memory size"), std::string::npos) << bad;
}

TEST(HostileModels, WrappingDimsOnAnInitializerUnderTranspose) {
  // dims 2^32 x 2^32 and no data: the element count wraps to 0, so the empty
  // raw_data used to "match" and Transpose then read 2^64 elements.
  std::string path = save(initializer_model({k2to32, k2to32}, 0, "Transpose"), "wrap_transpose.onnx");
  std::string msg = plan_error(path);
  EXPECT_TRUE(has(msg, path)) << msg;
  EXPECT_TRUE(has(msg, "initializer 'w'")) << msg;
  EXPECT_TRUE(has(msg, "4294967296x4294967296")) << msg;
  EXPECT_TRUE(has(msg, "too large")) << msg;
}

TEST(HostileModels, WrappingDimsOnAnInitializerUnderReshape) {
  // 2^62 x 4 elements: past 2^62.
  onnx::ModelProto m = initializer_model({k2to62, 4}, 0, "Reshape");
  add_ints(m, "shape", {-1});
  m.mutable_graph()->mutable_node(0)->add_input("shape");
  std::string msg = plan_error(save(m, "wrap_reshape.onnx"));
  EXPECT_TRUE(has(msg, "initializer 'w'")) << msg;
  EXPECT_TRUE(has(msg, "too large")) << msg;
}

TEST(HostileModels, NegativeDimOrMissingDataIsRefusedBeforeAllocating) {
  std::string msg = plan_error(save(initializer_model({-3}, 0, "Relu"), "negative.onnx"));
  EXPECT_TRUE(has(msg, "negative dimension")) << msg;
  // 10^6 x 10^6 floats = 4 TB declared, 16 bytes present.
  msg = plan_error(save(initializer_model({1000000, 1000000}, 16, "Relu"), "absent_data.onnx"));
  EXPECT_TRUE(has(msg, "raw_data has 16 bytes")) << msg;
  EXPECT_TRUE(has(msg, "needs 4000000000000")) << msg;
}

TEST(HostileModels, ReshapeToDimsThatOverflowNamesTheNode) {
  onnx::ModelProto m = initializer_model({4}, 16, "Reshape");
  add_ints(m, "shape", {k2to32, k2to32, -1});  // 2^64: wraps
  m.mutable_graph()->mutable_node(0)->add_input("shape");
  std::string msg = plan_error(save(m, "reshape_overflow.onnx"));
  EXPECT_TRUE(has(msg, "node 'n' (Reshape)")) << msg;
  EXPECT_TRUE(has(msg, "out of range")) << msg;
}

TEST(HostileModels, HugeFoldedConstantIsRefusedWithTheNumbers) {
  // ConstantOfShape [10^6, 10^6] of float: 4 * 10^12 bytes = 4.0 TB, limit 1 GB.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  add_ints(m, "shape", {1000000, 1000000});
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type("ConstantOfShape");
  n->set_name("fill");
  n->add_input("shape");
  n->add_output("y");
  m.mutable_graph()->add_output()->set_name("y");
  std::string msg = plan_error(save(m, "huge_fill.onnx"), 1'000'000'000);
  EXPECT_TRUE(has(msg, "node 'fill' (ConstantOfShape)")) << msg;
  EXPECT_TRUE(has(msg, "needs 4.0 TB (4000000000000 bytes)")) << msg;
  EXPECT_TRUE(has(msg, "memory limit of 1.0 GB (--max-memory)")) << msg;
}

TEST(HostileModels, TileAndPadThatOverflowAreRefused) {
  onnx::ModelProto tile = initializer_model({4}, 16, "Tile");
  add_ints(tile, "reps", {k2to62});  // 4 * 2^62 overflows
  tile.mutable_graph()->mutable_node(0)->add_input("reps");
  std::string msg = plan_error(save(tile, "tile.onnx"));
  EXPECT_TRUE(has(msg, "node 'n' (Tile)")) << msg;
  EXPECT_TRUE(has(msg, "repeats")) << msg;

  onnx::ModelProto pad = initializer_model({4}, 16, "Pad");
  add_ints(pad, "pads", {INT64_MAX, INT64_MAX});
  pad.mutable_graph()->mutable_node(0)->add_input("pads");
  msg = plan_error(save(pad, "pad.onnx"));
  EXPECT_TRUE(has(msg, "node 'n' (Pad)")) << msg;
  EXPECT_TRUE(has(msg, "pads")) << msg;
}

TEST(HostileModels, SliceWithExtremeStepIsWellDefined) {
  // 10 elements, from the last one backwards with step INT64_MIN: one element.
  onnx::ModelProto m = initializer_model({10}, 40, "Slice");
  add_ints(m, "starts", {-1});
  add_ints(m, "ends", {INT64_MIN});
  add_ints(m, "axes", {0});
  add_ints(m, "steps", {INT64_MIN});
  for (const char* in : {"starts", "ends", "axes", "steps"}) m.mutable_graph()->mutable_node(0)->add_input(in);
  plan::Plan p = plan::build_plan(import::load_onnx(save(m, "slice.onnx")));
  EXPECT_EQ(p.tensors[p.outputs[0]].shape, Shape{1});
}

TEST(HostileModels, ArenaAndBuffersOverTheLimit) {
  // Relu on a 10^6-float input: input + output buffers = 8,000,000 bytes.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1000000);
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  g->add_output()->set_name("y");
  std::string path = save(m, "arena.onnx");
  // Under 1 MB, the 4 MB input itself is refused; under 6 MB, the two buffers together.
  std::string msg = plan_error(path, 1'000'000);
  EXPECT_TRUE(has(msg, "input 'x'") || has(msg, "output 0 (float 1000000) needs 4.0 MB (4000000 bytes)")) << msg;
  msg = plan_error(path, 6'000'000);
  EXPECT_TRUE(has(msg, "the arena and the input and output buffers needs 8.0 MB (8000000 bytes)")) << msg;
  EXPECT_TRUE(has(msg, "limit of 6.0 MB (--max-memory)")) << msg;
  EXPECT_EQ(plan_error(path, 8'000'000), "(no error)");
}

TEST(HostileModels, ExtraOutputsAreAUserErrorNotAnInternalOne) {
  onnx::ModelProto m = initializer_model({4}, 16, "Relu");
  m.mutable_graph()->mutable_node(0)->add_output("y2");
  m.mutable_graph()->add_output()->set_name("y2");
  std::string msg = plan_error(save(m, "extra_output.onnx"));
  EXPECT_TRUE(has(msg, "node 'n' (Relu)")) << msg;
  EXPECT_TRUE(has(msg, "lists 2 outputs")) << msg;
  EXPECT_FALSE(has(msg, "internal error")) << msg;
}

TEST(HostileModels, ExternalDataPastTheFileEnd) {
  onnx::ModelProto m = initializer_model({4}, 0, "Relu");
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value(fs::path(temp_path("weights.bin")).filename().string());
  auto* off = w->add_external_data();
  off->set_key("offset");
  off->set_value("18446744073709551600");  // near 2^64: offset + 16 wraps
  std::ofstream(temp_path("weights.bin"), std::ios::binary) << std::string(16, '\0');
  std::string msg = plan_error(save(m, "external.onnx"));
  EXPECT_TRUE(has(msg, "initializer 'w'")) << msg;
  EXPECT_TRUE(has(msg, "offset")) << msg;
}

TEST(HostileTensorPb, WrappingDimsAndMemoryLimit) {
  onnx::TensorProto t;
  t.set_name("x");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(k2to32);
  t.add_dims(k2to32);
  std::string path = temp_path("wrap.pb");
  std::ofstream(path, std::ios::binary) << t.SerializeAsString();
  std::string msg = error_of([&] { import::load_tensor_pb(path); });
  EXPECT_TRUE(has(msg, path)) << msg;
  EXPECT_TRUE(has(msg, "too large")) << msg;

  // 1000 floats present (4000 bytes), limit 1000 bytes.
  onnx::TensorProto ok;
  ok.set_data_type(onnx::TensorProto::FLOAT);
  ok.add_dims(1000);
  ok.set_raw_data(std::string(4000, '\0'));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << ok.SerializeAsString();
  msg = error_of([&] { import::load_tensor_pb(path, 1000); });
  EXPECT_TRUE(has(msg, "needs 4.0 kB (4000 bytes)")) << msg;
  EXPECT_EQ(error_of([&] { import::load_tensor_pb(path, 4000); }), "(no error)");
}

TEST(HostileNpy, ShapesWhoseElementCountOverflows) {
  // 2^62 float32 elements: 2^64 bytes.
  std::string msg = npy_error(npy_file("big1.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", 16));
  EXPECT_TRUE(has(msg, "too large")) << msg;
  // (2^60 + 1) * 16 elements: wraps.
  msg = npy_error(npy_file("big2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1152921504606846977, 16), }", 16));
  EXPECT_TRUE(has(msg, "too large")) << msg;
}

TEST(HostileNpy, MalformedHeaders) {
  std::string msg = npy_error(npy_file("hex.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0x10,), }", 64));
  EXPECT_TRUE(has(msg, "bad shape (0x10,)")) << msg;
  // A header length of 5: "{'des" and nothing after it.
  msg = npy_error(npy_file("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 16, 5));
  EXPECT_TRUE(has(msg, "no 'descr'")) << msg;
  // A header length past the end of the file.
  msg = npy_error(npy_file("long.npy", "{'descr': '<f4'", 0, 60000));
  EXPECT_TRUE(has(msg, "bad .npy header length 60000")) << msg;
  msg = npy_error(npy_file("unclosed.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4, ", 16));
  EXPECT_TRUE(has(msg, "not closed")) << msg;
  msg = npy_error(npy_file("f3.npy", "{'descr': '<f3', 'fortran_order': False, 'shape': (4,), }", 16));
  EXPECT_TRUE(has(msg, "unsupported dtype '<f3'")) << msg;
}

TEST(HostileNpy, TruncatedDataAndMemoryLimit) {
  // (3, 4) float32 = 48 bytes; 20 present.
  std::string msg = npy_error(npy_file("trunc.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 20));
  EXPECT_TRUE(has(msg, "truncated data (48 bytes expected")) << msg;
  EXPECT_TRUE(has(msg, "the file holds 20")) << msg;
  // 1000 float32 = 4000 bytes, all present; limit 1000 bytes.
  std::string path = npy_file("limit.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }", 4000);
  msg = npy_error(path, 1000);
  EXPECT_TRUE(has(msg, "needs 4.0 kB (4000 bytes), over the memory limit of 1.0 kB (--max-memory)")) << msg;
  util::NpyArray a = util::read_npy(path, 4000);
  EXPECT_EQ(a.shape, Shape{1000});
  EXPECT_EQ(a.bytes.size(), 4000u);
}

TEST(HostileNpy, WrittenFilesStillRead) {
  std::string path = temp_path("roundtrip.npy");
  const int32_t v[6] = {1, -2, 3, -4, 5, -6};
  util::write_npy(path, DType::I32, {2, 3}, v);
  util::NpyArray a = util::read_npy(path);
  EXPECT_EQ(a.dtype, DType::I32);
  EXPECT_EQ(a.shape, (Shape{2, 3}));
  EXPECT_EQ(reinterpret_cast<const int32_t*>(a.bytes.data())[3], -4);
  util::write_npy(path, DType::F32, {}, v);  // a scalar: shape ()
  EXPECT_EQ(util::read_npy(path).shape, Shape{});
  util::write_npy(path, DType::U8, {5}, v);  // one dim: shape (5,)
  EXPECT_EQ(util::read_npy(path).shape, Shape{5});
}
