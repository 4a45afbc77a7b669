// fuse_softmax (a rewrite after prepare_fold): a softmax written out by
// hand-written code and exported as it is,
//
//   [z = Sub(x, ReduceMax(x, axis))]  e = Exp(z | x)
//   y = Div(e, ReduceSum(e, axis))
//
// over one axis with keepdims 1, becomes one Softmax step over that axis (the
// last node of the chain becomes the Softmax node; the step is named after
// every node it replaced).
//
// As exact or more: the Softmax kernel subtracts the row's maximum before
// Exp, so where the written-out chain gives finite values the two agree up
// to rounding (the max-subtracted chain computes the same expression), and
// where the chain without the subtraction overflows (Exp of an input above
// about 88.7 is inf, and inf / inf NaN) Softmax still gives the right,
// finite values.
//
// Left alone: an intermediate that something else reads or that is a graph
// output, several axes, keepdims 0, below opset 13 an axis other than the
// last (Softmax then flattens from its axis on), PlanOptions::fuse = false.
#include "plan/pass.h"

namespace rtml::plan {

namespace {

// Matches backwards from the Div step `div`.
bool match(PlanState& s, const TensorUses& u, PreparedStep& div, ChainRewrite& r) {
  if (div.inputs.size() != 2) return false;
  const ir::TensorId e = div.inputs[0];
  PreparedStep* exp = producer_of(s, u, e, "Exp");
  PreparedStep* sum = producer_of(s, u, div.inputs[1], "ReduceSum");
  if (!exp || !sum || sum->inputs.empty() || sum->inputs[0] != e || u.readers[e] != 2 ||
      u.readers[div.inputs[1]] != 1)
    return false;
  const std::vector<int> axes = reduced_axes(s, s.graph.nodes[sum->node]);
  if (axes.size() != 1) return false;
  ir::TensorId x = exp->inputs[0];
  r.chain = {exp, sum, &div};
  // The max-subtracted form: Sub(x, ReduceMax(x, the same axis)).
  if (PreparedStep* sub = producer_of(s, u, x, "Sub")) {
    PreparedStep* max = sub->inputs.size() == 2 ? producer_of(s, u, sub->inputs[1], "ReduceMax") : nullptr;
    if (max && u.readers[x] == 1 && u.readers[sub->inputs[1]] == 1 && max->inputs[0] == sub->inputs[0] &&
        reduced_axes(s, s.graph.nodes[max->node]) == axes) {
      x = sub->inputs[0];
      r.chain.insert(r.chain.begin(), {max, sub});
    }
  }
  const ops::TensorInfo& xi = s.info[x];
  if ((xi.dtype != DType::F32 && xi.dtype != DType::F64) || s.info[div.outputs[0]].shape != xi.shape) return false;
  if (s.graph.opset < 13 && axes[0] != xi.rank() - 1) return false;
  r.op_type = "Softmax";
  r.inputs = {x};
  r.attrs["axis"].kind = ir::Attribute::Kind::Int;
  r.attrs["axis"].i = axes[0];
  return true;
}

}  // namespace

void fuse_softmax(PlanState& s, PassReport& report) {
  run_chain_rewrite(s, report, "Div", match, "softmax chain", "Softmax", "no written-out softmax", "softmaxes");
}

}  // namespace rtml::plan
