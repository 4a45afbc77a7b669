#include "plan/plan.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "plan/memory_planner.h"

namespace rtml::plan {

Shape parse_shape(const std::string& text) {
  Shape s;
  if (text.empty() || text == "scalar") return s;
  std::string part;
  std::stringstream ss(text);
  while (std::getline(ss, part, text.find(',') != std::string::npos ? ',' : 'x')) {
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos)
      throw Error("bad shape '" + text + "': expected dimensions like 1x128");
    s.push_back(std::stoll(part));
  }
  return s;
}

namespace {

struct Prepared {
  int node;
  ops::Step step;
  // The step's operands: the node's, until epilogue fusion gives the step the
  // output of a node it absorbed and that node's other addend (`fused`).
  std::vector<ir::TensorId> inputs, outputs, fused;
  std::string name, op_type;
};

std::string input_list(const ir::Graph& g) {
  std::string names;
  for (ir::TensorId t : g.inputs)
    names += (names.empty() ? "" : ", ") + g.tensors[t].name + " (" + shape_str(g.tensors[t].shape) + ")";
  return names.empty() ? "none" : names;
}

// Types and shapes of graph inputs, from the file and the user's overrides.
void resolve_inputs(const ir::Graph& g, const PlanOptions& options, std::vector<ops::TensorInfo>& info) {
  for (const auto& [name, shape] : options.input_shapes) {
    bool found = false;
    for (ir::TensorId t : g.inputs) found |= g.tensors[t].name == name;
    if (!found) throw Error(g.source + ": no graph input named '" + name + "'; inputs are: " + input_list(g));
  }
  for (ir::TensorId t : g.inputs) {
    const ir::Tensor& in = g.tensors[t];
    if (dtype_size(in.dtype) == 0)
      throw Error(g.source + ": graph input '" + in.name + "' has type " + dtype_name(in.dtype) +
                  ", which rtml does not support");
    Shape shape = in.shape;
    auto it = options.input_shapes.find(in.name);
    if (it != options.input_shapes.end()) {
      if (!in.shape.empty() && it->second.size() != in.shape.size())
        throw Error(g.source + ": input '" + in.name + "' has rank " + std::to_string(in.shape.size()) +
                    " (" + shape_str(in.shape) + "), but the given shape " + shape_str(it->second) + " has rank " +
                    std::to_string(it->second.size()));
      for (size_t i = 0; i < in.shape.size(); ++i)
        if (in.shape[i] >= 0 && in.shape[i] != it->second[i])
          throw Error(g.source + ": input '" + in.name + "' is declared " + shape_str(in.shape) +
                      "; the given shape " + shape_str(it->second) + " differs in dimension " + std::to_string(i));
      shape = it->second;
    }
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] < 0) {
        std::string dim = i < in.dim_names.size() && !in.dim_names[i].empty() ? " '" + in.dim_names[i] + "'" : "";
        Shape example = shape;
        for (int64_t& d : example) d = d < 0 ? 1 : d;
        throw Error(g.source + ": input '" + in.name + "' has a dynamic dimension" + dim + " (shape " +
                    shape_str(in.shape) + "); set it, e.g. --shape " + in.name + "=" + shape_str(example));
      }
    const std::string what = g.source + ": input '" + in.name + "' (" + shape_str(shape) + ")";
    check_memory(static_cast<uint64_t>(tensor_bytes(shape, in.dtype, what)), options.max_memory_bytes, what);
    info[t].dtype = in.dtype;
    info[t].shape = shape;
  }
}

}  // namespace

Plan build_plan(const ir::Graph& g, const PlanOptions& options) {
  const size_t nt = g.tensors.size();
  std::vector<ops::TensorInfo> info(nt);
  std::vector<std::shared_ptr<const ir::Buffer>> constant(nt);
  for (size_t t = 0; t < nt; ++t)
    if (g.tensors[t].is_constant()) {
      info[t] = {g.tensors[t].dtype, g.tensors[t].shape, g.tensors[t].data->data()};
      constant[t] = g.tensors[t].data;
    }
  resolve_inputs(g, options, info);

  Plan plan;
  plan.source = g.source;
  for (const ir::Node& n : g.nodes) ++plan.graph_op_counts[n.op_type];

  // 1. Prepare every node in order; fold what is constant.
  std::vector<Prepared> prepared;
  uint64_t folded_bytes = 0;
  for (int n : ir::topological_order(g)) {
    const ir::Node& node = g.nodes[n];
    const std::string where = g.source + ": node '" + node.name + "' (" + node.op_type + ")";
    const ops::OpDef* def = node.domain.empty() ? ops::find_op(node.op_type) : nullptr;
    if (!def)
      throw Error(where + ": op " + (node.domain.empty() ? "" : node.domain + ".") + node.op_type +
                  " is not supported by rtml (see `rtml ops` for the list)");
    std::vector<ops::TensorInfo> ins;
    for (ir::TensorId t : node.inputs) {
      if (t != ir::kNoTensor && info[t].dtype == DType::Undefined)
        throw Error(where + ": input '" + g.tensors[t].name + "' has no known type");
      ins.push_back(t == ir::kNoTensor ? ops::TensorInfo{} : info[t]);
    }
    ops::OpContext ctx(node, g.opset, std::move(ins), node.outputs.size(), g.source);
    ctx.max_memory_bytes = options.max_memory_bytes;
    ops::prepare(*def, ctx);
    if (!ctx.step.run) ctx.fail("internal error: prepare chose no kernel");

    bool all_constant = def->deterministic;
    for (ir::TensorId t : node.inputs)
      if (t != ir::kNoTensor && !info[t].data && !def->shape_only) all_constant = false;

    std::vector<void*> operands;
    std::vector<std::shared_ptr<ir::Buffer>> folded;
    for (ir::TensorId t : node.inputs) operands.push_back(t == ir::kNoTensor ? nullptr : const_cast<void*>(info[t].data));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      ir::TensorId t = node.outputs[i];
      if (t == ir::kNoTensor) {
        operands.push_back(nullptr);
        continue;
      }
      const ops::TensorInfo& out = ctx.output(static_cast<int>(i));
      if (out.dtype == DType::Undefined) ctx.fail("internal error: prepare left output " + std::to_string(i) + " untyped");
      info[t] = {out.dtype, out.shape, nullptr};
      if (all_constant) {
        check_memory(folded_bytes += info[t].bytes(), options.max_memory_bytes, where + ": folding constants");
        folded.push_back(std::make_shared<ir::Buffer>(info[t].bytes()));
        operands.push_back(folded.back()->data());
      }
    }
    if (!all_constant) {
      prepared.push_back({n, std::move(ctx.step), node.inputs, node.outputs, {}, node.name, node.op_type});
      continue;
    }
    check_memory(ctx.step.scratch_bytes, options.max_memory_bytes, where + ": scratch for folding");
    ir::Buffer scratch(ctx.step.scratch_bytes);
    if (ctx.step.scratch_bytes) operands.push_back(scratch.data());
    if (int rc = ctx.step.run(ctx.step.params.get(), operands.data()))
      ctx.fail("failed while folding constants (kernel " + std::string(ctx.step.kernel) + " returned " +
               std::to_string(rc) + ")");
    size_t k = 0;
    for (ir::TensorId t : node.outputs)
      if (t != ir::kNoTensor) {
        constant[t] = folded[k];
        info[t].data = folded[k]->data();
        ++k;
      }
  }
  for (ir::TensorId t : g.outputs)
    if (info[t].dtype == DType::Undefined)
      throw Error(g.source + ": graph output '" + g.tensors[t].name + "' is not produced by any node");

  // 2. Keep only steps whose results some graph output needs.
  std::vector<bool> needed(nt, false);
  for (ir::TensorId t : g.outputs) needed[t] = true;
  std::vector<bool> keep(prepared.size(), false);
  for (size_t i = prepared.size(); i-- > 0;) {
    const ir::Node& node = g.nodes[prepared[i].node];
    for (ir::TensorId t : node.outputs) keep[i] = keep[i] || (t != ir::kNoTensor && needed[t]);
    if (keep[i])
      for (ir::TensorId t : node.inputs)
        if (t != ir::kNoTensor) needed[t] = true;
  }

  // 2b. Epilogue fusion: a step whose output 0 only feeds a Relu, or an Add
  // of a same-shaped tensor that is ready before the step, takes that node's
  // work (Step::fuse) and its output; the node's step goes.
  if (options.fuse) {
    std::vector<int> uses(nt, 0), producer(nt, -1);
    for (ir::TensorId t : g.outputs) ++uses[t];
    for (size_t i = 0; i < prepared.size(); ++i) {
      if (!keep[i]) continue;
      for (ir::TensorId t : prepared[i].inputs)
        if (t != ir::kNoTensor) ++uses[t];
      for (ir::TensorId t : prepared[i].outputs)
        if (t != ir::kNoTensor) producer[t] = static_cast<int>(i);
    }
    for (size_t i = 0; i < prepared.size(); ++i) {
      Prepared& p = prepared[i];
      while (keep[i] && p.step.fuse && !p.outputs.empty() && p.outputs[0] != ir::kNoTensor) {
        const ir::TensorId t = p.outputs[0];
        if (uses[t] != 1) break;
        size_t j = i + 1;
        while (j < prepared.size() &&
               !(keep[j] && std::find(prepared[j].inputs.begin(), prepared[j].inputs.end(), t) != prepared[j].inputs.end()))
          ++j;
        if (j == prepared.size()) break;
        Prepared& c = prepared[j];
        const ir::Node& cn = g.nodes[c.node];
        if (!cn.domain.empty() || c.outputs.size() != 1 || c.outputs[0] == ir::kNoTensor) break;
        const ir::TensorId u = c.outputs[0];
        if (info[u].dtype != info[t].dtype || info[u].shape != info[t].shape) break;
        ops::Step::Epilogue what;
        ir::TensorId other = ir::kNoTensor;
        if (cn.op_type == "Relu" && c.inputs.size() == 1) {
          what = ops::Step::Epilogue::Relu;
        } else if (cn.op_type == "Add" && c.inputs.size() == 2) {
          other = c.inputs[0] == t ? c.inputs[1] : c.inputs[0];
          // Same shape (no broadcasting) and written before step i runs.
          if (other == t || info[other].dtype != info[t].dtype || info[other].shape != info[t].shape ||
              producer[other] >= static_cast<int>(i))
            break;
          what = ops::Step::Epilogue::Add;
        } else {
          break;
        }
        if (!p.step.fuse(p.step, what)) break;
        if (other != ir::kNoTensor) p.fused.push_back(other);
        p.step.flops += c.step.flops;
        p.outputs[0] = u;
        producer[u] = static_cast<int>(i);
        uses[t] = 0;
        keep[j] = false;
        p.name += " + " + c.name;
        p.op_type += "+" + c.op_type;
      }
    }
  }

  // 3. Give every tensor a storage class; let view ops share their input.
  std::vector<int> plan_id(nt, -1);
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
      plan_id[t] = add(g.tensors[t].name, info[t].dtype, info[t].shape, Storage::Arena);
      if (constant[t]) {
        plan.tensors[plan_id[t]].storage = Storage::Constant;
        plan.tensors[plan_id[t]].constant = constant[t];
        plan.constant_bytes += plan.tensors[plan_id[t]].bytes;
      }
    }
    return plan_id[t];
  };
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    int id = id_of(g.inputs[k]);
    plan.tensors[id].storage = Storage::Input;
    plan.tensors[id].index = static_cast<int>(k);
    plan.inputs.push_back(id);
  }
  std::vector<bool> produced(nt, false);
  for (size_t i = 0; i < prepared.size(); ++i)
    if (keep[i])
      for (ir::TensorId t : prepared[i].outputs)
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

  // 4. Emit steps with their operands; record buffer lifetimes.
  std::vector<BufferRequest> requests;
  std::vector<int> request_tensor;
  std::vector<int> request_of(0);
  auto touch = [&](int id, int step) {
    if (plan.tensors[id].storage != Storage::Arena) return;
    if (static_cast<int>(request_of.size()) <= id) request_of.resize(id + 1, -1);
    if (request_of[id] < 0) {
      request_of[id] = static_cast<int>(requests.size());
      requests.push_back({plan.tensors[id].bytes, step, step});
      request_tensor.push_back(id);
    }
    BufferRequest& r = requests[request_of[id]];
    r.first_step = std::min(r.first_step, step);
    r.last_step = std::max(r.last_step, step);
  };
  for (size_t i = 0; i < prepared.size(); ++i) {
    if (!keep[i]) continue;
    const Prepared& pr = prepared[i];
    const ir::Node& node = g.nodes[pr.node];
    ops::Step& step = prepared[i].step;
    if (step.output_aliases_input && pr.inputs.size() >= 1 && pr.inputs[0] != ir::kNoTensor &&
        plan_id[pr.outputs[0]] < 0) {
      int in = id_of(pr.inputs[0]);
      if (plan.tensors[in].storage == Storage::Arena) {
        plan_id[pr.outputs[0]] = in;  // same bytes, no step
        continue;
      }
    }
    const int s = static_cast<int>(plan.steps.size());
    PlanStep ps;
    ps.node_name = pr.name;
    ps.op_type = pr.op_type;
    ps.first_operand = static_cast<uint32_t>(plan.operands.size());
    ps.num_inputs = static_cast<uint32_t>(pr.inputs.size());
    ps.num_outputs = static_cast<uint32_t>(pr.outputs.size());
    for (ir::TensorId t : pr.inputs) plan.operands.push_back(t == ir::kNoTensor ? -1 : id_of(t));
    for (ir::TensorId t : pr.outputs) plan.operands.push_back(t == ir::kNoTensor ? -1 : id_of(t));
    for (ir::TensorId t : pr.fused) plan.operands.push_back(id_of(t));
    if (step.scratch_bytes)
      plan.operands.push_back(add(node.name + ":scratch", DType::U8, {static_cast<int64_t>(step.scratch_bytes)},
                                  Storage::Arena));
    ps.num_operands = static_cast<uint32_t>(plan.operands.size() - ps.first_operand);
    for (uint32_t o = 0; o < ps.num_operands; ++o)
      if (int id = plan.operands[ps.first_operand + o]; id >= 0) touch(id, s);
    plan.flops += step.flops;
    ++plan.plan_op_counts[node.op_type];
    ps.step = std::move(step);
    plan.steps.push_back(std::move(ps));
  }

  // 5. Arena offsets.
  uint64_t io_bytes = 0;  // the session's own input and output buffers
  for (int id : plan.inputs) io_bytes += plan.tensors[id].bytes;
  for (int id : plan.outputs) io_bytes += plan.tensors[id].bytes;
  MemoryPlan mp = plan_memory_within(requests, io_bytes, options.max_memory_bytes, plan.source);
  for (size_t r = 0; r < requests.size(); ++r) plan.tensors[request_tensor[r]].offset = mp.offsets[r];
  plan.arena_bytes = mp.arena_bytes;
  plan.arena_lower_bound_bytes = mp.lower_bound_bytes;
  plan.arena_no_reuse_bytes = mp.no_reuse_bytes;
  return plan;
}

}  // namespace rtml::plan
