#include "plan/plan.h"

#include <sstream>

#include "core/error.h"
#include "plan/pass.h"

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

// The passes, in order (pass.h says what each does and how to add one).
const std::vector<Pass>& plan_passes() {
  static const std::vector<Pass> passes = {
      {"resolve_inputs", resolve_inputs},          // input and constant types and shapes
      {"apply_schedule", apply_schedule},          // check the schedule (--tuning); prepare applies it
      {"prepare_fold", prepare_fold},              // prepare every node; fold the constant ones
      {"fold_pad", fold_pad},                      // a Pad -> Conv/pool becomes the Conv's or pool's pads
      {"fold_causal_slice", fold_causal_slice},    // Conv -> Slice dropping outputs becomes the Conv's pads
      {"fuse_layer_norm", fuse_layer_norm},        // LayerNorm written out (ReduceMean ... Add) -> LayerNormalization
      {"fuse_softmax", fuse_softmax},              // softmax written out (Exp, ReduceSum, Div) -> Softmax
      {"fuse_qdq", fuse_qdq},                      // DequantizeLinear -> Conv/MatMul/Gemm -> QuantizeLinear: one int8 step
      {"drop_dead_steps", drop_dead_steps},        // steps no graph output needs
      {"fuse_epilogues", fuse_epilogues},          // Relu / Add into the step before
      {"fuse_elementwise_chains", fuse_elementwise_chains},  // elementwise chains -> one step, one pass
      {"alias_views", alias_views},                // views share their input's bytes
      {"emit_steps", emit_steps},                  // storage classes, PlanSteps, lifetimes
      {"place_arena", place_arena},                // arena offsets
  };
  return passes;
}

Plan build_plan(const ir::Graph& graph, const PlanOptions& options) {
  PlanState state(graph, options);
  for (const Pass& pass : plan_passes()) run_pass(state, pass);
  return std::move(state.plan);
}

}  // namespace rtml::plan
