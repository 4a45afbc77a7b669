// The quantized ONNX ops: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearMatMul, QLinearConv, MatMulInteger and
// ConvInteger, on the reference kernels of kernels/quant.h (int8 or uint8
// data; weights of the data's type, or int8 with uint8 data) or, for int8
// with constant weights, the Highway ones of kernels/fast_quant.h
// (product_kernel chooses).
//
// When the scales of a QLinear op are constants, prepare turns them into
// per-tensor or per-output-channel (multiplier, shift) constants of the step
// (rtml_quantize_scales); otherwise the kernel derives them from the scale
// operands each run with the same routine.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/broadcast_plan.h"
#include "kernels/fast_quant.h"
#include "kernels/quant.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

int out_slot(const OpContext& ctx) { return static_cast<int>(ctx.node().inputs.size()); }

// Whether input i holds one value (a scalar or a 1-element tensor).
bool single(const OpContext& ctx, int i) { return ctx.input(i).numel() == 1 && ctx.input(i).rank() <= 1; }

// Checks that input i holds one value; `what` names it.
void expect_single(const OpContext& ctx, int i, const char* what) {
  if (!single(ctx, i))
    ctx.fail(std::string(what) + " has shape " + shape_str(ctx.input(i).shape) + "; expected a scalar (per-tensor)");
}

// Checks that input i holds one value or `n` (a 1-D tensor per channel);
// returns whether it is per channel.
bool expect_per_channel(const OpContext& ctx, int i, int64_t n, const char* what) {
  if (single(ctx, i)) return false;
  if (ctx.input(i).shape != Shape{n})
    ctx.fail(std::string(what) + " has shape " + shape_str(ctx.input(i).shape) + "; expected a scalar or [" +
             std::to_string(n) + "] (one per output channel)");
  return true;
}

// The activation's whole range: no clamp beyond saturation.
void full_range(DType t, int32_t& lo, int32_t& hi) {
  lo = t == DType::I8 ? -128 : 0;
  hi = t == DType::I8 ? 127 : 255;
}

// The clamp of a product's output: the type's whole range, narrowed for the
// planner's fused products (kFusedDomain: a Relu or Clip before the
// QuantizeLinear) by the attributes act_min / act_max.
void activation_range(const OpContext& ctx, DType t, int32_t& lo, int32_t& hi) {
  full_range(t, lo, hi);
  if (ctx.node().domain != kFusedDomain) return;
  lo = static_cast<int32_t>(std::max<int64_t>(lo, ctx.attr_int("act_min", lo)));
  hi = static_cast<int32_t>(std::min<int64_t>(hi, ctx.attr_int("act_max", hi)));
  if (lo > hi) ctx.fail("the output clamp [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is empty");
}

// ---------------------------------------------------------------- (De)QuantizeLinear

// X, scale, zero point? with the axis attribute (opset >= 13; before it
// the scale is a scalar): fills outer/axis_dim/inner.
rtml_quantize_params& use_axis_kernel(OpContext& ctx, DType data_type, const char* op) {
  const Shape& x = ctx.input(0).shape;
  const bool per_axis = !single(ctx, 1);
  int64_t axis_dim = 1, outer = 1, inner = ctx.input(0).numel();
  if (per_axis) {
    if (ctx.opset() < 13) ctx.fail("the scale has shape " + shape_str(ctx.input(1).shape) + "; before opset 13 it must be a scalar");
    if (ctx.input(1).rank() != 1) ctx.fail("the scale has shape " + shape_str(ctx.input(1).shape) + "; expected a scalar or 1-D (per axis)");
    if (ctx.has_attr("block_size") && ctx.attr_int("block_size", 0) != 0) ctx.fail("blocked quantization (block_size) is not supported");
    const int axis = ctx.axis(ctx.attr_int("axis", 1), static_cast<int>(x.size()));
    axis_dim = x[axis];
    if (ctx.input(1).numel() != axis_dim)
      ctx.fail("the scale has " + std::to_string(ctx.input(1).numel()) + " values; expected " + std::to_string(axis_dim) +
               " (dimension " + std::to_string(axis) + " of " + shape_str(x) + ")");
    outer = 1;
    for (int d = 0; d < axis; ++d) outer *= x[d];
    inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < x.size(); ++d) inner *= x[d];
  }
  if (ctx.has_input(2) && ctx.input(2).shape != ctx.input(1).shape && !(single(ctx, 1) && single(ctx, 2)))
    ctx.fail("the zero point has shape " + shape_str(ctx.input(2).shape) + ", the scale " + shape_str(ctx.input(1).shape) +
             "; they must match");
  // int8 / uint8 on vectors with the simd set (kernels/fast_quant.h; bit for bit the reference)
  const bool fast = ctx.simd() && (data_type == DType::I8 || data_type == DType::U8);
  auto& p = ctx.use_kernel<rtml_quantize_params>(kernel_symbol(data_type, op, fast ? "hwy" : "ref").c_str());
  p.outer = outer;
  p.axis_dim = axis_dim;
  p.inner = inner;
  p.per_axis = per_axis;
  p.has_zero_point = ctx.has_input(2);
  p.out_slot = out_slot(ctx);
  return p;
}

void QuantizeLinear(OpContext& ctx) {
  ctx.expect_inputs(2, 3);
  ctx.expect_dtype(0, {DType::F32});
  ctx.expect_dtype(1, {DType::F32});
  DType y = DType::U8;  // the default without a zero point
  if (ctx.has_input(2)) {
    ctx.expect_dtype(2, {DType::U8, DType::I8});
    y = ctx.input(2).dtype;
  }
  if (ctx.has_attr("output_dtype") && ctx.has_input(2) && ctx.attr_int("output_dtype", 0) != static_cast<int64_t>(y))
    ctx.fail("attribute output_dtype disagrees with the zero point's type");
  use_axis_kernel(ctx, y, "quantize");
  ctx.set_output(0, y, ctx.input(0).shape);
}

void DequantizeLinear(OpContext& ctx) {
  ctx.expect_inputs(2, 3);
  ctx.expect_dtype(0, {DType::U8, DType::I8, DType::I32});
  ctx.expect_dtype(1, {DType::F32});
  const DType x = ctx.input(0).dtype;
  if (ctx.has_input(2) && ctx.input(2).dtype != x)
    ctx.fail(std::string("the zero point has type ") + dtype_name(ctx.input(2).dtype) + ", X " + dtype_name(x) +
             "; they must match");
  use_axis_kernel(ctx, x, "dequantize");
  ctx.set_output(0, DType::F32, ctx.input(0).shape);
}

void DynamicQuantizeLinear(OpContext& ctx) {
  ctx.expect_inputs(1, 1);
  ctx.expect_dtype(0, {DType::F32});
  ctx.use_kernel<rtml_dynamic_quantize_params>("rtml_u8_dynamic_quantize__ref").numel = ctx.input(0).numel();
  ctx.set_output(0, DType::U8, ctx.input(0).shape);
  ctx.set_output(1, DType::F32, {});
  ctx.set_output(2, DType::U8, {});
}

// ---------------------------------------------------------------- products

// Slots of a product's inputs in the node (QLinear* or *Integer).
struct ProductSlots {
  int x = 0, x_scale = -1, x_zp = -1, w = 1, w_scale = -1, w_zp = -1, y_scale = -1, y_zp = -1, bias = -1;
};
constexpr ProductSlots kQLinearSlots{0, 1, 2, 3, 4, 5, 6, 7, 8};
constexpr ProductSlots kIntegerSlots{0, -1, 2, 1, -1, 3, -1, -1, -1};

// The types of a product: of X (and the output, and the zero points of
// both) and of W (and its zero point).
struct ProductTypes {
  DType x = DType::Undefined, w = DType::Undefined;
  // The kernel of `op` for these types: rtml_s8_..., rtml_u8_..., rtml_u8s8_...
  std::string kernel(const char* op) const {
    return std::string("rtml_") + kernel_type_tag(x) + (x != w ? "s8_" : "_") + op + "__ref";
  }
};

// Whether input i is absent or a constant of zeros (a weight zero point).
bool absent_or_zeros(const OpContext& ctx, int i) {
  if (i < 0 || !ctx.has_input(i)) return true;
  if (!ctx.is_constant(i)) return false;
  const auto* b = ctx.input(i).as<uint8_t>();
  return std::all_of(b, b + ctx.input(i).bytes(), [](uint8_t v) { return v == 0; });
}

// The kernel of the product `op` (fully_connected, conv, depthwise_conv,
// matmul_integer, conv_integer) where int8 data and weights, constant weights
// with zero point 0 and constant scales allow a fast one: the Highway one of
// kernels/fast_quant.h when the plan takes SIMD kernels, the cortex-m set's
// (kernels/cortexm_quant.cpp; a fully connected one needs W as [N x K]:
// w_rows) with the cortex-m set; else the reference. pack_fast_weights
// completes either after fill_product.
std::string product_kernel(const OpContext& ctx, const ProductTypes& t, const ProductSlots& s, const char* op,
                           bool w_rows = true) {
  const std::string o = op;
  const bool fast = (o == "fully_connected" || o == "conv" || o == "depthwise_conv") && t.x == DType::I8 &&
                    t.w == DType::I8 && ctx.is_constant(s.w) && absent_or_zeros(ctx, s.w_zp) && s.x_scale >= 0 &&
                    ctx.is_constant(s.x_scale) && ctx.is_constant(s.w_scale) && ctx.is_constant(s.y_scale);
  if (fast && ctx.simd()) return "rtml_s8_" + o + "__hwy";
  if (fast && w_rows && ctx.kernel_set == kernels::KernelSet::CortexM) return "rtml_s8_" + o + "__cm";
  return t.kernel(op);
}

// Checks the types of a product's inputs: int8 x int8, uint8 x uint8 or
// uint8 x int8 (uint8 data, int8 weights).
ProductTypes check_product_types(const OpContext& ctx, const ProductSlots& s) {
  ctx.expect_dtype(s.x, {DType::U8, DType::I8});
  ctx.expect_dtype(s.w, {DType::U8, DType::I8});
  const ProductTypes t{ctx.input(s.x).dtype, ctx.input(s.w).dtype};
  if (t.x == DType::I8 && t.w == DType::U8)
    ctx.fail("X is int8 and W uint8: int8 data with uint8 weights is not supported (int8 x int8, uint8 x uint8 and "
             "uint8 x int8 are)");
  const auto expect = [&](int i, DType want, const char* what) {
    if (i >= 0 && ctx.has_input(i) && ctx.input(i).dtype != want)
      ctx.fail(std::string(what) + " has type " + dtype_name(ctx.input(i).dtype) + "; expected " + dtype_name(want));
  };
  expect(s.x_zp, t.x, "the input zero point");
  expect(s.y_zp, t.x, "the output zero point (the output has the input's type)");
  expect(s.w_zp, t.w, "the weight zero point");
  for (int i : {s.x_scale, s.w_scale, s.y_scale})
    if (i >= 0) ctx.expect_dtype(i, {DType::F32});
  if (s.bias >= 0 && ctx.has_input(s.bias)) ctx.expect_dtype(s.bias, {DType::I32});
  if (s.x_zp >= 0 && ctx.has_input(s.x_zp)) expect_single(ctx, s.x_zp, "the input zero point");
  if (s.y_zp >= 0) expect_single(ctx, s.y_zp, "the output zero point");
  if (s.x_scale >= 0) expect_single(ctx, s.x_scale, "the input scale");
  if (s.y_scale >= 0) expect_single(ctx, s.y_scale, "the output scale");
  return t;
}

// Fills the zero point, bias, clamp and requantization fields shared by
// rtml_qmatmul_params and rtml_qconv_params, for `channels` output channels.
template <class P>
void fill_product(OpContext& ctx, P& p, const ProductSlots& s, DType t, int64_t channels) {  // t: X's type
  p.w_slot = s.w;
  p.x_zp_slot = s.x_zp >= 0 && ctx.has_input(s.x_zp) ? s.x_zp : -1;
  p.w_zp_slot = s.w_zp >= 0 && ctx.has_input(s.w_zp) ? s.w_zp : -1;
  p.w_zp_per_channel = p.w_zp_slot >= 0 && expect_per_channel(ctx, s.w_zp, channels, "the weight zero point");
  p.y_zp_slot = s.y_zp;
  p.out_slot = out_slot(ctx);
  p.bias_slot = s.bias >= 0 && ctx.has_input(s.bias) ? s.bias : -1;
  if (p.bias_slot >= 0 && ctx.input(s.bias).shape != Shape{channels})
    ctx.fail("the bias has shape " + shape_str(ctx.input(s.bias).shape) + "; expected [" + std::to_string(channels) + "]");
  activation_range(ctx, t, p.act_min, p.act_max);
  p.multiplier_slot = p.shift_slot = p.x_scale_slot = p.w_scale_slot = p.y_scale_slot = -1;
  if (s.y_scale < 0) return;  // *Integer: int32 output
  p.per_channel = expect_per_channel(ctx, s.w_scale, channels, "the weight scale");
  if (ctx.is_constant(s.x_scale) && ctx.is_constant(s.w_scale) && ctx.is_constant(s.y_scale)) {
    const int64_t n = p.per_channel ? channels : 1;
    auto mult = std::make_shared<ir::Buffer>(static_cast<size_t>(n) * sizeof(int32_t));
    auto shift = std::make_shared<ir::Buffer>(static_cast<size_t>(n) * sizeof(int32_t));
    const float* ws = ctx.input(s.w_scale).as<float>();
    for (int64_t c = 0; c < n; ++c) {
      const float xs = *ctx.input(s.x_scale).as<float>(), ys = *ctx.input(s.y_scale).as<float>();
      if (!(xs > 0) || !(ws[c] > 0) || !(ys > 0))
        ctx.fail("scales must be positive; got input " + std::to_string(xs) + ", weight " + std::to_string(ws[c]) +
                 " (channel " + std::to_string(c) + "), output " + std::to_string(ys));
      rtml_quantize_scales(xs, ws[c], ys, static_cast<int32_t*>(mult->data()) + c, static_cast<int32_t*>(shift->data()) + c);
    }
    p.multiplier_slot = ctx.add_constant("multipliers", DType::I32, {n}, std::move(mult));
    p.shift_slot = ctx.add_constant("shifts", DType::I32, {n}, std::move(shift));
  } else {
    p.x_scale_slot = s.x_scale;
    p.w_scale_slot = s.w_scale;
    p.y_scale_slot = s.y_scale;
  }
}

// A Highway product's weights packed into a step constant (w_slot then
// names it) and its scratch; a cortex-m one's scratch; nothing for the other
// kernels.
void pack_fast_weights(OpContext& ctx, rtml_qmatmul_params& p) {
  if (ctx.step.kernel == "rtml_s8_fully_connected__cm")
    ctx.step.scratch_bytes = static_cast<size_t>(rtml_s8_fully_connected_cm_scratch_bytes(&p));
  if (ctx.step.kernel != "rtml_s8_fully_connected__hwy") return;
  const int64_t count = p.w_batch_stride != 0 ? p.batch_count : 1, bytes = kernels::qpacked_bytes(p.K, p.N);
  auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(count * bytes));
  const int8_t* w = ctx.input(p.w_slot).as<int8_t>();
  for (int64_t b = 0; b < count; ++b)
    kernels::qpack(p.K, p.N, w + b * p.w_batch_stride, p.w_stride_k, p.w_stride_n, static_cast<int8_t*>(buf->data()) + b * bytes);
  p.w_slot = ctx.add_constant("packed_w", DType::I8, {count * bytes}, std::move(buf));
  ctx.step.scratch_bytes = static_cast<size_t>(kernels::s8_fully_connected_hwy_scratch(p));
}

void pack_fast_weights(OpContext& ctx, rtml_qconv_params& p) {
  if (ctx.step.kernel == "rtml_s8_conv__cm")
    ctx.step.scratch_bytes = static_cast<size_t>(rtml_s8_conv_cm_scratch_bytes(&p));
  if (ctx.step.kernel == "rtml_s8_depthwise_conv__cm")
    ctx.step.scratch_bytes = static_cast<size_t>(rtml_s8_depthwise_conv_cm_scratch_bytes(&p));
  if (ctx.step.kernel == "rtml_s8_depthwise_conv__hwy")
    ctx.step.scratch_bytes = static_cast<size_t>(kernels::s8_depthwise_conv_hwy_scratch(p));
  if (ctx.step.kernel != "rtml_s8_conv__hwy") return;
  const int64_t bytes = kernels::qpacked_conv_bytes(p);
  auto buf = std::make_shared<ir::Buffer>(static_cast<size_t>(bytes));
  kernels::qpack_conv(p, ctx.input(p.w_slot).as<int8_t>(), static_cast<int8_t*>(buf->data()));
  p.w_slot = ctx.add_constant("packed_w", DType::I8, {bytes}, std::move(buf));
  ctx.step.scratch_bytes = static_cast<size_t>(kernels::s8_conv_hwy_scratch(p));
}

// QLinearMatMul and MatMulInteger: numpy.matmul of rank >= 2 operands whose
// batch dims are equal or absent on one side (no other broadcasting). The
// planner's fused QLinearMatMul (kFusedDomain) may say transB = 1: B is
// [N x K] (a Gemm's transB weights, kept as the file stores them).
void matmul_product(OpContext& ctx, const ProductSlots& s, const char* op) {
  const ProductTypes t = check_product_types(ctx, s);
  const Shape& a = ctx.input(s.x).shape;
  const Shape& b = ctx.input(s.w).shape;
  if (a.size() < 2 || b.size() < 2)
    ctx.fail("A is " + shape_str(a) + ", B is " + shape_str(b) + "; both must have rank >= 2");
  const bool trans_b = ctx.node().domain == kFusedDomain && ctx.attr_int("transB", 0) != 0;
  const int64_t M = a[a.size() - 2], K = a.back(), N = trans_b ? b[b.size() - 2] : b.back();
  if ((trans_b ? b.back() : b[b.size() - 2]) != K)
    ctx.fail("inner dimensions differ: A is " + shape_str(a) + ", B is " + shape_str(b) + (trans_b ? " (transposed)" : ""));
  const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  const int64_t a_batches = shape_numel(ab), b_batches = shape_numel(bb);
  if (!(ab == bb || a_batches == 1 || b_batches == 1))
    ctx.fail("batch dimensions of A " + shape_str(a) + " and B " + shape_str(b) + " differ (broadcasting them is not supported)");
  auto& p = ctx.use_kernel<rtml_qmatmul_params>(product_kernel(ctx, t, s, op, trans_b).c_str());
  p.M = M;
  p.N = N;
  p.K = K;
  p.w_stride_k = trans_b ? 1 : N;
  p.w_stride_n = trans_b ? K : 1;
  p.batch_count = std::max(a_batches, b_batches);
  p.x_batch_stride = a_batches == 1 ? 0 : M * K;
  p.w_batch_stride = b_batches == 1 ? 0 : K * N;
  if (s.x_zp >= 0 && ctx.has_input(s.x_zp) && !single(ctx, s.x_zp))
    ctx.fail("a per-row input zero point is not supported (expected a scalar)");
  fill_product(ctx, p, s, t.x, N);
  pack_fast_weights(ctx, p);
  Shape out = ab.size() >= bb.size() ? ab : bb;
  out.push_back(M);
  out.push_back(N);
  ctx.set_output(0, s.y_scale >= 0 ? t.x : DType::I32, out);
  ctx.step.flops = 2.0 * static_cast<double>(p.batch_count) * M * N * K;
}

void QLinearMatMul(OpContext& ctx) {
  // The fused form (kFusedDomain) may have an int32 bias [N] as input 8.
  ctx.expect_inputs(8, ctx.node().domain == kFusedDomain ? 9 : 8);
  matmul_product(ctx, kQLinearSlots, "fully_connected");
}

void MatMulInteger(OpContext& ctx) {
  ctx.expect_inputs(2, 4);
  matmul_product(ctx, kIntegerSlots, "matmul_integer");
}

// QLinearConv and ConvInteger: 1-D or 2-D, NCHW.
void conv_product(OpContext& ctx, const ProductSlots& s, bool integer) {
  const ProductTypes t = check_product_types(ctx, s);
  const Shape& x = ctx.input(s.x).shape;
  const Shape& w = ctx.input(s.w).shape;
  if (x.size() != 3 && x.size() != 4)
    ctx.fail("X has shape " + shape_str(x) + "; expected a 1-D or 2-D convolution input (rank 3 or 4)");
  if (w.size() != x.size()) ctx.fail("W has shape " + shape_str(w) + "; expected the rank of X " + shape_str(x));
  const int n = static_cast<int>(x.size()) - 2;
  const int64_t group = ctx.attr_int("group", 1);
  if (group < 1 || x[1] % group != 0 || w[0] % group != 0 || w[1] != x[1] / group)
    ctx.fail("W " + shape_str(w) + " does not fit X " + shape_str(x) + " with group " + std::to_string(group));
  const auto attr = [&](const char* name, int64_t fill) {
    std::vector<int64_t> v = ctx.attr_ints(name, std::vector<int64_t>(static_cast<size_t>(n), fill));
    if (static_cast<int>(v.size()) != n) ctx.fail(std::string("attribute ") + name + " needs one value per spatial dimension");
    for (int64_t e : v)
      if (e < 1) ctx.fail(std::string("attribute ") + name + " must be >= 1");
    return v;
  };
  const std::vector<int64_t> stride = attr("strides", 1), dilation = attr("dilations", 1);
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.has_attr("kernel_shape") && ctx.attr_ints("kernel_shape") != kernel)
    ctx.fail("attribute kernel_shape does not match W " + shape_str(w));
  std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(static_cast<size_t>(2 * n), 0));
  if (static_cast<int>(pads.size()) != 2 * n) ctx.fail("attribute pads needs two values per spatial dimension");
  std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int d = 0; d < n; ++d) {
    const int64_t in = x[2 + d], ek = ctx.add(ctx.mul(kernel[d] - 1, dilation[d], "dilations"), 1, "dilations");
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[d] = ctx.add(in, stride[d] - 1, "strides") / stride[d];
      const int64_t total = std::max<int64_t>(0, ctx.add((out[d] - 1) * stride[d], ek, "strides") - in);
      pads[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[d + n] = total - pads[d];
    } else if (auto_pad == "VALID") {
      pads[d] = pads[d + n] = 0;
    } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
      ctx.fail("attribute auto_pad is '" + auto_pad + "'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID");
    }
    if (pads[d] < 0 || pads[d + n] < 0) ctx.fail("attribute pads must not be negative");
    const int64_t span = ctx.add(ctx.add(in, pads[d], "pads"), pads[d + n], "pads") - ek;
    if (span < 0) ctx.fail("the kernel is larger than the padded input " + shape_str(x));
    out[d] = span / stride[d] + 1;
  }
  const bool depthwise = group == x[1] && group > 1;
  const char* op = integer ? "conv_integer" : depthwise ? "depthwise_conv" : "conv";
  auto& p = ctx.use_kernel<rtml_qconv_params>(product_kernel(ctx, t, s, op).c_str());
  const int h = n == 2 ? 0 : -1;  // index of the height dim in the spatial vectors (-1: 1-D)
  p.N = x[0];
  p.C = x[1];
  p.C_out = w[0];
  p.group = group;
  p.H = h < 0 ? 1 : x[2];
  p.W = x.back();
  p.KH = h < 0 ? 1 : kernel[0];
  p.KW = kernel.back();
  p.OH = h < 0 ? 1 : out[0];
  p.OW = out.back();
  p.stride_h = h < 0 ? 1 : stride[0];
  p.stride_w = stride.back();
  p.dilation_h = h < 0 ? 1 : dilation[0];
  p.dilation_w = dilation.back();
  p.pad_top = h < 0 ? 0 : pads[0];
  p.pad_left = pads[static_cast<size_t>(n - 1)];
  fill_product(ctx, p, s, t.x, p.C_out);
  pack_fast_weights(ctx, p);
  Shape y{x[0], w[0]};
  y.insert(y.end(), out.begin(), out.end());
  ctx.set_output(0, integer ? DType::I32 : t.x, y);
  ctx.step.flops = 2.0 * static_cast<double>(shape_numel(y)) * static_cast<double>(w[1] * p.KH * p.KW);
}

void QLinearConv(OpContext& ctx) {
  ctx.expect_inputs(8, 9);
  conv_product(ctx, kQLinearSlots, false);
}

void ConvInteger(OpContext& ctx) {
  ctx.expect_inputs(2, 4);
  conv_product(ctx, kIntegerSlots, true);
}

// ---------------------------------------------------------------- Add, Mul

// The planner's fused QDQ Add / Mul (kFusedDomain): inputs A, A_scale,
// A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point as ONNX
// Runtime's com.microsoft QLinearAdd; scales and zero points constants. The
// multipliers as TFLite's integer Add / Mul prepare computes them
// (rtml_qbinary_params).
void qlinear_binary(OpContext& ctx, bool add) {
  ctx.expect_inputs(8, 8);
  ctx.expect_dtype(0, {DType::I8, DType::U8});
  const DType t = ctx.input(0).dtype;
  for (int i : {2, 3, 5, 7})
    if (ctx.input(i).dtype != t)
      ctx.fail("input " + std::to_string(i) + " has type " + dtype_name(ctx.input(i).dtype) + "; expected A's type " +
               dtype_name(t));
  for (int i : {1, 4, 6}) ctx.expect_dtype(i, {DType::F32});
  for (int i : {1, 2, 4, 5, 6, 7})
    if (!ctx.is_constant(i) || !single(ctx, i)) ctx.fail("input " + std::to_string(i) + " must be a constant scalar");
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(3).shape;
  Shape out;
  // The cortex-m set's int8 Add (kernels/cortexm_quant.cpp) runs the same maths; so does the simd
  // set's on vectors (kernels/fast_quant.cpp), for A and B of one shape.
  const bool cm = add && t == DType::I8 && ctx.kernel_set == kernels::KernelSet::CortexM;
  const bool hwy = add && t == DType::I8 && ctx.simd() && a == b;
  auto& p = ctx.use_kernel<rtml_qbinary_params>(cm    ? "rtml_s8_qadd__cm"
                                                : hwy ? "rtml_s8_qadd__hwy"
                                                      : kernel_symbol(t, add ? "qadd" : "qmul").c_str());
  if (!kernels::broadcast_shape({a, b}, out) || !kernels::make_broadcast({a, b}, out, p.bc))
    ctx.fail("A " + shape_str(a) + " and B " + shape_str(b) + " cannot be broadcast together");
  const auto zero_point = [&](int i) {
    return t == DType::I8 ? int32_t{*ctx.input(i).as<int8_t>()} : int32_t{*ctx.input(i).as<uint8_t>()};
  };
  const double as = *ctx.input(1).as<float>(), bs = *ctx.input(4).as<float>(), ys = *ctx.input(6).as<float>();
  if (!(as > 0) || !(bs > 0) || !(ys > 0))
    ctx.fail("scales must be positive; got A " + std::to_string(as) + ", B " + std::to_string(bs) + ", output " +
             std::to_string(ys));
  p.b_slot = 3;
  p.out_slot = out_slot(ctx);
  p.a_zero_point = zero_point(2);
  p.b_zero_point = zero_point(5);
  p.y_zero_point = zero_point(7);
  if (add) {
    p.left_shift = 20;
    const double twice_max = 2.0 * std::max(as, bs);
    rtml_quantize_multiplier(as / twice_max, &p.a_multiplier, &p.a_shift);
    rtml_quantize_multiplier(bs / twice_max, &p.b_multiplier, &p.b_shift);
    rtml_quantize_multiplier(twice_max / (static_cast<double>(1 << p.left_shift) * ys), &p.y_multiplier, &p.y_shift);
  } else {
    rtml_quantize_multiplier(as * bs / ys, &p.y_multiplier, &p.y_shift);
  }
  activation_range(ctx, t, p.act_min, p.act_max);
  ctx.set_output(0, t, out);
  ctx.step.flops = static_cast<double>(shape_numel(out));
}

// ---------------------------------------------------------------- Sigmoid, Tanh, ReduceMean

// The operands of a fused QDQ unary op (inputs X, X_scale, X_zero_point,
// Y_scale, Y_zero_point as ONNX Runtime's com.microsoft QLinearSigmoid, all
// but X constant scalars; scales positive).
struct UnaryQuant {
  DType t;
  float xs, ys;
  int32_t zx, zy;
};

UnaryQuant unary_quant(OpContext& ctx) {
  ctx.expect_inputs(5, 5);
  ctx.expect_dtype(0, {DType::I8, DType::U8});
  const DType t = ctx.input(0).dtype;
  for (int i : {2, 4})
    if (ctx.input(i).dtype != t) ctx.fail("input " + std::to_string(i) + " must have X's type " + dtype_name(t));
  for (int i : {1, 3}) ctx.expect_dtype(i, {DType::F32});
  for (int i : {1, 2, 3, 4})
    if (!ctx.is_constant(i) || !single(ctx, i)) ctx.fail("input " + std::to_string(i) + " must be a constant scalar");
  const auto zero_point = [&](int i) {
    return t == DType::I8 ? int32_t{*ctx.input(i).as<int8_t>()} : int32_t{*ctx.input(i).as<uint8_t>()};
  };
  const UnaryQuant q{t, *ctx.input(1).as<float>(), *ctx.input(3).as<float>(), zero_point(2), zero_point(4)};
  if (!(q.xs > 0) || !(q.ys > 0)) ctx.fail("scales must be positive");
  return q;
}

// The planner's fused QDQ Sigmoid / Tanh (kFusedDomain): a table of the 256
// outputs, QuantizeLinear(f(DequantizeLinear(q))) with f in double, as
// TFLite's int8 lookup tables.
void qlinear_lookup(OpContext& ctx, double (*f)(double)) {
  const UnaryQuant u = unary_quant(ctx);
  int32_t lo = 0, hi = 0;
  full_range(u.t, lo, hi);
  auto table = std::make_shared<ir::Buffer>(256);
  for (int32_t q = lo; q <= hi; ++q) {
    const double real = f(static_cast<double>(u.xs) * (q - u.zx));
    const auto out = static_cast<int32_t>(std::max<double>(lo, std::min<double>(hi, std::nearbyint(real / u.ys) + u.zy)));
    static_cast<uint8_t*>(table->data())[q - lo] = static_cast<uint8_t>(out);  // int8: its two's complement byte
  }
  auto& p = ctx.use_kernel<rtml_lookup_params>(kernel_symbol(u.t, "lookup").c_str());
  p.count = ctx.input(0).numel();
  p.out_slot = out_slot(ctx);
  p.table_slot = ctx.add_constant("table", u.t, {256}, std::move(table));
  ctx.set_output(0, u.t, ctx.input(0).shape);
}

// The planner's fused QDQ ReduceMean / GlobalAveragePool (kFusedDomain;
// operands as QLinearSigmoid, attributes axes (a block of contiguous axes)
// and keepdims): TFLite's int8 MEAN, rtml_qmean_params.
void QLinearReduceMean(OpContext& ctx) {
  const UnaryQuant u = unary_quant(ctx);
  const Shape& x = ctx.input(0).shape;
  std::vector<int64_t> axes = ctx.attr_ints("axes");
  const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
  for (int64_t& a : axes) a = ctx.axis(a, x.size(), "reduction axis");
  std::sort(axes.begin(), axes.end());
  if (axes.empty() || std::adjacent_find(axes.begin(), axes.end()) != axes.end() ||
      axes.back() - axes.front() + 1 != static_cast<int64_t>(axes.size()))
    ctx.fail("axes must be a block of contiguous axes");
  rtml_qmean_params q{};
  q.outer = q.n = q.inner = 1;
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool reduced = static_cast<int64_t>(d) >= axes.front() && static_cast<int64_t>(d) <= axes.back();
    (reduced ? q.n : static_cast<int64_t>(d) < axes.front() ? q.outer : q.inner) *= x[d];
    if (!reduced || keepdims) out.push_back(reduced ? 1 : x[d]);
  }
  // The simd set's int8 mean sums contiguous runs on vectors (the last axes).
  const bool hwy = u.t == DType::I8 && ctx.simd() && q.inner == 1;
  auto& p = ctx.use_kernel<rtml_qmean_params>(hwy ? "rtml_s8_mean__hwy" : kernel_symbol(u.t, "mean").c_str());
  p = q;
  if (p.n < 1 || p.n > (int64_t{1} << 23)) ctx.fail("the mean must be over 1 to 2^23 values (an int32 sum)");
  p.x_zero_point = u.zx;
  p.y_zero_point = u.zy;
  rtml_quantize_multiplier(static_cast<double>(u.xs) / (static_cast<double>(u.ys) * static_cast<double>(p.n)),
                           &p.multiplier, &p.shift);
  p.out_slot = out_slot(ctx);
  ctx.set_output(0, u.t, out);
  ctx.step.flops = static_cast<double>(ctx.input(0).numel());
}

// The planner's fused QDQ Softmax (kFusedDomain; operands as QLinearSigmoid,
// attribute axis: each row is the block of axes from axis on, contiguous):
// TFLite's integer softmax (rtml_qsoftmax_params), which requires the output
// scale 1/256 (within TFLite's 0.1%) and zero point the type's lowest value.
void QLinearSoftmax(OpContext& ctx) {
  const UnaryQuant u = unary_quant(ctx);
  const Shape& x = ctx.input(0).shape;
  if (x.empty()) ctx.fail("input must have rank >= 1");
  const int axis = ctx.axis(ctx.attr_int("axis", -1), static_cast<int>(x.size()));
  int32_t lo = 0, hi = 0;
  full_range(u.t, lo, hi);
  if (std::fabs(u.ys * 256.0f - 1.0f) > 0.001f || u.zy != lo)
    ctx.fail("the output must have scale 1/256 and zero point " + std::to_string(lo) +
             " (TFLite's integer softmax); got " + std::to_string(u.ys) + " and " + std::to_string(u.zy));
  auto& p = ctx.use_kernel<rtml_qsoftmax_params>(kernel_symbol(u.t, "softmax").c_str());
  p.rows = p.row_size = 1;
  for (size_t d = 0; d < x.size(); ++d) (static_cast<int>(d) < axis ? p.rows : p.row_size) *= x[d];
  if (p.row_size < 1 || p.row_size > 4095) ctx.fail("rows must have 1 to 4095 values (an int32 sum of Q12.19 exps)");
  if (!rtml_softmax_scaling(u.xs, &p.input_multiplier, &p.input_left_shift, &p.diff_min))
    ctx.fail("the input scale " + std::to_string(u.xs) + " is below TFLite's integer softmax range (2^-26)");
  p.out_slot = out_slot(ctx);
  ctx.set_output(0, u.t, x);
  ctx.step.flops = 4.0 * static_cast<double>(ctx.input(0).numel());
}

// ---------------------------------------------------------------- Concat

// QuantizeLinear(DequantizeLinear(q)) for the 256 values q of type t, indexed
// by q's byte, computed by the kernels the unfused path runs (so the fused
// step is bit-identical with it, and with ONNX's float definition).
std::vector<uint8_t> requantize_table(DType t, float xs, int32_t zx, float ys, int32_t zy) {
  std::vector<uint8_t> q(256), table(256);
  std::vector<float> real(256);
  for (int b = 0; b < 256; ++b) q[b] = static_cast<uint8_t>(b);
  uint8_t zx_byte = static_cast<uint8_t>(zx), zy_byte = static_cast<uint8_t>(zy);  // int8: two's complement
  const rtml_quantize_params p{1, 1, 256, false, true, 3};
  void* dequantize_operands[] = {q.data(), &xs, &zx_byte, real.data()};
  void* quantize_operands[] = {real.data(), &ys, &zy_byte, table.data()};
  const bool s8 = t == DType::I8;
  (s8 ? rtml_s8_dequantize__ref : rtml_u8_dequantize__ref)(&p, dequantize_operands);
  (s8 ? rtml_s8_quantize__ref : rtml_u8_quantize__ref)(&p, quantize_operands);
  return table;
}

// The planner's fused QDQ Concat (kFusedDomain): inputs X_0..X_n-1, then
// X_scale and X_zero_point of each X, then Y_scale and Y_zero_point (all but
// the Xs constant scalars, one type, int8 or uint8; scales positive);
// attribute axis. An X quantized as Y is copied, another goes through its
// requantize_table (rtml_qconcat_params).
void QLinearConcat(OpContext& ctx) {
  const int count = static_cast<int>(ctx.node().inputs.size());
  if (count < 5 || (count - 2) % 3 != 0)
    ctx.fail("expects X_0..X_n-1, X_scale and X_zero_point per X, Y_scale, Y_zero_point; got " +
             std::to_string(count) + " inputs");
  const int n = (count - 2) / 3;
  ctx.expect_inputs(count, count);
  ctx.expect_dtype(0, {DType::I8, DType::U8});
  const DType t = ctx.input(0).dtype;
  for (int i = n; i < count; ++i) {
    if ((i - n) % 2 == 0) ctx.expect_dtype(i, {DType::F32});
    else if (ctx.input(i).dtype != t) ctx.fail("input " + std::to_string(i) + " must have X_0's type " + dtype_name(t));
    if (!ctx.is_constant(i) || !single(ctx, i)) ctx.fail("input " + std::to_string(i) + " must be a constant scalar");
    if ((i - n) % 2 == 0 && !(*ctx.input(i).as<float>() > 0)) ctx.fail("scales must be positive");
  }
  const auto scale = [&](int i) { return *ctx.input(i).as<float>(); };
  const auto zero_point = [&](int i) {
    return t == DType::I8 ? int32_t{*ctx.input(i).as<int8_t>()} : int32_t{*ctx.input(i).as<uint8_t>()};
  };
  std::vector<int> xs(n);
  for (int k = 0; k < n; ++k) xs[k] = k;
  ConcatLayout c = concat_layout(ctx, xs);
  const float ys = scale(count - 2);
  const int32_t zy = zero_point(count - 1);
  std::vector<int64_t> blocks;
  std::vector<uint8_t> tables;
  for (int k = 0; k < n; ++k) {
    const float s = scale(n + 2 * k);
    const int32_t z = zero_point(n + 2 * k + 1);
    blocks.push_back(c.blocks[k]);
    blocks.push_back(s == ys && z == zy ? -1 : static_cast<int64_t>(tables.size()));
    if (s == ys && z == zy) continue;
    const std::vector<uint8_t> table = requantize_table(t, s, z, ys, zy);
    tables.insert(tables.end(), table.begin(), table.end());
  }
  ctx.set_output(0, t, c.shape);
  const int64_t numel = ctx.output(0).numel();
  const auto constant = [&](const char* role, DType dtype, const void* data, size_t count, size_t size) {
    return ctx.add_constant(role, dtype, {static_cast<int64_t>(count)}, buffer_of(data, count * size));
  };
  auto& p = ctx.use_kernel<rtml_qconcat_params>("rtml_x8_qconcat__ref");
  p.num_inputs = n;
  p.outer = c.outer;
  p.out_slot = out_slot(ctx);
  p.blocks_slot = constant("blocks", DType::I64, blocks.data(), blocks.size(), sizeof(int64_t));
  p.tables_slot = tables.empty() ? -1 : constant("tables", DType::U8, tables.data(), tables.size(), 1);
  ctx.step.flops = static_cast<double>(numel);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double tanh_of(double x) { return std::tanh(x); }
void QLinearSigmoid(OpContext& ctx) { qlinear_lookup(ctx, sigmoid); }
void QLinearTanh(OpContext& ctx) { qlinear_lookup(ctx, tanh_of); }

void QLinearAdd(OpContext& ctx) { qlinear_binary(ctx, true); }
void QLinearMul(OpContext& ctx) { qlinear_binary(ctx, false); }

}  // namespace

void register_quant(Registry& r) {
  r.add({"QuantizeLinear", QuantizeLinear});
  r.add({"DequantizeLinear", DequantizeLinear});
  r.add({"DynamicQuantizeLinear", DynamicQuantizeLinear});
  r.add({"QLinearMatMul", QLinearMatMul});
  r.add({"MatMulInteger", MatMulInteger});
  r.add({"QLinearConv", QLinearConv});
  r.add({"ConvInteger", ConvInteger});
}

// The same prepare (so the same kernel choice) for the planner's fused QDQ
// products: inputs as QLinearConv (QLinearMatMul with its bias too), the
// output clamp in act_min / act_max (activation_range); and Add, Mul.
void register_quant_fused(Registry& r) {
  r.add({"QLinearMatMul", QLinearMatMul});
  r.add({"QLinearConv", QLinearConv});
  r.add({"QLinearAdd", QLinearAdd});
  r.add({"QLinearMul", QLinearMul});
  r.add({"QLinearSigmoid", QLinearSigmoid});
  r.add({"QLinearTanh", QLinearTanh});
  r.add({"QLinearReduceMean", QLinearReduceMean});
  r.add({"QLinearSoftmax", QLinearSoftmax});
  r.add({"QLinearConcat", QLinearConcat});
}

}  // namespace rtml::ops
