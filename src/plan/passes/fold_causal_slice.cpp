// fold_causal_slice (a rewrite after prepare_fold): a Slice step whose input
// is a Conv's output read by nothing else, and which keeps a contiguous run
// [b, e) of that output along spatial dimensions only (step 1), becomes part
// of the Conv's padding: each output dropped at the start takes `stride`
// from pad_begin, each one dropped at the end `stride` from pad_end (output
// o reads the window starting at o * stride - pad_begin, and the output
// count is floor((in + pads - extent) / stride) + 1). The causal
// convolution PyTorch users write, Conv1d(padding=p)(x)[..., :-p] or
// [..., :x.shape[-1]], becomes a Conv padded (p, 0): it computes only the
// outputs that are kept, and the Slice's copy goes. The Conv node takes the
// Slice's output and is prepared again; the Slice step goes (keep = false).
//
// The same through a per-tensor QuantizeLinear -> DequantizeLinear pair
// between the Conv and the Slice (a QDQ model's Conv output, quantized):
// both are elementwise with one scale and zero point, so quantizing the kept
// outputs only is the same; the pair then writes the Slice's output, and
// fuse_qdq sees Conv -> QuantizeLinear as usual.
//
// Left alone: a pad that would go negative, a step other than 1, a slice
// along the batch or channel dimension, auto_pad other than NOTSET, a Conv
// output (or the pair's) that something else also reads or that is a graph
// output.
#include <utility>

#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

// The Slice's starts, ends, axes and steps (known now); false if not known.
bool slice_args(const PlanState& s, const ir::Node& slice, int rank, std::vector<int64_t> (&args)[4]) {
  if (s.graph.opset < 10) {
    const char* names[3] = {"starts", "ends", "axes"};
    for (int i = 0; i < 3; ++i)
      if (const ir::Attribute* a = find_attr(slice, names[i])) args[i] = a->ints;
  } else {
    for (size_t i = 1; i < slice.inputs.size() && i <= 4; ++i) {
      if (slice.inputs[i] == ir::kNoTensor) continue;
      const ops::TensorInfo& t = s.info[slice.inputs[i]];
      if (!t.data || t.dtype != DType::I64) return false;
      args[i - 1].assign(t.as<int64_t>(), t.as<int64_t>() + t.numel());
    }
  }
  if (args[0].size() != args[1].size() || args[0].empty()) return false;
  if (args[2].empty())
    for (int d = 0; d < static_cast<int>(args[0].size()); ++d) args[2].push_back(d);
  if (args[3].empty()) args[3].assign(args[0].size(), 1);
  if (args[2].size() != args[0].size() || args[3].size() != args[0].size()) return false;
  for (int64_t& a : args[2]) {
    if (a < -rank || a >= rank) return false;
    if (a < 0) a += rank;
  }
  return true;
}

// The per-tensor QuantizeLinear -> DequantizeLinear pair writing t (each
// the only reader of its input), or {nullptr, nullptr}.
std::pair<PreparedStep*, PreparedStep*> qdq_pair(PlanState& s, const TensorUses& u, ir::TensorId t) {
  PreparedStep* dq = producer_of(s, u, t, "DequantizeLinear");
  if (!dq) return {nullptr, nullptr};
  const ir::Node& dq_node = s.graph.nodes[dq->node];
  PreparedStep* q = producer_of(s, u, dq_node.inputs[0], "QuantizeLinear");
  if (!q || u.readers[dq_node.inputs[0]] != 1 || dq_node.outputs.size() != 1) return {nullptr, nullptr};
  for (const ir::Node* n : {&dq_node, static_cast<const ir::Node*>(&s.graph.nodes[q->node])})
    for (size_t i = 1; i < n->inputs.size(); ++i)
      if (n->inputs[i] != ir::kNoTensor && s.info[n->inputs[i]].numel() != 1) return {nullptr, nullptr};
  return {q, dq};
}

int64_t clamp_index(int64_t i, int64_t n) {
  if (i < 0) i += n;
  return i < 0 ? 0 : i > n ? n : i;
}

}  // namespace

void fold_causal_slice(PlanState& s, PassReport& report) {
  std::vector<std::string> folded;
  TensorUses u = tensor_uses(s);
  for (PreparedStep& step : s.steps) {
    const ir::Node& slice = s.graph.nodes[step.node];
    if (!step.keep || slice.op_type != "Slice" || !slice.domain.empty() || slice.inputs.empty()) continue;
    const auto [q_step, dq_step] = qdq_pair(s, u, slice.inputs[0]);
    if (dq_step && u.readers[slice.inputs[0]] != 1) continue;
    const ir::TensorId y = q_step ? s.graph.nodes[q_step->node].inputs[0] : slice.inputs[0];
    PreparedStep* conv_step = producer_of(s, u, y, "Conv");
    if (!conv_step || u.readers[y] != 1 || slice.outputs.size() != 1) continue;
    ir::Node& conv = s.graph.nodes[conv_step->node];
    const ir::Attribute* auto_pad = find_attr(conv, "auto_pad");
    if (auto_pad && !auto_pad->s.empty() && auto_pad->s != "NOTSET") continue;
    const Shape& out = s.info[y].shape;
    const int rank = static_cast<int>(out.size());
    std::vector<int64_t> args[4];
    if (rank < 3 || !slice_args(s, slice, rank, args)) continue;
    const size_t spatial = static_cast<size_t>(rank - 2);
    std::vector<int64_t> pads(2 * spatial, 0), strides(spatial, 1);
    if (const ir::Attribute* a = find_attr(conv, "pads")) pads = a->ints;
    if (const ir::Attribute* a = find_attr(conv, "strides")) strides = a->ints;
    if (pads.size() != 2 * spatial || strides.size() != spatial) continue;
    bool ok = true;
    for (size_t k = 0; k < args[0].size() && ok; ++k) {
      const int d = static_cast<int>(args[2][k]);
      const int64_t n = out[d], b = clamp_index(args[0][k], n), e = clamp_index(args[1][k], n);
      if (b == 0 && e == n && args[3][k] == 1) continue;  // the whole dimension
      if (d < 2 || args[3][k] != 1 || e <= b) {
        ok = false;
        break;
      }
      const size_t sd = static_cast<size_t>(d - 2);
      pads[sd] -= b * strides[sd];
      pads[spatial + sd] -= (n - e) * strides[sd];
      ok = pads[sd] >= 0 && pads[spatial + sd] >= 0;
    }
    if (!ok) continue;
    conv.attrs["pads"].kind = ir::Attribute::Kind::Ints;
    conv.attrs["pads"].ints = pads;
    if (dq_step) {  // Conv -> Q -> DQ, the DQ writing the Slice's output, each prepared for the new shape
      s.graph.nodes[dq_step->node].outputs[0] = slice.outputs[0];
      for (PreparedStep* p : {conv_step, q_step, dq_step})
        if (!prepare_node(s, p->node, *p)) throw Error("internal error: a step folded after fold_causal_slice");
    } else {
      conv.outputs[0] = slice.outputs[0];
      if (!prepare_node(s, conv_step->node, *conv_step)) conv_step->keep = false;
    }
    step.keep = false;
    folded.push_back(conv.name + " -> " + (dq_step ? "QuantizeLinear -> DequantizeLinear -> " : "") + slice.name);
    u = tensor_uses(s);
  }
  report.summary = folded.empty() ? "no Slice to fold into the Conv before it"
                                  : "folded " + plural(folded.size(), "Slice") + " into the Conv before it: " +
                                        first_few(folded);
  report.numbers = {{"folded_slices", static_cast<int64_t>(folded.size())}};
}

}  // namespace rtml::plan
