// Graphs built by hand in the unit tests: float inputs, constants of float
// or int64 values, and one-output nodes named n0, n1, ... in the order they
// are added (their outputs are named after the op: Conv0, Relu1, ...).
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace rtml::testing {

struct GraphBuilder {
  ir::Graph g;
  GraphBuilder() {
    g.opset = 17;
    g.source = "test_graph";
  }
  ir::TensorId input(const std::string& name, Shape shape) {
    ir::Tensor t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    const ir::TensorId id = g.add_tensor(t);
    g.inputs.push_back(id);
    return id;
  }
  ir::TensorId constant(const std::string& name, Shape shape, const std::vector<float>& v) {
    return constant_bytes(name, DType::F32, std::move(shape), v.data(), v.size() * sizeof(float));
  }
  ir::TensorId constant(const std::string& name, Shape shape, const std::vector<int64_t>& v) {
    return constant_bytes(name, DType::I64, std::move(shape), v.data(), v.size() * sizeof(int64_t));
  }
  ir::TensorId constant(const std::string& name, Shape shape, const std::vector<int8_t>& v) {
    return constant_bytes(name, DType::I8, std::move(shape), v.data(), v.size());
  }
  ir::TensorId node(const std::string& op, std::vector<ir::TensorId> inputs,
                    std::map<std::string, ir::Attribute> attrs = {}) {
    ir::Tensor out;
    out.name = op + std::to_string(g.nodes.size());
    const ir::TensorId id = g.add_tensor(out);
    ir::Node n;
    n.name = "n" + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {id};
    n.attrs = std::move(attrs);
    g.nodes.push_back(n);
    return id;
  }

 private:
  ir::TensorId constant_bytes(const std::string& name, DType dtype, Shape shape, const void* data, size_t bytes) {
    ir::Tensor t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    auto buf = std::make_shared<ir::Buffer>(bytes);
    std::memcpy(buf->data(), data, bytes);
    t.data = buf;
    return g.add_tensor(t);
  }
};

}  // namespace rtml::testing
