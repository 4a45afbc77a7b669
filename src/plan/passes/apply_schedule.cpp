// apply_schedule: checks PlanOptions::schedule against the graph (every key
// a node, every knob and value known) and reports what it will change; each
// node's prepare (prepare_node) then applies its choices. plan/schedule.h.
#include <algorithm>
#include <set>

#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

const std::vector<ScheduleKnob>& schedule_knobs() {
  static const std::vector<ScheduleKnob> knobs = {
      {"impl", {"plan", "reference", "simd", "cortex-m", "cmsis-nn"}, "any step: the kernel set whose entry it takes"},
      {"conv", {"auto", "im2row"}, "float32 Conv with the simd set: im2row instead of the 1-D/2-D tile kernels"},
      {"gemm", {"auto", "dense"}, "float32 MatMul/Gemm with constant B and the simd set: packed instead of sparse"},
  };
  return knobs;
}

std::string choices_str(const StepChoices& c) {
  std::string s;
  for (const auto& [k, v] : c) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s.empty() ? "default" : s;
}

void apply_schedule(PlanState& s, PassReport& report) {
  const Schedule& schedule = s.options.schedule;
  std::set<std::string> names;
  for (const ir::Node& n : s.graph.nodes) names.insert(n.name);
  std::string listed;
  for (const auto& [key, choices] : schedule) {
    const std::string where = s.graph.source + ": schedule step '" + key + "'";
    if (!names.count(key)) throw Error(where + ": the model has no node of that name (a record for another model?)");
    for (const auto& [knob, value] : choices) {
      const auto& knobs = schedule_knobs();
      const std::string& name = knob;  // (a lambda may not capture a structured binding before C++20)
      auto k = std::find_if(knobs.begin(), knobs.end(), [&name](const ScheduleKnob& x) { return name == x.name; });
      if (k == knobs.end()) throw Error(where + ": unknown knob '" + knob + "' (known: impl, conv, gemm)");
      if (std::find(k->values.begin(), k->values.end(), value) == k->values.end()) {
        std::string vals;
        for (const std::string& v : k->values) vals += (vals.empty() ? "" : ", ") + v;
        throw Error(where + ": " + knob + "=" + value + " is not a choice (" + vals + ")");
      }
      if (knob == "impl" && value == "cmsis-nn" && s.options.kernels != kernels::KernelSet::CmsisNn)
        throw Error(where + ": impl=cmsis-nn needs a plan with --kernels cmsis-nn (this one has " +
                    kernels::kernel_set_name(s.options.kernels) + ")");
    }
    if (listed.size() < 300) listed += (listed.empty() ? "" : "; ") + key + " " + choices_str(choices);
  }
  report.summary = schedule.empty() ? "default schedule (no --tuning)"
                                    : std::to_string(schedule.size()) + " steps with choices: " + listed +
                                          (listed.size() >= 300 ? "; ..." : "");
  report.numbers = {{"scheduled_steps", static_cast<int64_t>(schedule.size())}};
}

}  // namespace rtml::plan
