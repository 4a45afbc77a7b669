// Tests of fast kernels: one ONNX node as a graph, planned and run by the
// engine, so a test sees which kernel prepare chose and what it computed.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/session.h"
#include "ir/graph.h"
#include "plan/plan.h"

namespace rtml::testing {

struct Operand {
  Shape shape;
  std::vector<float> data;
  bool omitted() const { return shape.empty() && data.empty(); }  // an optional input left out
};

struct NodeRun {
  std::vector<std::vector<float>> outputs;
  std::string kernel;  // of the last step
};

// Operand i is an initializer when constant[i] (the op may pack it at
// prepare), else a graph input fed with its data. Runs `runs` times (a
// second run catches kernels that leave state in their scratch) and keeps
// the last run's outputs.
inline NodeRun run_one_node(const std::string& op, int opset, const std::vector<Operand>& operands,
                            const std::vector<bool>& constant, int num_outputs,
                            std::map<std::string, ir::Attribute> attrs, int runs = 1) {
  ir::Graph g;
  g.opset = opset;
  g.source = "one_node_test";
  ir::Node n;
  n.name = "n";
  n.op_type = op;
  n.attrs = std::move(attrs);
  std::vector<const Operand*> fed;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Operand& o = operands[i];
    if (o.omitted()) {
      n.inputs.push_back(ir::kNoTensor);
      continue;
    }
    ir::Tensor t;
    t.name = "in" + std::to_string(i);
    t.dtype = DType::F32;
    t.shape = o.shape;
    if (constant[i]) {
      auto buf = std::make_shared<ir::Buffer>(o.data.size() * sizeof(float));
      std::memcpy(buf->data(), o.data.data(), o.data.size() * sizeof(float));
      t.data = buf;
    }
    const ir::TensorId id = g.add_tensor(t);
    if (!constant[i]) {
      g.inputs.push_back(id);
      fed.push_back(&o);
    }
    n.inputs.push_back(id);
  }
  for (int k = 0; k < num_outputs; ++k) {
    ir::Tensor out;
    out.name = "out" + std::to_string(k);
    const ir::TensorId id = g.add_tensor(out);
    n.outputs.push_back(id);
    g.outputs.push_back(id);
  }
  g.nodes.push_back(n);
  plan::Plan p = plan::build_plan(g, {});
  NodeRun r;
  if (!p.steps.empty()) r.kernel = p.steps.back().step.kernel;
  engine::Session s(std::move(p));
  for (size_t i = 0; i < fed.size(); ++i)
    std::memcpy(s.input_data(static_cast<int>(i)), fed[i]->data.data(), fed[i]->data.size() * sizeof(float));
  for (int run = 0; run < runs; ++run) EXPECT_TRUE(s.run().ok());
  for (int k = 0; k < num_outputs; ++k) {
    const float* y = static_cast<const float*>(s.output_data(k));
    r.outputs.emplace_back(y, y + shape_numel(s.output(k).shape));
  }
  return r;
}

}  // namespace rtml::testing
