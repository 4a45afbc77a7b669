// Tensor (data-movement and shape) ops: Identity, Dropout, Constant,
// ConstantOfShape, Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
// Transpose, Concat, Split, Slice, Gather, GatherElements, GatherND,
// ScatterElements (Scatter), ScatterND, Expand, Tile, Pad, Range,
// DepthToSpace, SpaceToDepth, Trilu, EyeLike, ReverseSequence.
//
// Values that decide an output shape (Reshape's shape, Slice's starts/ends,
// Tile's repeats, ...) must be known at prepare time: constants, or computed
// from static shapes (Shape -> Gather -> Concat folds). Values that do not
// change shapes (Gather indices, Pad's constant_value, Trilu's k) may be
// run-time data.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "kernels/broadcast_plan.h"
#include "kernels/tensor_ops.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::StridedCopyParams;

// Operand index of output `i` (outputs follow every input slot of the node).
int out_slot(const OpContext& ctx, int i) { return static_cast<int>(ctx.node().inputs.size()) + i; }

Shape row_major_strides(const Shape& s) {
  Shape st(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}

void check_rank(const OpContext& ctx, size_t rank, int limit = kMaxRank) {
  if (static_cast<int>(rank) > limit)
    ctx.fail("rank " + std::to_string(rank) + " exceeds the supported maximum of " + std::to_string(limit));
}

void check_sized(const OpContext& ctx, int i) {
  if (dtype_size(ctx.input(i).dtype) == 0)
    ctx.fail("input " + std::to_string(i) + " has type " + dtype_name(ctx.input(i).dtype) + ", which rtml cannot hold");
}

// Element size as the kernels need it (1, 2, 4 or 8).
int elem_size(const OpContext& ctx, DType t) {
  size_t s = dtype_size(t);
  if (s != 1 && s != 2 && s != 4 && s != 8) ctx.fail(std::string("unsupported element type ") + dtype_name(t));
  return static_cast<int>(s);
}

// ---- plain copy (view ops) -----------------------------------------------------

// The strided-copy entry of `op` for the element size of `t`.
std::string sized_symbol(OpContext& ctx, DType t, const char* op) {
  return kernel_symbol_x(static_cast<size_t>(elem_size(ctx, t)), op);
}

// Output 0 = `data` (a step constant of `dtype` and `shape`), copied by
// rtml_x8_copy__ref (Constant, Shape, Size: folded at prepare).
void copy_constant(OpContext& ctx, DType dtype, Shape shape, std::shared_ptr<const ir::Buffer> data) {
  ctx.set_output(0, dtype, shape);
  const int64_t bytes = shape_numel(shape) * static_cast<int64_t>(dtype_size(dtype));
  const int slot = ctx.add_constant("value", dtype, std::move(shape), std::move(data));
  auto& p = ctx.use_kernel<rtml_copy_params>("rtml_x8_copy__ref");
  p.bytes = bytes;
  p.in_slot = slot;
  p.out_slot = out_slot(ctx, 0);
}

// Output 0 = input 0's bytes with `shape`; the planner may alias the two.
void set_view(OpContext& ctx, Shape shape) {
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  auto n = checked_numel(shape);
  if (!n || *n != in.numel())
    ctx.fail("cannot view " + shape_str(in.shape) + " (" + std::to_string(in.numel()) + " elements) as " +
             shape_str(shape) + " (" + (n ? std::to_string(*n) : std::string("too many")) + " elements)");
  ctx.set_output(0, in.dtype, std::move(shape));
  auto& p = ctx.use_kernel<rtml_copy_params>("rtml_x8_copy__ref");
  p.bytes = static_cast<int64_t>(in.bytes());
  p.in_slot = 0;
  p.out_slot = out_slot(ctx, 0);
  ctx.step.output_aliases_input = true;
  ctx.step.flops = 0;
}

void Identity(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  set_view(ctx, ctx.input(0).shape);
}

// Inference-mode Dropout: output = input, mask (if requested) all true.
// Training mode (random dropping) is not supported, except with ratio 0,
// where it is the identity too. A training_mode input that is true with a
// nonzero ratio fails: at prepare time when both are constant, else with
// run-time code 2.
void Dropout(OpContext& ctx) {
  ctx.expect_inputs(1, ctx.opset() >= 12 ? 3 : 1);
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  if (ctx.opset() < 7 && ctx.attr_int("is_test", 0) == 0 && ctx.has_attr("is_test"))
    ctx.fail("training mode (is_test=0) is not supported; rtml runs inference only");
  rtml_dropout_params p{};
  p.mask_slot = p.training_slot = p.ratio_slot = -1;
  if (ctx.has_input(1)) {
    ctx.expect_dtype(1, {DType::F32, DType::F64, DType::F16});
    if (ctx.input(1).numel() != 1) ctx.fail("ratio must be a scalar");
    const DType rt = ctx.input(1).dtype;
    if (ctx.is_constant(1) && rt != DType::F16) {
      p.ratio_zero = ctx.const_floats(1)[0] == 0.f;
    } else {
      p.ratio_slot = 1;
      p.ratio_bytes = rt == DType::F16 ? 0 : static_cast<int32_t>(dtype_size(rt));
    }
  }
  if (ctx.has_input(2)) {
    ctx.expect_dtype(2, {DType::Bool});
    if (ctx.is_constant(2)) {
      if (*ctx.input(2).as<uint8_t>() && !p.ratio_zero && p.ratio_slot < 0)
        ctx.fail("training_mode=true (random dropping) is not supported; rtml runs inference only");
      if (*ctx.input(2).as<uint8_t>() && !p.ratio_zero) p.training_slot = 2;  // checked against the run-time ratio
    } else {
      p.training_slot = 2;
    }
  }
  ctx.set_output(0, in.dtype, in.shape);
  p.bytes = static_cast<int64_t>(in.bytes());
  p.out_slot = out_slot(ctx, 0);
  if (ctx.has_output(1)) {
    // Opset < 10 typed the mask like the input; later opsets use bool.
    ctx.set_output(1, ctx.opset() >= 10 ? DType::Bool : in.dtype, in.shape);
    if (ctx.opset() < 10 && in.dtype != DType::Bool)
      ctx.fail("a mask output of the input's type (opset < 10) is not supported");
    p.mask_slot = out_slot(ctx, 1);
    p.mask_count = in.numel();
  }
  if (p.mask_slot < 0 && p.training_slot < 0) {  // the usual case: a plain view
    set_view(ctx, in.shape);
    return;
  }
  ctx.use_kernel<rtml_dropout_params>("rtml_x8_dropout__ref") = p;
}

// ---- Constant / ConstantOfShape ----------------------------------------------

void Constant(OpContext& ctx) {
  ctx.expect_inputs(0, 0);
  if (const ir::Tensor* t = ctx.has_attr("value") ? ctx.attr_tensor("value") : nullptr) {
    if (dtype_size(t->dtype) == 0) ctx.fail(std::string("value of type ") + dtype_name(t->dtype) + " is not supported");
    ctx.set_output(0, t->dtype, t->shape);
    const size_t bytes = static_cast<size_t>(shape_numel(t->shape)) * dtype_size(t->dtype);
    if (!t->data || t->data->size() < bytes) ctx.fail("value tensor holds fewer bytes than its shape needs");
    copy_constant(ctx, t->dtype, t->shape, t->data);
    return;
  }
  auto own = [&](DType dt, Shape shape, const void* src, size_t bytes) {
    copy_constant(ctx, dt, std::move(shape), buffer_of(src, bytes));
  };
  if (ctx.has_attr("value_float")) {
    float v = ctx.attr_float("value_float", 0);
    own(DType::F32, {}, &v, sizeof v);
  } else if (ctx.has_attr("value_floats")) {
    auto v = ctx.attr_floats("value_floats");
    own(DType::F32, {static_cast<int64_t>(v.size())}, v.data(), v.size() * sizeof(float));
  } else if (ctx.has_attr("value_int")) {
    int64_t v = ctx.attr_int("value_int", 0);
    own(DType::I64, {}, &v, sizeof v);
  } else if (ctx.has_attr("value_ints")) {
    auto v = ctx.attr_ints("value_ints");
    own(DType::I64, {static_cast<int64_t>(v.size())}, v.data(), v.size() * sizeof(int64_t));
  } else if (ctx.has_attr("sparse_value")) {
    ctx.fail("sparse_value is not supported");
  } else if (ctx.has_attr("value_string") || ctx.has_attr("value_strings")) {
    ctx.fail("string constants are not supported");
  } else {
    ctx.fail("needs one of the attributes value, value_float(s), value_int(s)");
  }
}

void ConstantOfShape(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  Shape shape = ctx.const_ints(0);
  if (ctx.input(0).rank() != 1) ctx.fail("input must be a 1-D shape, got " + shape_str(ctx.input(0).shape));
  for (int64_t d : shape)
    if (d < 0) ctx.fail("shape " + shape_str(shape) + " has a negative dimension");
  rtml_fill_params p{};
  DType dt = DType::F32;
  if (const ir::Tensor* t = ctx.attr_tensor("value")) {
    if (shape_numel(t->shape) != 1) ctx.fail("attribute value must hold exactly one element");
    dt = t->dtype;
    std::memcpy(p.value, t->data->data(), static_cast<size_t>(elem_size(ctx, dt)));
  }
  ctx.set_output(0, dt, shape);  // checks the size first
  p.count = shape_numel(shape);
  p.out_slot = out_slot(ctx, 0);
  ctx.use_kernel<rtml_fill_params>(sized_symbol(ctx, dt, "fill").c_str()) = p;
}

// ---- Shape / Size ----------------------------------------------------------------

void ShapeOpPrepare(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const Shape& s = ctx.input(0).shape;
  const int64_t r = static_cast<int64_t>(s.size());
  check_rank(ctx, s.size());
  int64_t start = ctx.attr_int("start", 0), end = ctx.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  const std::vector<int64_t> values(s.begin() + start, s.begin() + std::max(start, end));
  copy_constant(ctx, DType::I64, {static_cast<int64_t>(values.size())},
                buffer_of(values.data(), values.size() * sizeof(int64_t)));
}

void Size(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const int64_t n = ctx.input(0).numel();
  copy_constant(ctx, DType::I64, {}, buffer_of(&n, sizeof n));
}

// ---- Reshape / Flatten / Squeeze / Unsqueeze ---------------------------------------

void Reshape(OpContext& ctx) {
  std::vector<int64_t> spec;
  if (ctx.opset() < 5) {
    ctx.expect_inputs(1, 1);
    spec = ctx.attr_ints("shape");
  } else {
    ctx.expect_inputs(2, 2);
    if (ctx.input(1).rank() != 1) ctx.fail("shape input must be 1-D, got " + shape_str(ctx.input(1).shape));
    spec = ctx.const_ints(1);
  }
  const Shape& in = ctx.input(0).shape;
  const bool allowzero = ctx.attr_int("allowzero", 0) != 0;
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) ctx.fail("shape " + shape_str(spec) + " has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allowzero) {
      if (i >= in.size()) ctx.fail("shape " + shape_str(spec) + " copies dimension " + std::to_string(i) +
                                   " (0), but the input " + shape_str(in) + " has no such dimension");
      d = in[i];
    }
    if (d < 0) ctx.fail("shape has an invalid dimension " + std::to_string(d));
    out[i] = d;
    known = ctx.mul(known, d, "shape");
  }
  if (infer >= 0) {
    if (allowzero && known == 0) ctx.fail("shape has both 0 and -1 with allowzero=1");
    const int64_t n = ctx.input(0).numel();
    if (known == 0 || n % known != 0)
      ctx.fail("cannot infer -1 in shape " + shape_str(spec) + " for input " + shape_str(in));
    out[infer] = n / known;
  }
  set_view(ctx, std::move(out));
}

void Flatten(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const Shape& in = ctx.input(0).shape;
  const int64_t r = static_cast<int64_t>(in.size());
  int64_t axis = ctx.attr_int("axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) ctx.fail("axis " + std::to_string(ctx.attr_int("axis", 1)) + " is out of range for rank " + std::to_string(r));
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= in[static_cast<size_t>(i)];
  set_view(ctx, {a, b});
}

// Axes from the attribute (opset < 13) or input 1 (opset >= 13).
std::vector<int64_t> axes_arg(OpContext& ctx, bool& given) {
  given = false;
  if (ctx.has_input(1)) {
    given = true;
    return ctx.const_ints(1);
  }
  if (ctx.has_attr("axes")) {
    given = true;
    return ctx.attr_ints("axes");
  }
  return {};
}

void Squeeze(OpContext& ctx) {
  ctx.expect_inputs(1, 2);
  const Shape& in = ctx.input(0).shape;
  const int r = static_cast<int>(in.size());
  bool given;
  auto axes = axes_arg(ctx, given);
  std::vector<bool> drop(in.size(), false);
  if (!given) {
    for (int i = 0; i < r; ++i) drop[i] = in[i] == 1;
  } else {
    for (int64_t a : axes) {
      int k = ctx.axis(a, r);
      if (in[k] != 1) ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[k]) + " in " + shape_str(in));
      drop[k] = true;
    }
  }
  Shape out;
  for (int i = 0; i < r; ++i)
    if (!drop[i]) out.push_back(in[i]);
  set_view(ctx, std::move(out));
}

void Unsqueeze(OpContext& ctx) {
  ctx.expect_inputs(1, 2);
  const Shape& in = ctx.input(0).shape;
  bool given;
  auto axes = axes_arg(ctx, given);
  if (!given) ctx.fail("needs axes (attribute before opset 13, input from opset 13)");
  const int r = static_cast<int>(in.size() + axes.size());
  std::vector<bool> added(r, false);
  for (int64_t a : axes) {
    int k = ctx.axis(a, r);
    if (added[k]) ctx.fail("axis " + std::to_string(a) + " is given twice");
    added[k] = true;
  }
  Shape out;
  size_t j = 0;
  for (int i = 0; i < r; ++i) out.push_back(added[i] ? 1 : in[j++]);
  set_view(ctx, std::move(out));
}

// ---- strided copies: Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth ----

// Output 0 of `shape` reads input 0 at `offset` + sum(i_k * strides[k]).
void set_strided(OpContext& ctx, const Shape& shape, const Shape& strides, int64_t offset, const char* kernel,
                 const Shape* out_shape = nullptr) {
  check_sized(ctx, 0);
  check_rank(ctx, shape.size(), kernels::kMaxCopyRank);
  ctx.set_output(0, ctx.input(0).dtype, out_shape ? *out_shape : shape);  // checks the size first
  auto& p = ctx.use_kernel<StridedCopyParams>(sized_symbol(ctx, ctx.input(0).dtype, kernel).c_str());
  p.rank = static_cast<int32_t>(shape.size());
  p.count = shape_numel(shape);
  p.in_offset = offset;
  for (size_t d = 0; d < shape.size(); ++d) {
    p.shape[d] = shape[d];
    p.in_strides[d] = strides[d];
  }
  kernels::simplify_strided_copy(p);
  p.out_slot = out_slot(ctx, 0);
  ctx.step.flops = 0;
}

void Transpose(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const Shape& in = ctx.input(0).shape;
  const int r = static_cast<int>(in.size());
  check_rank(ctx, in.size());
  std::vector<int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty())
    for (int i = r - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int>(perm.size()) != r)
    ctx.fail("perm has " + std::to_string(perm.size()) + " entries for an input of rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  const Shape st = row_major_strides(in);
  Shape shape(r), strides(r);
  for (int i = 0; i < r; ++i) {
    int k = ctx.axis(perm[i], r, "perm entry");
    if (seen[k]) ctx.fail("perm is not a permutation (" + std::to_string(perm[i]) + " repeats)");
    seen[k] = true;
    shape[i] = in[k];
    strides[i] = st[k];
  }
  set_strided(ctx, shape, strides, 0, "transpose");
}

void Slice(OpContext& ctx) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    ctx.expect_inputs(1, 1);
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes");
  } else {
    ctx.expect_inputs(3, 5);
    starts = ctx.const_ints(1);
    ends = ctx.const_ints(2);
    if (ctx.has_input(3)) axes = ctx.const_ints(3);
    if (ctx.has_input(4)) steps = ctx.const_ints(4);
  }
  const Shape& in = ctx.input(0).shape;
  const int r = static_cast<int>(in.size());
  check_rank(ctx, in.size());
  if (starts.size() != ends.size()) ctx.fail("starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    ctx.fail("starts, ends, axes and steps must have the same length");
  const Shape st = row_major_strides(in);
  Shape shape = in, strides = st;
  std::vector<bool> seen(r, false);
  int64_t offset = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int a = ctx.axis(axes[i], r);
    if (seen[a]) ctx.fail("axis " + std::to_string(axes[i]) + " is sliced twice");
    seen[a] = true;
    const int64_t n = in[a];
    if (steps[i] == 0) ctx.fail("step must not be 0");
    // A step longer than the axis takes one element, as the axis length does.
    const int64_t step = std::clamp<int64_t>(steps[i], -std::max<int64_t>(n, 1), std::max<int64_t>(n, 1));
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += n;
    if (e < 0) e += n;
    int64_t count;
    if (n == 0) {
      count = 0;
    } else if (step > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      count = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    shape[a] = count;
    if (count > 0) offset += s * st[a];
    strides[a] = st[a] * step;
  }
  set_strided(ctx, shape, strides, shape_numel(shape) ? offset : 0, "slice");
}

void Expand(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  const Shape& in = ctx.input(0).shape;
  Shape want = ctx.const_ints(1);
  Shape out;
  if (!kernels::broadcast_shape({in, want}, out))
    ctx.fail("cannot expand " + shape_str(in) + " to " + shape_str(want));
  check_rank(ctx, out.size());
  const Shape st = row_major_strides(in);
  Shape strides(out.size(), 0);
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) strides[lead + d] = in[d] == 1 ? 0 : st[d];
  set_strided(ctx, out, strides, 0, "expand");
}

void Tile(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  if (ctx.opset() < 6) ctx.fail("Tile before opset 6 (tiles/axis inputs) is not supported");
  const Shape& in = ctx.input(0).shape;
  auto reps = ctx.const_ints(1);
  if (reps.size() != in.size())
    ctx.fail("repeats has " + std::to_string(reps.size()) + " entries for an input of rank " + std::to_string(in.size()));
  check_rank(ctx, in.size());
  const Shape st = row_major_strides(in);
  Shape shape, strides, out;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reps[d] < 0) ctx.fail("repeats must not be negative");
    shape.push_back(reps[d]);
    strides.push_back(0);
    shape.push_back(in[d]);
    strides.push_back(st[d]);
    out.push_back(ctx.mul(in[d], reps[d], "repeats"));
  }
  set_strided(ctx, shape, strides, 0, "tile", &out);
}

// DepthToSpace / SpaceToDepth are a reshape to 6-D, a transpose and a reshape
// back; the strided copy reads the 6-D view directly.
void DepthToSpace(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const Shape& in = ctx.input(0).shape;
  if (in.size() != 4) ctx.fail("input must be 4-D (NCHW), got " + shape_str(in));
  const int64_t b = ctx.attr_int("blocksize", 0);
  if (b <= 0) ctx.fail("blocksize must be positive");
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  if (b > C) ctx.fail("blocksize " + std::to_string(b) + " is larger than the channels " + std::to_string(C));
  if (C % (b * b)) ctx.fail("channels " + std::to_string(C) + " are not divisible by blocksize^2");
  const int64_t c = C / (b * b);
  const std::string mode = ctx.attr_string("mode", "DCR");
  // Input strides of the 6-D view, output order [N, c, H, b1, W, b2].
  const int64_t sN = C * H * W, sC = H * W, sH = W;
  int64_t s_c, s_b1, s_b2;
  if (mode == "DCR") {  // channel = (b1 * b + b2) * c + cc
    s_b1 = b * c * sC;
    s_b2 = c * sC;
    s_c = sC;
  } else if (mode == "CRD") {  // channel = cc * b * b + b1 * b + b2
    s_c = b * b * sC;
    s_b1 = b * sC;
    s_b2 = sC;
  } else {
    ctx.fail("mode must be DCR or CRD, got '" + mode + "'");
  }
  Shape out = {N, c, H * b, W * b};
  set_strided(ctx, {N, c, H, b, W, b}, {sN, s_c, sH, s_b1, 1, s_b2}, 0, "depth_to_space", &out);
}

void SpaceToDepth(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const Shape& in = ctx.input(0).shape;
  if (in.size() != 4) ctx.fail("input must be 4-D (NCHW), got " + shape_str(in));
  const int64_t b = ctx.attr_int("blocksize", 0);
  if (b <= 0) ctx.fail("blocksize must be positive");
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  if (H % b || W % b) ctx.fail("spatial dims of " + shape_str(in) + " are not divisible by blocksize");
  ctx.mul(ctx.mul(C, b, "blocksize"), b, "blocksize");
  // Output channel = (b1 * b + b2) * C + c; output order [N, b1, b2, C, H/b, W/b].
  const int64_t sN = C * H * W, sC = H * W;
  Shape out = {N, C * b * b, H / b, W / b};
  set_strided(ctx, {N, b, b, C, H / b, W / b}, {sN, W, 1, sC, b * W, b}, 0, "space_to_depth", &out);
}

}  // namespace

ConcatLayout concat_layout(OpContext& ctx, const std::vector<int>& inputs) {
  const TensorInfo& first = ctx.input(inputs[0]);
  check_sized(ctx, inputs[0]);
  const int r = first.rank();
  if (r == 0) ctx.fail("cannot concatenate scalars");
  const int axis = ctx.axis(ctx.attr_int("axis", 1), r);
  ConcatLayout c;
  c.shape = first.shape;
  c.shape[axis] = 0;
  for (int i : inputs) {
    const TensorInfo& t = ctx.input(i);
    if (t.dtype != first.dtype)
      ctx.fail("input " + std::to_string(i) + " has type " + dtype_name(t.dtype) + ", input " +
               std::to_string(inputs[0]) + " " + dtype_name(first.dtype));
    bool ok = t.rank() == r;
    for (int d = 0; ok && d < r; ++d) ok = d == axis || t.shape[d] == first.shape[d];
    if (!ok)
      ctx.fail("input " + std::to_string(i) + " " + shape_str(t.shape) + " does not match input " +
               std::to_string(inputs[0]) + " " + shape_str(first.shape) + " outside axis " + std::to_string(axis));
    c.shape[axis] = ctx.add(c.shape[axis], t.shape[axis], "concatenated axis");
  }
  const int64_t es = static_cast<int64_t>(dtype_size(first.dtype));
  int64_t inner = 1;
  for (int d = axis + 1; d < r; ++d) inner *= c.shape[d];
  for (int d = 0; d < axis; ++d) c.outer *= c.shape[d];
  for (int i : inputs) c.blocks.push_back(ctx.input(i).shape[axis] * inner * es);
  return c;
}

namespace {

// ---- Concat / Split ------------------------------------------------------------

// The per-input (or per-output) block sizes in bytes, as the int64 step
// constant "blocks" of Concat and Split; returns its operand slot.
int add_blocks(OpContext& ctx, const std::vector<int64_t>& blocks) {
  return ctx.add_constant("blocks", DType::I64, {static_cast<int64_t>(blocks.size())},
                          buffer_of(blocks.data(), blocks.size() * sizeof(int64_t)));
}

void Concat(OpContext& ctx) {
  const int n = static_cast<int>(ctx.node().inputs.size());
  if (n < 1) ctx.fail("needs at least one input");
  ctx.expect_inputs(n, n);
  if (ctx.opset() >= 4 && !ctx.has_attr("axis")) ctx.fail("attribute axis is required");
  std::vector<int> inputs(n);
  for (int i = 0; i < n; ++i) inputs[i] = i;
  ConcatLayout c = concat_layout(ctx, inputs);
  ctx.set_output(0, ctx.input(0).dtype, std::move(c.shape));
  const int blocks_slot = add_blocks(ctx, c.blocks);
  auto& p = ctx.use_kernel<rtml_concat_params>("rtml_x8_concat__ref");
  p.num_inputs = n;
  p.outer = c.outer;
  p.blocks_slot = blocks_slot;
}

void Split(OpContext& ctx) {
  ctx.expect_inputs(1, 2);
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  const int r = in.rank();
  const int axis = ctx.axis(ctx.attr_int("axis", 0), r);
  const int64_t dim = in.shape[axis];
  const int n = ctx.num_outputs();
  std::vector<int64_t> sizes;
  if (ctx.has_input(1)) sizes = ctx.const_ints(1);
  else if (ctx.has_attr("split")) sizes = ctx.attr_ints("split");
  if (!sizes.empty()) {
    if (static_cast<int>(sizes.size()) != n)
      ctx.fail("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(n) + " outputs");
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0) ctx.fail("split sizes must not be negative");
      total = ctx.add(total, s, "split sizes");
    }
    if (total != dim)
      ctx.fail("split sizes add up to " + std::to_string(total) + ", but axis " + std::to_string(axis) + " has " +
               std::to_string(dim));
  } else {
    if (ctx.has_attr("num_outputs") && ctx.attr_int("num_outputs", 0) != n)
      ctx.fail("num_outputs " + std::to_string(ctx.attr_int("num_outputs", 0)) + " differs from the node's " +
               std::to_string(n) + " outputs");
    if (n <= 0) ctx.fail("has no outputs");
    if (ctx.opset() >= 18) {
      // Opset 18: chunks of ceil(dim / n), the last one smaller.
      const int64_t chunk = (dim + n - 1) / n;
      int64_t left = dim;
      for (int i = 0; i < n; ++i) {
        sizes.push_back(std::min(chunk, left));
        left -= sizes.back();
      }
    } else {
      if (dim % n) ctx.fail("axis " + std::to_string(axis) + " of size " + std::to_string(dim) +
                            " does not split into " + std::to_string(n) + " equal parts");
      sizes.assign(n, dim / n);
    }
  }
  const int64_t es = static_cast<int64_t>(dtype_size(in.dtype));
  int64_t inner = 1, outer = 1;
  for (int d = axis + 1; d < r; ++d) inner *= in.shape[d];
  for (int d = 0; d < axis; ++d) outer *= in.shape[d];
  std::vector<int64_t> blocks(n);
  for (int i = 0; i < n; ++i) {
    blocks[i] = sizes[i] * inner * es;
    Shape s = in.shape;
    s[axis] = sizes[i];
    if (ctx.has_output(i)) ctx.set_output(i, in.dtype, s);
  }
  const int blocks_slot = add_blocks(ctx, blocks);
  auto& p = ctx.use_kernel<rtml_split_params>("rtml_x8_split__ref");
  p.num_outputs = n;
  p.outer = outer;
  p.first_out = out_slot(ctx, 0);
  p.blocks_slot = blocks_slot;
}

// ---- Gather / GatherElements -----------------------------------------------------

void Gather(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  ctx.expect_dtype(1, {DType::I64, DType::I32});
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& idx = ctx.input(1);
  check_sized(ctx, 0);
  const int r = data.rank();
  if (r == 0) ctx.fail("data must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", 0), r);
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  rtml_gather_params p{};
  p.outer = 1;
  for (int d = 0; d < axis; ++d) p.outer *= data.shape[d];
  int64_t inner = 1;
  for (int d = axis + 1; d < r; ++d) inner *= data.shape[d];
  p.axis_dim = data.shape[axis];
  p.inner_bytes = inner * static_cast<int64_t>(dtype_size(data.dtype));
  p.num_indices = idx.numel();
  p.index_size = static_cast<int32_t>(dtype_size(idx.dtype));
  // Constant indices: report a bad index now rather than at run time.
  if (idx.data)
    for (int64_t v : ctx.const_ints(1))
      if (v < -p.axis_dim || v >= p.axis_dim)
        ctx.fail("index " + std::to_string(v) + " is out of range for axis " + std::to_string(axis) + " of size " +
                 std::to_string(p.axis_dim));
  ctx.set_output(0, data.dtype, std::move(out));
  ctx.use_kernel<rtml_gather_params>("rtml_x8_gather__ref") = p;
}

// GatherElements and ScatterElements: inputs 0 (data) and 1 (indices), same
// rank, indices no larger than data off the axis.
rtml_elements_params prepare_elements_indexing(OpContext& ctx) {
  ctx.expect_dtype(1, {DType::I64, DType::I32});
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& idx = ctx.input(1);
  check_sized(ctx, 0);
  const int r = data.rank();
  if (r < 1) ctx.fail("data must have rank >= 1");
  check_rank(ctx, data.shape.size());
  if (idx.rank() != r) ctx.fail("indices " + shape_str(idx.shape) + " must have the rank of data " + shape_str(data.shape));
  const int axis = ctx.axis(ctx.attr_int("axis", 0), r);
  for (int d = 0; d < r; ++d)
    if (d != axis && idx.shape[d] > data.shape[d])
      ctx.fail("indices " + shape_str(idx.shape) + " exceed data " + shape_str(data.shape) + " in dimension " + std::to_string(d));
  rtml_elements_params ix{};
  const Shape st = row_major_strides(data.shape);
  ix.rank = r;
  ix.axis = axis;
  ix.index_size = static_cast<int32_t>(dtype_size(idx.dtype));
  ix.count = idx.numel();
  ix.axis_dim = data.shape[axis];
  for (int d = 0; d < r; ++d) {
    ix.shape[d] = idx.shape[d];
    ix.data_strides[d] = st[d];
  }
  return ix;
}

void GatherElements(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  const rtml_elements_params ix = prepare_elements_indexing(ctx);
  ctx.set_output(0, ctx.input(0).dtype, ctx.input(1).shape);
  ctx.use_kernel<rtml_elements_params>(sized_symbol(ctx, ctx.input(0).dtype, "gather_elements").c_str()) = ix;
}

// GatherND: each k-tuple of the last indices dim addresses a slice of data
// after the batch_dims leading (shared) dims.
void GatherND(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  ctx.expect_dtype(1, {DType::I64, DType::I32});
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& idx = ctx.input(1);
  check_sized(ctx, 0);
  const int r = data.rank(), q = idx.rank();
  const int64_t b = ctx.attr_int("batch_dims", 0);
  if (r < 1 || q < 1) ctx.fail("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) ctx.fail("batch_dims " + std::to_string(b) + " must be below both ranks");
  for (int64_t d = 0; d < b; ++d)
    if (data.shape[d] != idx.shape[d])
      ctx.fail("the first batch_dims dims of data " + shape_str(data.shape) + " and indices " + shape_str(idx.shape) + " differ");
  const int64_t k = idx.shape.back();
  if (k < 1 || k > r - b || k > kMaxRank)
    ctx.fail("indices' last dim " + std::to_string(k) + " must be in [1, rank(data) - batch_dims]");
  Shape out(idx.shape.begin(), idx.shape.end() - 1);
  out.insert(out.end(), data.shape.begin() + b + k, data.shape.end());
  const Shape st = row_major_strides(data.shape);
  const int64_t es = static_cast<int64_t>(dtype_size(data.dtype));
  rtml_gather_nd_params p{};
  p.k = static_cast<int32_t>(k);
  p.index_size = static_cast<int32_t>(dtype_size(idx.dtype));
  p.batch = 1;
  for (int64_t d = 0; d < b; ++d) p.batch *= data.shape[d];
  p.tuples = 1;
  for (int d = static_cast<int>(b); d < q - 1; ++d) p.tuples *= idx.shape[d];
  p.data_batch_bytes = es;
  for (int d = static_cast<int>(b); d < r; ++d) p.data_batch_bytes *= data.shape[d];
  p.inner_bytes = es;
  for (int d = static_cast<int>(b + k); d < r; ++d) p.inner_bytes *= data.shape[d];
  for (int64_t j = 0; j < k; ++j) {
    p.dims[j] = data.shape[b + j];
    p.strides_bytes[j] = st[b + j] * es;
  }
  ctx.set_output(0, data.dtype, std::move(out));
  ctx.use_kernel<rtml_gather_nd_params>("rtml_x8_gather_nd__ref") = p;
}

// ---- Scatter -------------------------------------------------------------------------

// The entry of ScatterElements / ScatterND (`op`) for the reduction
// attribute: by element size without one, typed with one.
std::string scatter_symbol(OpContext& ctx, DType dt, const std::string& op) {
  const std::string r = ctx.attr_string("reduction", "none");
  if (r == "none") return sized_symbol(ctx, dt, op.c_str());
  if (r != "add" && r != "mul" && r != "max" && r != "min")
    ctx.fail("reduction must be none, add, mul, max or min, got '" + r + "'");
  if (dt != DType::F32 && dt != DType::F64 && dt != DType::I32 && dt != DType::I64)
    ctx.fail("reduction '" + r + "' supports float, double, int32 and int64, got " + dtype_name(dt));
  return kernel_symbol(dt, (op + "_" + r).c_str());
}

void ScatterElements(OpContext& ctx) {
  ctx.expect_inputs(3, 3);
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& upd = ctx.input(2);
  rtml_elements_params p = prepare_elements_indexing(ctx);
  if (upd.shape != ctx.input(1).shape)
    ctx.fail("updates " + shape_str(upd.shape) + " must have the shape of indices " + shape_str(ctx.input(1).shape));
  if (upd.dtype != data.dtype) ctx.fail("updates must have the type of data");
  p.data_bytes = static_cast<int64_t>(data.bytes());
  const std::string symbol = scatter_symbol(ctx, data.dtype, "scatter_elements");
  ctx.set_output(0, data.dtype, data.shape);
  ctx.use_kernel<rtml_elements_params>(symbol.c_str()) = p;
}

void ScatterND(OpContext& ctx) {
  ctx.expect_inputs(3, 3);
  ctx.expect_dtype(1, {DType::I64});
  const TensorInfo& data = ctx.input(0);
  const TensorInfo& idx = ctx.input(1);
  const TensorInfo& upd = ctx.input(2);
  check_sized(ctx, 0);
  const int r = data.rank(), q = idx.rank();
  if (r < 1 || q < 1) ctx.fail("data and indices must have rank >= 1");
  if (upd.dtype != data.dtype) ctx.fail("updates must have the type of data");
  const int64_t k = idx.shape.back();
  if (k < 1 || k > r || k > kMaxRank) ctx.fail("indices' last dim " + std::to_string(k) + " must be in [1, rank(data)]");
  Shape want(idx.shape.begin(), idx.shape.end() - 1);
  want.insert(want.end(), data.shape.begin() + k, data.shape.end());
  if (upd.shape != want) ctx.fail("updates have shape " + shape_str(upd.shape) + ", expected " + shape_str(want));
  const Shape st = row_major_strides(data.shape);
  rtml_scatter_nd_params p{};
  p.k = static_cast<int32_t>(k);
  p.data_bytes = static_cast<int64_t>(data.bytes());
  p.tuples = idx.numel() / k;
  p.inner = 1;
  for (int d = static_cast<int>(k); d < r; ++d) p.inner *= data.shape[d];
  for (int64_t j = 0; j < k; ++j) {
    p.dims[j] = data.shape[j];
    p.strides[j] = st[j];
  }
  const std::string symbol = scatter_symbol(ctx, data.dtype, "scatter_nd");
  ctx.set_output(0, data.dtype, data.shape);
  ctx.use_kernel<rtml_scatter_nd_params>(symbol.c_str()) = p;
}

// ---- EyeLike / ReverseSequence ------------------------------------------------------

void store_scalar(OpContext& ctx, DType t, double v, uint8_t* dst);

void EyeLike(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  const TensorInfo& in = ctx.input(0);
  if (in.rank() != 2) ctx.fail("input must be 2-D, got " + shape_str(in.shape));
  const DType dt = ctx.has_attr("dtype") ? static_cast<DType>(ctx.attr_int("dtype", 1)) : in.dtype;
  if (dtype_size(dt) == 0) ctx.fail("unsupported output dtype " + std::to_string(static_cast<int>(dt)));
  rtml_eye_params p{};
  p.rows = in.shape[0];
  p.cols = in.shape[1];
  p.k = ctx.attr_int("k", 0);
  store_scalar(ctx, dt, 1.0, p.one);
  p.out_slot = out_slot(ctx, 0);
  ctx.set_output(0, dt, in.shape);
  ctx.use_kernel<rtml_eye_params>(sized_symbol(ctx, dt, "eye_like").c_str()) = p;
}

void ReverseSequence(OpContext& ctx) {
  ctx.expect_inputs(2, 2);
  ctx.expect_dtype(1, {DType::I64});
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  if (in.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(in.shape));
  const int64_t ta = ctx.attr_int("time_axis", 0), ba = ctx.attr_int("batch_axis", 1);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0))) ctx.fail("time_axis and batch_axis must be 0 and 1 in some order");
  rtml_reverse_sequence_params p{};
  p.time_outer = ta == 0;
  p.time = in.shape[ta];
  p.batch = in.shape[ba];
  if (ctx.input(1).shape != Shape{p.batch})
    ctx.fail("sequence_lens must have shape [" + std::to_string(p.batch) + "], got " + shape_str(ctx.input(1).shape));
  p.inner_bytes = static_cast<int64_t>(dtype_size(in.dtype));
  for (size_t d = 2; d < in.shape.size(); ++d) p.inner_bytes *= in.shape[d];
  ctx.set_output(0, in.dtype, in.shape);
  ctx.use_kernel<rtml_reverse_sequence_params>("rtml_x8_reverse_sequence__ref") = p;
}

// ---- Pad -----------------------------------------------------------------------------

// Stores `v` as one element of type `t` (the Pad value attribute is a float).
void store_scalar(OpContext& ctx, DType t, double v, uint8_t* dst) {
  auto put = [&](auto x) { std::memcpy(dst, &x, sizeof x); };
  switch (t) {
    case DType::F32: put(static_cast<float>(v)); break;
    case DType::F64: put(v); break;
    case DType::I8: put(static_cast<int8_t>(v)); break;
    case DType::U8: case DType::Bool: put(static_cast<uint8_t>(v)); break;
    case DType::I16: put(static_cast<int16_t>(v)); break;
    case DType::U16: put(static_cast<uint16_t>(v)); break;
    case DType::I32: put(static_cast<int32_t>(v)); break;
    case DType::U32: put(static_cast<uint32_t>(v)); break;
    case DType::I64: put(static_cast<int64_t>(v)); break;
    case DType::U64: put(static_cast<uint64_t>(v)); break;
    default:
      if (v != 0) ctx.fail(std::string("a nonzero pad value for type ") + dtype_name(t) + " is not supported");
  }
}

void Pad(OpContext& ctx) {
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  const int r = in.rank();
  check_rank(ctx, in.shape.size());
  std::vector<int64_t> pads;
  rtml_pad_params p{};
  p.value_slot = -1;
  if (ctx.opset() < 11) {
    ctx.expect_inputs(1, 1);
    pads = ctx.attr_ints(ctx.has_attr("pads") ? "pads" : "paddings");
    store_scalar(ctx, in.dtype, ctx.attr_float("value", 0.f), p.value);
  } else {
    ctx.expect_inputs(2, 4);
    pads = ctx.const_ints(1);
    if (ctx.has_input(2)) {
      const TensorInfo& v = ctx.input(2);
      if (v.dtype != in.dtype) ctx.fail("constant_value must have the input's type");
      if (v.numel() != 1) ctx.fail("constant_value must hold one element");
      if (v.data) std::memcpy(p.value, v.data, dtype_size(v.dtype));
      else p.value_slot = 2;
    }
    if (ctx.has_input(3)) {
      // Opset 18 axes: pads cover only these axes.
      auto axes = ctx.const_ints(3);
      if (pads.size() != 2 * axes.size()) ctx.fail("pads must have twice as many entries as axes");
      std::vector<int64_t> full(2 * r, 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        int a = ctx.axis(axes[i], r);
        full[a] = pads[i];
        full[a + r] = pads[i + axes.size()];
      }
      pads = full;
    }
  }
  if (static_cast<int>(pads.size()) != 2 * r)
    ctx.fail("pads has " + std::to_string(pads.size()) + " entries; an input of rank " + std::to_string(r) + " needs " +
             std::to_string(2 * r));
  const std::string mode = ctx.attr_string("mode", "constant");
  if (mode == "constant") p.mode = RTML_PAD_CONSTANT;
  else if (mode == "reflect") p.mode = RTML_PAD_REFLECT;
  else if (mode == "edge") p.mode = RTML_PAD_EDGE;
  else if (mode == "wrap") p.mode = RTML_PAD_WRAP;
  else ctx.fail("mode must be constant, reflect, edge or wrap, got '" + mode + "'");
  const Shape st = row_major_strides(in.shape);
  Shape out(r);
  for (int d = 0; d < r; ++d) {
    out[d] = ctx.add(ctx.add(in.shape[d], pads[d], "pads"), pads[d + r], "pads");
    if (out[d] < 0) ctx.fail("pads " + shape_str(pads) + " crop dimension " + std::to_string(d) + " below zero");
    if (p.mode != RTML_PAD_CONSTANT && in.shape[d] == 0 && out[d] > 0)
      ctx.fail("cannot pad an empty dimension in mode " + mode);
    p.in_shape[d] = in.shape[d];
    p.out_shape[d] = out[d];
    p.pad_begin[d] = pads[d];
    p.in_strides[d] = st[d];
  }
  p.rank = r;
  ctx.set_output(0, in.dtype, out);  // checks the size first
  p.count = shape_numel(out);
  p.out_slot = out_slot(ctx, 0);
  ctx.use_kernel<rtml_pad_params>(sized_symbol(ctx, in.dtype, "pad").c_str()) = p;
}

// ---- Trilu ------------------------------------------------------------------------

void Trilu(OpContext& ctx) {
  ctx.expect_inputs(1, 2);
  const TensorInfo& in = ctx.input(0);
  check_sized(ctx, 0);
  if (in.rank() < 2) ctx.fail("input must have rank >= 2, got " + shape_str(in.shape));
  rtml_trilu_params p{};
  if (ctx.has_input(1)) {
    ctx.expect_dtype(1, {DType::I64});
    if (ctx.input(1).numel() != 1) ctx.fail("k must be a scalar");
    if (ctx.is_constant(1)) p.k = *ctx.input(1).as<int64_t>();
    else p.k_runtime = true;
  }
  p.upper = ctx.attr_int("upper", 1) != 0;
  p.rows = in.shape[in.shape.size() - 2];
  p.cols = in.shape.back();
  p.batch = 1;
  for (size_t d = 0; d + 2 < in.shape.size(); ++d) p.batch *= in.shape[d];
  p.out_slot = out_slot(ctx, 0);
  ctx.set_output(0, in.dtype, in.shape);
  ctx.use_kernel<rtml_trilu_params>(sized_symbol(ctx, in.dtype, "trilu").c_str()) = p;
}

// ---- Range ------------------------------------------------------------------------

double scalar_value(const OpContext& ctx, int i) {
  const TensorInfo& t = ctx.input(i);
  if (t.numel() != 1) ctx.fail("input " + std::to_string(i) + " must be a scalar, got " + shape_str(t.shape));
  if (!t.data)
    ctx.fail("input " + std::to_string(i) +
             " must be known before the first run (the output length depends on it); rtml does not support "
             "shapes that depend on run-time data");
  switch (t.dtype) {
    case DType::F32: return *t.as<float>();
    case DType::F64: return *t.as<double>();
    case DType::I16: return *t.as<int16_t>();
    case DType::I32: return *t.as<int32_t>();
    case DType::I64: return static_cast<double>(*t.as<int64_t>());
    default: ctx.fail(std::string("type ") + dtype_name(t.dtype) + " is not supported");
  }
}

void Range(OpContext& ctx) {
  ctx.expect_inputs(3, 3);
  ctx.expect_dtype(0, {DType::F32, DType::F64, DType::I16, DType::I32, DType::I64});
  const DType dt = ctx.input(0).dtype;
  for (int i = 1; i < 3; ++i)
    if (ctx.input(i).dtype != dt) ctx.fail("start, limit and delta must have the same type");
  const double start = scalar_value(ctx, 0), limit = scalar_value(ctx, 1), delta = scalar_value(ctx, 2);
  if (delta == 0) ctx.fail("delta must not be 0");
  // ceil((limit - start) / delta), first in double to refuse lengths that do
  // not fit (and NaN or infinite inputs) before any integer conversion.
  const double length = std::ceil((limit - start) / delta);
  if (!(length < static_cast<double>(kMaxSize)))
    ctx.fail("start " + std::to_string(start) + ", limit " + std::to_string(limit) + " and delta " +
             std::to_string(delta) + " give a range that is too long or not finite");
  int64_t n = static_cast<int64_t>(std::max(length, 0.0));
  if (dt == DType::I64) {
    // Exact integer arithmetic for int64 (doubles round above 2^53).
    const int64_t s = *ctx.input(0).as<int64_t>(), l = *ctx.input(1).as<int64_t>(), d = *ctx.input(2).as<int64_t>();
    int64_t num;
    if (__builtin_sub_overflow(l, s, &num)) ctx.fail("limit - start overflows int64");
    n = d == -1 ? num == INT64_MIN ? 0 : -num : num / d + ((num % d != 0 && ((num > 0) == (d > 0))) ? 1 : 0);
    n = std::clamp<int64_t>(n, 0, kMaxSize);
  }
  ctx.set_output(0, dt, {n});
  ctx.use_kernel<rtml_range_params>(kernel_symbol(dt, "range").c_str()).n = n;
  ctx.step.flops = static_cast<double>(n);
}

}  // namespace

void register_tensor_ops(Registry& r) {
  r.add({"Identity", Identity});
  r.add({"Dropout", Dropout});
  r.add({"Constant", Constant});
  r.add({"ConstantOfShape", ConstantOfShape});
  r.add({"Shape", ShapeOpPrepare, true, true});
  r.add({"Size", Size, true, true});
  r.add({"Reshape", Reshape});
  r.add({"Flatten", Flatten});
  r.add({"Squeeze", Squeeze});
  r.add({"Unsqueeze", Unsqueeze});
  r.add({"Transpose", Transpose});
  r.add({"Concat", Concat});
  r.add({"Split", Split});
  r.add({"Slice", Slice});
  r.add({"Gather", Gather});
  r.add({"GatherElements", GatherElements});
  r.add({"Expand", Expand});
  r.add({"Tile", Tile});
  r.add({"Pad", Pad});
  r.add({"Range", Range});
  r.add({"DepthToSpace", DepthToSpace});
  r.add({"SpaceToDepth", SpaceToDepth});
  r.add({"Trilu", Trilu});
  r.add({"GatherND", GatherND});
  r.add({"ScatterElements", ScatterElements});
  r.add({"Scatter", ScatterElements});  // opset 9-10 name of ScatterElements
  r.add({"ScatterND", ScatterND});
  r.add({"EyeLike", EyeLike});
  r.add({"ReverseSequence", ReverseSequence});
}

}  // namespace rtml::ops
