// drop_dead_steps: walking the steps backwards from the graph outputs, a
// step none of whose outputs is needed (by a graph output or a kept step)
// gets keep = false and never runs.
#include "plan/pass.h"

namespace rtml::plan {

void drop_dead_steps(PlanState& s, PassReport& report) {
  std::vector<bool> needed(s.graph.tensors.size(), false);
  for (ir::TensorId t : s.graph.outputs) needed[t] = true;
  std::vector<std::string> dropped;
  for (size_t i = s.steps.size(); i-- > 0;) {
    PreparedStep& p = s.steps[i];
    if (!p.keep) continue;
    bool used = false;
    for (ir::TensorId t : p.outputs) used = used || (t != ir::kNoTensor && needed[t]);
    if (!used) {
      p.keep = false;
      dropped.push_back(p.name);
      continue;
    }
    for (ir::TensorId t : p.inputs)
      if (t != ir::kNoTensor) needed[t] = true;
  }
  report.summary = dropped.empty() ? "no dead steps"
                                   : "dropped " + plural(dropped.size(), "dead step") + ": " + first_few({dropped.rbegin(), dropped.rend()});
  report.numbers = {{"dropped_steps", static_cast<int64_t>(dropped.size())}};
}

}  // namespace rtml::plan
