// Conv, ConvTranspose, pooling and BatchNormalization.
//
// All geometry (kernel shape, strides, dilations, pads after auto_pad,
// ceil_mode, output shape) is resolved here at prepare time and stored in
// the kernels' fixed-size params; see kernels/conv.h and kernels/pool.h.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
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

// kBiasSlot: the node lists a third input (B; an omitted one is nullptr). Without
// it the output is operand 2.
template <bool kBiasSlot>
int run_conv_f32(const void* params, void* const* ops) {
  kernels::conv_f32(*static_cast<const ConvParams*>(params), static_cast<const float*>(ops[0]),
                    static_cast<const float*>(ops[1]), kBiasSlot ? static_cast<const float*>(ops[2]) : nullptr,
                    static_cast<float*>(ops[kBiasSlot ? 3 : 2]));
  return 0;
}

template <bool kBiasSlot>
int run_conv_transpose_f32(const void* params, void* const* ops) {
  kernels::conv_transpose_f32(*static_cast<const ConvParams*>(params), static_cast<const float*>(ops[0]),
                              static_cast<const float*>(ops[1]),
                              kBiasSlot ? static_cast<const float*>(ops[2]) : nullptr,
                              static_cast<float*>(ops[kBiasSlot ? 3 : 2]));
  return 0;
}

bool has_bias_slot(const OpContext& ctx) { return ctx.node().inputs.size() >= 3; }

// Fast Conv for float32 with constant weights (and bias): im2row + packed GEMM.
// Per batch item and group, the scratch `rows` gets one row per output
// position holding its receptive field (Cg input channels x kernel taps,
// zeros where the window reaches into the padding); then
//     rows[out_size x Cg*taps] * W_g^T[Cg*taps x Mg] (+ bias) -> tmp[out_size x Mg]
// with W_g^T packed at prepare, and tmp is transposed into Y's channel planes.
// Which input element each (output position, tap) reads is precomputed at
// prepare (`tap_offset`, -1 for padding), so the run is a gather and a GEMM.
struct Im2RowConvParams {
  int64_t batch = 1, in_channels = 1, out_channels = 1, group = 1;
  int64_t in_size = 1, out_size = 1, taps = 1;
  std::vector<int32_t> tap_offset;       // out_size x taps: offset in an input plane, or -1
  std::vector<kernels::PackedB> weights;  // one per group
  int out_slot = 2;
  // Fused epilogue (Step::fuse): + the operand after Y (same shape), then ReLU.
  bool residual = false, relu = false;
};

int run_conv_im2row_f32(const void* params, void* const* ops) {
  const auto& p = *static_cast<const Im2RowConvParams*>(params);
  const float* x = static_cast<const float*>(ops[0]);
  float* y = static_cast<float*>(ops[p.out_slot]);
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t kdim = cg * p.taps;
  const float* res = p.residual ? static_cast<const float*>(ops[p.out_slot + 1]) : nullptr;
  float* rows = static_cast<float*>(ops[p.out_slot + 1 + (p.residual ? 1 : 0)]);
  float* tmp = rows + p.out_size * kdim;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * p.in_size;
      for (int64_t o = 0; o < p.out_size; ++o) {
        const int32_t* off = p.tap_offset.data() + o * p.taps;
        float* row = rows + o * kdim;
        for (int64_t c = 0; c < cg; ++c) {
          const float* plane = xg + c * p.in_size;
          float* dst = row + c * p.taps;
          for (int64_t t = 0; t < p.taps; ++t) dst[t] = off[t] < 0 ? 0.0f : plane[off[t]];
        }
      }
      // Without a residual the GEMM's store applies the ReLU; with one, the
      // ReLU comes after the add, in the transposition.
      kernels::fast_gemm(p.out_size, rows, kdim, p.weights[static_cast<size_t>(g)], tmp, mg, p.relu && !res);
      const int64_t yoff = (n * p.out_channels + g * mg) * p.out_size;
      float* yg = y + yoff;
      if (!res) {
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m];
      } else if (!p.relu) {
        const float* rg = res + yoff;
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) yg[m * p.out_size + o] = tmp[o * mg + m] + rg[m * p.out_size + o];
      } else {
        const float* rg = res + yoff;
        for (int64_t o = 0; o < p.out_size; ++o)
          for (int64_t m = 0; m < mg; ++m) {
            const float v = tmp[o * mg + m] + rg[m * p.out_size + o];
            yg[m * p.out_size + o] = v > 0.0f ? v : 0.0f;
          }
      }
    }
  }
  return 0;
}

// The kernel names of a fused epilogue: base, +add, +relu, +add+relu.
const char* fused_name(const char* const names[4], bool residual, bool relu) {
  return names[(residual ? 1 : 0) + (relu ? 2 : 0)];
}

// Step::fuse of both fast Conv kernels: the residual Add comes before the
// ReLU, so nothing fuses once the ReLU has.
template <class P>
bool fuse_conv(ops::Step& step, ops::Step::Epilogue what, const char* const names[4]) {
  auto& p = *static_cast<P*>(step.params.get());
  if (p.relu) return false;
  if (what == ops::Step::Epilogue::Relu) {
    p.relu = true;
  } else {
    if (p.residual) return false;
    p.residual = true;
  }
  step.kernel = fused_name(names, p.residual, p.relu);
  return true;
}

const char* const kIm2Row1d[4] = {"conv1d_im2row_gemm_f32", "conv1d_im2row_gemm_f32+add",
                                  "conv1d_im2row_gemm_f32+relu", "conv1d_im2row_gemm_f32+add+relu"};
const char* const kIm2Row2d[4] = {"conv2d_im2row_gemm_f32", "conv2d_im2row_gemm_f32+add",
                                  "conv2d_im2row_gemm_f32+relu", "conv2d_im2row_gemm_f32+add+relu"};
const char* const kIm2RowNd[4] = {"convnd_im2row_gemm_f32", "convnd_im2row_gemm_f32+add",
                                  "convnd_im2row_gemm_f32+relu", "convnd_im2row_gemm_f32+add+relu"};

bool fuse_im2row_1d(ops::Step& s, ops::Step::Epilogue w) { return fuse_conv<Im2RowConvParams>(s, w, kIm2Row1d); }
bool fuse_im2row_2d(ops::Step& s, ops::Step::Epilogue w) { return fuse_conv<Im2RowConvParams>(s, w, kIm2Row2d); }
bool fuse_im2row_nd(ops::Step& s, ops::Step::Epilogue w) { return fuse_conv<Im2RowConvParams>(s, w, kIm2RowNd); }

// Fast 1-D Conv with stride 1 and constant weights (kernels/fast_conv.h):
// W and B are read from their (constant) operands at run time.
struct FastConv1dOpParams {
  kernels::FastConv1dParams conv;
  bool has_bias = false;
  int out_slot = 2;
  bool residual = false, relu = false;  // fused epilogue, as Im2RowConvParams
};

int run_conv1d_fast_f32(const void* params, void* const* ops) {
  const auto& p = *static_cast<const FastConv1dOpParams*>(params);
  const float* res = p.residual ? static_cast<const float*>(ops[p.out_slot + 1]) : nullptr;
  kernels::fast_conv1d_f32(p.conv, static_cast<const float*>(ops[0]), static_cast<const float*>(ops[1]),
                           p.has_bias ? static_cast<const float*>(ops[2]) : nullptr, res, p.relu,
                           static_cast<float*>(ops[p.out_slot]),
                           static_cast<float*>(ops[p.out_slot + 1 + (p.residual ? 1 : 0)]));
  return 0;
}

const char* const kFast1d[4] = {"conv1d_fast_f32", "conv1d_fast_f32+add", "conv1d_fast_f32+relu",
                                "conv1d_fast_f32+add+relu"};
bool fuse_conv1d_fast(ops::Step& s, ops::Step::Epilogue w) { return fuse_conv<FastConv1dOpParams>(s, w, kFast1d); }

// Chooses the fast 1-D kernel when it applies: one spatial dim, stride 1,
// constant W and B (depthwise too: its tiles are one channel row).
bool prepare_conv1d_fast(OpContext& ctx, const ConvParams& cp) {
  const bool bias_const = !ctx.has_input(2) || ctx.is_constant(2);
  const int64_t mg = cp.out_channels / cp.group;
  if (cp.spatial != 1 || cp.stride[0] != 1 || !ctx.is_constant(1) || !bias_const || cp.out_size == 0)
    return false;
  const ConvParams c = cp;
  auto& p = make_params<FastConv1dOpParams>(ctx.step);
  p.conv.batch = c.batch;
  p.conv.in_channels = c.in_channels;
  p.conv.out_channels = c.out_channels;
  p.conv.group = c.group;
  p.conv.in_len = c.in_size;
  p.conv.out_len = c.out_size;
  p.conv.taps = c.kernel_size;
  p.conv.dilation = c.dilation[0];
  p.conv.pad_begin = c.pad_begin[0];
  p.has_bias = ctx.has_input(2);
  p.out_slot = static_cast<int>(ctx.node().inputs.size());
  ctx.step.scratch_bytes = static_cast<size_t>(kernels::fast_conv1d_prepare(p.conv)) * sizeof(float);
  ctx.step.run = run_conv1d_fast_f32;
  ctx.step.kernel = kFast1d[0];
  ctx.step.fuse = fuse_conv1d_fast;
  return true;
}

// Fast 2-D Conv with stride 1 and constant weights: per batch item and
// group, the input channels are copied into the scratch with zero borders
// (padded planes of Hp x Wp), then the im2col matrix (Cg*taps rows, one per
// channel and tap: the output positions' inputs, a copy of out_w floats per
// output row) is built beside them, and the fast conv's tiles compute
// W_g * im2col straight into Y's channel planes (no transposition), with the
// fused epilogue.
struct FastConv2dOpParams {
  int64_t batch = 1, in_channels = 1, out_channels = 1, group = 1;
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1, kh = 1, kw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0;
  int64_t hp = 1, wp = 1;  // padded plane: out_h + (kh-1)*dh rows of out_w + (kw-1)*dw
  int64_t ldb = 1;         // row stride of the im2col matrix
  bool has_bias = false;
  int out_slot = 2;
  bool residual = false, relu = false;
};

// Copies n floats, 8 at a time where it can (fixed-size copies compile to vector moves).
inline void copy_floats(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) std::memcpy(dst + i, src + i, 8 * sizeof(float));
  for (; i < n; ++i) dst[i] = src[i];
}

int run_conv2d_fast_f32(const void* params, void* const* ops) {
  const auto& p = *static_cast<const FastConv2dOpParams*>(params);
  const float* x = static_cast<const float*>(ops[0]);
  const float* w = static_cast<const float*>(ops[1]);
  const float* bias = p.has_bias ? static_cast<const float*>(ops[2]) : nullptr;
  float* y = static_cast<float*>(ops[p.out_slot]);
  const float* res = p.residual ? static_cast<const float*>(ops[p.out_slot + 1]) : nullptr;
  const int64_t cg = p.in_channels / p.group, mg = p.out_channels / p.group;
  const int64_t plane = p.in_h * p.in_w, pplane = p.hp * p.wp, out_size = p.out_h * p.out_w;
  const int64_t kdim = cg * p.kh * p.kw;
  float* col = static_cast<float*>(ops[p.out_slot + 1 + (p.residual ? 1 : 0)]);
  float* xpad = col + kdim * p.ldb;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cg) * plane;
      std::fill(xpad, xpad + cg * pplane, 0.0f);
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t ih = 0; ih < p.in_h; ++ih)
          copy_floats(xpad + c * pplane + (ih + p.pad_top) * p.wp + p.pad_left, xg + c * plane + ih * p.in_w, p.in_w);
      float* row = col;
      for (int64_t c = 0; c < cg; ++c)
        for (int64_t th = 0; th < p.kh; ++th)
          for (int64_t tw = 0; tw < p.kw; ++tw, row += p.ldb) {
            const float* src = xpad + c * pplane + th * p.dh * p.wp + tw * p.dw;
            for (int64_t oh = 0; oh < p.out_h; ++oh) copy_floats(row + oh * p.out_w, src + oh * p.wp, p.out_w);
          }
      const int64_t yoff = (n * p.out_channels + g * mg) * out_size;
      kernels::fast_conv_gemm_f32(mg, kdim, out_size, w + g * mg * kdim, col, p.ldb, bias ? bias + g * mg : nullptr,
                                  res ? res + yoff : nullptr, p.relu, y + yoff);
    }
  }
  return 0;
}

const char* const kFast2d[4] = {"conv2d_fast_f32", "conv2d_fast_f32+add", "conv2d_fast_f32+relu",
                                "conv2d_fast_f32+add+relu"};
bool fuse_conv2d_fast(ops::Step& s, ops::Step::Epilogue w) { return fuse_conv<FastConv2dOpParams>(s, w, kFast2d); }

// Chooses the fast 2-D kernel: stride 1, constant W and B, at least 2 output
// channels per group (depthwise keeps the direct kernel).
bool prepare_conv2d_fast(OpContext& ctx, const ConvParams& cp) {
  const bool bias_const = !ctx.has_input(2) || ctx.is_constant(2);
  const int64_t mg = cp.out_channels / cp.group;
  if (cp.spatial != 2 || cp.stride[0] != 1 || cp.stride[1] != 1 || !ctx.is_constant(1) || !bias_const || mg < 2 ||
      cp.out_size == 0)
    return false;
  const ConvParams c = cp;
  auto& p = make_params<FastConv2dOpParams>(ctx.step);
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.group = c.group;
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
  p.has_bias = ctx.has_input(2);
  p.out_slot = static_cast<int>(ctx.node().inputs.size());
  const int64_t cg = c.in_channels / c.group, kdim = cg * c.kernel_size;
  ctx.step.scratch_bytes = static_cast<size_t>(kdim * p.ldb + cg * p.hp * p.wp) * sizeof(float);
  (void)kernels::fast_conv_target();  // resolves the dispatch now, at prepare
  ctx.step.run = run_conv2d_fast_f32;
  ctx.step.kernel = kFast2d[0];
  ctx.step.fuse = fuse_conv2d_fast;
  return true;
}

// Chooses the im2row + GEMM kernel when it applies; false leaves the direct one.
bool prepare_conv_im2row(OpContext& ctx, const ConvParams& cp) {
  const bool bias_const = !ctx.has_input(2) || ctx.is_constant(2);
  const int64_t cg = cp.in_channels / cp.group, mg = cp.out_channels / cp.group;
  // Depthwise (one output channel per group) would be a 1-column GEMM: the
  // direct kernel does better there.
  if (!ctx.is_constant(1) || !bias_const || mg < 2 || cp.out_size == 0 || cg * cp.kernel_size == 0) return false;
  if (cp.in_size > INT32_MAX || cp.out_size * cp.kernel_size > (int64_t{1} << 26)) return false;
  const ConvParams c = cp;
  const float* w = ctx.input(1).as<float>();
  const float* bias = ctx.has_input(2) ? ctx.input(2).as<float>() : nullptr;
  const int out_slot = static_cast<int>(ctx.node().inputs.size());
  auto& p = make_params<Im2RowConvParams>(ctx.step);
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.group = c.group;
  p.in_size = c.in_size;
  p.out_size = c.out_size;
  p.taps = c.kernel_size;
  p.out_slot = out_slot;
  // Input offset of every (output position, kernel tap), row-major over both.
  p.tap_offset.assign(static_cast<size_t>(c.out_size * c.kernel_size), -1);
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
      if (inside) p.tap_offset[static_cast<size_t>(oi * c.kernel_size + ti)] = static_cast<int32_t>(off);
      for (int d = n - 1; d >= 0 && ++t[d] == c.kernel[d]; --d) t[d] = 0;
    }
    for (int d = n - 1; d >= 0 && ++o[d] == c.out_shape[d]; --d) o[d] = 0;
  }
  // W is (M, Cg, taps...): group g's rows are an Mg x (Cg*taps) matrix, i.e.
  // the transposed B of rows * B.
  const int64_t kdim = cg * c.kernel_size;
  for (int64_t g = 0; g < c.group; ++g)
    p.weights.push_back(kernels::pack_b(kdim, mg, w + g * mg * kdim, kdim, true, 1.0f, bias ? bias + g * mg : nullptr));
  ctx.step.scratch_bytes = static_cast<size_t>(c.out_size * (kdim + mg)) * sizeof(float);
  ctx.step.run = run_conv_im2row_f32;
  ctx.step.kernel = n == 1 ? kIm2Row1d[0] : n == 2 ? kIm2Row2d[0] : kIm2RowNd[0];
  ctx.step.fuse = n == 1 ? fuse_im2row_1d : n == 2 ? fuse_im2row_2d : fuse_im2row_nd;
  return true;
}

void fill_conv_params(ConvParams& p, const Window& w, int64_t batch, int64_t c, int64_t m, int64_t group) {
  p.spatial = w.n;
  p.batch = batch;
  p.in_channels = c;
  p.out_channels = m;
  p.group = group;
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
  ConvParams& p = make_params<ConvParams>(ctx.step);
  fill_conv_params(p, w, x[0], c, m, group);
  ctx.step.run = has_bias_slot(ctx) ? run_conv_f32<true> : run_conv_f32<false>;
  ctx.step.kernel = w.n == 1 ? "conv1d_direct_f32" : w.n == 2 ? "conv2d_direct_f32" : "convnd_direct_f32";
  ctx.step.flops = 2.0 * double(x[0]) * double(m) * double(p.out_size) * double(c / group) * double(p.kernel_size);
  if (!prepare_conv1d_fast(ctx, p) && !prepare_conv2d_fast(ctx, p)) prepare_conv_im2row(ctx, p);
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
  ConvParams& p = make_params<ConvParams>(ctx.step);
  fill_conv_params(p, w, x[0], c, m, group);
  ctx.step.run = has_bias_slot(ctx) ? run_conv_transpose_f32<true> : run_conv_transpose_f32<false>;
  ctx.step.kernel = "conv_transpose_direct_f32";
  ctx.step.flops = 2.0 * double(x[0]) * double(c) * double(m / group) * double(p.in_size) * double(p.kernel_size);
}

// ---------------------------------------------------------------- pools

// kIndices: the node lists a second output slot (Indices; may still be omitted -> nullptr).
template <class T, bool kIndices>
int run_maxpool(const void* params, void* const* ops) {
  kernels::maxpool<T>(*static_cast<const PoolParams*>(params), static_cast<const T*>(ops[0]), static_cast<T*>(ops[1]),
                      kIndices ? static_cast<int64_t*>(ops[2]) : nullptr);
  return 0;
}
int run_avgpool_f32(const void* params, void* const* ops) {
  kernels::avgpool_f32(*static_cast<const PoolParams*>(params), static_cast<const float*>(ops[0]),
                       static_cast<float*>(ops[1]));
  return 0;
}
// The fast 1-D / 2-D float32 pools (kernels/fast_pool.h); MaxPool's run
// ignores an Indices slot, which prepare allows only when the output is omitted.
int run_maxpool_fast_f32(const void* params, void* const* ops) {
  kernels::fast_maxpool_f32(*static_cast<const PoolParams*>(params), static_cast<const float*>(ops[0]),
                            static_cast<float*>(ops[1]));
  return 0;
}
int run_avgpool_fast_f32(const void* params, void* const* ops) {
  kernels::fast_avgpool_f32(*static_cast<const PoolParams*>(params), static_cast<const float*>(ops[0]),
                            static_cast<float*>(ops[1]));
  return 0;
}
int run_lppool_f32(const void* params, void* const* ops) {
  kernels::lppool_f32(*static_cast<const PoolParams*>(params), static_cast<const float*>(ops[0]),
                      static_cast<float*>(ops[1]));
  return 0;
}

enum class PoolKind { Max, Average, Lp };

void prepare_pool(OpContext& ctx, PoolKind kind) {
  ctx.expect_inputs(1, 1);
  if (kind == PoolKind::Max) ctx.expect_dtype(0, {DType::F32, DType::F64, DType::U8, DType::I8});
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

  PoolParams& p = make_params<PoolParams>(ctx.step);
  p.spatial = w.n;
  p.planes = x[0] * x[1];
  for (int d = 0; d < w.n; ++d) {
    p.in_shape[d] = w.in[d];
    p.out_shape[d] = w.out[d];
    p.kernel[d] = w.kernel[d];
    p.stride[d] = w.stride[d];
    p.dilation[d] = w.dilation[d];
    p.pad_begin[d] = w.pad_begin[d];
    p.pad_end[d] = w.pad_end[d];
    p.in_size *= w.in[d];
    p.out_size *= w.out[d];
    p.kernel_size *= w.kernel[d];
  }
  ctx.step.flops = double(p.planes) * double(p.out_size) * double(p.kernel_size);
  switch (kind) {
    case PoolKind::Max: {
      const int64_t order = ctx.attr_int("storage_order", 0);
      if (order != 0 && order != 1) ctx.fail("attribute storage_order must be 0 (row major) or 1 (column major)");
      p.storage_order = static_cast<int>(order);
      if (ctx.num_outputs() > 2) ctx.fail("expects at most 2 outputs (Y, Indices)");
      const bool idx = ctx.num_outputs() == 2;
      if (idx && ctx.has_output(1)) ctx.set_output(1, DType::I64, out);
      switch (dt) {
        case DType::F64:
          ctx.step.run = idx ? run_maxpool<double, true> : run_maxpool<double, false>;
          ctx.step.kernel = "maxpool_f64";
          break;
        case DType::U8:
          ctx.step.run = idx ? run_maxpool<uint8_t, true> : run_maxpool<uint8_t, false>;
          ctx.step.kernel = "maxpool_u8";
          break;
        case DType::I8:
          ctx.step.run = idx ? run_maxpool<int8_t, true> : run_maxpool<int8_t, false>;
          ctx.step.kernel = "maxpool_i8";
          break;
        default:
          if (!(idx && ctx.has_output(1)) && kernels::fast_pool_supported(p)) {
            (void)kernels::fast_pool_target();  // resolves the dispatch now, at prepare
            ctx.step.run = run_maxpool_fast_f32;
            ctx.step.kernel = "maxpool_fast_f32";
            break;
          }
          ctx.step.run = idx ? run_maxpool<float, true> : run_maxpool<float, false>;
          ctx.step.kernel = "maxpool_f32";
          break;
      }
      break;
    }
    case PoolKind::Average: {
      const int64_t cip = ctx.attr_int("count_include_pad", 0);
      if (cip != 0 && cip != 1) ctx.fail("attribute count_include_pad must be 0 or 1");
      p.count_include_pad = cip == 1;
      if (kernels::fast_pool_supported(p)) {
        (void)kernels::fast_pool_target();  // resolves the dispatch now, at prepare
        ctx.step.run = run_avgpool_fast_f32;
        ctx.step.kernel = "avgpool_fast_f32";
        break;
      }
      ctx.step.run = run_avgpool_f32;
      ctx.step.kernel = "avgpool_f32";
      break;
    }
    case PoolKind::Lp: {
      p.p = ctx.attr_float("p", 2.0f);
      if (!(p.p > 0)) ctx.fail("attribute p must be positive");
      ctx.step.run = run_lppool_f32;
      ctx.step.kernel = "lppool_f32";
      break;
    }
  }
}

void prepare_max_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Max); }
void prepare_average_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Average); }
void prepare_lp_pool(OpContext& ctx) { prepare_pool(ctx, PoolKind::Lp); }

struct GlobalPoolParams {
  int64_t planes = 1;
  int64_t size = 1;
  float p = 2.0f;
};

int run_global_avg_f32(const void* params, void* const* ops) {
  auto& p = *static_cast<const GlobalPoolParams*>(params);
  kernels::global_avgpool_f32(p.planes, p.size, static_cast<const float*>(ops[0]), static_cast<float*>(ops[1]));
  return 0;
}
template <class T>
int run_global_max(const void* params, void* const* ops) {
  auto& p = *static_cast<const GlobalPoolParams*>(params);
  kernels::global_maxpool<T>(p.planes, p.size, static_cast<const T*>(ops[0]), static_cast<T*>(ops[1]));
  return 0;
}
int run_global_lp_f32(const void* params, void* const* ops) {
  auto& p = *static_cast<const GlobalPoolParams*>(params);
  kernels::global_lppool_f32(p.planes, p.size, p.p, static_cast<const float*>(ops[0]), static_cast<float*>(ops[1]));
  return 0;
}

void prepare_global_pool(OpContext& ctx, PoolKind kind) {
  ctx.expect_inputs(1, 1);
  if (kind == PoolKind::Max) ctx.expect_dtype(0, {DType::F32, DType::F64, DType::U8, DType::I8});
  else ctx.expect_dtype(0, {DType::F32});
  const DType dt = ctx.input(0).dtype;
  const Shape& x = ctx.input(0).shape;
  check_rank(ctx, static_cast<int>(x.size()), 2);
  GlobalPoolParams& p = make_params<GlobalPoolParams>(ctx.step);
  p.planes = x[0] * x[1];
  p.size = shape_numel(Shape(x.begin() + 2, x.end()));
  Shape out = x;
  for (size_t d = 2; d < out.size(); ++d) out[d] = 1;
  ctx.set_output(0, dt, out);
  ctx.step.flops = double(p.planes) * double(p.size);
  switch (kind) {
    case PoolKind::Max:
      switch (dt) {
        case DType::F64: ctx.step.run = run_global_max<double>; ctx.step.kernel = "global_maxpool_f64"; break;
        case DType::U8: ctx.step.run = run_global_max<uint8_t>; ctx.step.kernel = "global_maxpool_u8"; break;
        case DType::I8: ctx.step.run = run_global_max<int8_t>; ctx.step.kernel = "global_maxpool_i8"; break;
        default: ctx.step.run = run_global_max<float>; ctx.step.kernel = "global_maxpool_f32"; break;
      }
      break;
    case PoolKind::Average:
      ctx.step.run = run_global_avg_f32;
      ctx.step.kernel = "global_avgpool_f32";
      break;
    case PoolKind::Lp:
      p.p = ctx.attr_float("p", 2.0f);
      if (!(p.p > 0)) ctx.fail("attribute p must be positive");
      ctx.step.run = run_global_lp_f32;
      ctx.step.kernel = "global_lppool_f32";
      break;
  }
}

void prepare_global_max_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Max); }
void prepare_global_average_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Average); }
void prepare_global_lp_pool(OpContext& ctx) { prepare_global_pool(ctx, PoolKind::Lp); }

// ---------------------------------------------------------------- BatchNormalization

int run_batchnorm_f32(const void* params, void* const* ops) {
  kernels::batchnorm_f32(*static_cast<const BatchNormParams*>(params), static_cast<const float*>(ops[0]),
                         static_cast<const float*>(ops[1]), static_cast<const float*>(ops[2]),
                         static_cast<const float*>(ops[3]), static_cast<const float*>(ops[4]),
                         static_cast<float*>(ops[5]));
  return 0;
}

// kOutputs: how many output slots the node lists (1 to 3).
template <int kOutputs>
int run_batchnorm_training_f32(const void* params, void* const* ops) {
  kernels::batchnorm_training_f32(*static_cast<const BatchNormParams*>(params), static_cast<const float*>(ops[0]),
                                  static_cast<const float*>(ops[1]), static_cast<const float*>(ops[2]),
                                  static_cast<const float*>(ops[3]), static_cast<const float*>(ops[4]),
                                  static_cast<float*>(ops[5]), kOutputs > 1 ? static_cast<float*>(ops[6]) : nullptr,
                                  kOutputs > 2 ? static_cast<float*>(ops[7]) : nullptr);
  return 0;
}

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
  BatchNormParams& p = make_params<BatchNormParams>(ctx.step);
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
    ctx.step.run = ctx.num_outputs() == 1   ? run_batchnorm_training_f32<1>
                   : ctx.num_outputs() == 2 ? run_batchnorm_training_f32<2>
                                            : run_batchnorm_training_f32<3>;
    ctx.step.kernel = "batchnorm_training_f32";
    ctx.step.flops = 5.0 * double(shape_numel(x));
  } else {
    ctx.step.run = run_batchnorm_f32;
    ctx.step.kernel = "batchnorm_f32";
    ctx.step.flops = 2.0 * double(shape_numel(x));
  }
}

}  // namespace

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
