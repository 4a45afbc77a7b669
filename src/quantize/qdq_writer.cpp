#include "quantize/qdq_writer.h"

#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "onnx.pb.h"

namespace rtml::quantize {

namespace {

int onnx_type(DType t) {
  switch (t) {
    case DType::I8: return onnx::TensorProto::INT8;
    case DType::U8: return onnx::TensorProto::UINT8;
    case DType::I32: return onnx::TensorProto::INT32;
    default: return onnx::TensorProto::FLOAT;
  }
}

// An initializer from raw little-endian bytes (the hosts rtml runs on).
void set_tensor(onnx::TensorProto& t, const std::string& name, DType type, const std::vector<int64_t>& dims,
                const void* data, size_t bytes) {
  t.Clear();
  t.set_name(name);
  t.set_data_type(onnx_type(type));
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
}

template <class T>
void add_tensor(onnx::GraphProto& g, const std::string& name, DType type, const std::vector<int64_t>& dims,
                const std::vector<T>& values) {
  set_tensor(*g.add_initializer(), name, type, dims, values.data(), values.size() * sizeof(T));
}

// Every name in the graph, so that new ones never collide.
class Names {
 public:
  explicit Names(const onnx::GraphProto& g) {
    for (const auto& n : g.node()) {
      used_.insert(n.name());
      for (const auto& s : n.input()) used_.insert(s);
      for (const auto& s : n.output()) used_.insert(s);
    }
    for (const auto& t : g.initializer()) used_.insert(t.name());
    for (const auto& v : g.input()) used_.insert(v.name());
    for (const auto& v : g.output()) used_.insert(v.name());
    for (const auto& v : g.value_info()) used_.insert(v.name());
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

 private:
  std::set<std::string> used_;
};

onnx::NodeProto make_node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                          const std::string& output, int axis) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (const auto& i : inputs) n.add_input(i);
  n.add_output(output);
  if (axis >= 0) {
    auto* a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
  }
  return n;
}

}  // namespace

std::vector<std::string> apply_qdq(onnx::ModelProto& model, const QdqEdits& edits, const std::string& source) {
  onnx::GraphProto& g = *model.mutable_graph();
  Names names(g);
  std::map<std::string, int> init_index;
  for (int i = 0; i < g.initializer_size(); ++i) init_index[g.initializer(i).name()] = i;
  auto initializer = [&](const std::string& name) -> onnx::TensorProto& {
    auto it = init_index.find(name);
    if (it == init_index.end()) throw Error(source + ": quantize: no initializer named '" + name + "'");
    return *g.mutable_initializer(it->second);
  };

  std::vector<onnx::NodeProto> first;                   // weight and bias DequantizeLinear, input pairs
  std::map<std::string, std::vector<onnx::NodeProto>> after;  // renamed producer output -> its pair

  // A weight or bias: the initializer becomes NAME_quantized (type `type`,
  // zero point 0) and a DequantizeLinear writes NAME. axis < 0: per tensor.
  auto dequantized = [&](const std::string& name, DType type, const void* values, size_t bytes,
                         const std::vector<float>& scales, int axis) {
    onnx::TensorProto& t = initializer(name);
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    const std::string q = names.fresh(name + "_quantized"), s = names.fresh(name + "_scale"),
                      z = names.fresh(name + "_zero_point");
    set_tensor(t, q, type, dims, values, bytes);
    std::vector<int64_t> sdims;
    if (axis >= 0) sdims = {static_cast<int64_t>(scales.size())};
    add_tensor(g, s, DType::F32, sdims, scales);
    add_tensor(g, z, type, sdims, std::vector<uint8_t>(scales.size() * dtype_size(type), 0));
    first.push_back(make_node("DequantizeLinear", names.fresh(name + "_DequantizeLinear"), {q, s, z}, name, axis));
  };
  for (const auto& w : edits.weights)
    dequantized(w.name, DType::I8, w.q.values.data(), w.q.values.size(), w.q.scales, w.axis);
  for (const auto& b : edits.biases)
    dequantized(b.name, DType::I32, b.q.values.data(), b.q.values.size() * sizeof(int32_t), b.q.scales,
                b.q.scales.size() > 1 ? 0 : -1);
  // Old files list initializers among the graph inputs too: the quantized
  // ones are now computed, so they leave the input list.
  std::set<std::string> replaced;
  for (const auto& w : edits.weights) replaced.insert(w.name);
  for (const auto& b : edits.biases) replaced.insert(b.name);
  for (int i = g.input_size() - 1; i >= 0; --i)
    if (replaced.count(g.input(i).name())) g.mutable_input()->DeleteSubrange(i, 1);

  std::set<std::string> graph_inputs;
  for (const auto& v : g.input()) graph_inputs.insert(v.name());
  std::vector<std::string> readable;
  for (const auto& a : edits.activations) {
    const std::string s = names.fresh(a.name + "_scale"), z = names.fresh(a.name + "_zero_point"),
                      q = names.fresh(a.name + "_quantized");
    add_tensor(g, s, DType::F32, {}, std::vector<float>{a.params.scale});
    if (a.type == DType::U8) add_tensor(g, z, DType::U8, {}, std::vector<uint8_t>{static_cast<uint8_t>(a.params.zero_point)});
    else add_tensor(g, z, DType::I8, {}, std::vector<int8_t>{static_cast<int8_t>(a.params.zero_point)});
    if (graph_inputs.count(a.name)) {
      // T -> Q -> DQ -> T_dequantized, which every reader of T now reads.
      const std::string dq = names.fresh(a.name + "_dequantized");
      for (auto& n : *g.mutable_node())
        for (auto& in : *n.mutable_input())
          if (in == a.name) in = dq;
      first.push_back(make_node("QuantizeLinear", names.fresh(a.name + "_QuantizeLinear"), {a.name, s, z}, q, -1));
      first.push_back(make_node("DequantizeLinear", names.fresh(a.name + "_DequantizeLinear"), {q, s, z}, dq, -1));
      readable.push_back(dq);
      continue;
    }
    // The producer writes T_float; Q -> DQ writes T for every reader.
    std::string fl;
    for (auto& n : *g.mutable_node())
      for (auto& out : *n.mutable_output())
        if (out == a.name) fl = out = names.fresh(a.name + "_float");
    if (fl.empty()) throw Error(source + ": quantize: no node writes '" + a.name + "'");
    auto& pair = after[fl];
    pair.push_back(make_node("QuantizeLinear", names.fresh(a.name + "_QuantizeLinear"), {fl, s, z}, q, -1));
    pair.push_back(make_node("DequantizeLinear", names.fresh(a.name + "_DequantizeLinear"), {q, s, z}, a.name, -1));
    readable.push_back(a.name);
  }

  // The new node list: the constant-fed nodes, then each node with its pairs.
  std::vector<onnx::NodeProto> nodes = std::move(first);
  for (const auto& n : g.node()) {
    nodes.push_back(n);
    for (const auto& out : n.output()) {
      auto it = after.find(out);
      if (it != after.end()) nodes.insert(nodes.end(), it->second.begin(), it->second.end());
    }
  }
  g.clear_node();
  for (auto& n : nodes) *g.add_node() = std::move(n);
  return readable;
}

}  // namespace rtml::quantize
