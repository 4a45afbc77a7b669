// Softmax family, LayerNormalization, InstanceNormalization, LpNormalization,
// the Reduce* ops and ArgMax/ArgMin. Kernels: kernels/normalize.h.
#include "kernels/fast_softmax.h"
#include "kernels/normalize_plan.h"

#include <algorithm>

#include "ops/op.h"

namespace rtml::ops {

namespace {

namespace k = kernels;

// Picks the entry rtml_<type>_<op>__ref and returns its params.
template <class P>
P& use(OpContext& ctx, DType t, const char* op) {
  return ctx.use_kernel<P>(kernel_symbol(t, op).c_str());
}

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) n *= s[i];
  return n;
}

// --- Softmax / LogSoftmax / Hardmax ---------------------------------------------------

// Opset < 13: the input is flattened to 2-D at `axis` (default 1) and each
// row is normalized. Opset >= 13: normalized along the single `axis`
// (default -1).
void softmax_like(OpContext& ctx, const char* op) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  const int rank = x.rank();
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const bool legacy = ctx.opset() < 13;
  const int axis = ctx.axis(ctx.attr_int("axis", legacy ? 1 : -1), rank);
  ctx.set_output(0, x.dtype, x.shape);
  auto& p = use<k::AxisParams>(ctx, x.dtype, op);
  p.outer = prod(x.shape, 0, axis);
  if (legacy) {
    p.n = prod(x.shape, axis, rank);
    p.inner = 1;
  } else {
    p.n = x.shape[axis];
    p.inner = prod(x.shape, axis + 1, rank);
  }
  ctx.step.flops = (std::string(op) == "hardmax" ? 1.0 : 4.0) * x.numel();
  // Contiguous float32 rows: the Highway kernel in the simd kernel set.
  if (ctx.simd() && x.dtype == DType::F32 && std::string(op) == "softmax" && k::fast_softmax_supported(p)) {
    const k::AxisParams fast = p;
    ctx.use_kernel<k::AxisParams>("rtml_f32_softmax__hwy") = fast;
  }
}

void Softmax(OpContext& ctx) { softmax_like(ctx, "softmax"); }
void LogSoftmax(OpContext& ctx) { softmax_like(ctx, "log_softmax"); }
void Hardmax(OpContext& ctx) { softmax_like(ctx, "hardmax"); }

// --- LayerNormalization -------------------------------------------------------------------

// Opset 17. Normalizes over dims [axis, rank); Scale and B broadcast to those
// dims. Optional outputs Mean and InvStdDev have the input's shape with the
// normalized dims set to 1.
void LayerNormalization(OpContext& ctx) {
  ctx.expect_inputs(2, 3);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  for (int i = 1; i < 3; ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != x.dtype)
      ctx.fail("input " + std::to_string(i) + " has type " + dtype_name(ctx.input(i).dtype) + ", expected " +
               dtype_name(x.dtype) + " like X");
  const int rank = x.rank();
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", -1), rank);
  const int64_t stash = ctx.attr_int("stash_type", 1);
  if (stash != 1 && stash != 11) ctx.fail("stash_type " + std::to_string(stash) + " is not supported (float or double)");
  if (ctx.num_outputs() > 3) ctx.fail("has at most 3 outputs");
  ctx.set_output(0, x.dtype, x.shape);
  Shape stat = x.shape;
  for (int d = axis; d < rank; ++d) stat[d] = 1;
  for (int i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) ctx.set_output(i, x.dtype, stat);
  auto& p = use<k::LayerNormParams>(ctx, x.dtype, "layer_norm");
  p.num_inputs = static_cast<int32_t>(ctx.node().inputs.size());
  p.num_outputs = static_cast<int32_t>(ctx.node().outputs.size());
  p.outer = prod(x.shape, 0, axis);
  p.n = prod(x.shape, axis, rank);
  p.epsilon = ctx.attr_float("epsilon", 1e-5f);
  p.has_bias = ctx.has_input(2);
  // Scale and B broadcast to the normalized dims; leading 1s beyond their
  // rank (e.g. Scale of shape [1, C]) are dropped.
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  if (!k::make_layer_norm_affine(norm, ctx.input(1).shape, p.has_bias ? &ctx.input(2).shape : nullptr, p))
    ctx.fail("Scale " + shape_str(ctx.input(1).shape) + (p.has_bias ? " or B " + shape_str(ctx.input(2).shape) : "") +
             " does not broadcast to the normalized shape " + shape_str(norm));
  ctx.step.flops = 8.0 * x.numel();
  // Scale and B per element of the row (as exporters write them): the Highway kernel in the simd set.
  if (ctx.simd() && x.dtype == DType::F32 && k::fast_layer_norm_supported(p)) {
    const k::LayerNormParams fast = p;
    ctx.use_kernel<k::LayerNormParams>("rtml_f32_layer_norm__hwy") = fast;
  }
}

// --- InstanceNormalization -------------------------------------------------------------------

void InstanceNormalization(OpContext& ctx) {
  ctx.expect_inputs(3, 3);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(x.shape));
  const int64_t C = x.shape[1];
  for (int i = 1; i < 3; ++i) {
    const TensorInfo& t = ctx.input(i);
    if (t.dtype != x.dtype) ctx.fail("input " + std::to_string(i) + " must have the type of X");
    if (t.rank() != 1 || t.shape[0] != C)
      ctx.fail("input " + std::to_string(i) + " must have shape [" + std::to_string(C) + "], got " + shape_str(t.shape));
  }
  ctx.set_output(0, x.dtype, x.shape);
  auto& p = use<k::InstanceNormParams>(ctx, x.dtype, "instance_norm");
  p.batch = x.shape[0];
  p.channels = C;
  p.spatial = prod(x.shape, 2, x.shape.size());
  p.epsilon = ctx.attr_float("epsilon", 1e-5f);
  ctx.step.flops = 6.0 * x.numel();
}

// --- LpNormalization ---------------------------------------------------------------------------

void LpNormalization(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", -1), x.rank());
  const int64_t pn = ctx.attr_int("p", 2);
  if (pn != 1 && pn != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(pn));
  ctx.set_output(0, x.dtype, x.shape);
  auto& p = use<k::LpNormParams>(ctx, x.dtype, "lp_norm");
  p.p = static_cast<int32_t>(pn);
  p.axis.outer = prod(x.shape, 0, axis);
  p.axis.n = x.shape[axis];
  p.axis.inner = prod(x.shape, axis + 1, x.shape.size());
  ctx.step.flops = 3.0 * x.numel();
}

// --- Reductions -----------------------------------------------------------------------------------

// Axes come from the `axes` attribute, or from input 1 for ReduceSum at
// opset >= 13 and the other reductions at opset >= 18. Empty axes reduce
// everything unless noop_with_empty_axes is set (then nothing is reduced).
void reduce_op(OpContext& ctx, const char* op) {
  const bool axes_input = std::string(op) == "reduce_sum" ? ctx.opset() >= 13 : ctx.opset() >= 18;
  ctx.expect_inputs(1, axes_input ? 2 : 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::I8});
  const TensorInfo& x = ctx.input(0);
  const int rank = x.rank();
  std::vector<int64_t> axes;
  if (axes_input) {
    if (ctx.has_input(1) && ctx.input(1).numel() > 0) axes = ctx.const_ints(1);
    else if (!ctx.has_input(1)) axes = ctx.attr_ints("axes");  // lenient: pre-opset-13 style
  } else {
    axes = ctx.attr_ints("axes");
  }
  const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
  const bool noop = ctx.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> reduced(rank, false);
  if (axes.empty()) {
    if (!noop) std::fill(reduced.begin(), reduced.end(), true);
  } else if (rank > 0) {
    for (int64_t a : axes) {
      const int d = ctx.axis(a, rank, "reduction axis");
      if (reduced[d]) ctx.fail("axis " + std::to_string(a) + " is listed twice");
      reduced[d] = true;
    }
  }
  if (rank > kMaxRank) ctx.fail("rank exceeds " + std::to_string(kMaxRank));
  Shape out;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d]) out.push_back(x.shape[d]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, x.dtype, out);
  auto& p = use<k::ReduceParams>(ctx, x.dtype, op);
  p.out_slot = static_cast<int32_t>(ctx.node().inputs.size());
  if (!k::make_reduce(x.shape, reduced, p)) ctx.fail("rank exceeds " + std::to_string(kMaxRank));
  ctx.step.flops = static_cast<double>(x.numel());
  // A float32 sum or mean over the innermost axes: the Highway kernel in the simd set.
  const std::string kind = op;
  if (ctx.simd() && x.dtype == DType::F32 && (kind == "reduce_sum" || kind == "reduce_mean") &&
      k::fast_reduce_supported(p)) {
    const k::ReduceParams fast = p;
    ctx.use_kernel<k::ReduceParams>(("rtml_f32_" + kind + "__hwy").c_str()) = fast;
  }
}

void ReduceSum(OpContext& ctx) { reduce_op(ctx, "reduce_sum"); }
void ReduceMean(OpContext& ctx) { reduce_op(ctx, "reduce_mean"); }
void ReduceMax(OpContext& ctx) { reduce_op(ctx, "reduce_max"); }
void ReduceMin(OpContext& ctx) { reduce_op(ctx, "reduce_min"); }
void ReduceProd(OpContext& ctx) { reduce_op(ctx, "reduce_prod"); }
void ReduceL1(OpContext& ctx) { reduce_op(ctx, "reduce_l1"); }
void ReduceL2(OpContext& ctx) { reduce_op(ctx, "reduce_l2"); }
void ReduceLogSum(OpContext& ctx) { reduce_op(ctx, "reduce_log_sum"); }
void ReduceLogSumExp(OpContext& ctx) { reduce_op(ctx, "reduce_log_sum_exp"); }
void ReduceSumSquare(OpContext& ctx) { reduce_op(ctx, "reduce_sum_square"); }

// --- ArgMax / ArgMin ---------------------------------------------------------------------------------

void arg_op(OpContext& ctx, const char* op) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::I8});
  const TensorInfo& x = ctx.input(0);
  const int rank = x.rank();
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", 0), rank);
  if (x.shape[axis] == 0) ctx.fail("cannot take the arg of an empty axis (" + shape_str(x.shape) + ")");
  Shape out = x.shape;
  if (ctx.attr_int("keepdims", 1) != 0) out[axis] = 1;
  else out.erase(out.begin() + axis);
  ctx.set_output(0, DType::I64, out);
  auto& p = use<k::ArgParams>(ctx, x.dtype, op);
  p.select_last_index = ctx.attr_int("select_last_index", 0) != 0;
  p.axis.outer = prod(x.shape, 0, axis);
  p.axis.n = x.shape[axis];
  p.axis.inner = prod(x.shape, axis + 1, rank);
  ctx.step.flops = static_cast<double>(x.numel());
}

void ArgMax(OpContext& ctx) { arg_op(ctx, "argmax"); }
void ArgMin(OpContext& ctx) { arg_op(ctx, "argmin"); }

}  // namespace

void register_normalize(Registry& r) {
  r.add({"Softmax", Softmax});
  r.add({"LogSoftmax", LogSoftmax});
  r.add({"Hardmax", Hardmax});
  r.add({"LayerNormalization", LayerNormalization});
  r.add({"InstanceNormalization", InstanceNormalization});
  r.add({"LpNormalization", LpNormalization});
  r.add({"ReduceSum", ReduceSum});
  r.add({"ReduceMean", ReduceMean});
  r.add({"ReduceMax", ReduceMax});
  r.add({"ReduceMin", ReduceMin});
  r.add({"ReduceProd", ReduceProd});
  r.add({"ReduceL1", ReduceL1});
  r.add({"ReduceL2", ReduceL2});
  r.add({"ReduceLogSum", ReduceLogSum});
  r.add({"ReduceLogSumExp", ReduceLogSumExp});
  r.add({"ReduceSumSquare", ReduceSumSquare});
  r.add({"ArgMax", ArgMax});
  r.add({"ArgMin", ArgMin});
}

}  // namespace rtml::ops
