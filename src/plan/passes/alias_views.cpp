// alias_views: a kept step whose output 0 holds exactly its input 0's bytes
// (Step::output_aliases_input: Reshape, Squeeze, Flatten, Identity...) runs
// no step when both tensors live in the arena: the output shares the input's
// bytes (alias = true). Graph inputs and outputs are caller-owned buffers
// and constants are read-only, so a view from or to one of them stays a
// copy step. A chain of views shares one buffer.
#include "plan/pass.h"

namespace rtml::plan {

void alias_views(PlanState& s, PassReport& report) {
  // Tensors that will not be in the arena (emit_steps gives them their storage).
  std::vector<bool> outside(s.graph.tensors.size(), false);
  for (ir::TensorId t : s.graph.inputs) outside[t] = true;
  for (ir::TensorId t : s.graph.outputs) outside[t] = true;
  for (size_t t = 0; t < outside.size(); ++t) outside[t] = outside[t] || s.constant[t] != nullptr;

  std::vector<std::string> aliased, copied;
  for (PreparedStep& p : s.steps) {
    if (!p.keep || !p.step.output_aliases_input || p.inputs.empty() || p.outputs.empty()) continue;
    const ir::TensorId in = p.inputs[0], out = p.outputs[0];
    if (in == ir::kNoTensor || out == ir::kNoTensor) continue;
    p.alias = !outside[in] && !outside[out];
    (p.alias ? aliased : copied).push_back(p.op_type);
  }
  report.summary = aliased.empty() ? "no view aliases its input"
                                   : std::to_string(aliased.size()) +
                                         (aliased.size() == 1 ? " view aliases its input (" : " views alias their input (") +
                                         count_by_kind(aliased) + ")";
  if (!copied.empty())
    report.summary += "; " + std::to_string(copied.size()) + (copied.size() == 1 ? " view copies" : " views copy") +
                      " (from or to a graph input, output or constant)";
  report.numbers = {{"aliased_views", static_cast<int64_t>(aliased.size())},
                    {"copied_views", static_cast<int64_t>(copied.size())}};
}

}  // namespace rtml::plan
