// plan/schedule: a schedule, the choices a plan makes per step, as data.
// `rtml tune` (tune/tune.h) searches them on a target and writes a tuning
// record; `--tuning FILE` hands its schedule to build_plan
// (PlanOptions::schedule), which applies it in each node's prepare. An empty
// schedule is today's plan, choice for choice.
//
// A schedule maps a step's key (the name of the graph node whose prepare
// picks the step's kernel: PlanStep::key, the step's node name before fusion
// prefixes or suffixes it) to knob -> value. The knobs (schedule_knobs()):
//   impl  the kernel set whose entry this step takes (reference, simd,
//         cortex-m, cmsis-nn): any op; the plan's --kernels for the others.
//         cmsis-nn only in a cmsis-nn plan (there it is the default).
//   conv  float32 Conv with the simd set: "im2row" takes the im2row kernel
//         where the 1-D / 2-D tile kernels would run (auto: today's order).
//   gemm  float32 MatMul/Gemm with a constant B and the simd set: "dense"
//         takes the packed GEMM where the sparse one would run.
// A value a step cannot take (conv=im2row on a 1x1 conv the tiles do not
// take anyway) leaves its default; prepare never fails for a knob.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace rtml::plan {

using StepChoices = std::map<std::string, std::string>;  // knob -> value
using Schedule = std::map<std::string, StepChoices>;      // step key -> choices

struct ScheduleKnob {
  const char* name;
  std::vector<std::string> values;  // the first is the default
  const char* applies_to;           // for messages and docs
};
const std::vector<ScheduleKnob>& schedule_knobs();

// "impl=cortex-m conv=im2row" ("default" when empty).
std::string choices_str(const StepChoices& c);

}  // namespace rtml::plan
