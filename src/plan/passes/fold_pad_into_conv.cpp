// fold_pad_into_conv (a rewrite after prepare_fold): a Pad step whose only
// reader is a Conv's X input and which pads with zeros (mode constant, value
// 0) only along the spatial dimensions, by non-negative amounts known now,
// becomes part of the Conv's `pads` attribute: the Conv node in the
// planner's graph reads the Pad's input, is prepared again (prepare_node),
// and the Pad step goes (keep = false). The Conv then pads inside its
// kernel: no padded copy of the input in the arena, one step less.
//
// It runs after constant folding because exporters compute the pads: a
// PyTorch F.pad becomes Pad(x, Cast(Reshape(Slice(Concat(...))))), known
// only once prepare_fold has folded that chain.
//
// Left alone: other modes or values, pads on the batch or channel
// dimension, negative pads (a crop), a Conv with auto_pad other than
// NOTSET, a Pad output that something else also reads or that is a graph
// output.
#include <algorithm>

#include "plan/pass.h"

namespace rtml::plan {

namespace {

const ir::Attribute* attr(const ir::Node& n, const std::string& name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}

// The Pad's pads [x1_begin, x2_begin, ..., x1_end, ...] when it pads with
// zeros in constant mode and its pads are known; empty otherwise.
std::vector<int64_t> zero_pads(const PlanState& s, const ir::Node& pad) {
  const ir::Attribute* mode = attr(pad, "mode");
  if (mode && mode->s != "constant") return {};
  if (s.graph.opset < 11) {
    const ir::Attribute* a = attr(pad, "pads") ? attr(pad, "pads") : attr(pad, "paddings");
    const ir::Attribute* value = attr(pad, "value");
    if (!a || (value && value->f != 0.0f)) return {};
    return a->ints;
  }
  // Inputs: data, pads, constant_value (optional), axes (opset 18, not handled).
  if (pad.inputs.size() < 2 || pad.inputs.size() > 3 || pad.inputs[1] == ir::kNoTensor) return {};
  const ops::TensorInfo& pads = s.info[pad.inputs[1]];
  if (!pads.data || pads.dtype != DType::I64) return {};
  if (pad.inputs.size() == 3 && pad.inputs[2] != ir::kNoTensor) {
    const ops::TensorInfo& v = s.info[pad.inputs[2]];
    if (!v.data || v.dtype != DType::F32 || v.numel() != 1 || *v.as<float>() != 0.0f) return {};
  }
  return std::vector<int64_t>(pads.as<int64_t>(), pads.as<int64_t>() + pads.numel());
}

// The Conv's pads with the Pad's spatial ones added, or empty if they cannot merge.
std::vector<int64_t> merged_pads(const ir::Node& conv, const std::vector<int64_t>& pads, int rank) {
  const ir::Attribute* auto_pad = attr(conv, "auto_pad");
  if (auto_pad && !auto_pad->s.empty() && auto_pad->s != "NOTSET") return {};
  if (rank < 3 || pads.size() != 2 * static_cast<size_t>(rank)) return {};
  if (pads[0] || pads[1] || pads[rank] || pads[rank + 1] ||
      std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
    return {};
  const size_t spatial = static_cast<size_t>(rank - 2);
  std::vector<int64_t> out(2 * spatial, 0);
  if (const ir::Attribute* a = attr(conv, "pads")) {
    if (a->ints.size() != 2 * spatial) return {};
    out = a->ints;
  }
  for (size_t d = 0; d < spatial; ++d) {
    out[d] += pads[2 + d];
    out[spatial + d] += pads[rank + 2 + d];
  }
  return out;
}

}  // namespace

void fold_pad_into_conv(PlanState& s, PassReport& report) {
  ir::Graph& g = s.graph;
  std::vector<int> readers(g.tensors.size(), 0), producer(g.tensors.size(), -1);
  for (ir::TensorId t : g.outputs) ++readers[t];
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (!s.steps[i].keep) continue;
    for (ir::TensorId t : s.steps[i].inputs)
      if (t != ir::kNoTensor) ++readers[t];
    for (ir::TensorId t : s.steps[i].outputs)
      if (t != ir::kNoTensor) producer[t] = static_cast<int>(i);
  }

  std::vector<std::string> folded;
  for (PreparedStep& step : s.steps) {
    ir::Node& conv = g.nodes[step.node];
    if (!step.keep || conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.empty()) continue;
    const ir::TensorId x = conv.inputs[0];
    if (x == ir::kNoTensor || producer[x] < 0 || readers[x] != 1) continue;
    PreparedStep& pad_step = s.steps[producer[x]];
    const ir::Node& pad = g.nodes[pad_step.node];
    if (pad.op_type != "Pad" || !pad.domain.empty() || pad.outputs.size() != 1) continue;
    const std::vector<int64_t> pads = merged_pads(conv, zero_pads(s, pad), s.info[x].rank());
    if (pads.empty()) continue;

    ir::Attribute merged;
    merged.kind = ir::Attribute::Kind::Ints;
    merged.ints = pads;
    conv.attrs["pads"] = merged;
    conv.inputs[0] = pad.inputs[0];
    // Same output shape: Pad + Conv = Conv with the sum of the pads. (X is not
    // constant, else the Pad and the Conv would have been folded.)
    if (!prepare_node(s, step.node, step)) step.keep = false;
    pad_step.keep = false;
    folded.push_back(pad.name + " -> " + conv.name);
  }
  report.summary = folded.empty() ? "no Pad to fold into a Conv"
                                  : "folded " + plural(folded.size(), "Pad") + " into the Conv after it: " +
                                        first_few(folded);
  report.numbers = {{"folded_pads", static_cast<int64_t>(folded.size())}};
}

}  // namespace rtml::plan
