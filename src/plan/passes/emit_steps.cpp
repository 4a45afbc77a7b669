// emit_steps: the Plan's tensors and steps.
//   1. Storage classes: graph inputs and outputs are caller-owned (Input /
//      Output; an output no step writes is copied after the steps:
//      Plan::output_copies), constants stay where they are (Constant),
//      everything else is in the arena. An aliased view's output is its
//      input's plan tensor.
//   2. One PlanStep per kept, unaliased step with its operand slots
//      (inputs, outputs, the step's own constants, fused addends, scratch,
//      state: ops/op.h). A step's constants become Constant tensors
//      "<node>:<role>" (one per buffer: steps holding the same bytes share
//      it), its state a State tensor "<node>:state" with its own
//      64-byte aligned place in Plan::state_bytes.
//   3. A BufferRequest per arena tensor: its size and the first and last
//      step that touch it, for place_arena.
#include <algorithm>
#include <map>

#include "plan/pass.h"

namespace rtml::plan {

void emit_steps(PlanState& s, PassReport& report) {
  const ir::Graph& g = s.graph;
  Plan& plan = s.plan;
  std::vector<int> plan_id(g.tensors.size(), -1);
  auto add = [&](const std::string& name, DType dtype, const Shape& shape, Storage storage) {
    TensorPlan tp;
    tp.name = name;
    tp.dtype = dtype;
    tp.shape = shape;
    tp.bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    tp.storage = storage;
    plan.tensors.push_back(std::move(tp));
    return static_cast<int>(plan.tensors.size() - 1);
  };
  auto id_of = [&](ir::TensorId t) {
    if (plan_id[t] < 0) {
      plan_id[t] = add(g.tensors[t].name, s.info[t].dtype, s.info[t].shape, Storage::Arena);
      if (s.constant[t]) {
        plan.tensors[plan_id[t]].storage = Storage::Constant;
        plan.tensors[plan_id[t]].constant = s.constant[t];
        plan.constant_bytes += plan.tensors[plan_id[t]].bytes;
      }
    }
    return plan_id[t];
  };

  // 1. Graph inputs and outputs.
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    int id = id_of(g.inputs[k]);
    plan.tensors[id].storage = Storage::Input;
    plan.tensors[id].index = static_cast<int>(k);
    plan.inputs.push_back(id);
  }
  std::vector<bool> produced(g.tensors.size(), false);
  for (const PreparedStep& p : s.steps)
    if (p.keep)
      for (ir::TensorId t : p.outputs)
        if (t != ir::kNoTensor) produced[t] = true;
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    ir::TensorId t = g.outputs[k];
    bool first = plan_id[t] < 0;
    int id = id_of(t);
    if (first && produced[t]) {
      plan.tensors[id].storage = Storage::Output;
      plan.tensors[id].index = static_cast<int>(k);
    } else {
      plan.output_copies.push_back({static_cast<int>(k), id});
    }
    plan.outputs.push_back(id);
  }

  // 2 and 3. Steps with their operands; buffer lifetimes.
  std::vector<int> request_of;
  std::map<const ir::Buffer*, int> constant_id;
  auto touch = [&](int id, int step) {
    if (plan.tensors[id].storage != Storage::Arena) return;
    if (static_cast<int>(request_of.size()) <= id) request_of.resize(id + 1, -1);
    if (request_of[id] < 0) {
      request_of[id] = static_cast<int>(s.requests.size());
      s.requests.push_back({plan.tensors[id].bytes, step, step});
      s.request_tensor.push_back(id);
    }
    BufferRequest& r = s.requests[request_of[id]];
    r.first_step = std::min(r.first_step, step);
    r.last_step = std::max(r.last_step, step);
  };
  for (PreparedStep& pr : s.steps) {
    if (!pr.keep) continue;
    if (pr.alias) {
      plan_id[pr.outputs[0]] = id_of(pr.inputs[0]);  // same bytes, no step
      continue;
    }
    const int step_index = static_cast<int>(plan.steps.size());
    PlanStep ps;
    ps.node_name = pr.name;
    ps.key = s.graph.nodes[pr.node].name;
    ps.op_type = pr.op_type;
    ps.first_operand = static_cast<uint32_t>(plan.operands.size());
    ps.num_inputs = static_cast<uint32_t>(pr.inputs.size());
    ps.num_outputs = static_cast<uint32_t>(pr.outputs.size());
    for (ir::TensorId t : pr.inputs) plan.operands.push_back(t == ir::kNoTensor ? -1 : id_of(t));
    for (ir::TensorId t : pr.outputs) plan.operands.push_back(t == ir::kNoTensor ? -1 : id_of(t));
    for (const ops::StepConstant& c : pr.step.constants) {
      // Steps sharing one constant's bytes (tile_rows' bands) share its tensor.
      if (auto it = constant_id.find(c.data.get()); it != constant_id.end()) {
        plan.operands.push_back(it->second);
        continue;
      }
      const int id = add(pr.name + ":" + c.role, c.dtype, c.shape, Storage::Constant);
      plan.tensors[id].constant = c.data;
      plan.constant_bytes += plan.tensors[id].bytes;
      plan.step_constant_bytes += plan.tensors[id].bytes;
      plan.operands.push_back(id);
      constant_id[c.data.get()] = id;
    }
    for (ir::TensorId t : pr.fused) plan.operands.push_back(id_of(t));
    if (pr.step.scratch_bytes)
      plan.operands.push_back(add(g.nodes[pr.node].name + ":scratch", DType::U8,
                                  {static_cast<int64_t>(pr.step.scratch_bytes)}, Storage::Arena));
    if (pr.step.state_bytes) {
      const int id = add(g.nodes[pr.node].name + ":state", DType::U8, {static_cast<int64_t>(pr.step.state_bytes)},
                         Storage::State);
      plan.tensors[id].offset = plan.state_bytes;
      plan.state_bytes += (pr.step.state_bytes + 63) / 64 * 64;
      plan.operands.push_back(id);
    }
    ps.num_operands = static_cast<uint32_t>(plan.operands.size() - ps.first_operand);
    for (uint32_t o = 0; o < ps.num_operands; ++o)
      if (int id = plan.operands[ps.first_operand + o]; id >= 0) touch(id, step_index);
    plan.flops += pr.step.flops;
    ++plan.plan_op_counts[g.nodes[pr.node].op_type];
    ps.step = std::move(pr.step);
    plan.steps.push_back(std::move(ps));
  }

  int by_storage[5] = {};
  for (const TensorPlan& t : plan.tensors) ++by_storage[static_cast<int>(t.storage)];
  const int arena = by_storage[static_cast<int>(Storage::Arena)];
  const int constants = by_storage[static_cast<int>(Storage::Constant)];
  report.summary = plural(plan.steps.size(), "step") + ", " + plural(plan.tensors.size(), "tensor") + " (" + std::to_string(arena) + " arena, " + std::to_string(constants) + " constant, " +
                   std::to_string(plan.inputs.size()) + " input, " + std::to_string(plan.outputs.size()) + " output)";
  if (const int state = by_storage[static_cast<int>(Storage::State)])
    report.summary += ", " + plural(state, "step state") + " (" + with_commas(plan.state_bytes) + " B)";
  if (!plan.output_copies.empty())
    report.summary += "; " + plural(plan.output_copies.size(), "output") + " copied after the steps";
  report.numbers = {{"steps", static_cast<int64_t>(plan.steps.size())},
                    {"tensors", static_cast<int64_t>(plan.tensors.size())},
                    {"arena_tensors", arena},
                    {"constant_tensors", constants}};
}

}  // namespace rtml::plan
