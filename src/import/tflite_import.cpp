#include "import/tflite_import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/size.h"
#include "import/flatbuffer_reader.h"
#include "kernels/elementwise.h"

namespace rtml::import {

namespace {

using ir::kNoTensor;
using ir::TensorId;

// BuiltinOperator names by code (schema.fbs), for messages.
const char* const kOpNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
    "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
    "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN",
    "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU",
    "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT",
    "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
    "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
    "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY",
    "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU",
    "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND",
    "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND",
    "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",
    "BROADCAST_TO", "RFFT2D", "CONV_3D", "", "", "", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
    "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
    "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC", "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE", "STABLEHLO_ABS",
    "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL", "STABLEHLO_FLOOR", "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR", "STABLEHLO_POWER", "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT", "STABLEHLO_SELECT", "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE", "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW", "STABLEHLO_SORT",
    "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE", "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT", "STABLEHLO_CBRT", "STABLEHLO_CASE",
};

enum Builtin : int32_t {
  kAdd = 0, kAveragePool2d = 1, kConcatenation = 2, kConv2d = 3, kDepthwiseConv2d = 4, kDequantize = 6,
  kFullyConnected = 9, kLogistic = 14, kMaxPool2d = 17, kMul = 18, kRelu = 19, kReluN1To1 = 20, kRelu6 = 21,
  kReshape = 22, kSoftmax = 25, kTanh = 28, kPad = 34, kTranspose = 39, kMean = 40, kSqueeze = 43, kPadV2 = 60,
  kQuantize = 114,
};

std::string op_name(int32_t code) {
  constexpr int32_t n = int32_t(sizeof(kOpNames) / sizeof(kOpNames[0]));
  if (code >= 0 && code < n && kOpNames[code][0]) return kOpNames[code];
  return "builtin operator " + std::to_string(code);
}

// Field indices (vtable slot = 4 + 2 * index) of the tables read, from the
// schema's field order (a union takes two: its type, then its table).
namespace field {
constexpr int kModelVersion = 0, kModelOpcodes = 1, kModelSubgraphs = 2, kModelBuffers = 4;
constexpr int kOpcodeDeprecated = 0, kOpcodeCustom = 1, kOpcodeBuiltin = 3;
constexpr int kSubgraphTensors = 0, kSubgraphInputs = 1, kSubgraphOutputs = 2, kSubgraphOperators = 3;
constexpr int kTensorShape = 0, kTensorType = 1, kTensorBuffer = 2, kTensorName = 3, kTensorQuant = 4,
              kTensorVariable = 5, kTensorSparsity = 6;
constexpr int kQuantScale = 2, kQuantZeroPoint = 3, kQuantDim = 6;
constexpr int kOperatorOpcode = 0, kOperatorInputs = 1, kOperatorOutputs = 2, kOperatorOptionsType = 3,
              kOperatorOptions = 4;
constexpr int kBufferData = 0, kBufferOffset = 1;
}  // namespace field

// Option tables' union tags (BuiltinOptions) and their fields.
enum OptionsType : uint8_t {
  kConv2dOptions = 1, kDepthwiseOptions = 2, kPool2dOptions = 5, kFullyConnectedOptions = 8, kSoftmaxOptions = 9,
  kConcatenationOptions = 10, kAddOptions = 11, kReshapeOptions = 17, kMulOptions = 21, kReducerOptions = 27,
  kSqueezeOptions = 30,
};

DType tensor_type(int8_t t) {
  switch (t) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 2: return DType::I32;
    case 3: return DType::U8;
    case 4: return DType::I64;
    case 6: return DType::Bool;
    case 7: return DType::I16;
    case 9: return DType::I8;
    case 10: return DType::F64;
    default: return DType::Undefined;
  }
}

// One tensor of the file, as read and checked.
struct TfTensor {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
  std::vector<float> scale;       // empty: not quantized
  std::vector<int64_t> zero_point;
  int32_t quant_axis = 0;
  const uint8_t* data = nullptr;  // set for constants (inside the file's bytes)
  size_t bytes = 0;
  bool quantized() const { return !scale.empty(); }
  bool constant() const { return data != nullptr; }
  bool nchw() const { return shape.size() == 4; }  // held NCHW in the graph (constants too)
};

bool same_quantization(const TfTensor& a, const TfTensor& b) {
  return a.dtype == b.dtype && a.scale == b.scale && a.zero_point == b.zero_point;
}

// Which NHWC axis each NCHW axis holds, and the inverse.
constexpr int kNchwFromNhwc[4] = {0, 3, 1, 2};  // Transpose perm NHWC -> NCHW
constexpr int kNhwcFromNchw[4] = {0, 2, 3, 1};  // Transpose perm NCHW -> NHWC
// NHWC axis a sits at NCHW axis kNhwcFromNchw[a]; NCHW axis b at NHWC axis kNchwFromNhwc[b].

Shape permuted(const Shape& s, const int* perm) {
  Shape out(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = s[perm[i]];
  return out;
}

class Importer {
 public:
  Importer(const fb::Buffer& buf, const ImportOptions& options) : buf_(buf), options_(options) {}
  ir::Graph run();

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& msg) const { buf_.fail(what, msg); }
  [[noreturn]] void op_fail(const std::string& msg) const { fail(op_what_, msg); }

  void read_buffers(const fb::Table& model);
  void read_tensors(const fb::Table& subgraph);
  int tensor_index(const fb::Vector& v, uint32_t i, bool optional);
  void import_operator(const fb::Table& op);

  // --- graph building ---
  std::string temp_name(const std::string& base, const char* what) {
    return base + "/" + what + "#" + std::to_string(++temp_counter_);
  }
  TensorId add_constant(const std::string& name, DType dtype, const Shape& shape, const void* data, size_t bytes);
  TensorId i64_constant(const std::string& name, const std::vector<int64_t>& v, bool scalar = false);
  TensorId f32_constant(const std::string& name, const std::vector<float>& v, bool scalar = false);
  TensorId add_node(const std::string& op_type, std::vector<TensorId> inputs, const std::string& out_name,
                    std::map<std::string, ir::Attribute> attrs = {});
  static ir::Attribute ints(std::vector<int64_t> v) {
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
  }
  static ir::Attribute int1(int64_t v) {
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::Int;
    a.i = v;
    return a;
  }

  // --- values of the file's tensors ---
  TensorId stored(int t);    // the tensor as held (integers when quantized; 4-D ones NCHW)
  TensorId as_float(int t);  // DequantizeLinear'd when quantized
  TensorId constant(int t);  // a constant as held
  TensorId permuted_constant(int t, const int* perm, const Shape* reshape = nullptr);
  TensorId dequantized(int t, TensorId values, int axis);
  TensorId weights(int t, const int* perm);  // a constant, permuted, dequantized (the planner folds it)
  TensorId float_operand_4d(int t);  // an ADD/MUL operand broadcast against a 4-D NCHW tensor
  TensorId to_nhwc(TensorId x, const Shape& nhwc, const std::string& name);
  TensorId to_nchw(TensorId x, const Shape& nhwc, const std::string& name);
  TensorId activation(TensorId y, int32_t fused, const std::string& base);
  // Ends an op: the fused activation, then QuantizeLinear when `t` is quantized.
  TensorId finish(int t, TensorId y, int32_t fused = 0);
  void bind(int t, TensorId id);

  // --- operators ---
  void conv(bool depthwise, const fb::Table& opts);
  void pool(const char* op_type, const fb::Table& opts);
  void fully_connected(const fb::Table& opts);
  void binary(const char* op_type, const fb::Table& opts);
  void unary(const char* op_type);
  void reshape();
  void concatenation(const fb::Table& opts);
  void pad(bool v2);
  void mean(const fb::Table& opts);
  void transpose();
  void softmax(const fb::Table& opts);
  void quantize();
  void dequantize();
  std::vector<int64_t> int_constant(int t, const char* what);
  std::vector<int64_t> same_pads(int in_h, int in_w, int64_t kh, int64_t kw, int sh, int sw, int dh, int dw);

  const fb::Buffer& buf_;
  const ImportOptions& options_;
  ir::Graph g_;
  std::vector<std::pair<const uint8_t*, size_t>> buffers_;
  std::vector<std::pair<int32_t, std::string>> codes_;  // builtin code, custom code
  std::vector<TfTensor> tt_;
  std::deque<std::vector<uint8_t>> owned_;  // constants made at import (dequantized weights)
  std::vector<TensorId> value_, float_value_, constant_value_;
  std::set<std::string> node_names_;
  uint64_t memory_used_ = 0;
  int temp_counter_ = 0;
  // The operator being imported.
  std::string op_what_;
  std::vector<int> in_, out_;
};

// ---------------------------------------------------------------- reading

void Importer::read_buffers(const fb::Table& model) {
  fb::Vector v = model.vector(field::kModelBuffers, 4, "buffers");
  buffers_.resize(v.count);
  for (uint32_t i = 0; i < v.count; ++i) {
    const std::string what = "buffer " + std::to_string(i);
    fb::Table b = fb::Table::element(v, i, what);
    if (b.scalar<uint64_t>(field::kBufferOffset, 0) > 1)
      fail(what, "holds its data outside the flatbuffer (a model over 2 GB); rtml does not read those");
    fb::Vector data = b.vector(field::kBufferData, 1, "data");
    buffers_[i] = {data.count ? buf_.at(data.pos) : nullptr, data.count};
  }
}

void Importer::read_tensors(const fb::Table& subgraph) {
  fb::Vector v = subgraph.vector(field::kSubgraphTensors, 4, "tensors");
  tt_.resize(v.count);
  for (uint32_t i = 0; i < v.count; ++i) {
    fb::Table t = fb::Table::element(v, i, subgraph.what() + ": tensor " + std::to_string(i));
    TfTensor& x = tt_[i];
    x.name = t.string(field::kTensorName, "name");
    if (x.name.empty()) x.name = "tensor_" + std::to_string(i);
    const std::string what = subgraph.what() + ": tensor " + std::to_string(i) + " '" + x.name + "'";
    const int8_t type = t.scalar<int8_t>(field::kTensorType, 0);
    x.dtype = tensor_type(type);
    fb::Vector shape = t.vector(field::kTensorShape, 4, "shape");
    if (shape.count > 8) fail(what, "has rank " + std::to_string(shape.count) + "; rtml reads up to 8");
    for (uint32_t d = 0; d < shape.count; ++d) {
      const int32_t dim = shape.get<int32_t>(d);
      if (dim < 0) fail(what, "has a negative dimension " + std::to_string(dim));
      x.shape.push_back(dim);
    }
    if (t.has(field::kTensorSparsity)) fail(what, "is sparse; rtml reads dense tensors only");
    const uint32_t b = t.scalar<uint32_t>(field::kTensorBuffer, 0);
    if (b >= buffers_.size() && !(b == 0 && buffers_.empty()))
      fail(what, "refers to buffer " + std::to_string(b) + " of " + std::to_string(buffers_.size()));
    if (b < buffers_.size() && buffers_[b].second != 0) {
      if (x.dtype == DType::Undefined) fail(what, "has element type " + std::to_string(type) + ", which rtml does not read");
      if (t.scalar<uint8_t>(field::kTensorVariable, 0)) fail(what, "is a variable with initial data; rtml reads no variables");
      const std::optional<int64_t> need = checked_bytes(x.shape, x.dtype);
      if (!need) fail(what, "shape " + shape_str(x.shape) + " is too large");
      if (uint64_t(*need) != buffers_[b].second)
        fail(what, "buffer " + std::to_string(b) + " has " + std::to_string(buffers_[b].second) + " bytes, shape " +
                       shape_str(x.shape) + " of " + dtype_name(x.dtype) + " needs " + std::to_string(*need));
      x.data = buffers_[b].first;
      x.bytes = buffers_[b].second;
    }
    fb::Table q = t.table(field::kTensorQuant, "quantization");
    if (q.valid()) {
      fb::Vector scale = q.vector(field::kQuantScale, 4, "scale");
      fb::Vector zp = q.vector(field::kQuantZeroPoint, 8, "zero_point");
      for (uint32_t k = 0; k < scale.count; ++k) x.scale.push_back(scale.get<float>(k));
      for (uint32_t k = 0; k < zp.count; ++k) x.zero_point.push_back(zp.get<int64_t>(k));
      x.quant_axis = q.scalar<int32_t>(field::kQuantDim, 0);
      if (dtype_is_float(x.dtype)) x.scale.clear();  // scales on a float tensor say nothing
      if (!x.scale.empty()) {
        if (x.dtype != DType::I8 && x.dtype != DType::U8 && x.dtype != DType::I32 && x.dtype != DType::I16)
          fail(what, std::string("is quantized but of type ") + dtype_name(x.dtype));
        if (x.zero_point.empty()) x.zero_point.assign(x.scale.size(), 0);
        if (x.zero_point.size() != x.scale.size())
          fail(what, "has " + std::to_string(x.scale.size()) + " scales but " + std::to_string(x.zero_point.size()) +
                         " zero points");
        const int64_t lo = x.dtype == DType::I8 ? -128 : x.dtype == DType::U8 ? 0 : x.dtype == DType::I16 ? -32768 : INT32_MIN;
        const int64_t hi = x.dtype == DType::I8 ? 127 : x.dtype == DType::U8 ? 255 : x.dtype == DType::I16 ? 32767 : INT32_MAX;
        for (int64_t z : x.zero_point)
          if (z < lo || z > hi) fail(what, "has a zero point " + std::to_string(z) + " outside " + dtype_name(x.dtype));
        for (float s : x.scale)
          if (!(s > 0) || !std::isfinite(s)) fail(what, "has a quantization scale " + std::to_string(s) + " that is not positive");
        if (x.scale.size() > 1 &&
            (x.quant_axis < 0 || size_t(x.quant_axis) >= x.shape.size() || x.shape[x.quant_axis] != int64_t(x.scale.size())))
          fail(what, "has " + std::to_string(x.scale.size()) + " scales along axis " + std::to_string(x.quant_axis) +
                         " of shape " + shape_str(x.shape));
      }
    }
    if (x.constant()) {
      memory_used_ += x.bytes;
      check_memory(memory_used_, options_.max_memory_bytes, buf_.file() + ": " + what + " (with the tensors before it)");
    }
  }
}

int Importer::tensor_index(const fb::Vector& v, uint32_t i, bool optional) {
  const int32_t t = v.get<int32_t>(i);
  if (t == -1 && optional) return -1;
  if (t < 0 || size_t(t) >= tt_.size())
    fail(v.what, "tensor index " + std::to_string(t) + " is out of range (the subgraph has " +
                     std::to_string(tt_.size()) + " tensors)");
  return t;
}

// ---------------------------------------------------------------- building

TensorId Importer::add_constant(const std::string& name, DType dtype, const Shape& shape, const void* data,
                                size_t bytes) {
  memory_used_ += bytes;
  check_memory(memory_used_, options_.max_memory_bytes, buf_.file() + ": constant '" + name + "'");
  auto b = std::make_shared<ir::Buffer>(bytes);
  if (bytes) std::memcpy(b->data(), data, bytes);
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.data = std::move(b);
  return g_.add_tensor(std::move(t));
}

TensorId Importer::i64_constant(const std::string& name, const std::vector<int64_t>& v, bool scalar) {
  return add_constant(name, DType::I64, scalar ? Shape{} : Shape{int64_t(v.size())}, v.data(), v.size() * 8);
}

TensorId Importer::f32_constant(const std::string& name, const std::vector<float>& v, bool scalar) {
  return add_constant(name, DType::F32, scalar ? Shape{} : Shape{int64_t(v.size())}, v.data(), v.size() * 4);
}

TensorId Importer::add_node(const std::string& op_type, std::vector<TensorId> inputs, const std::string& out_name,
                            std::map<std::string, ir::Attribute> attrs) {
  ir::Node n;
  n.op_type = op_type;
  n.name = out_name;
  if (!node_names_.insert(n.name).second) {
    n.name += "#" + std::to_string(++temp_counter_);
    node_names_.insert(n.name);
  }
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  ir::Tensor t;
  t.name = out_name;
  const TensorId out = g_.add_tensor(std::move(t));
  n.outputs = {out};
  g_.nodes.push_back(std::move(n));
  return out;
}

TensorId Importer::constant(int t) {
  const TfTensor& x = tt_[t];
  if (constant_value_[t] == kNoTensor)
    constant_value_[t] = x.nchw() ? permuted_constant(t, kNchwFromNhwc)
                                  : add_constant(x.name, x.dtype, x.shape, x.data, x.bytes);
  return constant_value_[t];
}

// A constant's data permuted by `perm` (rank 4) after an optional reshape to
// `reshape` (same count: a rank change by leading 1s).
TensorId Importer::permuted_constant(int t, const int* perm, const Shape* reshape) {
  const TfTensor& x = tt_[t];
  const Shape in = reshape ? *reshape : x.shape;
  const Shape out = permuted(in, perm);
  const size_t es = dtype_size(x.dtype);
  std::vector<uint8_t> bytes(x.bytes);
  int64_t in_stride[4], idx[4];
  in_stride[3] = 1;
  for (int d = 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * in[d + 1];
  size_t o = 0;
  for (idx[0] = 0; idx[0] < out[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < out[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < out[2]; ++idx[2])
        for (idx[3] = 0; idx[3] < out[3]; ++idx[3], o += es) {
          int64_t src = 0;
          for (int d = 0; d < 4; ++d) src += idx[d] * in_stride[perm[d]];
          std::memcpy(bytes.data() + o, x.data + size_t(src) * es, es);
        }
  return add_constant(temp_name(x.name, "permuted"), x.dtype, out, bytes.data(), bytes.size());
}

TensorId Importer::dequantized(int t, TensorId values, int axis) {
  const TfTensor& x = tt_[t];
  const bool scalar = x.scale.size() == 1;
  std::vector<uint8_t> zp(x.zero_point.size() * dtype_size(x.dtype));
  for (size_t k = 0; k < x.zero_point.size(); ++k) {
    const int64_t z = x.zero_point[k];
    if (x.dtype == DType::I8) reinterpret_cast<int8_t*>(zp.data())[k] = int8_t(z);
    else if (x.dtype == DType::U8) zp[k] = uint8_t(z);
    else if (x.dtype == DType::I16) reinterpret_cast<int16_t*>(zp.data())[k] = int16_t(z);
    else reinterpret_cast<int32_t*>(zp.data())[k] = int32_t(z);
  }
  const TensorId s = f32_constant(temp_name(x.name, "scale"), x.scale, scalar);
  const TensorId z = add_constant(temp_name(x.name, "zero_point"), x.dtype,
                                  scalar ? Shape{} : Shape{int64_t(x.zero_point.size())}, zp.data(), zp.size());
  std::map<std::string, ir::Attribute> attrs;
  if (!scalar) attrs["axis"] = int1(axis);
  return add_node("DequantizeLinear", {values, s, z}, temp_name(x.name, "dequantized"), attrs);
}

TensorId Importer::stored(int t) {
  if (tt_[t].constant()) return constant(t);
  if (value_[t] == kNoTensor)
    op_fail("reads tensor " + std::to_string(t) + " '" + tt_[t].name +
            "', which no earlier operator writes and which is not a graph input");
  return value_[t];
}

TensorId Importer::as_float(int t) {
  const TfTensor& x = tt_[t];
  if (x.dtype == DType::F32) return stored(t);
  if (float_value_[t] != kNoTensor) return float_value_[t];
  if (x.quantized()) {
    float_value_[t] = dequantized(t, stored(t), x.scale.size() > 1 && x.nchw() ? kNhwcFromNchw[x.quant_axis] : x.quant_axis);
  } else if (x.dtype == DType::F16) {
    float_value_[t] = add_node("Cast", {stored(t)}, temp_name(x.name, "float"), {{"to", int1(int64_t(DType::F32))}});
  } else {
    op_fail("tensor " + std::to_string(t) + " '" + x.name + "' is " + dtype_name(x.dtype) +
            " without quantization; expected float32 or a quantized tensor");
  }
  return float_value_[t];
}

TensorId Importer::weights(int t, const int* perm) {
  const TfTensor& w = tt_[t];
  if (!w.constant()) op_fail("weights tensor " + std::to_string(t) + " '" + w.name + "' is not a constant");
  if (w.shape.size() != 4) op_fail("weights '" + w.name + "' have shape " + shape_str(w.shape) + ", expected 4-D");
  const TensorId raw = permuted_constant(t, perm);
  if (w.dtype == DType::F32) return raw;
  if (!w.quantized()) op_fail("weights '" + w.name + "' are " + dtype_name(w.dtype) + " without quantization");
  int axis = 0;
  for (int d = 0; d < 4; ++d)
    if (perm[d] == w.quant_axis) axis = d;
  return dequantized(t, raw, axis);
}

TensorId Importer::to_nhwc(TensorId x, const Shape& nhwc, const std::string& name) {
  if (nhwc[3] == 1 || nhwc[1] * nhwc[2] == 1)  // the same bytes in either order
    return add_node("Reshape", {x, i64_constant(temp_name(name, "shape"), nhwc)}, name);
  return add_node("Transpose", {x}, name, {{"perm", ints({0, 2, 3, 1})}});
}

TensorId Importer::to_nchw(TensorId x, const Shape& nhwc, const std::string& name) {
  if (nhwc[3] == 1 || nhwc[1] * nhwc[2] == 1)
    return add_node("Reshape", {x, i64_constant(temp_name(name, "shape"), permuted(nhwc, kNchwFromNhwc))}, name);
  return add_node("Transpose", {x}, name, {{"perm", ints({0, 3, 1, 2})}});
}

TensorId Importer::activation(TensorId y, int32_t fused, const std::string& base) {
  auto clip = [&](float lo, float hi) {
    return add_node("Clip", {y, f32_constant(temp_name(base, "min"), {lo}, true), f32_constant(temp_name(base, "max"), {hi}, true)},
                    temp_name(base, "clip"));
  };
  switch (fused) {
    case 0: return y;
    case 1: return add_node("Relu", {y}, temp_name(base, "relu"));
    case 2: return clip(-1.f, 1.f);
    case 3: return clip(0.f, 6.f);
    case 4: return add_node("Tanh", {y}, temp_name(base, "tanh"));
    default: op_fail("fused activation " + std::to_string(fused) + " is not supported");
  }
}

TensorId Importer::finish(int t, TensorId y, int32_t fused) {
  const TfTensor& x = tt_[t];
  y = activation(y, fused, x.name);
  if (!x.quantized()) {
    if (x.dtype != DType::F32) op_fail("output '" + x.name + "' is " + dtype_name(x.dtype) + "; expected float32 or quantized");
    return y;
  }
  if (x.scale.size() != 1) op_fail("output '" + x.name + "' is quantized per channel; expected one scale");
  if (x.dtype != DType::I8 && x.dtype != DType::U8) op_fail(std::string("output '") + x.name + "' is quantized " + dtype_name(x.dtype));
  const TensorId s = f32_constant(temp_name(x.name, "scale"), x.scale, true);
  const int64_t zp64 = x.zero_point[0];
  const int8_t zp8 = int8_t(zp64);
  const uint8_t zpu = uint8_t(zp64);
  const TensorId z = add_constant(temp_name(x.name, "zero_point"), x.dtype, {}, x.dtype == DType::I8 ? (const void*)&zp8 : &zpu, 1);
  return add_node("QuantizeLinear", {y, s, z}, temp_name(x.name, "quantized"));
}

// `id` is the value of the file's tensor `t` from here on; it takes the file's name.
void Importer::bind(int t, TensorId id) {
  if (tt_[t].constant()) op_fail("writes tensor " + std::to_string(t) + " '" + tt_[t].name + "', which is a constant");
  if (value_[t] != kNoTensor) op_fail("writes tensor " + std::to_string(t) + " '" + tt_[t].name + "' a second time");
  g_.tensors[id].name = tt_[t].name;
  value_[t] = id;
}

// ---------------------------------------------------------------- operators

std::vector<int64_t> Importer::int_constant(int t, const char* what) {
  const TfTensor& x = tt_[t];
  if (!x.constant()) op_fail(std::string(what) + " tensor '" + x.name + "' is not a constant");
  std::vector<int64_t> v(size_t(shape_numel(x.shape)));
  for (size_t i = 0; i < v.size(); ++i) {
    if (x.dtype == DType::I32) {
      int32_t e;
      std::memcpy(&e, x.data + i * 4, 4);
      v[i] = e;
    } else if (x.dtype == DType::I64) {
      std::memcpy(&v[i], x.data + i * 8, 8);
    } else {
      op_fail(std::string(what) + " tensor '" + x.name + "' is " + dtype_name(x.dtype) + "; expected int32 or int64");
    }
  }
  return v;
}

// TFLite's SAME padding: the output is ceil(in / stride); the odd pad goes
// at the end. ONNX order: [top, left, bottom, right].
std::vector<int64_t> Importer::same_pads(int in_h, int in_w, int64_t kh, int64_t kw, int sh, int sw, int dh, int dw) {
  auto total = [](int64_t in, int64_t k, int64_t s, int64_t d) {
    const int64_t out = (in + s - 1) / s;
    return std::max<int64_t>((out - 1) * s + (k - 1) * d + 1 - in, 0);
  };
  const int64_t th = total(in_h, kh, sh, dh), tw = total(in_w, kw, sw, dw);
  return {th / 2, tw / 2, th - th / 2, tw - tw / 2};
}

namespace opt {
// Conv2DOptions, DepthwiseConv2DOptions, Pool2DOptions share the first three fields.
constexpr int kPadding = 0, kStrideW = 1, kStrideH = 2;
}  // namespace opt

void Importer::conv(bool depthwise, const fb::Table& o) {
  if (in_.size() < 2 || in_[0] < 0 || in_[1] < 0) op_fail("expects an input and weights");
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& w = tt_[in_[1]];
  if (x.shape.size() != 4) op_fail("input '" + x.name + "' has shape " + shape_str(x.shape) + ", expected 4-D NHWC");
  if (w.shape.size() != 4) op_fail("weights '" + w.name + "' have shape " + shape_str(w.shape) + ", expected 4-D");
  const int sw = o.scalar<int32_t>(opt::kStrideW, 1), sh = o.scalar<int32_t>(opt::kStrideH, 1);
  const int fused = o.scalar<int8_t>(depthwise ? 4 : 3, 0);
  const int dw = o.scalar<int32_t>(depthwise ? 5 : 4, 1), dh = o.scalar<int32_t>(depthwise ? 6 : 5, 1);
  if (sw < 1 || sh < 1 || dw < 1 || dh < 1) op_fail("strides and dilations must be positive");
  const int64_t c_in = x.shape[3];
  int64_t group = 1;
  // OIHW: conv weights are [O, kh, kw, I]; depthwise [1, kh, kw, C * multiplier].
  static constexpr int kConvPerm[4] = {0, 3, 1, 2};
  static constexpr int kDepthwisePerm[4] = {3, 0, 1, 2};
  if (depthwise) {
    if (w.shape[0] != 1 || c_in <= 0 || w.shape[3] % c_in != 0)
      op_fail("depthwise weights " + shape_str(w.shape) + " do not fit input channels " + std::to_string(c_in));
    group = c_in;
  } else {
    if (w.shape[3] <= 0 || c_in % w.shape[3] != 0)
      op_fail("weights " + shape_str(w.shape) + " do not fit input channels " + std::to_string(c_in));
    group = c_in / w.shape[3];
  }
  const int64_t kh = w.shape[1], kw = w.shape[2];
  std::vector<int64_t> pads = {0, 0, 0, 0};
  if (o.scalar<int8_t>(opt::kPadding, 0) == 0) pads = same_pads(int(x.shape[1]), int(x.shape[2]), kh, kw, sh, sw, dh, dw);
  std::vector<TensorId> inputs = {as_float(in_[0]), weights(in_[1], depthwise ? kDepthwisePerm : kConvPerm)};
  if (in_.size() > 2 && in_[2] >= 0) inputs.push_back(as_float(in_[2]));
  const TfTensor& y = tt_[out_[0]];
  const TensorId r = add_node("Conv", inputs, temp_name(y.name, "conv"),
                              {{"kernel_shape", ints({kh, kw})}, {"strides", ints({sh, sw})},
                               {"dilations", ints({dh, dw})}, {"pads", ints(pads)}, {"group", int1(group)}});
  bind(out_[0], finish(out_[0], r, fused));
}

void Importer::pool(const char* op_type, const fb::Table& o) {
  const TfTensor& x = tt_[in_[0]];
  if (x.shape.size() != 4) op_fail("input '" + x.name + "' has shape " + shape_str(x.shape) + ", expected 4-D NHWC");
  const int sw = o.scalar<int32_t>(opt::kStrideW, 1), sh = o.scalar<int32_t>(opt::kStrideH, 1);
  const int fw = o.scalar<int32_t>(3, 1), fh = o.scalar<int32_t>(4, 1);
  const int fused = o.scalar<int8_t>(5, 0);
  if (sw < 1 || sh < 1 || fw < 1 || fh < 1) op_fail("filter sizes and strides must be positive");
  std::vector<int64_t> pads = {0, 0, 0, 0};
  if (o.scalar<int8_t>(opt::kPadding, 0) == 0) pads = same_pads(int(x.shape[1]), int(x.shape[2]), fh, fw, sh, sw, 1, 1);
  const TensorId r = add_node(op_type, {as_float(in_[0])}, temp_name(tt_[out_[0]].name, op_type),
                              {{"kernel_shape", ints({fh, fw})}, {"strides", ints({sh, sw})}, {"pads", ints(pads)}});
  bind(out_[0], finish(out_[0], r, fused));
}

void Importer::fully_connected(const fb::Table& o) {
  if (in_.size() < 2 || in_[0] < 0 || in_[1] < 0) op_fail("expects an input and weights");
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& w = tt_[in_[1]];
  const TfTensor& y = tt_[out_[0]];
  if (o.scalar<int8_t>(1, 0) != 0) op_fail("shuffled weights are not supported");
  if (w.shape.size() != 2 || w.shape[1] <= 0) op_fail("weights '" + w.name + "' have shape " + shape_str(w.shape) + ", expected [out, in]");
  const int64_t n_in = w.shape[1];
  const int64_t numel = shape_numel(x.shape);
  if (numel % n_in != 0) op_fail("input " + shape_str(x.shape) + " does not divide into rows of " + std::to_string(n_in));
  TensorId a = as_float(in_[0]);
  if (x.nchw()) a = to_nhwc(a, x.shape, temp_name(x.name, "nhwc"));
  if (x.shape.size() != 2 || x.nchw())
    a = add_node("Reshape", {a, i64_constant(temp_name(x.name, "shape"), {numel / n_in, n_in})}, temp_name(x.name, "rows"));
  TensorId wt;
  if (w.dtype == DType::F32) {
    wt = stored(in_[1]);
  } else {
    if (!w.quantized()) op_fail("weights '" + w.name + "' are " + dtype_name(w.dtype) + " without quantization");
    wt = dequantized(in_[1], stored(in_[1]), 0);
  }
  std::vector<TensorId> inputs = {a, wt};
  if (in_.size() > 2 && in_[2] >= 0) inputs.push_back(as_float(in_[2]));
  TensorId r = add_node("Gemm", inputs, temp_name(y.name, "fully_connected"), {{"transB", int1(1)}});
  r = finish(out_[0], r, o.scalar<int8_t>(0, 0));
  if (y.shape.size() != 2) {  // keep_num_dims
    if (y.shape.size() == 4) op_fail("a 4-D output is not supported");
    r = add_node("Reshape", {r, i64_constant(temp_name(y.name, "shape"), y.shape)}, temp_name(y.name, "reshaped"));
  }
  bind(out_[0], r);
}

// An ADD/MUL operand as a 4-D NCHW float tensor (numpy broadcasting: rank
// padded with leading 1s).
TensorId Importer::float_operand_4d(int t) {
  const TfTensor& x = tt_[t];
  if (x.nchw()) return as_float(t);
  if (x.shape.size() > 4) op_fail("operand '" + x.name + "' has rank " + std::to_string(x.shape.size()));
  Shape nhwc(4 - x.shape.size(), 1);
  nhwc.insert(nhwc.end(), x.shape.begin(), x.shape.end());
  if (x.constant()) {
    if (x.scale.size() > 1) op_fail("per-channel quantized operand '" + x.name + "' is not supported");
    const TensorId raw = permuted_constant(t, kNchwFromNhwc, &nhwc);
    if (x.quantized()) return dequantized(t, raw, 0);
    if (x.dtype != DType::F32) op_fail("operand '" + x.name + "' is " + dtype_name(x.dtype));
    return raw;
  }
  const TensorId r = add_node("Reshape", {as_float(t), i64_constant(temp_name(x.name, "shape"), nhwc)}, temp_name(x.name, "4d"));
  return to_nchw(r, nhwc, temp_name(x.name, "nchw"));
}

void Importer::binary(const char* op_type, const fb::Table& o) {
  if (in_.size() != 2 || in_[0] < 0 || in_[1] < 0) op_fail("expects two inputs");
  const bool four_d = tt_[out_[0]].shape.size() == 4;
  TensorId a = four_d ? float_operand_4d(in_[0]) : as_float(in_[0]);
  TensorId b = four_d ? float_operand_4d(in_[1]) : as_float(in_[1]);
  const TensorId r = add_node(op_type, {a, b}, temp_name(tt_[out_[0]].name, op_type));
  bind(out_[0], finish(out_[0], r, o.scalar<int8_t>(0, 0)));
}

void Importer::unary(const char* op_type) {
  bind(out_[0], finish(out_[0], add_node(op_type, {as_float(in_[0])}, temp_name(tt_[out_[0]].name, op_type))));
}

// RESHAPE and SQUEEZE: the output tensor's shape in the file is the target.
void Importer::reshape() {
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& y = tt_[out_[0]];
  if (shape_numel(x.shape) != shape_numel(y.shape))
    op_fail("output shape " + shape_str(y.shape) + " holds a different count than input " + shape_str(x.shape));
  const bool integers = same_quantization(x, y);
  TensorId r = integers ? stored(in_[0]) : as_float(in_[0]);
  if (x.nchw()) r = to_nhwc(r, x.shape, temp_name(x.name, "nhwc"));
  r = add_node("Reshape", {r, i64_constant(temp_name(y.name, "shape"), y.shape)}, temp_name(y.name, "reshaped"));
  if (!integers) r = finish(out_[0], r);
  if (y.shape.size() == 4) r = to_nchw(r, y.shape, temp_name(y.name, "nchw"));
  bind(out_[0], r);
}

void Importer::transpose() {
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& y = tt_[out_[0]];
  std::vector<int64_t> perm = int_constant(in_[1], "perm");
  if (perm.size() != x.shape.size()) op_fail("perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(x.shape.size()));
  for (int64_t p : perm)
    if (p < 0 || p >= int64_t(perm.size())) op_fail("perm entry " + std::to_string(p) + " is out of range");
  if (perm.size() == 4) {  // in NCHW terms: NCHW -> NHWC, the file's perm, NHWC -> NCHW
    std::vector<int64_t> p(4);
    for (int i = 0; i < 4; ++i) p[i] = kNhwcFromNchw[perm[kNchwFromNhwc[i]]];
    perm = p;
  }
  const bool integers = same_quantization(x, y);
  TensorId r = add_node("Transpose", {integers ? stored(in_[0]) : as_float(in_[0])}, temp_name(y.name, "transposed"),
                        {{"perm", ints(perm)}});
  bind(out_[0], integers ? r : finish(out_[0], r));
}

void Importer::concatenation(const fb::Table& o) {
  const TfTensor& y = tt_[out_[0]];
  const int64_t rank = int64_t(y.shape.size());
  int64_t axis = o.scalar<int32_t>(0, 0);
  const int fused = o.scalar<int8_t>(1, 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) op_fail("axis " + std::to_string(o.scalar<int32_t>(0, 0)) + " is out of range for rank " + std::to_string(rank));
  if (rank == 4) axis = kNhwcFromNchw[axis];
  bool integers = fused == 0;
  for (int t : in_) {
    if (t < 0) op_fail("an input is missing");
    if (tt_[t].shape.size() != size_t(rank)) op_fail("input '" + tt_[t].name + "' has a different rank than the output");
    integers = integers && same_quantization(tt_[t], y);
  }
  std::vector<TensorId> inputs;
  for (int t : in_) inputs.push_back(integers ? stored(t) : (rank == 4 ? float_operand_4d(t) : as_float(t)));
  const TensorId r = add_node("Concat", inputs, temp_name(y.name, "concat"), {{"axis", int1(axis)}});
  bind(out_[0], integers ? r : finish(out_[0], r, fused));
}

void Importer::pad(bool v2) {
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& y = tt_[out_[0]];
  if (in_.size() < 2 || in_[1] < 0) op_fail("expects paddings");
  const std::vector<int64_t> p = int_constant(in_[1], "paddings");
  const size_t rank = x.shape.size();
  if (p.size() != 2 * rank) op_fail("paddings hold " + std::to_string(p.size()) + " values for rank " + std::to_string(rank));
  std::vector<int64_t> pads(2 * rank);
  for (size_t d = 0; d < rank; ++d) {
    const size_t to = rank == 4 ? size_t(kNhwcFromNchw[d]) : d;
    pads[to] = p[2 * d];
    pads[rank + to] = p[2 * d + 1];
  }
  // int8/uint8 pad on the integers with the zero point (the value 0) as the pad value.
  const bool integers = x.quantized() && (x.dtype == DType::I8 || x.dtype == DType::U8) && same_quantization(x, y);
  const TensorId data = integers ? stored(in_[0]) : as_float(in_[0]);
  std::vector<TensorId> inputs = {data, i64_constant(temp_name(y.name, "pads"), pads)};
  if (v2 && in_.size() > 2 && in_[2] >= 0) {
    const TfTensor& v = tt_[in_[2]];
    if (!v.constant() || shape_numel(v.shape) != 1) op_fail("the constant value must be a constant scalar");
    inputs.push_back(integers ? stored(in_[2]) : as_float(in_[2]));
    if (integers && !same_quantization(v, x)) op_fail("the constant value is quantized differently from the input");
    // A 1-element tensor of any rank: the Pad op wants a scalar.
    inputs.back() = add_node("Reshape", {inputs.back(), i64_constant(temp_name(y.name, "scalar"), {})}, temp_name(y.name, "value"));
  } else if (integers) {
    const int8_t z8 = int8_t(x.zero_point[0]);
    inputs.push_back(add_constant(temp_name(y.name, "value"), x.dtype, {}, &z8, 1));
  }
  const TensorId r = add_node("Pad", inputs, temp_name(y.name, "pad"));
  bind(out_[0], integers ? r : finish(out_[0], r));
}

void Importer::mean(const fb::Table& o) {
  const TfTensor& x = tt_[in_[0]];
  const TfTensor& y = tt_[out_[0]];
  std::vector<int64_t> axes = int_constant(in_[1], "axes");
  const int64_t rank = int64_t(x.shape.size());
  const bool keep = o.scalar<uint8_t>(0, 0) != 0;
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) op_fail("axis out of range for rank " + std::to_string(rank));
    if (rank == 4) a = kNhwcFromNchw[a];
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  // A 4-D input reduces with keepdims in NCHW, then takes the file's output shape.
  const bool via_4d = x.nchw();
  TensorId r = add_node("ReduceMean", {as_float(in_[0])}, temp_name(y.name, "mean"),
                        {{"axes", ints(axes)}, {"keepdims", int1(via_4d || keep ? 1 : 0)}});
  r = finish(out_[0], r);
  if (via_4d && !keep) {
    Shape kept_nhwc = x.shape;
    for (int64_t a : axes) kept_nhwc[size_t(kNchwFromNhwc[a])] = 1;
    r = to_nhwc(r, kept_nhwc, temp_name(y.name, "nhwc"));
    r = add_node("Reshape", {r, i64_constant(temp_name(y.name, "shape"), y.shape)}, temp_name(y.name, "reshaped"));
  }
  bind(out_[0], r);
}

void Importer::softmax(const fb::Table& o) {
  const TfTensor& y = tt_[out_[0]];
  const float beta = o.scalar<float>(0, 1.f);
  TensorId x = as_float(in_[0]);
  if (beta != 1.f) x = add_node("Mul", {x, f32_constant(temp_name(y.name, "beta"), {beta}, true)}, temp_name(y.name, "scaled"));
  const TensorId r = add_node("Softmax", {x}, temp_name(y.name, "softmax"), {{"axis", int1(tt_[in_[0]].nchw() ? 1 : -1)}});
  bind(out_[0], finish(out_[0], r));
}

void Importer::quantize() {
  if (!tt_[out_[0]].quantized()) op_fail("output '" + tt_[out_[0]].name + "' has no quantization parameters");
  bind(out_[0], finish(out_[0], as_float(in_[0])));
}

void Importer::dequantize() {
  const TfTensor& x = tt_[in_[0]];
  TfTensor& y = tt_[out_[0]];
  if (y.dtype != DType::F32) op_fail("output '" + y.name + "' is not float32");
  if (!x.constant()) {
    // A fresh node: as_float's result may be read elsewhere under its own name.
    bind(out_[0], add_node("Identity", {as_float(in_[0])}, temp_name(y.name, "dequantized")));
    return;
  }
  // Constant weights of a float model: dequantized here, once; the output is
  // a float constant from now on (readers see it like any other).
  if (shape_numel(x.shape) != shape_numel(y.shape)) op_fail("output shape differs from the input's");
  const int64_t n = shape_numel(x.shape);
  if (!x.quantized() && x.dtype != DType::F16) op_fail("input '" + x.name + "' is neither quantized nor float16");
  int64_t inner = 1, channels = 1;
  if (x.scale.size() > 1) {
    channels = x.shape[size_t(x.quant_axis)];
    for (size_t d = size_t(x.quant_axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  }
  memory_used_ += uint64_t(n) * 4;
  check_memory(memory_used_, options_.max_memory_bytes, buf_.file() + ": dequantized '" + y.name + "'");
  owned_.emplace_back(size_t(n) * 4);
  float* out = reinterpret_cast<float*>(owned_.back().data());
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* e = x.data + size_t(i) * dtype_size(x.dtype);
    if (x.dtype == DType::F16) {
      uint16_t h;
      std::memcpy(&h, e, 2);
      out[i] = kernels::half_to_float(h);
      continue;
    }
    int64_t q;
    if (x.dtype == DType::I8) q = int8_t(*e);
    else if (x.dtype == DType::U8) q = *e;
    else if (x.dtype == DType::I16) { int16_t v; std::memcpy(&v, e, 2); q = v; }
    else { int32_t v; std::memcpy(&v, e, 4); q = v; }
    const size_t c = size_t((i / inner) % channels);
    out[i] = float(double(q - x.zero_point[c]) * x.scale[c]);
  }
  y.data = owned_.back().data();
  y.bytes = size_t(n) * 4;
  y.scale.clear();
  y.zero_point.clear();
}

void Importer::import_operator(const fb::Table& op) {
  const uint32_t code_index = op.scalar<uint32_t>(field::kOperatorOpcode, 0);
  if (code_index >= codes_.size())
    fail(op.what(), "opcode index " + std::to_string(code_index) + " is out of range (the model has " +
                        std::to_string(codes_.size()) + " operator codes)");
  const int32_t code = codes_[code_index].first;
  const std::string name = code == 32 ? "custom op '" + codes_[code_index].second + "'" : op_name(code);
  op_what_ = op.what() + " (" + name + ")";
  fb::Vector ins = op.vector(field::kOperatorInputs, 4, "inputs");
  fb::Vector outs = op.vector(field::kOperatorOutputs, 4, "outputs");
  in_.clear();
  out_.clear();
  for (uint32_t i = 0; i < ins.count; ++i) in_.push_back(tensor_index(ins, i, true));
  for (uint32_t i = 0; i < outs.count; ++i) out_.push_back(tensor_index(outs, i, false));
  fb::Table opts = op.table(field::kOperatorOptions, "builtin_options");
  const uint8_t opts_type = op.scalar<uint8_t>(field::kOperatorOptionsType, 0);
  // The options a builtin reads, checked against the union's tag.
  auto options = [&](uint8_t expected) {
    if (opts.valid() && opts_type != expected)
      op_fail("builtin_options has type " + std::to_string(opts_type) + ", expected " + std::to_string(expected));
    return opts;
  };
  auto need_io = [&](size_t n_in) {
    if (in_.size() < n_in || out_.size() != 1) op_fail("expects " + std::to_string(n_in) + " inputs and one output");
    for (size_t i = 0; i < n_in; ++i)
      if (in_[i] < 0) op_fail("input " + std::to_string(i) + " is missing");
  };
  switch (code) {
    case kConv2d: need_io(2); conv(false, options(kConv2dOptions)); break;
    case kDepthwiseConv2d: need_io(2); conv(true, options(kDepthwiseOptions)); break;
    case kFullyConnected: need_io(2); fully_connected(options(kFullyConnectedOptions)); break;
    case kAveragePool2d: need_io(1); pool("AveragePool", options(kPool2dOptions)); break;
    case kMaxPool2d: need_io(1); pool("MaxPool", options(kPool2dOptions)); break;
    case kReshape: need_io(1); reshape(); break;
    case kSqueeze: need_io(1); reshape(); break;
    case kSoftmax: need_io(1); softmax(options(kSoftmaxOptions)); break;
    case kAdd: need_io(2); binary("Add", options(kAddOptions)); break;
    case kMul: need_io(2); binary("Mul", options(kMulOptions)); break;
    case kQuantize: need_io(1); quantize(); break;
    case kDequantize: need_io(1); dequantize(); break;
    case kConcatenation: need_io(1); concatenation(options(kConcatenationOptions)); break;
    case kPad: need_io(2); pad(false); break;
    case kPadV2: need_io(2); pad(true); break;
    case kMean: need_io(2); mean(options(kReducerOptions)); break;
    case kTranspose: need_io(2); transpose(); break;
    case kLogistic: need_io(1); unary("Sigmoid"); break;
    case kTanh: need_io(1); unary("Tanh"); break;
    case kRelu: need_io(1); bind(out_[0], finish(out_[0], as_float(in_[0]), 1)); break;
    case kReluN1To1: need_io(1); bind(out_[0], finish(out_[0], as_float(in_[0]), 2)); break;
    case kRelu6: need_io(1); bind(out_[0], finish(out_[0], as_float(in_[0]), 3)); break;
    default:
      op_fail("operator " + name + " is not supported (rtml imports ADD, AVERAGE_POOL_2D, CONCATENATION, CONV_2D, "
              "DEPTHWISE_CONV_2D, DEQUANTIZE, FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MEAN, MUL, PAD, PADV2, QUANTIZE, "
              "RELU, RELU6, RELU_N1_TO_1, RESHAPE, SOFTMAX, SQUEEZE, TANH, TRANSPOSE)");
  }
}

ir::Graph Importer::run() {
  if (buf_.size() < 8 || !looks_like_tflite(buf_.at(0), buf_.size()))
    fail("", "not a TFLite model (no \"TFL3\" file identifier at bytes 4..8)");
  fb::Table model = fb::root(buf_, "model");
  const uint32_t version = model.scalar<uint32_t>(field::kModelVersion, 0);
  if (version != kTfliteSchemaVersion)
    fail("", "schema version " + std::to_string(version) + "; rtml reads version " + std::to_string(kTfliteSchemaVersion));
  fb::Vector codes = model.vector(field::kModelOpcodes, 4, "operator_codes");
  for (uint32_t i = 0; i < codes.count; ++i) {
    fb::Table c = fb::Table::element(codes, i, "operator code " + std::to_string(i));
    const int32_t code = std::max<int32_t>(c.scalar<int8_t>(field::kOpcodeDeprecated, 0), c.scalar<int32_t>(field::kOpcodeBuiltin, 0));
    codes_.emplace_back(code, c.string(field::kOpcodeCustom, "custom_code"));
  }
  read_buffers(model);
  fb::Vector subgraphs = model.vector(field::kModelSubgraphs, 4, "subgraphs");
  if (subgraphs.count == 0) fail("", "the model has no subgraph");
  fb::Table sg = fb::Table::element(subgraphs, 0, "subgraph 0");
  read_tensors(sg);
  g_.name = sg.string(4, "name");
  g_.source = buf_.file();
  g_.opset = 13;  // the ONNX semantics of the nodes made here, not the file's: that is kTfliteSchemaVersion
  value_.assign(tt_.size(), kNoTensor);
  float_value_.assign(tt_.size(), kNoTensor);
  constant_value_.assign(tt_.size(), kNoTensor);

  fb::Vector inputs = sg.vector(field::kSubgraphInputs, 4, "inputs");
  for (uint32_t i = 0; i < inputs.count; ++i) {
    const int t = tensor_index(inputs, i, false);
    const TfTensor& x = tt_[t];
    if (x.constant()) continue;  // an input with a buffer is a constant
    if (x.dtype == DType::Undefined) fail(sg.what() + ": input '" + x.name + "'", "has an element type rtml does not read");
    ir::Tensor in;
    in.name = x.name;
    in.dtype = x.dtype;
    in.shape = x.shape;
    const TensorId id = g_.add_tensor(std::move(in));
    g_.inputs.push_back(id);
    op_what_ = sg.what() + ": input '" + x.name + "'";
    value_[t] = x.shape.size() == 4 ? to_nchw(id, x.shape, temp_name(x.name, "nchw")) : id;
  }
  fb::Vector ops = sg.vector(field::kSubgraphOperators, 4, "operators");
  for (uint32_t i = 0; i < ops.count; ++i)
    import_operator(fb::Table::element(ops, i, sg.what() + ": operator " + std::to_string(i)));

  fb::Vector outputs = sg.vector(field::kSubgraphOutputs, 4, "outputs");
  if (outputs.count == 0) fail(sg.what(), "has no outputs");
  for (uint32_t i = 0; i < outputs.count; ++i) {
    const int t = tensor_index(outputs, i, false);
    const TfTensor& y = tt_[t];
    op_what_ = sg.what() + ": output '" + y.name + "'";
    TensorId id = stored(t);
    if (y.nchw()) {  // back to the file's NHWC, under the file's name
      g_.tensors[id].name = y.name + "/nchw";
      id = to_nhwc(id, y.shape, y.name);
      g_.tensors[id].name = y.name;
    }
    g_.outputs.push_back(id);
  }
  ir::topological_order(g_);
  return std::move(g_);
}

}  // namespace

bool looks_like_tflite(const uint8_t* bytes, size_t size) {
  return size >= 8 && std::memcmp(bytes + 4, "TFL3", 4) == 0;
}

ir::Graph load_tflite_bytes(const uint8_t* data, size_t size, const std::string& source, const ImportOptions& options) {
  if (size > options.max_file_bytes)
    throw Error(source + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                std::to_string(options.max_file_bytes) + " bytes");
  fb::Buffer buf(data, size, source);
  return Importer(buf, options).run();
}

ir::Graph load_tflite(const std::string& path, const ImportOptions& options) {
  const std::string bytes = read_file(path, options.max_file_bytes, "a .tflite model file");
  return load_tflite_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, options);
}

bool is_tflite_file(const std::string& path) {
  char head[8] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (in) in.read(head, 8);
  }
  return looks_like_tflite(reinterpret_cast<const uint8_t*>(head), 8) ||
         (path.size() > 7 && path.compare(path.size() - 7, 7, ".tflite") == 0);
}

ir::Graph load_model(const std::string& path, const ImportOptions& options) {
  return is_tflite_file(path) ? load_tflite(path, options) : load_onnx(path, options);
}

std::string model_name(const std::string& path) {
  const std::filesystem::path p(path);
  const bool in_folder = p.stem() == "model" && p.has_parent_path() && !p.parent_path().filename().empty();
  return in_folder ? p.parent_path().filename().string() : p.stem().string();
}

}  // namespace rtml::import
