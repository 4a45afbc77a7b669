// prepare_fold: every node's prepare, in topological order (validation,
// output types and shapes, kernel choice: ops/op.h). A deterministic node
// whose inputs are all constant (or, for shape-only ops like Shape, whose
// input shapes are known) is run once now and its outputs become constants,
// so Constant, Shape -> Gather -> Concat chains and Identity on weights
// leave no step. The others become state.steps.
#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

bool prepare_node(PlanState& s, int n, PreparedStep& prepared) {
  const ir::Graph& g = s.graph;
  const ir::Node& node = g.nodes[n];
  const std::string where = g.source + ": node '" + node.name + "' (" + node.op_type + ")";
  const ops::OpDef* def = node.domain.empty()                ? ops::find_op(node.op_type)
                          : node.domain == ops::kFusedDomain ? ops::find_fused_op(node.op_type)
                                                             : nullptr;
  if (!def)
    throw Error(where + ": op " + (node.domain.empty() ? "" : node.domain + ".") + node.op_type +
                " is not supported by rtml (see `rtml ops` for the list)");
  std::vector<ops::TensorInfo> ins;
  for (ir::TensorId t : node.inputs) {
    if (t != ir::kNoTensor && s.info[t].dtype == DType::Undefined)
      throw Error(where + ": input '" + g.tensors[t].name + "' has no known type");
    ins.push_back(t == ir::kNoTensor ? ops::TensorInfo{} : s.info[t]);
  }
  ops::OpContext ctx(node, g.opset, std::move(ins), node.outputs.size(), g.source);
  ctx.max_memory_bytes = s.options.max_memory_bytes;
  ctx.kernel_set = s.options.kernels;
  if (auto it = s.options.schedule.find(node.name); it != s.options.schedule.end()) {  // apply_schedule checked it
    ctx.choices = &it->second;
    auto impl = it->second.find("impl");
    if (impl != it->second.end() && impl->second != "plan") ctx.kernel_set = kernels::parse_kernel_set(impl->second);
  }
  ops::prepare(*def, ctx);
  if (!ctx.step.run) ctx.fail("internal error: prepare chose no kernel");

  bool all_constant = def->deterministic && !ctx.step.state_bytes;
  for (ir::TensorId t : node.inputs)
    if (t != ir::kNoTensor && !s.info[t].data && !def->shape_only) all_constant = false;

  std::vector<void*> operands;
  std::vector<std::shared_ptr<ir::Buffer>> folded;
  for (ir::TensorId t : node.inputs) operands.push_back(t == ir::kNoTensor ? nullptr : const_cast<void*>(s.info[t].data));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    ir::TensorId t = node.outputs[i];
    if (t == ir::kNoTensor) {
      operands.push_back(nullptr);
      continue;
    }
    const ops::TensorInfo& out = ctx.output(static_cast<int>(i));
    if (out.dtype == DType::Undefined) ctx.fail("internal error: prepare left output " + std::to_string(i) + " untyped");
    s.info[t] = {out.dtype, out.shape, nullptr};
    if (all_constant) {
      check_memory(s.folded_bytes += s.info[t].bytes(), s.options.max_memory_bytes, where + ": folding constants");
      folded.push_back(std::make_shared<ir::Buffer>(s.info[t].bytes()));
      operands.push_back(folded.back()->data());
    }
  }
  if (!all_constant) {
    prepared = PreparedStep{};
    prepared.node = n;
    prepared.step = std::move(ctx.step);
    prepared.inputs = node.inputs;
    prepared.outputs = node.outputs;
    prepared.name = node.name;
    prepared.op_type = node.op_type;
    return true;
  }
  for (const ops::StepConstant& c : ctx.step.constants) operands.push_back(const_cast<void*>(c.data->data()));
  check_memory(ctx.step.scratch_bytes, s.options.max_memory_bytes, where + ": scratch for folding");
  ir::Buffer scratch(ctx.step.scratch_bytes);
  if (ctx.step.scratch_bytes) operands.push_back(scratch.data());
  if (int rc = ctx.step.run(ctx.step.params.get(), operands.data()))
    ctx.fail("failed while folding constants (kernel " + ctx.step.kernel + " returned " +
             std::to_string(rc) + ")");
  size_t k = 0;
  for (ir::TensorId t : node.outputs)
    if (t != ir::kNoTensor) {
      s.constant[t] = folded[k];
      s.info[t].data = folded[k]->data();
      ++k;
    }
  return false;
}

void prepare_fold(PlanState& s, PassReport& report) {
  const ir::Graph& g = s.graph;
  std::vector<std::string> folded_ops;
  for (int n : ir::topological_order(g)) {
    PreparedStep p;
    if (prepare_node(s, n, p)) {
      s.steps.push_back(std::move(p));
    } else {
      folded_ops.push_back(g.nodes[n].op_type);
    }
  }
  for (ir::TensorId t : g.outputs)
    if (s.info[t].dtype == DType::Undefined)
      throw Error(g.source + ": graph output '" + g.tensors[t].name + "' is not produced by any node");

  report.summary = "prepared " + plural(g.nodes.size(), "node") + ": " + plural(s.steps.size(), "step") +
                   ", folded " + std::to_string(folded_ops.size()) +
                   (folded_ops.empty() ? "" : " (" + count_by_kind(folded_ops) + ")");
  report.numbers = {{"nodes", static_cast<int64_t>(g.nodes.size())},
                    {"steps", static_cast<int64_t>(s.steps.size())},
                    {"folded_nodes", static_cast<int64_t>(folded_ops.size())}};
}

}  // namespace rtml::plan
