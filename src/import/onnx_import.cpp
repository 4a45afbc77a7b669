#include "import/onnx_import.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "onnx.pb.h"

namespace rtml::import {
namespace fs = std::filesystem;

std::string read_file(const std::string& path, uint64_t max_bytes, const char* what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, expected " + what);
  uint64_t size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read size: " + ec.message());
  if (size > max_bytes)
    throw Error(path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                std::to_string(max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) throw Error(path + ": short read");
  return bytes;
}

namespace {

constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 18;

// Context for messages: "model.onnx: initializer 'w'", and the memory the
// file's tensors may take together.
struct Where {
  const std::string& file;
  std::string what;
  [[noreturn]] void fail(const std::string& msg) const { throw Error(file + ": " + what + ": " + msg); }
};

struct Budget {
  uint64_t limit;
  uint64_t used = 0;
  // Counts `bytes` in; throws naming the tensor if the total is over the limit.
  void take(uint64_t bytes, const Where& where) {
    check_memory(used + bytes, limit, where.file + ": " + where.what + " (with the tensors before it)");
    used += bytes;
  }
};

template <class Src, class Dst>
void copy_converted(const Src& src, void* dst, int64_t n) {
  auto* out = static_cast<Dst*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Dst>(src.Get(static_cast<int>(i)));
}

std::shared_ptr<const ir::Buffer> read_external(const onnx::TensorProto& tp, uint64_t bytes,
                                               const std::string& model_dir, const Where& where, Budget& budget) {
  std::string location;
  uint64_t offset = 0, length = bytes;
  bool has_length = false;
  for (const auto& kv : tp.external_data()) {
    const std::string& v = kv.value();
    bool number = !v.empty() && v.size() <= 18 && v.find_first_not_of("0123456789") == std::string::npos;
    if (kv.key() == "location") location = v;
    else if (kv.key() == "offset" || kv.key() == "length") {
      if (!number) where.fail("external data field '" + kv.key() + "' is not a number below 10^18: '" + v + "'");
      (kv.key() == "offset" ? offset : length) = std::stoull(v);
      has_length |= kv.key() == "length";
    }
  }
  if (location.empty()) where.fail("external data without a 'location'");
  fs::path rel(location);
  if (rel.is_absolute()) where.fail("external data location '" + location + "' must be relative to the model");
  for (const auto& part : rel)
    if (part == "..") where.fail("external data location '" + location + "' leaves the model's folder");
  if (has_length && length != bytes)
    where.fail("external data length " + std::to_string(length) + " does not match the tensor's " +
               std::to_string(bytes) + " bytes");
  fs::path full = fs::path(model_dir) / rel;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec)) where.fail("external data file '" + full.string() + "' is missing or not a regular file");
  uint64_t fsize = fs::file_size(full, ec);
  if (ec || offset > fsize || bytes > fsize - offset)
    where.fail("external data file '" + full.string() + "' is too short (" + std::to_string(fsize) +
               " bytes, need " + std::to_string(bytes) + " from offset " + std::to_string(offset) + ")");
  std::ifstream in(full, std::ios::binary);
  if (!in) where.fail("cannot open external data file '" + full.string() + "'");
  budget.take(bytes, where);
  auto buf = std::make_shared<ir::Buffer>(bytes);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(buf->data()), static_cast<std::streamsize>(bytes));
  if (!in) where.fail("short read from external data file '" + full.string() + "'");
  return buf;
}

// How many values of the typed field that holds `t`'s values are present;
// -1 for types without one.
int64_t typed_count(const onnx::TensorProto& tp, DType t) {
  switch (t) {
    case DType::F32: return tp.float_data_size();
    case DType::F64: return tp.double_data_size();
    case DType::I64: return tp.int64_data_size();
    case DType::U32: case DType::U64: return tp.uint64_data_size();
    case DType::I32: case DType::I16: case DType::U16: case DType::F16: case DType::BF16:
    case DType::I8: case DType::U8: case DType::Bool: return tp.int32_data_size();
    default: return -1;
  }
}

ir::Tensor convert_tensor(const onnx::TensorProto& tp, const std::string& model_dir, const Where& where,
                          Budget& budget) {
  ir::Tensor t;
  t.name = tp.name();
  t.dtype = static_cast<DType>(tp.data_type());
  t.shape.assign(tp.dims().begin(), tp.dims().end());
  if (dtype_size(t.dtype) == 0) where.fail(std::string("element type '") + dtype_name(t.dtype) + "' is not supported");
  // Checked: a negative dimension, or dims whose product overflows, fail here.
  const uint64_t bytes = static_cast<uint64_t>(tensor_bytes(t.shape, t.dtype, where.file + ": " + where.what));
  const int64_t n = shape_numel(t.shape);

  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    t.data = read_external(tp, bytes, model_dir, where, budget);
    return t;
  }
  // The data must be present before anything is allocated for it.
  if (tp.has_raw_data()) {
    if (tp.raw_data().size() != bytes)
      where.fail("raw_data has " + std::to_string(tp.raw_data().size()) + " bytes, shape " + shape_str(t.shape) +
                 " of " + dtype_name(t.dtype) + " needs " + std::to_string(bytes));
  } else if (int64_t have = typed_count(tp, t.dtype); have != n) {
    if (have < 0) where.fail(std::string("element type '") + dtype_name(t.dtype) + "' is not supported");
    where.fail("holds " + std::to_string(have) + " values but its shape " + shape_str(t.shape) + " needs " +
               std::to_string(n));
  }
  budget.take(bytes, where);
  auto buf = std::make_shared<ir::Buffer>(bytes);
  if (tp.has_raw_data()) {
    if (bytes) std::memcpy(buf->data(), tp.raw_data().data(), bytes);
  } else {
    switch (t.dtype) {
      case DType::F32: copy_converted<decltype(tp.float_data()), float>(tp.float_data(), buf->data(), n); break;
      case DType::F64: copy_converted<decltype(tp.double_data()), double>(tp.double_data(), buf->data(), n); break;
      case DType::I64: copy_converted<decltype(tp.int64_data()), int64_t>(tp.int64_data(), buf->data(), n); break;
      case DType::U32: copy_converted<decltype(tp.uint64_data()), uint32_t>(tp.uint64_data(), buf->data(), n); break;
      case DType::U64: copy_converted<decltype(tp.uint64_data()), uint64_t>(tp.uint64_data(), buf->data(), n); break;
      case DType::I32: copy_converted<decltype(tp.int32_data()), int32_t>(tp.int32_data(), buf->data(), n); break;
      case DType::I16: copy_converted<decltype(tp.int32_data()), int16_t>(tp.int32_data(), buf->data(), n); break;
      case DType::U16:
      case DType::F16:
      case DType::BF16:  // stored as their 16-bit patterns in int32_data
        copy_converted<decltype(tp.int32_data()), uint16_t>(tp.int32_data(), buf->data(), n);
        break;
      case DType::I8: copy_converted<decltype(tp.int32_data()), int8_t>(tp.int32_data(), buf->data(), n); break;
      default:  // U8, Bool (typed_count accepted nothing else)
        copy_converted<decltype(tp.int32_data()), uint8_t>(tp.int32_data(), buf->data(), n);
    }
  }
  t.data = std::move(buf);
  return t;
}

void read_value_info(const onnx::ValueInfoProto& vi, ir::Tensor& t) {
  if (!vi.has_type() || !vi.type().has_tensor_type()) return;
  const auto& tt = vi.type().tensor_type();
  if (tt.elem_type() != 0) t.dtype = static_cast<DType>(tt.elem_type());
  if (!tt.has_shape()) return;
  t.shape.clear();
  t.dim_names.clear();
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) {
      t.shape.push_back(d.dim_value());
      t.dim_names.emplace_back();
    } else {
      t.shape.push_back(-1);
      t.dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
    }
  }
}

ir::Attribute convert_attribute(const onnx::AttributeProto& ap, const std::string& model_dir, const Where& where,
                                Budget& budget) {
  ir::Attribute a;
  using K = ir::Attribute::Kind;
  switch (ap.type()) {
    case onnx::AttributeProto::FLOAT: a.kind = K::Float; a.f = ap.f(); break;
    case onnx::AttributeProto::INT: a.kind = K::Int; a.i = ap.i(); break;
    case onnx::AttributeProto::STRING: a.kind = K::String; a.s = ap.s(); break;
    case onnx::AttributeProto::TENSOR:
      a.kind = K::Tensor;
      a.tensor = std::make_shared<ir::Tensor>(
          convert_tensor(ap.t(), model_dir, Where{where.file, where.what + ": attribute '" + ap.name() + "'"}, budget));
      break;
    case onnx::AttributeProto::FLOATS: a.kind = K::Floats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
    case onnx::AttributeProto::INTS: a.kind = K::Ints; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
    case onnx::AttributeProto::STRINGS: a.kind = K::Strings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
    case onnx::AttributeProto::GRAPH:
    case onnx::AttributeProto::GRAPHS: a.kind = K::Graph; break;
    default:
      // Files from old exporters leave `type` unset; infer it from what is filled in.
      if (ap.has_f()) { a.kind = K::Float; a.f = ap.f(); }
      else if (ap.has_i()) { a.kind = K::Int; a.i = ap.i(); }
      else if (ap.has_s()) { a.kind = K::String; a.s = ap.s(); }
      else if (ap.ints_size()) { a.kind = K::Ints; a.ints.assign(ap.ints().begin(), ap.ints().end()); }
      else if (ap.floats_size()) { a.kind = K::Floats; a.floats.assign(ap.floats().begin(), ap.floats().end()); }
      else a.kind = K::Other;
  }
  return a;
}

}  // namespace

ir::Graph load_onnx(const std::string& path, const ImportOptions& options) {
  std::string bytes = read_file(path, options.max_file_bytes, "an .onnx model file");
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes))
    throw Error(path + ": not a valid ONNX model (the protobuf does not parse: the file is truncated, corrupt or "
                       "not ONNX)");
  if (model.ir_version() <= 0 || !model.has_graph())
    throw Error(path + ": not an ONNX model (no ir_version or no graph)");

  ir::Graph g;
  g.source = path;
  std::string model_dir = fs::path(path).parent_path().string();
  if (model_dir.empty()) model_dir = ".";
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  // A model with nodes of other domains only may import no default-domain opset.
  if (g.opset != 0 && (g.opset < kMinOpset || g.opset > kMaxOpset))
    throw Error(path + ": opset " + std::to_string(g.opset) + " is not supported (rtml reads opsets " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  const onnx::GraphProto& gp = model.graph();
  g.name = gp.name();

  std::unordered_map<std::string, ir::TensorId> ids;  // by name (Graph::find is a linear search)
  auto tensor_of = [&](const std::string& name) -> ir::TensorId {
    auto [it, added] = ids.emplace(name, static_cast<ir::TensorId>(g.tensors.size()));
    if (!added) return it->second;
    ir::Tensor t;
    t.name = name;
    return g.add_tensor(std::move(t));
  };
  Budget budget{options.max_memory_bytes};

  std::set<std::string> initializer_names;
  for (const auto& tp : gp.initializer()) {
    if (tp.name().empty()) throw Error(path + ": an initializer has no name");
    if (!initializer_names.insert(tp.name()).second)
      throw Error(path + ": initializer '" + tp.name() + "' is defined twice");
    ir::Tensor t = convert_tensor(tp, model_dir, Where{path, "initializer '" + tp.name() + "'"}, budget);
    ir::TensorId id = tensor_of(tp.name());
    g.tensors[id] = std::move(t);
  }
  for (const auto& vi : gp.input()) {
    if (initializer_names.count(vi.name())) continue;  // an initializer with a default: treated as constant
    ir::TensorId id = tensor_of(vi.name());
    read_value_info(vi, g.tensors[id]);
    g.inputs.push_back(id);
  }
  for (const auto& vi : gp.value_info()) read_value_info(vi, g.tensors[tensor_of(vi.name())]);

  std::set<std::string> node_names;
  for (int n = 0; n < gp.node_size(); ++n) {
    const auto& np = gp.node(n);
    ir::Node node;
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? std::string() : np.domain();
    node.name = np.name().empty() ? np.op_type() + "_" + std::to_string(n) : np.name();
    if (!node_names.insert(node.name).second) node.name += "_" + std::to_string(n);
    Where where{path, "node '" + node.name + "' (" + node.op_type + ")"};
    for (const auto& in : np.input()) node.inputs.push_back(in.empty() ? ir::kNoTensor : tensor_of(in));
    for (const auto& out : np.output()) {
      ir::TensorId id = out.empty() ? ir::kNoTensor : tensor_of(out);
      if (id != ir::kNoTensor && g.tensors[id].is_constant())
        where.fail("output '" + out + "' overwrites an initializer");
      node.outputs.push_back(id);
    }
    for (const auto& ap : np.attribute()) node.attrs[ap.name()] = convert_attribute(ap, model_dir, where, budget);
    g.nodes.push_back(std::move(node));
  }
  for (const auto& vi : gp.output()) {
    ir::TensorId id = tensor_of(vi.name());
    ir::Tensor& t = g.tensors[id];
    if (t.shape.empty() && t.dtype == DType::Undefined) read_value_info(vi, t);
    g.outputs.push_back(id);
  }
  if (g.outputs.empty()) throw Error(path + ": the graph has no outputs");
  ir::topological_order(g);  // throws on cycles and dangling references
  return g;
}

ir::Tensor load_tensor_pb(const std::string& path, uint64_t max_memory_bytes) {
  std::string bytes = read_file(path, uint64_t(2) << 30, "a serialized TensorProto");
  onnx::TensorProto tp;
  if (!tp.ParseFromString(bytes)) throw Error(path + ": not a serialized onnx.TensorProto");
  std::string dir = fs::path(path).parent_path().string();
  Budget budget{max_memory_bytes};
  return convert_tensor(tp, dir.empty() ? "." : dir, Where{path, "tensor '" + tp.name() + "'"}, budget);
}

}  // namespace rtml::import
