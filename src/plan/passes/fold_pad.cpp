// fold_pad (a rewrite after prepare_fold): a constant-mode Pad step whose
// only reader is the X input of a Conv, AveragePool or MaxPool, padding only
// along the spatial dimensions by non-negative amounts known now, becomes
// part of that node's `pads` attribute when the kernel's own padding computes
// the same:
//   - Conv: the Pad's value is 0;
//   - AveragePool: the value is 0, ceil_mode 0, and the pool counts its own
//     padding too (count_include_pad 1) or has none; it then counts all of
//     it (count_include_pad = 1), as it counted the Pad's zeros;
//   - MaxPool (Y only, ceil_mode 0, no dilation): the value is -inf (what
//     MaxPool pads with), or 0 after a Relu (every window keeps at least one
//     element of x, all >= 0, because each pad is smaller than the kernel).
// The node in the planner's graph reads the Pad's input and is prepared
// again (prepare_node); the Pad step goes (keep = false). The kernel then
// pads inside: no padded copy in the arena, one step less. A Pad in front of
// a Pad folds too (torch.onnx writes F.pad then its own Pad before an
// AveragePool).
//
// It runs after constant folding because exporters compute the pads: a
// PyTorch F.pad becomes Pad(x, Cast(Reshape(Slice(Concat(...))))), known
// only once prepare_fold has folded that chain.
//
// Left alone: other modes or values, pads on the batch or channel
// dimension, negative pads (a crop), auto_pad other than NOTSET, a Pad
// output that something else also reads or that is a graph output.
#include <algorithm>
#include <cmath>

#include "plan/pass.h"

namespace rtml::plan {

namespace {

// The Pad's pads [x1_begin, x2_begin, ..., x1_end, ...] and its value when it
// pads in constant mode and both are known; empty otherwise.
std::vector<int64_t> constant_pads(const PlanState& s, const ir::Node& pad, float& value) {
  const ir::Attribute* mode = find_attr(pad, "mode");
  if (mode && mode->s != "constant") return {};
  value = 0;
  if (s.graph.opset < 11) {
    const ir::Attribute* a = find_attr(pad, "pads") ? find_attr(pad, "pads") : find_attr(pad, "paddings");
    if (const ir::Attribute* v = find_attr(pad, "value")) value = v->f;
    return a ? a->ints : std::vector<int64_t>{};
  }
  // Inputs: data, pads, constant_value (optional), axes (opset 18, not handled).
  if (pad.inputs.size() < 2 || pad.inputs.size() > 3 || pad.inputs[1] == ir::kNoTensor) return {};
  const ops::TensorInfo& pads = s.info[pad.inputs[1]];
  if (!pads.data || pads.dtype != DType::I64) return {};
  if (pad.inputs.size() == 3 && pad.inputs[2] != ir::kNoTensor && !constant_scalar(s, pad.inputs[2], value))
    return {};
  return std::vector<int64_t>(pads.as<int64_t>(), pads.as<int64_t>() + pads.numel());
}

int64_t int_attr(const ir::Node& n, const char* name, int64_t fallback) {
  const ir::Attribute* a = find_attr(n, name);
  return a ? a->i : fallback;
}

// The node's pads with the Pad's spatial ones added, or empty if they cannot merge.
std::vector<int64_t> merged_pads(const ir::Node& node, const std::vector<int64_t>& pads, int rank) {
  const ir::Attribute* auto_pad = find_attr(node, "auto_pad");
  if (auto_pad && !auto_pad->s.empty() && auto_pad->s != "NOTSET") return {};
  if (rank < 3 || pads.size() != 2 * static_cast<size_t>(rank)) return {};
  if (pads[0] || pads[1] || pads[rank] || pads[rank + 1] ||
      std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
    return {};
  const size_t spatial = static_cast<size_t>(rank - 2);
  std::vector<int64_t> out(2 * spatial, 0);
  if (const ir::Attribute* a = find_attr(node, "pads")) {
    if (a->ints.size() != 2 * spatial) return {};
    out = a->ints;
  }
  for (size_t d = 0; d < spatial; ++d) {
    out[d] += pads[2 + d];
    out[spatial + d] += pads[rank + 2 + d];
  }
  return out;
}

// Whether `node` padded by `pads` (merged) computes what it computes on x
// padded with `value`; may set count_include_pad in `extra`.
bool same_result(PlanState& s, const TensorUses& u, const ir::Node& node, const ir::Node& pad, float value,
                 const std::vector<int64_t>& merged, std::map<std::string, ir::Attribute>& extra) {
  if (node.op_type == "Conv") return value == 0.0f;
  if (int_attr(node, "ceil_mode", 0) != 0) return false;
  const ir::Attribute* own = find_attr(node, "pads");
  const bool own_pads = own && std::any_of(own->ints.begin(), own->ints.end(), [](int64_t p) { return p != 0; });
  if (node.op_type == "AveragePool") {
    if (value != 0.0f || (own_pads && int_attr(node, "count_include_pad", 0) != 1)) return false;
    extra["count_include_pad"].kind = ir::Attribute::Kind::Int;
    extra["count_include_pad"].i = 1;
    return true;
  }
  // MaxPool
  if (node.outputs.size() != 1) return false;
  const ir::Attribute* kernel = find_attr(node, "kernel_shape");
  const ir::Attribute* dilations = find_attr(node, "dilations");
  if (!kernel || (dilations && std::any_of(dilations->ints.begin(), dilations->ints.end(),
                                           [](int64_t d) { return d != 1; })))
    return false;
  if (std::isinf(value) && value < 0) return true;
  if (value != 0.0f || !producer_of(s, u, pad.inputs[0], "Relu")) return false;
  const size_t spatial = kernel->ints.size();
  if (merged.size() != 2 * spatial) return false;
  for (size_t d = 0; d < 2 * spatial; ++d)
    if (merged[d] >= kernel->ints[d % spatial]) return false;
  return true;
}

// Folds the Pad in front of step `step`'s node if it can; returns the Pad's name.
bool fold_one(PlanState& s, const TensorUses& u, PreparedStep& step, std::string& folded) {
  ir::Node& node = s.graph.nodes[step.node];
  if (!step.keep || !node.domain.empty() || node.inputs.empty() ||
      (node.op_type != "Conv" && node.op_type != "AveragePool" && node.op_type != "MaxPool"))
    return false;
  const ir::TensorId x = node.inputs[0];
  PreparedStep* pad_step = producer_of(s, u, x, "Pad");
  if (!pad_step || u.readers[x] != 1) return false;
  const ir::Node& pad = s.graph.nodes[pad_step->node];
  if (pad.outputs.size() != 1) return false;
  float value = 0;
  const std::vector<int64_t> pads = merged_pads(node, constant_pads(s, pad, value), s.info[x].rank());
  std::map<std::string, ir::Attribute> extra;
  if (pads.empty() || !same_result(s, u, node, pad, value, pads, extra)) return false;

  node.attrs["pads"].kind = ir::Attribute::Kind::Ints;
  node.attrs["pads"].ints = pads;
  for (auto& [name, a] : extra) node.attrs[name] = a;
  node.inputs[0] = pad.inputs[0];
  // Same output shape: Pad + node = node with the sum of the pads. (X is not
  // constant, else the Pad and the node would have been folded.)
  if (!prepare_node(s, step.node, step)) step.keep = false;
  pad_step->keep = false;
  folded = pad.name + " -> " + node.name;
  return true;
}

}  // namespace

void fold_pad(PlanState& s, PassReport& report) {
  std::vector<std::string> folded;
  TensorUses uses = tensor_uses(s);
  for (PreparedStep& step : s.steps) {
    std::string one;
    while (fold_one(s, uses, step, one)) {  // again: a Pad in front of the Pad
      folded.push_back(one);
      uses = tensor_uses(s);
    }
  }
  report.summary = folded.empty() ? "no Pad to fold into a Conv or pool"
                                  : "folded " + plural(folded.size(), "Pad") + " into the Conv or pool after it: " +
                                        first_few(folded);
  report.numbers = {{"folded_pads", static_cast<int64_t>(folded.size())}};
}

}  // namespace rtml::plan
