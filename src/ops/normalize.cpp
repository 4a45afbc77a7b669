// Softmax family, LayerNormalization, InstanceNormalization, LpNormalization,
// the Reduce* ops and ArgMax/ArgMin. Kernels: kernels/normalize.h.
#include "kernels/normalize.h"
#include "kernels/broadcast_plan.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "ops/op.h"

namespace rtml::ops {

namespace {

namespace k = kernels;

const char* short_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::I8: return "i8";
    default: return "other";
  }
}

// Kernel names live as long as the program (Step::kernel is a plain pointer).
const char* kernel_name(const std::string& base, DType t) {
  static std::mutex mu;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(base + "_" + short_name(t)).first->c_str();
}

// Picks Run<T>::run for the input type; `Run` is a class template.
template <template <class> class Run>
void set_run(OpContext& ctx, DType t, const std::string& base) {
  switch (t) {
    case DType::F32: ctx.step.run = Run<float>::run; break;
    case DType::F64: ctx.step.run = Run<double>::run; break;
    case DType::I32: ctx.step.run = Run<int32_t>::run; break;
    case DType::I64: ctx.step.run = Run<int64_t>::run; break;
    case DType::U8: ctx.step.run = Run<uint8_t>::run; break;
    case DType::I8: ctx.step.run = Run<int8_t>::run; break;
    default: ctx.fail(std::string("internal error: no kernel for type ") + dtype_name(t));
  }
  ctx.step.kernel = kernel_name(base, t);
}

template <template <class> class Run>
void set_run_float(OpContext& ctx, DType t, const std::string& base) {
  switch (t) {
    case DType::F32: ctx.step.run = Run<float>::run; break;
    case DType::F64: ctx.step.run = Run<double>::run; break;
    default: ctx.fail(std::string("internal error: no kernel for type ") + dtype_name(t));
  }
  ctx.step.kernel = kernel_name(base, t);
}

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) n *= s[i];
  return n;
}

// --- Softmax / LogSoftmax / Hardmax ---------------------------------------------------

enum class SoftKind { Softmax, LogSoftmax, Hardmax };

struct SoftParams {
  SoftKind kind;
  k::AxisParams axis;
};

template <class T>
struct SoftRun {
  static int run(const void* params, void* const* ops) {
    const auto& p = *static_cast<const SoftParams*>(params);
    const T* x = static_cast<const T*>(ops[0]);
    T* y = static_cast<T*>(ops[1]);
    switch (p.kind) {
      case SoftKind::Softmax: k::softmax<T>(p.axis, x, y); break;
      case SoftKind::LogSoftmax: k::log_softmax<T>(p.axis, x, y); break;
      case SoftKind::Hardmax: k::hardmax<T>(p.axis, x, y); break;
    }
    return 0;
  }
};

// Opset < 13: the input is flattened to 2-D at `axis` (default 1) and each
// row is normalized. Opset >= 13: normalized along the single `axis`
// (default -1).
void softmax_like(OpContext& ctx, SoftKind kind, const char* name) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  const int rank = x.rank();
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const bool legacy = ctx.opset() < 13;
  const int axis = ctx.axis(ctx.attr_int("axis", legacy ? 1 : -1), rank);
  auto& p = make_params<SoftParams>(ctx.step);
  p.kind = kind;
  p.axis.outer = prod(x.shape, 0, axis);
  if (legacy) {
    p.axis.n = prod(x.shape, axis, rank);
    p.axis.inner = 1;
  } else {
    p.axis.n = x.shape[axis];
    p.axis.inner = prod(x.shape, axis + 1, rank);
  }
  ctx.set_output(0, x.dtype, x.shape);
  ctx.step.flops = (kind == SoftKind::Hardmax ? 1.0 : 4.0) * x.numel();
  set_run_float<SoftRun>(ctx, x.dtype, name);
}

void Softmax(OpContext& ctx) { softmax_like(ctx, SoftKind::Softmax, "softmax"); }
void LogSoftmax(OpContext& ctx) { softmax_like(ctx, SoftKind::LogSoftmax, "log_softmax"); }
void Hardmax(OpContext& ctx) { softmax_like(ctx, SoftKind::Hardmax, "hardmax"); }

// --- LayerNormalization -------------------------------------------------------------------

struct LayerNormOpParams {
  k::LayerNormParams ln;
  int num_inputs = 3;   // outputs follow the inputs the node lists
  int num_outputs = 1;  // Mean / InvStdDev operands exist only if listed
};

template <class T>
struct LayerNormRun {
  static int run(const void* params, void* const* ops) {
    const auto& p = *static_cast<const LayerNormOpParams*>(params);
    const int o = p.num_inputs;
    k::layer_norm<T>(p.ln, static_cast<const T*>(ops[0]), static_cast<const T*>(ops[1]),
                     p.ln.has_bias ? static_cast<const T*>(ops[2]) : nullptr, static_cast<T*>(ops[o]),
                     p.num_outputs > 1 ? static_cast<T*>(ops[o + 1]) : nullptr,
                     p.num_outputs > 2 ? static_cast<T*>(ops[o + 2]) : nullptr);
    return 0;
  }
};

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
  auto& op = make_params<LayerNormOpParams>(ctx.step);
  op.num_inputs = static_cast<int>(ctx.node().inputs.size());
  op.num_outputs = static_cast<int>(ctx.node().outputs.size());
  k::LayerNormParams& p = op.ln;
  p.outer = prod(x.shape, 0, axis);
  p.n = prod(x.shape, axis, rank);
  p.epsilon = ctx.attr_float("epsilon", 1e-5f);
  p.has_bias = ctx.has_input(2);
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  std::vector<Shape> shapes = {ctx.input(1).shape};
  if (p.has_bias) shapes.push_back(ctx.input(2).shape);
  for (Shape& s : shapes) {
    // Leading 1s beyond the normalized rank (e.g. Scale of shape [1, C]) are dropped.
    while (s.size() > norm.size() && s.front() == 1) s.erase(s.begin());
    Shape b;
    if (!k::broadcast_shape({norm, s}, b) || b != norm)
      ctx.fail("Scale/B of shape " + shape_str(s) + " does not broadcast to the normalized shape " + shape_str(norm));
  }
  if (!k::make_broadcast(shapes, norm, p.affine)) ctx.fail("rank exceeds " + std::to_string(kMaxRank));
  ctx.set_output(0, x.dtype, x.shape);
  Shape stat = x.shape;
  for (int d = axis; d < rank; ++d) stat[d] = 1;
  for (int i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) ctx.set_output(i, x.dtype, stat);
  ctx.step.flops = 8.0 * x.numel();
  set_run_float<LayerNormRun>(ctx, x.dtype, "layer_norm");
}

// --- InstanceNormalization -------------------------------------------------------------------

template <class T>
struct InstanceNormRun {
  static int run(const void* params, void* const* ops) {
    k::instance_norm<T>(*static_cast<const k::InstanceNormParams*>(params), static_cast<const T*>(ops[0]),
                        static_cast<const T*>(ops[1]), static_cast<const T*>(ops[2]), static_cast<T*>(ops[3]));
    return 0;
  }
};

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
  auto& p = make_params<k::InstanceNormParams>(ctx.step);
  p.batch = x.shape[0];
  p.channels = C;
  p.spatial = prod(x.shape, 2, x.shape.size());
  p.epsilon = ctx.attr_float("epsilon", 1e-5f);
  ctx.set_output(0, x.dtype, x.shape);
  ctx.step.flops = 6.0 * x.numel();
  set_run_float<InstanceNormRun>(ctx, x.dtype, "instance_norm");
}

// --- LpNormalization ---------------------------------------------------------------------------

template <class T>
struct LpNormRun {
  static int run(const void* params, void* const* ops) {
    k::lp_norm<T>(*static_cast<const k::LpNormParams*>(params), static_cast<const T*>(ops[0]), static_cast<T*>(ops[1]));
    return 0;
  }
};

void LpNormalization(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64});
  const TensorInfo& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", -1), x.rank());
  const int64_t pn = ctx.attr_int("p", 2);
  if (pn != 1 && pn != 2) ctx.fail("p must be 1 or 2, got " + std::to_string(pn));
  auto& p = make_params<k::LpNormParams>(ctx.step);
  p.p = static_cast<int>(pn);
  p.axis.outer = prod(x.shape, 0, axis);
  p.axis.n = x.shape[axis];
  p.axis.inner = prod(x.shape, axis + 1, x.shape.size());
  ctx.set_output(0, x.dtype, x.shape);
  ctx.step.flops = 3.0 * x.numel();
  set_run_float<LpNormRun>(ctx, x.dtype, "lp_norm");
}

// --- Reductions -----------------------------------------------------------------------------------

struct ReduceOpParams {
  k::ReduceParams r;
  int num_inputs = 1;
};

template <class T>
struct ReduceOpRun {
  static int run(const void* params, void* const* ops) {
    const auto& p = *static_cast<const ReduceOpParams*>(params);
    k::reduce<T>(p.r, static_cast<const T*>(ops[0]), static_cast<T*>(ops[p.num_inputs]));
    return 0;
  }
};

// Axes come from the `axes` attribute, or from input 1 for ReduceSum at
// opset >= 13 and the other reductions at opset >= 18. Empty axes reduce
// everything unless noop_with_empty_axes is set (then nothing is reduced).
void reduce_op(OpContext& ctx, k::ReduceKind kind, const char* name) {
  const bool axes_input = kind == k::ReduceKind::Sum ? ctx.opset() >= 13 : ctx.opset() >= 18;
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
  auto& op = make_params<ReduceOpParams>(ctx.step);
  op.num_inputs = static_cast<int>(ctx.node().inputs.size());
  op.r.kind = kind;
  if (!k::make_reduce(x.shape, reduced, op.r)) ctx.fail("rank exceeds " + std::to_string(kMaxRank));
  Shape out;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d]) out.push_back(x.shape[d]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, x.dtype, out);
  ctx.step.flops = static_cast<double>(x.numel());
  set_run<ReduceOpRun>(ctx, x.dtype, name);
}

void ReduceSum(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::Sum, "reduce_sum"); }
void ReduceMean(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::Mean, "reduce_mean"); }
void ReduceMax(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::Max, "reduce_max"); }
void ReduceMin(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::Min, "reduce_min"); }
void ReduceProd(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::Prod, "reduce_prod"); }
void ReduceL1(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::L1, "reduce_l1"); }
void ReduceL2(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::L2, "reduce_l2"); }
void ReduceLogSum(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::LogSum, "reduce_log_sum"); }
void ReduceLogSumExp(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::LogSumExp, "reduce_log_sum_exp"); }
void ReduceSumSquare(OpContext& ctx) { reduce_op(ctx, k::ReduceKind::SumSquare, "reduce_sum_square"); }

// --- ArgMax / ArgMin ---------------------------------------------------------------------------------

template <class T>
struct ArgRun {
  static int run(const void* params, void* const* ops) {
    k::arg_reduce<T>(*static_cast<const k::ArgParams*>(params), static_cast<const T*>(ops[0]),
                     static_cast<int64_t*>(ops[1]));
    return 0;
  }
};

void arg_op(OpContext& ctx, bool is_max, const char* name) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::I8});
  const TensorInfo& x = ctx.input(0);
  const int rank = x.rank();
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", 0), rank);
  if (x.shape[axis] == 0) ctx.fail("cannot take the arg of an empty axis (" + shape_str(x.shape) + ")");
  auto& p = make_params<k::ArgParams>(ctx.step);
  p.is_max = is_max;
  p.select_last_index = ctx.attr_int("select_last_index", 0) != 0;
  p.axis.outer = prod(x.shape, 0, axis);
  p.axis.n = x.shape[axis];
  p.axis.inner = prod(x.shape, axis + 1, rank);
  Shape out = x.shape;
  if (ctx.attr_int("keepdims", 1) != 0) out[axis] = 1;
  else out.erase(out.begin() + axis);
  ctx.set_output(0, DType::I64, out);
  ctx.step.flops = static_cast<double>(x.numel());
  set_run<ArgRun>(ctx, x.dtype, name);
}

void ArgMax(OpContext& ctx) { arg_op(ctx, true, "argmax"); }
void ArgMin(OpContext& ctx) { arg_op(ctx, false, "argmin"); }

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
