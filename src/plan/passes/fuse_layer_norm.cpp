// fuse_layer_norm (a rewrite after prepare_fold): LayerNorm as exporters
// write it below opset 17 (torch.onnx of nn.LayerNorm, and hand-written
// x.mean / (x - m)**2 / sqrt code) becomes one LayerNormalization step:
//
//   m = ReduceMean(x, axes)          d = Sub(x, m)
//   v = ReduceMean(Pow(d, 2) | Mul(d, d), axes)
//   y = Div(d, Sqrt(Add(v, eps)))    [Mul(y, gamma)] [Add(., beta)]
//
// with axes the trailing dims [axis, rank) of x, keepdims 1, eps, gamma and
// beta known now (gamma and beta broadcasting over the normalized dims only;
// without a Mul the scale is a constant of ones). The last node of the chain
// becomes the LayerNormalization node (ops/normalize.cpp's kernel: one pass
// for the mean, one for the variance, one to write y; mean and variance in
// double) and the step is named after every node it replaced. The same
// values up to rounding: the chain rounds each step to float, the kernel
// accumulates in double.
//
// Left alone: an intermediate that something else reads or that is a graph
// output, axes that are not the trailing dims, keepdims 0, a gamma or beta
// that varies along the leading dims, PlanOptions::fuse = false.
#include <algorithm>

#include "kernels/normalize_plan.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

// The operand of a two-input step that is not `t`, or kNoTensor when neither
// or both are t.
ir::TensorId other_operand(const PreparedStep& p, ir::TensorId t) {
  if (p.inputs.size() != 2 || (p.inputs[0] == t) == (p.inputs[1] == t)) return ir::kNoTensor;
  return p.inputs[0] == t ? p.inputs[1] : p.inputs[0];
}

// The step reading `t` (which must have exactly one reader) when it is
// `op_type` and its other operand is known now; that operand in `constant`.
PreparedStep* constant_reader(PlanState& s, const TensorUses& uses, ir::TensorId t, const char* op_type,
                              ir::TensorId& constant) {
  if (uses.readers[t] != 1) return nullptr;
  for (PreparedStep& p : s.steps) {
    if (!p.keep || std::find(p.inputs.begin(), p.inputs.end(), t) == p.inputs.end()) continue;
    const ir::Node& n = s.graph.nodes[p.node];
    constant = other_operand(p, t);
    if (n.op_type != op_type || !n.domain.empty() || constant == ir::kNoTensor || !s.info[constant].data ||
        s.info[constant].dtype != s.info[t].dtype)
      return nullptr;
    return &p;
  }
  return nullptr;
}

// A constant of ones (the scale of a LayerNorm written without gamma).
ir::TensorId ones(PlanState& s, DType dtype, const Shape& shape, const std::string& name) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  const int64_t n = shape_numel(shape);
  auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(n) * dtype_size(dtype));
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::F32) static_cast<float*>(buf->data())[i] = 1.0f;
    else static_cast<double*>(buf->data())[i] = 1.0;
  }
  t.data = buf;
  const ir::TensorId id = s.graph.add_tensor(t);
  s.info.push_back({dtype, shape, buf->data()});
  s.constant.push_back(buf);
  return id;
}

// Matches backwards from the Div step `div`, then forwards to the affine part.
bool match(PlanState& s, const TensorUses& u, PreparedStep& div, ChainRewrite& r) {
  if (div.inputs.size() != 2) return false;
  const ir::TensorId d = div.inputs[0];
  PreparedStep* sub = producer_of(s, u, d, "Sub");
  PreparedStep* sqrt = producer_of(s, u, div.inputs[1], "Sqrt");
  if (!sub || !sqrt || sub->inputs.size() != 2 || u.readers[div.inputs[1]] != 1) return false;
  const ir::TensorId x = sub->inputs[0];
  PreparedStep* mean = producer_of(s, u, sub->inputs[1], "ReduceMean");
  PreparedStep* add_eps = producer_of(s, u, sqrt->inputs[0], "Add");
  if (!mean || !add_eps || mean->inputs[0] != x || u.readers[sub->inputs[1]] != 1 ||
      u.readers[sqrt->inputs[0]] != 1)
    return false;
  // Add(v, eps) in either order.
  ir::TensorId v = ir::kNoTensor;
  float epsilon = 0;
  for (int k = 0; k < 2 && add_eps->inputs.size() == 2; ++k)
    if (constant_scalar(s, add_eps->inputs[1 - k], epsilon)) v = add_eps->inputs[k];
  PreparedStep* var = producer_of(s, u, v, "ReduceMean");
  if (!var || u.readers[v] != 1 || var->inputs.empty()) return false;
  const ir::TensorId sq = var->inputs[0];
  PreparedStep* square = producer_of(s, u, sq, "Pow");
  float two = 0;
  if (square) {
    if (square->inputs.size() != 2 || square->inputs[0] != d || !constant_scalar(s, square->inputs[1], two) ||
        two != 2.0f || u.readers[d] != 2)
      return false;
  } else {
    square = producer_of(s, u, sq, "Mul");
    if (!square || square->inputs.size() != 2 || square->inputs[0] != d || square->inputs[1] != d ||
        u.readers[d] != 3)
      return false;
  }
  if (u.readers[sq] != 1) return false;

  // x float, d and the result of x's shape, the same trailing axes in both means.
  const ops::TensorInfo& xi = s.info[x];
  if ((xi.dtype != DType::F32 && xi.dtype != DType::F64) || xi.rank() == 0 || s.info[d].shape != xi.shape)
    return false;
  const std::vector<int> axes = reduced_axes(s, s.graph.nodes[mean->node]);
  if (axes.empty() || axes != reduced_axes(s, s.graph.nodes[var->node]) || axes.back() != xi.rank() - 1 ||
      axes.back() - axes.front() + 1 != static_cast<int>(axes.size()))
    return false;
  const int axis = axes.front();
  r.chain = {mean, sub, square, var, add_eps, sqrt, &div};

  // The affine part: Mul(y, gamma) then Add(., beta), each optional.
  ir::TensorId y = div.outputs[0], gamma = ir::kNoTensor, beta = ir::kNoTensor;
  if (PreparedStep* mul = constant_reader(s, u, y, "Mul", gamma)) {
    r.chain.push_back(mul);
    y = mul->outputs[0];
    if (PreparedStep* add = constant_reader(s, u, y, "Add", beta)) r.chain.push_back(add);
  }
  if (s.info[r.chain.back()->outputs[0]].shape != xi.shape) return false;  // gamma/beta broadcast outwards
  const Shape norm(xi.shape.begin() + axis, xi.shape.end());
  kernels::LayerNormParams check{};
  if (!kernels::make_layer_norm_affine(norm, gamma == ir::kNoTensor ? norm : s.info[gamma].shape,
                                       beta == ir::kNoTensor ? nullptr : &s.info[beta].shape, check))
    return false;
  const DType dtype = xi.dtype;  // (ones() adds to s.info)
  if (gamma == ir::kNoTensor) gamma = ones(s, dtype, norm, s.graph.nodes[div.node].name + ":ones");
  r.op_type = "LayerNormalization";
  r.inputs = {x, gamma};
  if (beta != ir::kNoTensor) r.inputs.push_back(beta);
  r.attrs["axis"].kind = ir::Attribute::Kind::Int;
  r.attrs["axis"].i = axis;
  r.attrs["epsilon"].kind = ir::Attribute::Kind::Float;
  r.attrs["epsilon"].f = epsilon;
  return true;
}

}  // namespace

void fuse_layer_norm(PlanState& s, PassReport& report) {
  run_chain_rewrite(s, report, "Div", match, "LayerNorm chain", "LayerNormalization", "no written-out LayerNorm", "layer_norms");
}

}  // namespace rtml::plan
