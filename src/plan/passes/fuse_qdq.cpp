// fuse_qdq (a rewrite after prepare_fold): the QDQ form of a quantized
// model, as exporters write it (PyTorch, ONNX Runtime's quantizer),
//
//   DequantizeLinear(x int8/uint8)          (the activation, per tensor)
//   DequantizeLinear(W int8/uint8 constant) (per tensor or per output channel)
//   [DequantizeLinear(B int32 constant)]    (or any constant float bias)
//     -> Conv / MatMul / Gemm -> [Relu | Clip] -> QuantizeLinear
//
// becomes one integer step: the Conv node in the planner's graph turns into
// an ops::kFusedDomain QLinearConv (MatMul and Gemm into a QLinearMatMul)
// reading the int8 tensors directly, prepared by the very prepare of the
// ONNX QLinear op (so the same kernel choice: int32 accumulation, int32
// bias, per-channel (multiplier, shift) step constants). The Relu or Clip
// becomes the output clamp [act_min, act_max]: Relu from the output zero
// point up, Clip from its bounds quantized like QuantizeLinear does. The
// activation's DequantizeLinear, the Relu/Clip and the QuantizeLinear steps
// go (keep = false; the DequantizeLinear stays while something else reads
// its float output); the step's name lists every absorbed node.
//
// Add and Mul of two dequantized tensors (per tensor, one type) ->
// [Relu | Clip] -> QuantizeLinear become an rtml.fused QLinearAdd /
// QLinearMul (TFLite's integer Add / Mul). MaxPool and data movement
// (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Identity) and
// AveragePool between a DequantizeLinear and a QuantizeLinear of the same
// scale and zero point run on the int8 data itself; Sigmoid and Tanh between
// any scales as a lookup in a table of 256 outputs made at prepare;
// ReduceMean (over a block of contiguous axes) and GlobalAveragePool between
// any scales as an rtml.fused QLinearReduceMean (TFLite's int8 MEAN);
// Softmax over the last axis, into scale 1/256 and the lowest zero point, as
// an rtml.fused QLinearSoftmax (TFLite's integer softmax). Concat of
// dequantized inputs (any scales) as an rtml.fused QLinearConcat: inputs
// quantized as the output copied, the others through a 256-entry table.
//
// The bias: an int32 DequantizeLinear'd bias whose scale is x_scale *
// w_scale[c] (what exporters write) is used as it is; any other constant
// float bias is quantized to that scale (round to nearest). Gemm: transB
// keeps W [N x K] as it is (the fused QLinearMatMul's attribute transB = 1);
// alpha, beta != 1 and transA stay float.
//
// RNN, GRU and LSTM whose W and R are DequantizeLinear of int8 / uint8
// constants (per tensor, or per axis 1: a scale per gate row, or 0: per
// direction) run weight-only: an rtml.fused node of the same name reads the
// int8 weights themselves (q - zero point, which must fit int8: the int8
// tensor as it is when the zero point is 0) with a float scale per row
// (kernels/recurrent.h: rtml_f32_<cell>_w8__*); state, gates, bias (a
// dequantized bias is folded to float) and peepholes stay float32. The float
// weights folding made are then read by no step and leave the plan.
//
// A group that does not fit is left alone and runs as it is written
// (DequantizeLinear -> float op -> QuantizeLinear, which is correct, only
// slower); the pass's report names each with the reason. Off with
// PlanOptions::fuse = false (one step per node, the float reference).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <optional>

#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

using ir::kNoTensor;
using ir::TensorId;

// Where the pass looks: producers and readers of each tensor.
struct Links {
  std::vector<int> producer_node;             // over all graph nodes (folded ones too)
  std::vector<int> producer_step;             // over kept steps
  std::vector<std::vector<int>> reader_steps; // kept steps reading the tensor
  std::vector<int> readers;                   // kept steps + graph outputs
};

Links links_of(const PlanState& s) {
  const ir::Graph& g = s.graph;
  Links l;
  l.producer_node.assign(g.tensors.size(), -1);
  l.producer_step.assign(g.tensors.size(), -1);
  l.reader_steps.resize(g.tensors.size());
  l.readers.assign(g.tensors.size(), 0);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (TensorId t : g.nodes[n].outputs)
      if (t != kNoTensor) l.producer_node[t] = static_cast<int>(n);
  for (TensorId t : g.outputs) ++l.readers[t];
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (!s.steps[i].keep) continue;
    for (TensorId t : s.steps[i].inputs)
      if (t != kNoTensor) {
        ++l.readers[t];
        l.reader_steps[t].push_back(static_cast<int>(i));
      }
    for (TensorId t : s.steps[i].outputs)
      if (t != kNoTensor) l.producer_step[t] = static_cast<int>(i);
  }
  return l;
}

const ir::Node* node_if(const PlanState& s, int n, const char* op_type) {
  if (n < 0) return nullptr;
  const ir::Node& node = s.graph.nodes[n];
  return node.domain.empty() && node.op_type == op_type ? &node : nullptr;
}

// A DequantizeLinear / QuantizeLinear's operands.
struct QuantizeOp {
  int node = -1;
  TensorId data = kNoTensor, scale = kNoTensor, zero_point = kNoTensor;
  int axis = 1;  // normalized against the data's rank when per axis
  bool per_axis = false;
};

// Reads a (De)QuantizeLinear node; nullopt with `why` set when it does not
// fit (scales and zero points must be constants).
std::optional<QuantizeOp> quantize_op(const PlanState& s, int n, std::string& why) {
  const ir::Node& node = s.graph.nodes[n];
  QuantizeOp q;
  q.node = n;
  q.data = node.inputs[0];
  q.scale = node.inputs.size() > 1 ? node.inputs[1] : kNoTensor;
  q.zero_point = node.inputs.size() > 2 ? node.inputs[2] : kNoTensor;
  if (q.scale == kNoTensor || !s.info[q.scale].data || (q.zero_point != kNoTensor && !s.info[q.zero_point].data)) {
    why = node.name + "'s scale or zero point is not a constant";
    return std::nullopt;
  }
  q.per_axis = s.info[q.scale].numel() != 1;
  const int rank = s.info[q.data].rank();
  int64_t axis = 1;
  if (auto it = node.attrs.find("axis"); it != node.attrs.end()) axis = it->second.i;
  q.axis = static_cast<int>(axis < 0 ? axis + rank : axis);
  return q;
}

bool is_int8(DType t) { return t == DType::I8 || t == DType::U8; }

// The zero point of channel c (0 when per tensor).
int32_t zero_point_of(const PlanState& s, const QuantizeOp& q, int64_t c = 0) {
  if (q.zero_point == kNoTensor) return 0;
  const ops::TensorInfo& z = s.info[q.zero_point];
  const int64_t i = q.per_axis ? c : 0;
  return z.dtype == DType::I8 ? z.as<int8_t>()[i] : z.dtype == DType::I32 ? z.as<int32_t>()[i] : z.as<uint8_t>()[i];
}

float scale_of(const PlanState& s, const QuantizeOp& q, int64_t c = 0) {
  return s.info[q.scale].as<float>()[q.per_axis ? c : 0];
}

// A constant tensor the pass makes (the int32 bias, a transposed W).
TensorId add_constant(PlanState& s, const std::string& name, DType dtype, Shape shape,
                      std::shared_ptr<ir::Buffer> data) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.data = data;
  const TensorId id = s.graph.add_tensor(t);
  s.info.push_back({dtype, std::move(shape), data->data()});
  s.constant.push_back(std::move(data));
  return id;
}

// The zero point of q as an operand (the QLinear ops take every one): a 0 of
// type t when q has none.
TensorId zero_point_operand(PlanState& s, const QuantizeOp& q, DType t, const std::string& name) {
  if (q.zero_point != kNoTensor) return q.zero_point;
  auto zero = std::make_shared<ir::Buffer>(1);
  std::memset(zero->data(), 0, 1);
  return add_constant(s, name, t, {}, std::move(zero));
}

// One group the pass rewrites, or the reason it does not.
struct Group {
  int op_step = -1, act_step = -1, q_step = -1;
  std::vector<int> input_dq_steps;  // the inputs' DequantizeLinear steps (not folded)
  QuantizeOp x, w, y;               // the inputs' DequantizeLinear (Add / Mul: A and B), the QuantizeLinear
  int b_dq_node = -1;
  int32_t act_min = 0, act_max = 0;  // the output clamp
  std::string why;  // empty: fits
};

// Narrows the output clamp [g.act_min, g.act_max] (the output type's range)
// by a Relu or Clip before the QuantizeLinear g.y: false with g.why when the
// Clip's bounds are not known.
bool activation_clamp(const PlanState& s, const ir::Node& act, Group& g) {
  const float ys = scale_of(s, g.y);
  const int32_t zp = zero_point_of(s, g.y);
  // QuantizeLinear of a bound: round half to even, then the zero point.
  const auto q = [&](float v) { return static_cast<int64_t>(std::max(-1e6f, std::min(1e6f, std::nearbyint(v / ys)))) + zp; };
  float lo = -INFINITY, hi = INFINITY;
  if (act.op_type == "Relu") {
    lo = 0;
  } else {  // Clip: bounds as inputs (opset >= 11) or attributes
    for (size_t i = 1; i < act.inputs.size() && i < 3; ++i) {
      const TensorId b = act.inputs[i];
      if (b == kNoTensor) continue;
      if (!s.info[b].data || s.info[b].dtype != DType::F32 || s.info[b].numel() != 1) {
        g.why = act.name + "'s bounds are not float constants";
        return false;
      }
      (i == 1 ? lo : hi) = *s.info[b].as<float>();
    }
    if (auto it = act.attrs.find("min"); it != act.attrs.end()) lo = it->second.f;
    if (auto it = act.attrs.find("max"); it != act.attrs.end()) hi = it->second.f;
  }
  if (std::isfinite(lo)) g.act_min = static_cast<int32_t>(std::max<int64_t>(g.act_min, std::min<int64_t>(g.act_max, q(lo))));
  if (std::isfinite(hi)) g.act_max = static_cast<int32_t>(std::min<int64_t>(g.act_max, std::max<int64_t>(g.act_min, q(hi))));
  if (std::isnan(lo) || std::isnan(hi) || lo > hi) {
    g.why = act.name + "'s bounds are not an interval";
    return false;
  }
  return true;
}

// The only kept step reading t (and t no graph output), or -1.
int only_reader(const Links& l, TensorId t) {
  return t != kNoTensor && l.readers[t] == 1 && l.reader_steps[t].size() == 1 ? l.reader_steps[t][0] : -1;
}

// A node's output 0, or kNoTensor (a file may leave it unnamed).
TensorId output0(const ir::Node& n) { return n.outputs.empty() ? kNoTensor : n.outputs[0]; }

bool is_product(const ir::Node& op) { return op.op_type == "Conv" || op.op_type == "MatMul" || op.op_type == "Gemm"; }

// Matches the group around the op of step i (a product, Add or Mul).
// Returns nullopt when its inputs are not dequantized (no QDQ group at all).
std::optional<Group> match(const PlanState& s, const Links& l, int i) {
  const PreparedStep& step = s.steps[i];
  const ir::Node& op = s.graph.nodes[step.node];
  const bool product = is_product(op);
  if (op.inputs.size() < 2 || op.inputs[0] == kNoTensor || op.inputs[1] == kNoTensor) return std::nullopt;
  const int x_dq = l.producer_node[op.inputs[0]], w_dq = l.producer_node[op.inputs[1]];
  if (!node_if(s, x_dq, "DequantizeLinear") || (!product && !node_if(s, w_dq, "DequantizeLinear")) ||
      (product && l.producer_step[op.inputs[0]] < 0))
    return std::nullopt;
  Group g;
  g.op_step = i;
  for (TensorId t : {op.inputs[0], op.inputs[1]})
    if (l.producer_step[t] >= 0 && node_if(s, s.steps[l.producer_step[t]].node, "DequantizeLinear"))
      g.input_dq_steps.push_back(l.producer_step[t]);
  auto fail = [&](std::string why) {
    g.why = std::move(why);
    return g;
  };
  // The output chain: [Relu | Clip] -> QuantizeLinear, each the only reader.
  int next = only_reader(l, output0(op));
  const ir::Node* act = nullptr;
  if (next >= 0 && (node_if(s, s.steps[next].node, "Relu") || node_if(s, s.steps[next].node, "Clip"))) {
    g.act_step = next;
    act = &s.graph.nodes[s.steps[next].node];
    next = only_reader(l, output0(*act));
  }
  if (next < 0 || !node_if(s, s.steps[next].node, "QuantizeLinear") || output0(s.graph.nodes[s.steps[next].node]) == kNoTensor)
    return fail("its output is not quantized (no QuantizeLinear as its only reader)");
  g.q_step = next;

  std::string why;
  const auto x = quantize_op(s, x_dq, why);
  const auto y = x ? quantize_op(s, s.steps[next].node, why) : std::nullopt;
  const auto w = y && node_if(s, w_dq, "DequantizeLinear") ? quantize_op(s, w_dq, why) : std::nullopt;
  if (!x || !y) return fail(why);
  g.x = *x;
  g.y = *y;
  const DType xt = s.info[g.x.data].dtype, yt = s.info[s.graph.nodes[g.y.node].outputs[0]].dtype;
  if (!is_int8(xt)) return fail("the input is dequantized from " + std::string(dtype_name(xt)) + ", not int8/uint8");
  if (xt != yt) return fail("the input is " + std::string(dtype_name(xt)) + " but the output " + dtype_name(yt));
  if (g.x.per_axis || g.y.per_axis) return fail("the input or output is quantized per axis, not per tensor");

  if (product && (!w || !s.info[op.inputs[1]].data))
    return fail(w ? "the weights are not constant" : why.empty() ? "the weights are not a DequantizeLinear of a constant" : why);
  if (!w) return fail(why);
  g.w = *w;
  const DType wt = s.info[g.w.data].dtype;
  if (product) {
    if (!is_int8(wt) || !s.info[g.w.data].data) return fail("the weights are not int8/uint8 constants");
    if (xt == DType::I8 && wt == DType::U8) return fail("int8 data with uint8 weights has no kernel");
  } else if (wt != xt || g.w.per_axis) {
    return fail("its inputs are not both " + std::string(dtype_name(xt)) + " per tensor");
  }
  g.act_min = xt == DType::I8 ? -128 : 0;
  g.act_max = xt == DType::I8 ? 127 : 255;
  if (act) activation_clamp(s, *act, g);
  return g;
}

// The bias as int32 at scale x_scale * w_scale[c], from the op's constant
// float bias `b` ([n] values): the DequantizeLinear'd int32 itself when its
// scale is that and its zero point 0, else quantized here. kNoTensor with
// g.why when it cannot be.
TensorId int32_bias(PlanState& s, const Links& l, Group& g, TensorId b, int64_t n, const std::string& name) {
  const ops::TensorInfo& bi = s.info[b];
  if (!bi.data || bi.dtype != DType::F32 || bi.numel() != n) {
    g.why = "the bias is not a constant float of " + std::to_string(n) + " values";
    return kNoTensor;
  }
  const float xs = scale_of(s, g.x);
  const auto scale = [&](int64_t c) { return static_cast<double>(xs) * scale_of(s, g.w, c); };
  std::string why;
  const int dq = l.producer_node[b];
  if (node_if(s, dq, "DequantizeLinear")) {
    const auto d = quantize_op(s, dq, why);
    if (d && s.info[d->data].dtype == DType::I32 && s.info[d->data].data &&
        (!d->per_axis || s.info[d->scale].numel() == n)) {
      bool same = true;
      for (int64_t c = 0; c < n && same; ++c)
        same = zero_point_of(s, *d, c) == 0 && std::fabs(scale_of(s, *d, c) - scale(c)) <= 1e-6 * scale(c);
      if (same) {
        g.b_dq_node = dq;
        if (s.info[d->data].shape == Shape{n}) return d->data;
        auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(n) * sizeof(int32_t));
        std::memcpy(buf->data(), s.info[d->data].data, buf->size());
        return add_constant(s, name, DType::I32, {n}, std::move(buf));
      }
    }
  }
  auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(n) * sizeof(int32_t));
  for (int64_t c = 0; c < n; ++c) {
    const double v = std::nearbyint(static_cast<double>(bi.as<float>()[c]) / scale(c));
    if (!(std::fabs(v) <= 2147483647.0)) {
      g.why = "the bias does not fit int32 at the input x weight scale";
      return kNoTensor;
    }
    static_cast<int32_t*>(buf->data())[c] = static_cast<int32_t>(v);
  }
  return add_constant(s, name, DType::I32, {n}, std::move(buf));
}

ir::Attribute int_attr(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Int;
  a.i = v;
  return a;
}

// Rewrites the op node of a matched group into its fused QLinear node (not
// yet prepared): QLinearConv, QLinearMatMul (with a bias), QLinearAdd,
// QLinearMul (the inputs of ONNX Runtime's com.microsoft ops of that name);
// false with g.why when the op's own attributes do not fit.
bool rewrite(PlanState& s, const Links& l, Group& g) {
  ir::Node& op = s.graph.nodes[s.steps[g.op_step].node];
  const ops::TensorInfo w = s.info[g.w.data];  // a copy: add_constant grows s.info
  const auto refuse = [&](std::string why) {
    g.why = std::move(why);
    return false;
  };
  const auto attr_i = [&](const char* name, int64_t fallback) {
    auto it = op.attrs.find(name);
    return it == op.attrs.end() ? fallback : it->second.i;
  };
  TensorId wq = g.w.data, bias = kNoTensor;
  int64_t channels = 0;
  int channel_axis = 0;
  if (op.op_type == "Conv") {
    if (w.rank() != 3 && w.rank() != 4) return refuse("only 1-D and 2-D int8 convolutions have kernels");
    channels = w.shape[0];
  } else if (op.op_type != "Add" && op.op_type != "Mul") {
    if (w.rank() != 2) return refuse("the weights are not a matrix");
    channel_axis = 1;
    if (op.op_type == "Gemm") {
      auto f = [&](const char* name) {
        auto it = op.attrs.find(name);
        return it == op.attrs.end() ? 1.0f : it->second.f;
      };
      if (attr_i("transA", 0) || f("alpha") != 1.0f || (op.inputs.size() > 2 && f("beta") != 1.0f))
        return refuse("Gemm with transA, alpha or beta runs in float");
      if (attr_i("transB", 0)) channel_axis = 0;
    }
    channels = w.shape[channel_axis];
  }
  if (is_product(op) && g.w.per_axis && g.w.axis != channel_axis)
    return refuse("the weights are quantized along axis " + std::to_string(g.w.axis) + ", not the output channels");
  if (is_product(op) && op.inputs.size() > 2 && op.inputs[2] != kNoTensor) {
    const ops::TensorInfo& b = s.info[op.inputs[2]];
    if (op.op_type == "Gemm" && !(b.shape == Shape{channels} || b.shape == Shape{1, channels}))
      return refuse("the Gemm's C is " + shape_str(b.shape) + ", not one value per output column");
    bias = int32_bias(s, l, g, op.inputs[2], channels, op.name + ":bias_int32");
    if (bias == kNoTensor) return false;
  }

  const auto zero_point = [&](const QuantizeOp& q, DType t, const char* role) {
    return zero_point_operand(s, q, t, op.name + ":" + role);
  };
  const DType xt = s.info[g.x.data].dtype;
  const TensorId x_zp = zero_point(g.x, xt, "x_zero_point"), w_zp = zero_point(g.w, w.dtype, "w_zero_point"),
                 y_zp = zero_point(g.y, xt, "y_zero_point");
  std::map<std::string, ir::Attribute> attrs;
  if (op.op_type == "Conv") attrs = op.attrs;
  if (op.op_type == "Gemm" && attr_i("transB", 0)) attrs["transB"] = int_attr(1);  // W stays [N x K]
  attrs["act_min"] = int_attr(g.act_min);
  attrs["act_max"] = int_attr(g.act_max);
  op.op_type = op.op_type == "Conv" ? "QLinearConv" : op.op_type == "Add" ? "QLinearAdd" : op.op_type == "Mul" ? "QLinearMul" : "QLinearMatMul";
  op.domain = ops::kFusedDomain;
  op.attrs = std::move(attrs);
  op.inputs = {g.x.data, g.x.scale, x_zp, wq, g.w.scale, w_zp, g.y.scale, y_zp};
  if (bias != kNoTensor) op.inputs.push_back(bias);
  op.outputs = {s.graph.nodes[g.y.node].outputs[0]};
  return true;
}

// Ops that only move or select elements: between a DequantizeLinear and a
// QuantizeLinear of the same scale and zero point they give the same int8
// values when run on the int8 data itself (max commutes with the monotone
// quantization); and AveragePool, which then averages the int8 values as
// TFLite does (an ops::kFusedDomain node: rounding half away from zero, where
// the float path rounds half to even).
bool is_pass_through(const ir::Node& op) {
  static const char* const kOps[] = {"MaxPool",   "AveragePool", "Reshape", "Flatten", "Squeeze",
                                     "Unsqueeze", "Transpose",   "Identity"};
  return std::any_of(std::begin(kOps), std::end(kOps), [&](const char* o) { return op.op_type == o; });
}

// Sigmoid and Tanh become a lookup in a table of the 256 outputs (any scales).
bool is_lookup(const ir::Node& op) { return op.op_type == "Sigmoid" || op.op_type == "Tanh"; }

// ReduceMean and GlobalAveragePool become an int8 mean (any scales).
bool is_mean(const ir::Node& op) { return op.op_type == "ReduceMean" || op.op_type == "GlobalAveragePool"; }

// Softmax becomes TFLite's integer softmax (output scale 1/256 and zero
// point the type's lowest, as TFLite requires; else it stays float).
bool is_softmax(const ir::Node& op) { return op.op_type == "Softmax"; }

// Ops that requantize (alone between a DequantizeLinear and a QuantizeLinear).
bool is_requantizing(const ir::Node& op) { return is_lookup(op) || is_mean(op) || is_softmax(op); }

// The first axis of a Softmax's rows when they are contiguous (the last axis
// at opset >= 13; opset < 13 flattens at its axis): QLinearSoftmax's axis.
std::optional<int> softmax_rows_axis(const PlanState& s, const ir::Node& op, int rank) {
  const bool legacy = s.graph.opset < 13;
  int64_t axis = legacy ? 1 : -1;
  if (auto it = op.attrs.find("axis"); it != op.attrs.end()) axis = it->second.i;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || (!legacy && axis != rank - 1)) return std::nullopt;
  return static_cast<int>(axis);
}

// The axes a ReduceMean (attribute, or a constant input 1 at opset 18) or a
// GlobalAveragePool (the spatial ones) averages over; nullopt when not known
// or when it reduces nothing (noop_with_empty_axes).
std::optional<std::vector<int64_t>> mean_axes(const PlanState& s, const ir::Node& op, int rank) {
  std::vector<int64_t> axes;
  if (op.op_type == "GlobalAveragePool") {
    for (int d = 2; d < rank; ++d) axes.push_back(d);
    return axes;
  }
  if (auto it = op.attrs.find("axes"); it != op.attrs.end()) axes = it->second.ints;
  if (op.inputs.size() > 1 && op.inputs[1] != kNoTensor) {
    const ops::TensorInfo& a = s.info[op.inputs[1]];
    if (!a.data || a.dtype != DType::I64) return std::nullopt;
    axes.assign(a.as<int64_t>(), a.as<int64_t>() + a.numel());
  }
  if (axes.empty()) {
    if (auto it = op.attrs.find("noop_with_empty_axes"); it != op.attrs.end() && it->second.i) return std::nullopt;
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  return axes;
}

bool same_quantization(const PlanState& s, const QuantizeOp& a, const QuantizeOp& b) {
  return !a.per_axis && !b.per_axis && scale_of(s, a) == scale_of(s, b) && zero_point_of(s, a) == zero_point_of(s, b);
}

// DequantizeLinear -> pass-through ops -> QuantizeLinear (a chain, each
// output read only by the next op; same scale and zero point at both ends):
// the first op reads the int8 tensor, the last writes the QuantizeLinear's
// output, each is prepared again. A Sigmoid / Tanh (alone) becomes an
// rtml.fused QLinearSigmoid / QLinearTanh (a table lookup), a ReduceMean or
// GlobalAveragePool (alone) a QLinearReduceMean, a Softmax a QLinearSoftmax
// (when its prepare takes the output's scale). Returns the ops
// it moved to int8 (empty: the nodes as they were; for a Softmax *why then
// says why it stays float).
std::vector<std::string> fuse_unary(PlanState& s, Links& l, size_t i, std::string* why_float) {
  const ir::Node& first = s.graph.nodes[s.steps[i].node];
  if (first.inputs.empty() || first.inputs[0] == kNoTensor || first.outputs.size() != 1 ||
      l.producer_step[first.inputs[0]] < 0)
    return {};
  const int dq_step = l.producer_step[first.inputs[0]];
  std::vector<int> chain{static_cast<int>(i)};
  int next = only_reader(l, output0(first));
  while (!is_requantizing(first) && next >= 0) {
    const ir::Node& n = s.graph.nodes[s.steps[next].node];
    if (!n.domain.empty() || !is_pass_through(n) || n.outputs.size() != 1 || n.inputs[0] != output0(s.graph.nodes[s.steps[chain.back()].node]))
      break;
    chain.push_back(next);
    next = only_reader(l, output0(n));
  }
  const int q_step = next;
  if (!node_if(s, s.steps[dq_step].node, "DequantizeLinear") || q_step < 0 ||
      !node_if(s, s.steps[q_step].node, "QuantizeLinear") || output0(s.graph.nodes[s.steps[q_step].node]) == kNoTensor)
    return {};
  std::string why;
  const auto x = quantize_op(s, s.steps[dq_step].node, why);
  const auto y = x ? quantize_op(s, s.steps[q_step].node, why) : std::nullopt;
  const TensorId q_out = s.graph.nodes[s.steps[q_step].node].outputs[0];
  const DType t = s.info[q_out].dtype;
  if (!y || s.info[x->data].dtype != t || !is_int8(t) || x->per_axis || y->per_axis ||
      (!is_requantizing(first) && !same_quantization(s, *x, *y)))
    return {};
  const auto axes = is_mean(first) ? mean_axes(s, first, s.info[x->data].rank()) : std::nullopt;
  if (is_mean(first) && !axes) return {};
  const auto rows_axis = is_softmax(first) ? softmax_rows_axis(s, first, s.info[x->data].rank()) : std::nullopt;
  if (is_softmax(first) && !rows_axis) {
    *why_float = "its rows are not the last axis";
    return {};
  }

  std::vector<ir::Node> saved;
  for (int j : chain) saved.push_back(s.graph.nodes[s.steps[j].node]);
  s.graph.nodes[s.steps[chain.front()].node].inputs[0] = x->data;
  s.graph.nodes[s.steps[chain.back()].node].outputs[0] = q_out;
  for (int j : chain) {
    ir::Node& op = s.graph.nodes[s.steps[j].node];
    if (op.op_type == "AveragePool") op.domain = ops::kFusedDomain;
    if (is_requantizing(op)) {
      if (is_mean(op)) {
        ir::Attribute a;
        a.kind = ir::Attribute::Kind::Ints;
        a.ints = *axes;
        const bool keepdims = op.op_type == "GlobalAveragePool" || !op.attrs.count("keepdims") || op.attrs.at("keepdims").i;
        op.attrs = {{"axes", a}, {"keepdims", int_attr(keepdims)}};
      }
      if (is_softmax(op)) op.attrs = {{"axis", int_attr(*rows_axis)}};
      op.domain = ops::kFusedDomain;
      op.op_type = is_mean(op) ? "QLinearReduceMean" : "QLinear" + op.op_type;
      op.inputs = {x->data, x->scale, zero_point_operand(s, *x, t, op.name + ":x_zero_point"), y->scale,
                   zero_point_operand(s, *y, t, op.name + ":y_zero_point")};
    }
  }
  // Prepared in order: each op's output type follows from its input's.
  std::vector<PreparedStep> prepared(chain.size());
  try {
    for (size_t k = 0; k < chain.size(); ++k)
      if (!prepare_node(s, s.steps[chain[k]].node, prepared[k])) throw Error("internal error: the step folded");
  } catch (const Error& e) {  // an op does not take int8 here: all as they were (their float types again)
    if (is_softmax(saved.front())) *why_float = e.what();  // (first is already the QLinear node)
    for (size_t k = 0; k < chain.size(); ++k) {
      s.graph.nodes[s.steps[chain[k]].node] = saved[k];
      PreparedStep again;
      prepare_node(s, s.steps[chain[k]].node, again);
    }
    return {};
  }
  std::vector<std::string> moved;
  for (size_t k = 0; k < chain.size(); ++k) {
    PreparedStep& step = s.steps[chain[k]];
    step.step = std::move(prepared[k].step);
    step.inputs = prepared[k].inputs;
    step.outputs = prepared[k].outputs;
    moved.push_back(saved[k].name + " (" + saved[k].op_type + ")");
  }
  if (--l.readers[s.steps[dq_step].outputs[0]] == 0) s.steps[dq_step].keep = false;
  s.steps[q_step].keep = false;
  l.producer_step[q_out] = chain.back();
  PreparedStep& head = s.steps[chain.front()];
  PreparedStep& tail = s.steps[chain.back()];
  head.name = s.steps[dq_step].name + " + " + head.name;
  head.op_type = "DequantizeLinear+" + head.op_type;
  tail.name += " + " + s.steps[q_step].name;
  tail.op_type += "+QuantizeLinear";
  return moved;
}

// DequantizeLinear on every input -> Concat -> QuantizeLinear (per tensor,
// one type, int8 or uint8; any axis and number of inputs) becomes an
// rtml.fused QLinearConcat (inputs X_0..X_n-1, each X's scale and zero point,
// Y's): an input quantized as the output is copied, another requantized by a
// table (ops/quant.cpp). nullopt: not a QDQ Concat (no input dequantized);
// "": fused; else why it stays float.
std::optional<std::string> fuse_concat(PlanState& s, Links& l, size_t i) {
  PreparedStep& step = s.steps[i];
  ir::Node& op = s.graph.nodes[step.node];
  std::vector<int> dq_nodes;
  for (TensorId t : op.inputs)
    if (t != kNoTensor && node_if(s, l.producer_node[t], "DequantizeLinear")) dq_nodes.push_back(l.producer_node[t]);
  if (dq_nodes.empty()) return std::nullopt;
  if (dq_nodes.size() != op.inputs.size()) return std::string("not every input is dequantized");
  const int q_step = only_reader(l, output0(op));
  if (q_step < 0 || !node_if(s, s.steps[q_step].node, "QuantizeLinear") ||
      output0(s.graph.nodes[s.steps[q_step].node]) == kNoTensor)
    return std::string("its output is not quantized (no QuantizeLinear as its only reader)");
  std::string why;
  const auto y = quantize_op(s, s.steps[q_step].node, why);
  if (!y) return why;
  const TensorId q_out = output0(s.graph.nodes[y->node]);
  const DType t = s.info[q_out].dtype;
  std::vector<TensorId> data, params;
  for (int dq : dq_nodes) {
    const auto x = quantize_op(s, dq, why);
    if (!x) return why;
    if (s.info[x->data].dtype != t || !is_int8(t)) return std::string("its inputs and output are not all int8 or all uint8");
    if (x->per_axis || y->per_axis) return std::string("an input or the output is quantized per axis, not per tensor");
    data.push_back(x->data);
    params.push_back(x->scale);
    params.push_back(zero_point_operand(s, *x, t, op.name + ":x" + std::to_string(data.size() - 1) + "_zero_point"));
  }
  params.push_back(y->scale);
  params.push_back(zero_point_operand(s, *y, t, op.name + ":y_zero_point"));
  const ir::Node saved = op;
  op.domain = ops::kFusedDomain;
  op.op_type = "QLinearConcat";
  op.inputs = data;
  op.inputs.insert(op.inputs.end(), params.begin(), params.end());
  op.outputs = {q_out};
  try {
    if (!prepare_node(s, step.node, step)) throw Error("internal error: the fused step folded");
  } catch (const Error& e) {  // the float Concat's step is still as prepare_fold left it
    s.graph.nodes[step.node] = saved;
    return std::string(e.what());
  }
  std::vector<std::string> names;
  for (TensorId t_in : saved.inputs) {
    const int dq_step = l.producer_step[t_in];
    if (dq_step >= 0 && --l.readers[t_in] == 0) s.steps[dq_step].keep = false;
  }
  for (int dq : dq_nodes)
    if (std::find(names.begin(), names.end(), s.graph.nodes[dq].name) == names.end()) names.push_back(s.graph.nodes[dq].name);
  names.push_back(saved.name);
  names.push_back(s.steps[q_step].name);
  s.steps[q_step].keep = false;
  l.producer_step[q_out] = static_cast<int>(i);
  step.name.clear();
  for (size_t k = 0; k < names.size(); ++k) step.name += (k ? " + " : "") + names[k];
  step.op_type = "DequantizeLinear+Concat+QuantizeLinear";
  return std::string();
}

// One DequantizeLinear'd weight of a recurrent node as the weight-only form
// needs it: int8 q - zero point (the quantized tensor itself when that is q)
// and a float scale per row of [D, G*H, K]; kNoTensor with `why` set when it
// does not fit.
TensorId recurrent_weight_int8(PlanState& s, int dq, const std::string& name, TensorId& scale, std::string& why) {
  const ir::Node& node = s.graph.nodes[dq];
  const auto q = quantize_op(s, dq, why);
  if (!q) return kNoTensor;
  const ops::TensorInfo data = s.info[q->data];  // a copy: add_constant grows s.info
  if (!is_int8(data.dtype) || !data.data || data.rank() != 3) {
    why = node.name + " does not dequantize an int8/uint8 constant of rank 3";
    return kNoTensor;
  }
  if (const ir::Attribute* b = find_attr(node, "block_size"); b && b->i != 0) {
    why = node.name + " is blocked (block_size), not per tensor or per axis";
    return kNoTensor;
  }
  const int64_t D = data.shape[0], rows = data.shape[1], K = data.shape[2];
  if (q->per_axis && !(q->axis == 1 && s.info[q->scale].numel() == rows) &&
      !(q->axis == 0 && s.info[q->scale].numel() == D)) {
    why = node.name + " is quantized along axis " + std::to_string(q->axis) + ", not per tensor, direction or row";
    return kNoTensor;
  }
  auto channel = [&](int64_t d, int64_t row) { return !q->per_axis ? 0 : q->axis == 0 ? d : row; };
  auto scales = std::make_shared<ir::Buffer>(static_cast<size_t>(D * rows) * sizeof(float));
  float* sc = static_cast<float*>(scales->data());
  bool as_is = data.dtype == DType::I8;
  for (int64_t d = 0; d < D; ++d)
    for (int64_t r = 0; r < rows; ++r) {
      sc[d * rows + r] = scale_of(s, *q, channel(d, r));
      as_is = as_is && zero_point_of(s, *q, channel(d, r)) == 0;
    }
  scale = add_constant(s, name + "_scale", DType::F32, {D * rows}, std::move(scales));
  if (as_is) return q->data;
  auto values = std::make_shared<ir::Buffer>(static_cast<size_t>(D * rows * K));
  int8_t* v = static_cast<int8_t*>(values->data());
  for (int64_t d = 0; d < D; ++d)
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t zp = zero_point_of(s, *q, channel(d, r));
      for (int64_t k = 0; k < K; ++k) {
        const int64_t i = (d * rows + r) * K + k;
        const int32_t x = (data.dtype == DType::I8 ? data.as<int8_t>()[i] : data.as<uint8_t>()[i]) - zp;
        if (x < -128 || x > 127) {
          why = node.name + ": a value minus its zero point (" + std::to_string(x) + ") does not fit int8";
          return kNoTensor;
        }
        v[i] = static_cast<int8_t>(x);
      }
    }
  return add_constant(s, name, DType::I8, {D, rows, K}, std::move(values));
}

bool is_recurrent(const ir::Node& op) { return op.op_type == "LSTM" || op.op_type == "GRU" || op.op_type == "RNN"; }

// An RNN / GRU / LSTM step whose W and R are dequantized int8 constants
// becomes the weight-only form (above). nullopt: neither is dequantized;
// "": rewritten; else why it stays float.
std::optional<std::string> fuse_recurrent(PlanState& s, const Links& l, size_t i) {
  PreparedStep& step = s.steps[i];
  ir::Node& op = s.graph.nodes[step.node];
  if (op.inputs.size() < 3 || op.inputs[1] == kNoTensor || op.inputs[2] == kNoTensor) return std::nullopt;
  const int w_dq = l.producer_node[op.inputs[1]], r_dq = l.producer_node[op.inputs[2]];
  if (!node_if(s, w_dq, "DequantizeLinear") && !node_if(s, r_dq, "DequantizeLinear")) return std::nullopt;
  if (!node_if(s, w_dq, "DequantizeLinear") || !node_if(s, r_dq, "DequantizeLinear"))
    return std::string("only one of W and R is dequantized");
  if (!s.info[op.inputs[1]].data || !s.info[op.inputs[2]].data) return std::string("the weights are not constant");
  std::string why;
  TensorId w_scale = kNoTensor, r_scale = kNoTensor;
  const TensorId w = recurrent_weight_int8(s, w_dq, op.name + ":W_int8", w_scale, why);
  const TensorId r = w == kNoTensor ? kNoTensor : recurrent_weight_int8(s, r_dq, op.name + ":R_int8", r_scale, why);
  if (r == kNoTensor) return why;
  const ir::Node saved = op;
  const size_t slots = op.op_type == "LSTM" ? 8 : 6;
  op.domain = ops::kFusedDomain;
  op.inputs.resize(slots, kNoTensor);
  op.inputs[1] = w;
  op.inputs[2] = r;
  op.inputs.push_back(w_scale);
  op.inputs.push_back(r_scale);
  PreparedStep again;
  try {
    if (!prepare_node(s, step.node, again)) throw Error("internal error: the fused step folded");
  } catch (const Error& e) {  // the float op's step is still as prepare_fold left it
    op = saved;
    return std::string(e.what());
  }
  step.step = std::move(again.step);
  step.inputs = again.inputs;
  step.outputs = again.outputs;
  std::string names = s.graph.nodes[w_dq].name + " + " + s.graph.nodes[r_dq].name;
  if (saved.inputs.size() > 3 && saved.inputs[3] != kNoTensor &&
      node_if(s, l.producer_node[saved.inputs[3]], "DequantizeLinear"))
    names += " + " + s.graph.nodes[l.producer_node[saved.inputs[3]]].name;
  step.name = names + " + " + step.name;
  step.op_type = "DequantizeLinear+" + step.op_type;
  return std::string();
}

}  // namespace

void fuse_qdq(PlanState& s, PassReport& report) {
  if (!s.options.fuse) {
    report.summary = "off (PlanOptions::fuse = false)";
    report.numbers = {{"fused_groups", 0}, {"int8_pass_through", 0}, {"left_in_float", 0}};
    return;
  }
  Links l = links_of(s);
  std::vector<std::string> fused, left, moved;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    PreparedStep& step = s.steps[i];
    const ir::Node& op = s.graph.nodes[step.node];
    if (!step.keep || !op.domain.empty()) continue;
    if (is_pass_through(op) || is_requantizing(op)) {
      std::string why;
      const std::string name = op.name;
      for (std::string& m : fuse_unary(s, l, i, &why)) moved.push_back(std::move(m));
      if (!why.empty()) left.push_back(name + " (" + why + ")");
      continue;
    }
    if (is_recurrent(op)) {
      const std::string name = op.name, op_type = op.op_type;
      if (const auto why = fuse_recurrent(s, l, i))
        (why->empty() ? fused : left).push_back(name + " (" + (why->empty() ? op_type + " weight-only" : *why) + ")");
      continue;
    }
    if (op.op_type == "Concat") {
      const std::string name = op.name;
      if (const auto why = fuse_concat(s, l, i))
        (why->empty() ? fused : left).push_back(name + " (" + (why->empty() ? "Concat" : *why) + ")");
      continue;
    }
    if (!(is_product(op) || op.op_type == "Add" || op.op_type == "Mul")) continue;
    std::optional<Group> g = match(s, l, static_cast<int>(i));
    if (!g) continue;
    const ir::Node saved = op;
    const std::string op_type = op.op_type;
    if (g->why.empty() && rewrite(s, l, *g)) {
      try {
        if (!prepare_node(s, step.node, step)) throw Error("internal error: the fused step folded");
      } catch (const Error& e) {  // the float op's step is still as prepare_fold left it
        g->why = e.what();
        s.graph.nodes[step.node] = saved;
      }
    }
    if (!g->why.empty()) {
      left.push_back(saved.name + " (" + g->why + ")");
      continue;
    }
    // The absorbed steps go; an input's DequantizeLinear stays while
    // something else reads its float output.
    for (int j : g->input_dq_steps)
      if (--l.readers[s.steps[j].outputs[0]] == 0) s.steps[j].keep = false;
    std::vector<std::string> names{s.graph.nodes[g->x.node].name, s.graph.nodes[g->w.node].name};
    std::vector<std::string> kinds{"DequantizeLinear"};
    if (g->b_dq_node >= 0) names.push_back(s.graph.nodes[g->b_dq_node].name);
    names.push_back(saved.name);
    kinds.push_back(op_type);
    for (int j : {g->act_step, g->q_step}) {
      if (j < 0) continue;
      s.steps[j].keep = false;
      names.push_back(s.steps[j].name);
      kinds.push_back(s.steps[j].op_type);
    }
    step.name.clear();
    for (size_t k = 0; k < names.size(); ++k) step.name += (k ? " + " : "") + names[k];
    step.op_type.clear();
    for (size_t k = 0; k < kinds.size(); ++k) step.op_type += (k ? "+" : "") + kinds[k];
    l.producer_step[step.outputs[0]] = static_cast<int>(i);
    fused.push_back(saved.name + " (" + op_type + (g->act_step >= 0 ? "+" + s.steps[g->act_step].op_type : "") + ")");
  }
  if (fused.empty() && left.empty() && moved.empty()) {
    report.summary =
        "no DequantizeLinear -> Conv/MatMul/Gemm/Add/Mul/Concat/pooling/mean/softmax/data movement -> QuantizeLinear group"
        " and no dequantized recurrent weights";
  } else {
    report.summary = "fused " + plural(fused.size(), "QDQ group") + " into int8 steps" +
                     (fused.empty() ? "" : ": " + first_few(fused)) +
                     (moved.empty() ? "" : "; " + plural(moved.size(), "op") + " on int8 data: " + first_few(moved)) +
                     (left.empty() ? "" : "; left in float: " + first_few(left));
  }
  report.numbers = {{"fused_groups", static_cast<int64_t>(fused.size())},
                    {"int8_pass_through", static_cast<int64_t>(moved.size())},
                    {"left_in_float", static_cast<int64_t>(left.size())}};
}

}  // namespace rtml::plan
