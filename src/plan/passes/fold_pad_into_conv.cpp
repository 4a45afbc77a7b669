// fold_pad_into_conv (a graph rewrite): a Pad whose only reader is a Conv's
// X input and which pads with zeros (mode constant, value 0) only along the
// spatial dimensions, by constant non-negative amounts, becomes part of the
// Conv's `pads` attribute; the Pad node goes. The Conv then pads inside its
// kernel (no padded copy of the input in the arena, one step less).
//
// Left alone (prepare then checks and runs them as they are): pads or a
// value that are not initializers, the opset 18 `axes` input, a Conv with
// auto_pad other than NOTSET, a Conv whose own pads are malformed, a Pad
// output that something else also reads or that is a graph output.
#include <algorithm>
#include <cstring>

#include "plan/pass.h"

namespace rtml::plan {

namespace {

const ir::Attribute* attr(const ir::Node& n, const std::string& name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}

// The initializer's values as int64, or false if `t` is not an int64 initializer.
bool constant_ints(const ir::Graph& g, ir::TensorId t, std::vector<int64_t>& out) {
  if (t == ir::kNoTensor || !g.tensors[t].is_constant() || g.tensors[t].dtype != DType::I64) return false;
  const ir::Tensor& c = g.tensors[t];
  const size_t n = static_cast<size_t>(shape_numel(c.shape));
  if (c.data->size() < n * sizeof(int64_t)) return false;
  out.assign(c.as<int64_t>(), c.as<int64_t>() + n);
  return true;
}

// The Pad's per-dimension pads [x1_begin, x2_begin, ..., x1_end, ...] when it
// pads with zeros in constant mode; empty otherwise.
std::vector<int64_t> zero_pads(const ir::Graph& g, const ir::Node& pad) {
  const ir::Attribute* mode = attr(pad, "mode");
  if (mode && mode->s != "constant") return {};
  std::vector<int64_t> pads;
  if (g.opset < 11) {
    const ir::Attribute* a = attr(pad, "pads") ? attr(pad, "pads") : attr(pad, "paddings");
    const ir::Attribute* value = attr(pad, "value");
    if (!a || pad.inputs.size() != 1 || (value && value->f != 0.0f)) return {};
    return a->ints;
  }
  if (pad.inputs.size() < 2 || pad.inputs.size() > 3 || !constant_ints(g, pad.inputs[1], pads)) return {};
  if (pad.inputs.size() == 3 && pad.inputs[2] != ir::kNoTensor) {
    const ir::Tensor& v = g.tensors[pad.inputs[2]];
    if (!v.is_constant() || v.dtype != DType::F32 || shape_numel(v.shape) != 1 || v.data->size() < sizeof(float))
      return {};
    if (*v.as<float>() != 0.0f) return {};
  }
  return pads;
}

}  // namespace

void fold_pad_into_conv(PlanState& s, PassReport& report) {
  ir::Graph& g = s.graph;
  std::vector<int> readers(g.tensors.size(), 0), pad_of(g.tensors.size(), -1);
  for (ir::TensorId t : g.outputs) ++readers[t];
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    for (ir::TensorId t : node.inputs)
      if (t != ir::kNoTensor) ++readers[t];
    if (node.op_type == "Pad" && node.domain.empty() && node.outputs.size() == 1 && node.outputs[0] != ir::kNoTensor)
      pad_of[node.outputs[0]] = static_cast<int>(n);
  }

  std::vector<bool> erase(g.nodes.size(), false);
  std::vector<std::string> folded;
  for (ir::Node& conv : g.nodes) {
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.empty() || conv.inputs[0] == ir::kNoTensor)
      continue;
    const ir::TensorId x = conv.inputs[0];
    if (pad_of[x] < 0 || readers[x] != 1) continue;
    const ir::Node& pad = g.nodes[pad_of[x]];
    const ir::Attribute* auto_pad = attr(conv, "auto_pad");
    if (auto_pad && !auto_pad->s.empty() && auto_pad->s != "NOTSET") continue;
    const std::vector<int64_t> pads = zero_pads(g, pad);
    const size_t rank = pads.size() / 2;
    if (rank < 3 || pads.size() != 2 * rank) continue;
    if (conv.inputs.size() > 1 && conv.inputs[1] != ir::kNoTensor && g.tensors[conv.inputs[1]].is_constant() &&
        g.tensors[conv.inputs[1]].shape.size() != rank)
      continue;  // W's rank says X's; a mismatch is prepare's to report
    // Batch and channel dimensions unpadded, spatial pads not negative (a crop).
    if (pads[0] || pads[1] || pads[rank] || pads[rank + 1] ||
        std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
      continue;
    const size_t spatial = rank - 2;
    std::vector<int64_t> conv_pads(2 * spatial, 0);
    if (const ir::Attribute* a = attr(conv, "pads")) {
      if (a->ints.size() != 2 * spatial) continue;
      conv_pads = a->ints;
    }
    for (size_t d = 0; d < spatial; ++d) {
      conv_pads[d] += pads[2 + d];
      conv_pads[spatial + d] += pads[rank + 2 + d];
    }
    ir::Attribute merged;
    merged.kind = ir::Attribute::Kind::Ints;
    merged.ints = conv_pads;
    conv.attrs["pads"] = merged;
    conv.inputs[0] = pad.inputs[0];
    erase[pad_of[x]] = true;
    folded.push_back(pad.name + " -> " + conv.name);
  }
  std::vector<ir::Node> kept;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (!erase[n]) kept.push_back(std::move(g.nodes[n]));
  g.nodes = std::move(kept);

  report.summary = folded.empty() ? "no Pad to fold into a Conv"
                                  : "folded " + plural(folded.size(), "Pad") + " into the Conv after it: " +
                                        first_few(folded);
  report.numbers = {{"folded_pads", static_cast<int64_t>(folded.size())}};
}

}  // namespace rtml::plan
