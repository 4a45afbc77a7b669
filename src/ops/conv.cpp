// Conv, ConvTranspose, pooling and BatchNormalization.
//
// All geometry (kernel shape, strides, dilations, pads after auto_pad,
// ceil_mode, output shape) is resolved here at prepare time and stored in
// the kernels' fixed-size params; see kernels/conv.h and kernels/pool.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/conv.h"
#include "kernels/fast_conv.h"
#include "kernels/fast_gemm.h"
#include "kernels/fast_pool.h"
#include "kernels/pool.h"
#include "ops/op.h"

namespace rtml::ops {

namespace {

using kernels::BatchNormParams;
using kernels::ConvParams;
using kernels::PoolParams;

int64_t floor_div(int64_t a, int64_t b) {  // b > 0, like Python's //
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += ']';
  return s;
}

// Spatial geometry of a windowed op (Conv, pools).
struct Window {
  int n = 0;  // spatial dims
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end, out;
};

// Reads an ints attribute of length n (default `fill`), checking every value >= min.
std::vector<int64_t> spatial_attr(const OpContext& ctx, const char* name, int n, int64_t fill, int64_t min) {
  std::vector<int64_t> v = ctx.attr_ints(name, std::vector<int64_t>(static_cast<size_t>(n), fill));
  if (static_cast<int>(v.size()) != n)
    ctx.fail(std::string("attribute '") + name + "' has " + std::to_string(v.size()) + " values " + ints_str(v) +
             "; expected one per spatial dimension (" + std::to_string(n) + ")");
  for (int64_t x : v)
    if (x < min)
      ctx.fail(std::string("attribute '") + name + "' " + ints_str(v) + " must have values >= " + std::to_string(min));
  return v;
}

std::string auto_pad_of(const OpContext& ctx) {
  std::string a = ctx.attr_string("auto_pad", "NOTSET");
  if (a.empty()) a = "NOTSET";
  if (a != "NOTSET" && a != "SAME_UPPER" && a != "SAME_LOWER" && a != "VALID")
    ctx.fail("attribute auto_pad is '" + a + "'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  return a;
}

// Fills pads and the output shape of a forward window op (Conv, pools).
void resolve_window(const OpContext& ctx, Window& w, bool ceil_mode) {
  const std::string auto_pad = auto_pad_of(ctx);
  const int n = w.n;
  w.pad_begin.assign(n, 0);
  w.pad_end.assign(n, 0);
  w.out.assign(n, 0);
  if (auto_pad == "NOTSET") {
    std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(static_cast<size_t>(2 * n), 0));
    if (static_cast<int>(pads.size()) != 2 * n)
      ctx.fail("attribute 'pads' " + ints_str(pads) + " must have 2 values per spatial dimension (" +
               std::to_string(2 * n) + ")");
    for (int64_t p : pads)
      if (p < 0) ctx.fail("attribute 'pads' " + ints_str(pads) + " must not be negative");
    for (int d = 0; d < n; ++d) {
      w.pad_begin[d] = pads[d];
      w.pad_end[d] = pads[d + n];
    }
  }
  for (int d = 0; d < n; ++d) {
    // Checked: strides, dilations and pads are the file's numbers.
    const int64_t ek = ctx.add(ctx.mul(w.kernel[d] - 1, w.dilation[d], "dilations"), 1, "dilations");  // effective kernel extent
    const int64_t s = w.stride[d];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w.out[d] = ctx.add(w.in[d], s - 1, "strides") / s;
      const int64_t total = std::max<int64_t>(0, ctx.add((w.out[d] - 1) * s, ek, "strides") - w.in[d]);
      w.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[d] = total - w.pad_begin[d];
      continue;
    }
    const int64_t span = ctx.add(ctx.add(w.in[d], w.pad_begin[d], "pads"), w.pad_end[d], "pads") - ek;
    if (span < 0)
      ctx.fail("spatial dimension " + std::to_string(d) + ": the kernel extent " + std::to_string(ek) +
               " (kernel " + std::to_string(w.kernel[d]) + ", dilation " + std::to_string(w.dilation[d]) +
               ") is larger than the padded input " + std::to_string(w.in[d] + w.pad_begin[d] + w.pad_end[d]));
    if (ceil_mode) {
      w.out[d] = ctx.add(span, s - 1, "strides") / s + 1;
      // The last window must start inside the input or the left padding.
      if ((w.out[d] - 1) * s >= w.in[d] + w.pad_begin[d]) --w.out[d];
    } else {
      w.out[d] = span / s + 1;
    }
  }
}

void check_rank(const OpContext& ctx, int rank, int min_rank) {
  if (rank < min_rank || rank > kMaxRank)
    ctx.fail("input X has rank " + std::to_string(rank) + "; expected rank " + std::to_string(min_rank) + " to " +
             std::to_string(kMaxRank) + " (N, C, spatial...)");
}

// ---------------------------------------------------------------- Conv

// Step::fuse of the fast Conv kernels (params P with residual and relu
// flags): the residual Add comes before the ReLU, so nothing fuses once the
// ReLU has.
template <class P>
bool fuse_conv(ops::Step& step, ops::Step::Epilogue what) {
  auto& p = *static_cast<P*>(step.params.get());
  if (p.relu) return false;
  if (what == ops::Step::Epilogue::Relu) {
    p.relu = true;
    step.kernel += "+relu";
  } else {
    if (p.residual) return false;
    p.residual = true;
    step.kernel += "+add";
  }
  return true;
}

// The fast kernels need constant W (and B): their packing or tiling reads them at prepare.
bool weights_constant(const OpContext& ctx) {
  return ctx.is_constant(1) && (!ctx.has_input(2) || ctx.is_constant(2));
}

// Step::fuse_chain of the Conv kernels: params P, the chain entry's C.
template <class P, class C>
void set_fuse_chain(OpContext& ctx) {
  ctx.step.fuse_chain = [](Step& step, const rtml_ew_epilogue& epi) {
    const char* symbol = std::is_same_v<P, rtml_fast_conv1d_params>   ? "rtml_f32_conv1d_chain__fast_hwy"
                         : std::is_same_v<P, rtml_fast_conv2d_params> ? "rtml_f32_conv2d_chain__fast_hwy"
                         : std::is_same_v<P, rtml_im2row_conv_params> ? "rtml_f32_conv_chain__im2row_hwy"
                                                                      : "rtml_f32_conv_chain__ref";
    return chain_into<P, C>(step, epi, symbol);
  };
}

// Picks the fast Conv kernel `symbol` (params P) and fills what all three share.
template <class P>
P& use_fast_conv(OpContext& ctx, const char* symbol, const ConvParams& c) {
  auto& p = ctx.use_kernel<P>(symbol);
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.group = c.group;
  p.has_bias = ctx.has_input(2);
  p.out_slot = c.out_slot;
  ctx.step.fuse = fuse_conv<P>;
  return p;
}

// Chooses the fast 1-D kernel when it applies: one spatial dim, stride 1,
// constant W and B (depthwise too: its tiles are one channel row).
bool prepare_conv1d_fast(OpContext& ctx, const ConvParams& c) {
  if (c.spatial != 1 || c.stride[0] != 1 || !weights_constant(ctx) || c.out_size == 0) return false;
  auto& p = use_fast_conv<rtml_fast_conv1d_params>(ctx, "rtml_f32_conv1d__fast_hwy", c);
  set_fuse_chain<rtml_fast_conv1d_params, rtml_fast_conv1d_chain_params>(ctx);
  p.in_len = c.in_size;
  p.out_len = c.out_size;
  p.taps = c.kernel_size;
  p.dilation = c.dilation[0];
  p.pad_begin = c.pad_begin[0];
  ctx.step.scratch_bytes = static_cast<size_t>(kernels::fast_conv1d_prepare(p)) * sizeof(float);
  return true;
}

// Chooses the fast 2-D kernel: stride 1, constant W and B, at least 2 output
// channels per group (depthwise keeps the direct kernel).
bool prepare_conv2d_fast(OpContext& ctx, const ConvParams& c) {
  const int64_t mg = c.out_channels / c.group;
  if (c.spatial != 2 || c.stride[0] != 1 || c.stride[1] != 1 || !weights_constant(ctx) || mg < 2 || c.out_size == 0)
    return false;
  auto& p = use_fast_conv<rtml_fast_conv2d_params>(ctx, "rtml_f32_conv2d__fast_hwy", c);
  set_fuse_chain<rtml_fast_conv2d_params, rtml_fast_conv2d_chain_params>(ctx);
  p.in_h = c.in_shape[0];
  p.in_w = c.in_shape[1];
  p.out_h = c.out_shape[0];
  p.out_w = c.out_shape[1];
  p.kh = c.kernel[0];
  p.kw = c.kernel[1];
  p.dh = c.dilation[0];
  p.dw = c.dilation[1];
  p.pad_top = c.pad_begin[0];
  p.pad_left = c.pad_begin[1];
  p.hp = p.out_h + (p.kh - 1) * p.dh;  // >= pad_top + in_h: out_h = in_h + pads - extent + 1
  p.wp = p.out_w + (p.kw - 1) * p.dw;
  p.ldb = kernels::fast_conv_gemm_ldb(c.out_size);
  const int64_t cg = c.in_channels / c.group, kdim = cg * c.kernel_size;
  ctx.step.scratch_bytes = static_cast<size_t>(kdim * p.ldb + cg * p.hp * p.wp) * sizeof(float);
  (void)kernels::fast_conv_target();  // resolves the dispatch now, at prepare
  return true;
}

// Chooses the im2row + GEMM kernel when it applies; false leaves the direct one.
bool prepare_conv_im2row(OpContext& ctx, const ConvParams& c) {
  const int64_t cg = c.in_channels / c.group, mg = c.out_channels / c.group;
  // Depthwise (one output channel per group) would be a 1-column GEMM: the
  // direct kernel does better there.
  if (!weights_constant(ctx) || mg < 2 || c.out_size == 0 || cg * c.kernel_size == 0) return false;
  if (c.in_size > INT32_MAX || c.out_size * c.kernel_size > (int64_t{1} << 26)) return false;
  const float* w = ctx.input(1).as<float>();
  const float* bias = ctx.has_input(2) ? ctx.input(2).as<float>() : nullptr;
  // Input offset of every (output position, kernel tap), row-major over both.
  const int64_t offsets = c.out_size * c.kernel_size;
  auto taps = std::make_shared<ir::Buffer>(static_cast<size_t>(offsets) * sizeof(int32_t));
  int32_t* tap_offset = static_cast<int32_t*>(taps->data());
  std::fill(tap_offset, tap_offset + offsets, -1);
  const int n = c.spatial;
  std::vector<int64_t> o(static_cast<size_t>(n), 0), t(static_cast<size_t>(n), 0);
  for (int64_t oi = 0; oi < c.out_size; ++oi) {
    std::fill(t.begin(), t.end(), 0);
    for (int64_t ti = 0; ti < c.kernel_size; ++ti) {
      int64_t off = 0;
      bool inside = true;
      for (int d = 0; d < n; ++d) {
        const int64_t i = o[d] * c.stride[d] + t[d] * c.dilation[d] - c.pad_begin[d];
        if (i < 0 || i >= c.in_shape[d]) inside = false;
        off = off * c.in_shape[d] + i;
      }
      if (inside) tap_offset[oi * c.kernel_size + ti] = static_cast<int32_t>(off);
      for (int d = n - 1; d >= 0 && ++t[d] == c.kernel[d]; --d) t[d] = 0;
    }
    for (int d = n - 1; d >= 0 && ++o[d] == c.out_shape[d]; --d) o[d] = 0;
  }
  // W is (M, Cg, taps...): group g's rows are an Mg x (Cg*taps) matrix, i.e.
  // the transposed B of rows * B; each group's packing follows the previous one.
  const int64_t kdim = cg * c.kernel_size;
  const int64_t group_floats = kernels::packed_constant_floats(kdim, mg, bias != nullptr);
  auto packed = std::make_shared<ir::Buffer>(static_cast<size_t>(group_floats * c.group) * sizeof(float));
  for (int64_t g = 0; g < c.group; ++g)
    kernels::pack_constant(kdim, mg, w + g * mg * kdim, kdim, true, 1.0f, bias ? bias + g * mg : nullptr,
                           static_cast<float*>(packed->data()) + g * group_floats);
  auto& p = use_fast_conv<rtml_im2row_conv_params>(ctx, "rtml_f32_conv__im2row_hwy", c);
  set_fuse_chain<rtml_im2row_conv_params, rtml_im2row_conv_chain_params>(ctx);
  p.in_size = c.in_size;
  p.out_size = c.out_size;
  p.taps = c.kernel_size;
  p.taps_slot = ctx.add_constant("tap_offsets", DType::I32, {offsets}, std::move(taps));
  p.packed_slot = ctx.add_constant("packed_w", DType::F32, {group_floats * c.group}, std::move(packed));
  ctx.step.scratch_bytes = static_cast<size_t>(c.out_size * (kdim + mg)) * sizeof(float);
  return true;
}

// The window geometry that the conv and pool params share (field for field).
template <class P>
void set_window(P& p, const Window& w) {
  p.in_size = p.out_size = p.kernel_size = 1;
  for (int d = 0; d < w.n; ++d) {
    p.in_shape[d] = w.in[d];
    p.out_shape[d] = w.out[d];
    p.kernel[d] = w.kernel[d];
    p.stride[d] = w.stride[d];
    p.dilation[d] = w.dilation[d];
    p.pad_begin[d] = w.pad_begin[d];
    p.in_size *= w.in[d];
    p.out_size *= w.out[d];
    p.kernel_size *= w.kernel[d];
  }
}

void fill_conv_params(const OpContext& ctx, ConvParams& p, const Window& w, int64_t batch, int64_t c, int64_t m, int64_t group) {
  p.spatial = w.n;
  p.batch = batch;
  p.in_channels = c;
  p.out_channels = m;
  p.group = group;
  set_window(p, w);
  p.out_slot = static_cast<int32_t>(ctx.node().inputs.size());  // Y follows X, W and a listed B
}

// Shared checks of Conv and ConvTranspose: X, W, optional B; returns the window
// with in/kernel/stride/dilation filled.
Window conv_common(OpContext& ctx, int64_t& group) {
  ctx.expect_inputs(2, 3);
  ctx.expect_dtype(0, {DType::F32});
  ctx.expect_dtype(1, {DType::F32});
  if (ctx.has_input(2)) ctx.expect_dtype(2, {DType::F32});
  const Shape& x = ctx.input(0).shape;
  const Shape& wt = ctx.input(1).shape;
  check_rank(ctx, static_cast<int>(x.size()), 3);
  if (wt.size() != x.size())
    ctx.fail("weight W has shape " + shape_str(wt) + "; expected rank " + std::to_string(x.size()) +
             " like X " + shape_str(x));
  group = ctx.attr_int("group", 1);
  if (group < 1) ctx.fail("attribute group is " + std::to_string(group) + "; it must be >= 1");
  Window w;
  w.n = static_cast<int>(x.size()) - 2;
  w.in.assign(x.begin() + 2, x.end());
  w.kernel.assign(wt.begin() + 2, wt.end());
  for (int64_t k : w.kernel)
    if (k < 1) ctx.fail("weight W has shape " + shape_str(wt) + "; kernel dimensions must be >= 1");
  if (ctx.has_attr("kernel_shape")) {
    std::vector<int64_t> ks = ctx.attr_ints("kernel_shape");
    if (ks != w.kernel)
      ctx.fail("attribute kernel_shape " + ints_str(ks) + " does not match the weight's spatial dims " +
               ints_str(w.kernel));
  }
  w.stride = spatial_attr(ctx, "strides", w.n, 1, 1);
  w.dilation = spatial_attr(ctx, "dilations", w.n, 1, 1);
  return w;
}

void prepare_conv(OpContext& ctx) {
  int64_t group = 1;
  Window w = conv_common(ctx, group);
  const Shape& x = ctx.input(0).shape;
  const Shape& wt = ctx.input(1).shape;
  const int64_t c = x[1], m = wt[0];
  if (c % group != 0) ctx.fail("input channels " + std::to_string(c) + " are not divisible by group " + std::to_string(group));
  if (m % group != 0)
    ctx.fail("output channels (W dim 0) " + std::to_string(m) + " are not divisible by group " + std::to_string(group));
  if (wt[1] != c / group)
    ctx.fail("weight W has shape " + shape_str(wt) + "; dim 1 must be input channels / group = " +
             std::to_string(c / group) + " (X is " + shape_str(x) + ", group " + std::to_string(group) + ")");
  if (ctx.has_input(2) && ctx.input(2).shape != Shape{m})
    ctx.fail("bias B has shape " + shape_str(ctx.input(2).shape) + "; expected [" + std::to_string(m) + "]");
  resolve_window(ctx, w, false);
  Shape out{x[0], m};
  out.insert(out.end(), w.out.begin(), w.out.end());
  ctx.set_output(0, DType::F32, out);
  ConvParams p{};
  fill_conv_params(ctx, p, w, x[0], c, m, group);
  ctx.step.flops = 2.0 * double(x[0]) * double(m) * double(p.out_size) * double(c / group) * double(p.kernel_size);
  // Schedule knob "conv" (plan/schedule.h): "im2row" skips the tile kernels
  // of the 1-D and 2-D stride-1 convolutions for the im2row one.
  const bool tiles = ctx.choice("conv") != "im2row";
  if (ctx.simd() && ((tiles && (prepare_conv1d_fast(ctx, p) || prepare_conv2d_fast(ctx, p))) || prepare_conv_im2row(ctx, p)))
    return;
  ctx.use_kernel<ConvParams>("rtml_f32_conv__ref") = p;
  if (!ctx.simd()) set_fuse_chain<ConvParams, rtml_conv_chain_params>(ctx);  // as MatMul's (ops/linear.cpp)
}

void prepare_conv_transpose(OpContext& ctx) {
  int64_t group = 1;
  Window w = conv_common(ctx, group);
  const Shape& x = ctx.input(0).shape;
  const Shape& wt = ctx.input(1).shape;
  const int64_t c = x[1];
  if (wt[0] != c)
    ctx.fail("weight W has shape " + shape_str(wt) + "; dim 0 must equal the input channels " + std::to_string(c));
  if (c % group != 0) ctx.fail("input channels " + std::to_string(c) + " are not divisible by group " + std::to_string(group));
  const int64_t m = wt[1] * group;
  if (ctx.has_input(2) && ctx.input(2).shape != Shape{m})
    ctx.fail("bias B has shape " + shape_str(ctx.input(2).shape) + "; expected [" + std::to_string(m) + "]");
  const int n = w.n;
  const std::vector<int64_t> out_pad = spatial_attr(ctx, "output_padding", n, 0, 0);
  for (int d = 0; d < n; ++d)
    if (out_pad[d] >= std::max(w.stride[d], w.dilation[d]))
      ctx.fail("attribute output_padding " + ints_str(out_pad) + " must be smaller than the stride or dilation");
  std::vector<int64_t> out_shape = ctx.attr_ints("output_shape");
  if (static_cast<int>(out_shape.size()) == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && static_cast<int>(out_shape.size()) != n)
    ctx.fail("attribute output_shape " + ints_str(out_shape) + " must have one value per spatial dimension (" +
             std::to_string(n) + ")");
  for (int64_t v : out_shape)
    if (v < 0) ctx.fail("attribute output_shape " + ints_str(out_shape) + " must not be negative");
  const std::string auto_pad = auto_pad_of(ctx);
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  w.pad_begin.assign(n, 0);
  w.pad_end.assign(n, 0);
  w.out.assign(n, 0);
  std::vector<int64_t> pads;
  if (auto_pad == "NOTSET" && ctx.has_attr("pads")) {
    pads = ctx.attr_ints("pads");
    if (static_cast<int>(pads.size()) != 2 * n)
      ctx.fail("attribute 'pads' " + ints_str(pads) + " must have 2 values per spatial dimension (" +
               std::to_string(2 * n) + ")");
    for (int64_t v : pads)
      if (v < 0) ctx.fail("attribute 'pads' " + ints_str(pads) + " must not be negative");
  }
  for (int d = 0; d < n; ++d) {
    const int64_t ek = ctx.add(ctx.mul(w.kernel[d] - 1, w.dilation[d], "dilations"), 1, "dilations");
    const int64_t full =  // output size with no padding
        ctx.add(ctx.add(ctx.mul(w.stride[d], w.in[d] - 1, "strides"), out_pad[d], "output_padding"),
                ek, "dilations");
    if (!pads.empty() || (!same && out_shape.empty() && auto_pad != "VALID")) {
      // Explicit pads (or none): the output is `full` minus the pads unless output_shape says otherwise.
      w.pad_begin[d] = pads.empty() ? 0 : pads[d];
      w.pad_end[d] = pads.empty() ? 0 : pads[d + n];
      w.out[d] = out_shape.empty() ? ctx.add(full - w.pad_begin[d], -w.pad_end[d], "pads") : out_shape[d];
    } else if (auto_pad == "VALID" && out_shape.empty()) {
      w.out[d] = full;
    } else {
      // Pads derived from the target shape (output_shape, or in*stride for SAME_*).
      const int64_t target = out_shape.empty() ? ctx.mul(w.in[d], w.stride[d], "strides") : out_shape[d];
      const int64_t total = full - target;
      if (auto_pad == "SAME_UPPER") {
        w.pad_begin[d] = floor_div(total, 2);
      } else {
        w.pad_begin[d] = total - floor_div(total, 2);
      }
      w.pad_end[d] = total - w.pad_begin[d];
      w.out[d] = target;
    }
    if (w.out[d] < 0)
      ctx.fail("computed a negative output size along spatial dimension " + std::to_string(d) +
               " (the pads exceed the transposed convolution's extent " + std::to_string(full) + ")");
  }
  Shape out{x[0], m};
  out.insert(out.end(), w.out.begin(), w.out.end());
  ctx.set_output(0, DType::F32, out);
  ConvParams& p = ctx.use_kernel<ConvParams>("rtml_f32_conv_transpose__ref");
  fill_conv_params(ctx, p, w, x[0], c, m, group);
  ctx.step.flops = 2.0 * double(x[0]) * double(c) * double(m / group) * double(p.in_size) * double(p.kernel_size);
}

// ---------------------------------------------------------------- pools

// The type's short name in kernel symbols (MaxPool's types).
const char* pool_type(DType dt) {
  return dt == DType::F64 ? "f64" : dt == DType::U8 ? "u8" : dt == DType::I8 ? "s8" : "f32";
}

enum class PoolKind { Max, Average, Lp };

void prepare_pool(OpContext& ctx, PoolKind kind) {
  ctx.expect_inputs(1, 1);
  // int8 AveragePool only as the planner's fused QDQ form (kFusedDomain).
  const bool quantized_average = kind == PoolKind::Average && ctx.node().domain == kFusedDomain;
  if (kind == PoolKind::Max) ctx.expect_dtype(0, {DType::F32, DType::F64, DType::U8, DType::I8});
  else if (quantized_average) ctx.expect_dtype(0, {DType::U8, DType::I8});
  else ctx.expect_dtype(0, {DType::F32});
  const DType dt = ctx.input(0).dtype;
  const Shape& x = ctx.input(0).shape;
  check_rank(ctx, static_cast<int>(x.size()), 3);
  Window w;
  w.n = static_cast<int>(x.size()) - 2;
  w.in.assign(x.begin() + 2, x.end());
  if (!ctx.has_attr("kernel_shape")) ctx.fail("attribute kernel_shape is required");
  w.kernel = spatial_attr(ctx, "kernel_shape", w.n, 1, 1);
  w.stride = spatial_attr(ctx, "strides", w.n, 1, 1);
  w.dilation = spatial_attr(ctx, "dilations", w.n, 1, 1);
  const int64_t ceil_mode = ctx.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) ctx.fail("attribute ceil_mode must be 0 or 1");
  resolve_window(ctx, w, ceil_mode == 1);
  Shape out{x[0], x[1]};
  out.insert(out.end(), w.out.begin(), w.out.end());
  ctx.set_output(0, dt, out);

  PoolParams p{};
  p.spatial = w.n;
  p.planes = x[0] * x[1];
  set_window(p, w);
  for (int d = 0; d < w.n; ++d) p.pad_end[d] = w.pad_end[d];
  ctx.step.flops = double(p.planes) * double(p.out_size) * double(p.kernel_size);
  // The fast pools (1-D / 2-D, no dilation) in the simd kernel set: float32, and int8 / uint8 MaxPool.
  const bool fast_max = ctx.simd() && (dt == DType::F32 || dt == DType::I8 || dt == DType::U8) &&
                        kernels::fast_pool_supported(p);
  const bool fast = fast_max && dt == DType::F32;
  std::string symbol;
  switch (kind) {
    case PoolKind::Max: {
      const int64_t order = ctx.attr_int("storage_order", 0);
      if (order != 0 && order != 1) ctx.fail("attribute storage_order must be 0 (row major) or 1 (column major)");
      p.storage_order = static_cast<int32_t>(order);
      if (ctx.num_outputs() > 2) ctx.fail("expects at most 2 outputs (Y, Indices)");
      p.has_indices = ctx.num_outputs() == 2;
      const bool indices = p.has_indices && ctx.has_output(1);
      if (indices) ctx.set_output(1, DType::I64, out);
      // The fast kernel writes no Indices.
      symbol = std::string("rtml_") + pool_type(dt) + (fast_max && !indices ? "_maxpool__hwy" : "_maxpool__ref");
      break;
    }
    case PoolKind::Average: {
      const int64_t cip = ctx.attr_int("count_include_pad", 0);
      if (cip != 0 && cip != 1) ctx.fail("attribute count_include_pad must be 0 or 1");
      p.count_include_pad = cip == 1;
      symbol = fast ? "rtml_f32_avgpool__hwy" : "rtml_f32_avgpool__ref";
      if (quantized_average) {  // averages the stored values: padding (the zero point) must not count
        if (p.count_include_pad || ceil_mode) ctx.fail("int8 AveragePool needs count_include_pad 0 and ceil_mode 0");
        for (int d = 0; d < w.n; ++d)
          if (w.pad_begin[d] >= w.kernel[d] || w.pad_end[d] >= w.kernel[d])
            ctx.fail("int8 AveragePool needs pads smaller than the kernel");
        symbol = std::string("rtml_") + pool_type(dt) + "_avgpool__ref";
      }
      break;
    }
    case PoolKind::Lp: {
      p.p = ctx.attr_float("p", 2.0f);
      if (!(p.p > 0)) ctx.fail("attribute p must be positive");
      symbol = "rtml_f32_lppool__ref";
      break;
    }
  }
  if (symbol.find("__hwy") != std::string::npos) (void)kernels::fast_pool_target();  // resolves the dispatch now
  ctx.use_kernel<PoolParams>(symbol.c_str()) = p;
}

void prepare_max_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Max); }
void prepare_average_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Average); }
void prepare_lp_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Lp); }

void prepare_global_pool(OpContext& ctx, PoolKind kind) {
  ctx.expect_inputs(1, 1);
  if (kind == PoolKind::Max) ctx.expect_dtype(0, {DType::F32, DType::F64, DType::U8, DType::I8});
  else ctx.expect_dtype(0, {DType::F32});
  const DType dt = ctx.input(0).dtype;
  const Shape& x = ctx.input(0).shape;
  check_rank(ctx, static_cast<int>(x.size()), 2);
  auto p = rtml_global_pool_params{};
  p.planes = x[0] * x[1];
  p.size = shape_numel(Shape(x.begin() + 2, x.end()));
  Shape out = x;
  for (size_t d = 2; d < out.size(); ++d) out[d] = 1;
  ctx.set_output(0, dt, out);
  ctx.step.flops = double(p.planes) * double(p.size);
  std::string symbol = std::string("rtml_") + pool_type(dt) + "_global_maxpool__ref";
  if (kind == PoolKind::Average) symbol = "rtml_f32_global_avgpool__ref";
  if (kind == PoolKind::Lp) {
    p.p = ctx.attr_float("p", 2.0f);
    if (!(p.p > 0)) ctx.fail("attribute p must be positive");
    symbol = "rtml_f32_global_lppool__ref";
  }
  ctx.use_kernel<rtml_global_pool_params>(symbol.c_str()) = p;
}

void prepare_global_max_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Max); }
void prepare_global_average_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Average); }
void prepare_global_lp_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Lp); }

// ---------------------------------------------------------------- BatchNormalization

void prepare_batch_normalization(OpContext& ctx) {
  ctx.expect_inputs(5, 5);
  for (int i = 0; i < 5; ++i) ctx.expect_dtype(i, {DType::F32});
  const Shape& x = ctx.input(0).shape;
  check_rank(ctx, static_cast<int>(x.size()), 2);
  const int64_t c = x[1];
  if (ctx.attr_int("spatial", 1) != 1)
    ctx.fail("attribute spatial=0 (per-activation statistics, opset < 9) is not supported");
  static const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; ++i)
    if (ctx.input(i).shape != Shape{c})
      ctx.fail(std::string("input ") + names[i] + " has shape " + shape_str(ctx.input(i).shape) + "; expected [" +
               std::to_string(c) + "] (one value per channel of X " + shape_str(x) + ")");
  bool training = false;
  if (ctx.opset() >= 14) {
    const int64_t tm = ctx.attr_int("training_mode", 0);
    if (tm != 0 && tm != 1) ctx.fail("attribute training_mode must be 0 or 1");
    training = tm == 1;
    if (ctx.num_outputs() > 3) ctx.fail("expects at most 3 outputs (Y, running_mean, running_var)");
    if (!training && (ctx.has_output(1) || ctx.has_output(2)))
      ctx.fail("outputs running_mean/running_var are only produced with training_mode=1");
  } else {
    for (int i = 1; i < ctx.num_outputs(); ++i)
      if (ctx.has_output(i))
        ctx.fail("training-mode outputs (mean, var, saved_mean, saved_var) of opset " + std::to_string(ctx.opset()) +
                 " BatchNormalization are not supported; only inference (output Y) is");
  }
  BatchNormParams& p = ctx.use_kernel<BatchNormParams>(training ? "rtml_f32_batchnorm_training__ref"
                                                                 : "rtml_f32_batchnorm__ref");
  p.num_outputs = ctx.num_outputs();
  p.batch = x[0];
  p.channels = c;
  p.inner = shape_numel(Shape(x.begin() + 2, x.end()));
  p.epsilon = ctx.attr_float("epsilon", 1e-5f);
  p.momentum = ctx.attr_float("momentum", 0.9f);
  if (!(p.epsilon >= 0)) ctx.fail("attribute epsilon must not be negative");
  ctx.set_output(0, DType::F32, x);
  if (training) {
    if (ctx.has_output(1)) ctx.set_output(1, DType::F32, {c});
    if (ctx.has_output(2)) ctx.set_output(2, DType::F32, {c});
    ctx.step.flops = 5.0 * double(shape_numel(x));
  } else {
    ctx.step.flops = 2.0 * double(shape_numel(x));
  }
}

}  // namespace

// AveragePool on int8 / uint8 for plan/passes/fuse_qdq.cpp (kFusedDomain).
void register_pool_fused(Registry& r) { r.add({"AveragePool", prepare_average_pool}); }

void register_conv(Registry& r) {
  r.add({"Conv", prepare_conv});
  r.add({"ConvTranspose", prepare_conv_transpose});
  r.add({"MaxPool", prepare_max_pool});
  r.add({"AveragePool", prepare_average_pool});
  r.add({"LpPool", prepare_lp_pool});
  r.add({"GlobalMaxPool", prepare_global_max_pool});
  r.add({"GlobalAveragePool", prepare_global_average_pool});
  r.add({"GlobalLpPool", prepare_global_lp_pool});
  r.add({"BatchNormalization", prepare_batch_normalization});
}

}  // namespace rtml::ops
