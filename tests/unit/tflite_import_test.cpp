// TFLite import: small .tflite files written here byte by byte (a minimal
// FlatBuffers writer below, from the format's description, no schema code)
// are imported, planned and run against hand-computed NHWC results; broken
// files (every truncation, every corrupted byte, bad offsets and indices, a
// buffer too small for its shape, an unsupported operator) give an
// rtml::Error naming the file and never crash.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "engine/session.h"
#include "error_of.h"
#include "import/tflite_import.h"
#include "plan/plan.h"

using namespace rtml;

namespace {

// --- a minimal FlatBuffers writer -------------------------------------------
// Objects are laid out front to back, each parent before its children, so
// every uoffset points forward as the format requires; a table's vtable sits
// just before it (soffset = table - vtable > 0).
struct Obj;
using ObjP = std::shared_ptr<Obj>;
struct Field {
  int index;
  std::vector<uint8_t> scalar;  // inline bytes, or empty for a reference
  ObjP ref;
};
struct Obj {
  enum Kind { Table, Bytes, Tables } kind = Table;
  std::vector<Field> fields;   // Table
  std::vector<uint8_t> bytes;  // Bytes: the elements
  uint32_t count = 0;          // Bytes: element count
  std::vector<ObjP> tables;    // Tables
};

template <class T>
Field scalar(int index, T v) {
  Field f{index, std::vector<uint8_t>(sizeof(T)), nullptr};
  std::memcpy(f.scalar.data(), &v, sizeof(T));
  return f;
}
Field ref(int index, ObjP o) { return Field{index, {}, std::move(o)}; }
ObjP table(std::vector<Field> fields) {
  auto o = std::make_shared<Obj>();
  o->fields = std::move(fields);
  return o;
}
template <class T>
ObjP vec(const std::vector<T>& v) {
  auto o = std::make_shared<Obj>();
  o->kind = Obj::Bytes;
  o->count = uint32_t(v.size());
  o->bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(o->bytes.data(), v.data(), o->bytes.size());
  return o;
}
ObjP str(const std::string& s) {
  ObjP o = vec(std::vector<char>(s.begin(), s.end()));
  o->bytes.push_back(0);
  return o;
}
ObjP tables(std::vector<ObjP> t) {
  auto o = std::make_shared<Obj>();
  o->kind = Obj::Tables;
  o->tables = std::move(t);
  return o;
}

class Writer {
 public:
  std::vector<uint8_t> finish(const ObjP& root) {
    out_.assign(8, 0);
    std::memcpy(out_.data() + 4, "TFL3", 4);
    put32(0, write(root));
    return out_;
  }

 private:
  void align(size_t a) {
    while (out_.size() % a) out_.push_back(0);
  }
  void put32(size_t at, uint32_t v) { std::memcpy(out_.data() + at, &v, 4); }
  uint32_t write(const ObjP& o) {
    align(8);
    if (o->kind == Obj::Bytes) {
      const size_t at = out_.size();
      out_.resize(at + 4);
      put32(at, o->count);
      out_.insert(out_.end(), o->bytes.begin(), o->bytes.end());
      return uint32_t(at);
    }
    if (o->kind == Obj::Tables) {
      const size_t at = out_.size();
      out_.resize(at + 4 + 4 * o->tables.size());
      put32(at, uint32_t(o->tables.size()));
      for (size_t i = 0; i < o->tables.size(); ++i) {
        const size_t slot = at + 4 + 4 * i;
        put32(slot, write(o->tables[i]) - uint32_t(slot));
      }
      return uint32_t(at);
    }
    int slots = 0;
    for (const Field& f : o->fields) slots = std::max(slots, f.index + 1);
    const uint16_t vt_bytes = uint16_t(4 + 2 * slots);
    const uint16_t obj_bytes = uint16_t(8 + 8 * o->fields.size());  // soffset, pad, 8 bytes a field
    const size_t vt = out_.size();
    out_.resize(vt + vt_bytes, 0);
    align(8);
    const size_t at = out_.size();
    out_.resize(at + obj_bytes, 0);
    std::memcpy(out_.data() + vt, &vt_bytes, 2);
    std::memcpy(out_.data() + vt + 2, &obj_bytes, 2);
    const int32_t back = int32_t(at - vt);
    std::memcpy(out_.data() + at, &back, 4);
    std::vector<std::pair<size_t, ObjP>> refs;
    for (size_t k = 0; k < o->fields.size(); ++k) {
      const Field& f = o->fields[k];
      const uint16_t off = uint16_t(8 + 8 * k);
      std::memcpy(out_.data() + vt + 4 + 2 * f.index, &off, 2);
      if (f.ref) refs.emplace_back(at + off, f.ref);
      else std::memcpy(out_.data() + at + off, f.scalar.data(), f.scalar.size());
    }
    for (auto& [slot, child] : refs) put32(slot, write(child) - uint32_t(slot));
    return uint32_t(at);
  }
  std::vector<uint8_t> out_;
};

// --- models -------------------------------------------------------------------
struct TensorDef {
  std::string name;
  std::vector<int32_t> shape;
  int8_t type = 0;  // FLOAT32
  uint32_t buffer = 0;
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
};
struct OpDef {
  uint32_t opcode;
  std::vector<int32_t> inputs, outputs;
  uint8_t options_type = 0;
  ObjP options;
};
struct ModelDef {
  std::vector<int32_t> codes;  // builtin code per opcode index
  std::vector<TensorDef> tensors;
  std::vector<OpDef> ops;
  std::vector<std::vector<uint8_t>> buffers;  // buffer 0 is the empty one
  std::vector<int32_t> inputs, outputs;
  uint32_t version = 3;
};

std::vector<uint8_t> build(const ModelDef& m) {
  std::vector<ObjP> codes, tensors, ops, buffers;
  for (int32_t c : m.codes) codes.push_back(table({scalar<int8_t>(0, int8_t(std::min(c, 127))), scalar<int32_t>(3, c)}));
  for (const TensorDef& t : m.tensors) {
    std::vector<Field> f = {ref(0, vec(t.shape)), scalar<int8_t>(1, t.type), scalar<uint32_t>(2, t.buffer), ref(3, str(t.name))};
    if (!t.scale.empty()) f.push_back(ref(4, table({ref(2, vec(t.scale)), ref(3, vec(t.zero_point))})));
    tensors.push_back(table(f));
  }
  for (const OpDef& o : m.ops) {
    std::vector<Field> f = {scalar<uint32_t>(0, o.opcode), ref(1, vec(o.inputs)), ref(2, vec(o.outputs))};
    if (o.options) {
      f.push_back(scalar<uint8_t>(3, o.options_type));
      f.push_back(ref(4, o.options));
    }
    ops.push_back(table(f));
  }
  buffers.push_back(table({}));
  for (const auto& b : m.buffers) buffers.push_back(table({ref(0, vec(b))}));
  ObjP sg = table({ref(0, tables(tensors)), ref(1, vec(m.inputs)), ref(2, vec(m.outputs)), ref(3, tables(ops))});
  return Writer().finish(
      table({scalar<uint32_t>(0, m.version), ref(1, tables(codes)), ref(2, tables({sg})), ref(4, tables(buffers))}));
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// x [1,3,3,2] NHWC -> CONV_2D (2 filters 2x2, SAME, stride 1, RELU) -> y [1,3,3,2].
constexpr int kH = 3, kW = 3, kC = 2, kO = 2, kK = 2;
std::vector<float> conv_weights() {  // [O, kh, kw, I]
  std::vector<float> w(kO * kK * kK * kC);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * float(int(i % 7) - 3);
  return w;
}
ModelDef conv_model() {
  ModelDef m;
  m.codes = {3};  // CONV_2D
  m.buffers = {bytes_of(conv_weights()), bytes_of(std::vector<float>{0.5f, -1.f})};
  m.tensors = {{"x", {1, kH, kW, kC}, 0, 0, {}, {}},
               {"w", {kO, kK, kK, kC}, 0, 1, {}, {}},
               {"b", {kO}, 0, 2, {}, {}},
               {"y", {1, kH, kW, kO}, 0, 0, {}, {}}};
  // Conv2DOptions: padding SAME (0), stride_w 1, stride_h 1, fused activation RELU (1).
  m.ops = {{0, {0, 1, 2}, {3}, 1, table({scalar<int8_t>(0, 0), scalar<int32_t>(1, 1), scalar<int32_t>(2, 1), scalar<int8_t>(3, 1)})}};
  m.inputs = {0};
  m.outputs = {3};
  return m;
}

// TFLite's CONV_2D in NHWC, written out directly: SAME with the odd pad at the end.
std::vector<float> reference_conv(const std::vector<float>& x) {
  const std::vector<float> w = conv_weights();
  const float bias[kO] = {0.5f, -1.f};
  std::vector<float> y(kH * kW * kO);
  for (int oy = 0; oy < kH; ++oy)
    for (int ox = 0; ox < kW; ++ox)
      for (int o = 0; o < kO; ++o) {
        float acc = bias[o];
        for (int ky = 0; ky < kK; ++ky)
          for (int kx = 0; kx < kK; ++kx)
            for (int c = 0; c < kC; ++c) {
              const int iy = oy + ky, ix = ox + kx;  // total pad 1: 0 before, 1 after
              if (iy < kH && ix < kW) acc += x[(iy * kW + ix) * kC + c] * w[((o * kK + ky) * kK + kx) * kC + c];
            }
        y[(oy * kW + ox) * kO + o] = std::max(acc, 0.f);
      }
  return y;
}

ir::Graph load(const std::vector<uint8_t>& b) { return import::load_tflite_bytes(b.data(), b.size(), "test.tflite"); }

std::string import_error(const std::vector<uint8_t>& b) {
  return error_of([&] { plan::build_plan(load(b)); });
}

}  // namespace

TEST(TfliteImport, ConvNhwcMatchesTfliteArithmetic) {
  ir::Graph g = load(build(conv_model()));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].shape, (Shape{1, kH, kW, kC}));  // the file's NHWC signature
  engine::Session s(plan::build_plan(g));
  std::vector<float> x(kH * kW * kC);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 5 % 11) - 5) * 0.3f;
  std::memcpy(s.input_data(0), x.data(), x.size() * 4);
  ASSERT_TRUE(s.run().ok());
  EXPECT_EQ(s.output(0).shape, (Shape{1, kH, kW, kO}));
  const float* y = static_cast<const float*>(s.output_data(0));
  const std::vector<float> want = reference_conv(x);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y[i], want[i], 1e-5) << "element " << i;
}

TEST(TfliteImport, FullyConnectedInt8IsOneIntegerStep) {
  // x int8 [1,4] (scale 0.5, zp 1) -> FULLY_CONNECTED (w int8 [2,4] scale 0.25, bias int32 scale 0.125)
  // -> y int8 [1,2] (scale 1, zp -3).
  ModelDef m;
  m.codes = {9};
  m.buffers = {bytes_of(std::vector<int8_t>{1, -2, 3, -4, 5, 6, -7, 8}), bytes_of(std::vector<int32_t>{8, -16})};
  m.tensors = {{"x", {1, 4}, 9, 0, {0.5f}, {1}},
               {"w", {2, 4}, 9, 1, {0.25f}, {0}},
               {"b", {2}, 2, 2, {0.125f}, {0}},
               {"y", {1, 2}, 9, 0, {1.f}, {-3}}};
  m.ops = {{0, {0, 1, 2}, {3}, 0, nullptr}};
  m.inputs = {0};
  m.outputs = {3};
  plan::Plan p = plan::build_plan(load(build(m)));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].op_type, "DequantizeLinear+Gemm+QuantizeLinear");
  engine::Session s(std::move(p));
  const int8_t x[4] = {3, -1, 7, 2};
  std::memcpy(s.input_data(0), x, 4);
  ASSERT_TRUE(s.run().ok());
  // By hand: real x = 0.5 * (x - 1) = {1, -1, 3, 0.5}; w real = 0.25 * w; b real = {1, -2}.
  // y0 = 0.25*(1*1 + -2*-1 + 3*3 + -4*0.5) + 1 = 0.25*10 + 1 = 3.5 -> round 4 (half away) - 3 = 1
  //   (TFLite rounds the fixed-point product half away from zero: 3.5 -> 4)
  // y1 = 0.25*(5*1 + 6*-1 + -7*3 + 8*0.5) - 2 = 0.25*-18 - 2 = -6.5 -> -7 - 3 = -10
  const int8_t* y = static_cast<const int8_t*>(s.output_data(0));
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[1], -10);
}

TEST(TfliteImport, EveryTruncationIsAnError) {
  const std::vector<uint8_t> full = build(conv_model());
  ASSERT_EQ(import_error(full), "(no error)");
  for (size_t n = 0; n < full.size(); ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + long(n));
    const std::string e = import_error(cut);
    EXPECT_NE(e, "(no error)") << "prefix of " << n << " bytes";
    EXPECT_EQ(e.rfind("test.tflite: ", 0), 0u) << e;
  }
}

TEST(TfliteImport, CorruptedBytesNeverCrash) {
  const std::vector<uint8_t> full = build(conv_model());
  int errors = 0;
  for (size_t i = 0; i < full.size(); ++i)
    for (uint8_t flip : {uint8_t(0xff), uint8_t(0x80), uint8_t(0x01)}) {
      std::vector<uint8_t> b = full;
      b[i] ^= flip;
      const std::string e = import_error(b);  // an error or a model: anything else fails the test
      if (e != "(no error)") {
        ++errors;
        EXPECT_EQ(e.rfind("test.tflite: ", 0), 0u) << e;
      }
    }
  EXPECT_GT(errors, 0);
}

TEST(TfliteImport, BadFilesNameWhatIsWrong) {
  std::vector<uint8_t> b = build(conv_model());
  b[3] = 0x7f;  // the root offset points past the end
  EXPECT_NE(import_error(b).find("truncated or corrupt"), std::string::npos) << import_error(b);

  b = build(conv_model());
  std::memcpy(b.data() + 4, "ONNX", 4);
  EXPECT_NE(import_error(b).find("no \"TFL3\" file identifier"), std::string::npos) << import_error(b);

  ModelDef m = conv_model();
  m.ops[0].inputs[1] = 99;
  EXPECT_NE(import_error(build(m)).find("tensor index 99 is out of range (the subgraph has 4 tensors)"), std::string::npos)
      << import_error(build(m));

  m = conv_model();
  m.buffers[0].resize(12);
  EXPECT_NE(import_error(build(m)).find("tensor 1 'w': buffer 1 has 12 bytes, shape 2x2x2x2 of float needs 64"),
            std::string::npos)
      << import_error(build(m));

  m = conv_model();
  m.tensors[1].buffer = 7;
  EXPECT_NE(import_error(build(m)).find("refers to buffer 7 of 3"), std::string::npos) << import_error(build(m));

  m = conv_model();
  m.ops[0].opcode = 4;
  EXPECT_NE(import_error(build(m)).find("opcode index 4 is out of range"), std::string::npos) << import_error(build(m));

  m = conv_model();
  m.codes = {5};  // DEPTH_TO_SPACE
  EXPECT_NE(import_error(build(m)).find("operator 0 (DEPTH_TO_SPACE): operator DEPTH_TO_SPACE is not supported"),
            std::string::npos)
      << import_error(build(m));

  m = conv_model();
  m.version = 2;
  EXPECT_NE(import_error(build(m)).find("schema version 2"), std::string::npos) << import_error(build(m));

  m = conv_model();
  m.ops.clear();  // the output is then written by nothing
  EXPECT_NE(import_error(build(m)).find("which no earlier operator writes"), std::string::npos) << import_error(build(m));
}

// Reports, tuning records and generated files name a zoo model after its folder.
TEST(ModelName, ZooFolderOrFileStem) {
  EXPECT_EQ(import::model_name("build/zoo/digits_cnn/model.onnx"), "digits_cnn");
  EXPECT_EQ(import::model_name("kws/model.tflite"), "kws");
  EXPECT_EQ(import::model_name("models/kws_ref_model.tflite"), "kws_ref_model");
  EXPECT_EQ(import::model_name("model.onnx"), "model");
  EXPECT_EQ(import::model_name("/model.onnx"), "model");
}
