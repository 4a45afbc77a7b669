// fuse_epilogues: a step whose output 0 feeds only a Relu, or an Add of a
// same-shaped tensor that is ready before the step, takes that node's work
// (ops::Step::fuse) and its output; the absorbed step gets keep = false.
// Repeats on the same step (Conv + Add + Relu). Off with PlanOptions::fuse
// = false (one step per node: the reference for tests).
#include <algorithm>

#include "plan/pass.h"

namespace rtml::plan {

namespace {

// Absorbs into steps[i] the consumer of its output 0 if it can; returns
// whether it did.
bool fuse_next(PlanState& s, size_t i, std::vector<int>& uses, std::vector<int>& producer) {
  std::vector<PreparedStep>& steps = s.steps;
  PreparedStep& p = steps[i];
  if (!p.keep || !p.step.fuse || p.outputs.empty() || p.outputs[0] == ir::kNoTensor) return false;
  const ir::TensorId t = p.outputs[0];
  if (uses[t] != 1) return false;
  size_t j = i + 1;
  while (j < steps.size() &&
         !(steps[j].keep && std::find(steps[j].inputs.begin(), steps[j].inputs.end(), t) != steps[j].inputs.end()))
    ++j;
  if (j == steps.size()) return false;
  PreparedStep& c = steps[j];
  const ir::Node& cn = s.graph.nodes[c.node];
  if (!cn.domain.empty() || c.outputs.size() != 1 || c.outputs[0] == ir::kNoTensor) return false;
  const ir::TensorId u = c.outputs[0];
  const std::vector<ops::TensorInfo>& info = s.info;
  if (info[u].dtype != info[t].dtype || info[u].shape != info[t].shape) return false;
  ops::Step::Epilogue what;
  ir::TensorId other = ir::kNoTensor;
  if (cn.op_type == "Relu" && c.inputs.size() == 1) {
    what = ops::Step::Epilogue::Relu;
  } else if (cn.op_type == "Add" && c.inputs.size() == 2) {
    other = c.inputs[0] == t ? c.inputs[1] : c.inputs[0];
    // Same shape (no broadcasting) and written before step i runs.
    if (other == t || info[other].dtype != info[t].dtype || info[other].shape != info[t].shape ||
        producer[other] >= static_cast<int>(i))
      return false;
    what = ops::Step::Epilogue::Add;
  } else {
    return false;
  }
  if (!p.step.fuse(p.step, what)) return false;
  if (other != ir::kNoTensor) p.fused.push_back(other);
  p.step.flops += c.step.flops;
  p.outputs[0] = u;
  producer[u] = static_cast<int>(i);
  uses[t] = 0;
  c.keep = false;
  p.name += " + " + c.name;
  p.op_type += "+" + c.op_type;
  return true;
}

}  // namespace

void fuse_epilogues(PlanState& s, PassReport& report) {
  if (!s.options.fuse) {
    report.summary = "off (PlanOptions::fuse = false)";
    report.numbers = {{"fused_nodes", 0}};
    return;
  }
  const size_t nt = s.graph.tensors.size();
  std::vector<int> uses(nt, 0), producer(nt, -1);
  for (ir::TensorId t : s.graph.outputs) ++uses[t];
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (!s.steps[i].keep) continue;
    for (ir::TensorId t : s.steps[i].inputs)
      if (t != ir::kNoTensor) ++uses[t];
    for (ir::TensorId t : s.steps[i].outputs)
      if (t != ir::kNoTensor) producer[t] = static_cast<int>(i);
  }
  int absorbed = 0;
  std::vector<std::string> fused_steps;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    int n = 0;
    while (fuse_next(s, i, uses, producer)) ++n;
    if (n) fused_steps.push_back(s.steps[i].name);
    absorbed += n;
  }
  report.summary = absorbed == 0 ? "nothing fused"
                                 : "fused " + plural(absorbed, "node") + " into " +
                                       plural(fused_steps.size(), "step") + ": " + first_few(fused_steps);
  report.numbers = {{"fused_nodes", absorbed}, {"fused_steps", static_cast<int64_t>(fused_steps.size())}};
}

}  // namespace rtml::plan
