// CMSIS-NN (built for the host from RTML_CMSIS_NN_DIR) as the bit-exactness
// oracle of rtml's int8 reference kernels (kernels/quant.h): random shapes
// (odd sizes included), zero points, multipliers, biases and activation
// clamps; every output must be identical. The uint8-data / int8-weight
// kernels are checked against the same outputs through a +128 shift, and
// the Highway int8 kernels (kernels/fast_quant.h, this CPU's best target)
// against them directly.
//
// CMSIS-NN's conventions, converted here: data NHWC and conv filters
// [C_out, KH, KW, C_in] (depthwise [1, KH, KW, C_out]) where rtml's kernels
// read NCHW and [C_out, C_in / group, KH, KW]; input_offset is the negated
// input zero point, output_offset the output zero point itself.
//
// Usage: rtml_cmsis_nn_oracle [cases per kernel (default 300)] [seed]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "arm_nnfunctions.h"
}

#include "kernels/fast_quant.h"
#include "kernels/pool.h"
#include "kernels/quant.h"

namespace {

std::mt19937 rng;

int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::vector<int8_t> random_s8(size_t n) {
  std::vector<int8_t> v(n);
  for (auto& e : v) e = static_cast<int8_t>(uniform(-128, 127));
  return v;
}

// Requantization of one channel: a real multiplier log-uniform in
// [2^-16, 2^-1), or up to 4 (a left shift) when the accumulators are small.
void random_multiplier(bool small_acc, int32_t* m, int32_t* s) {
  const double e = std::uniform_real_distribution<double>(-16.0, small_acc ? 2.0 : -1.0)(rng);
  rtml_quantize_multiplier(std::exp2(e), m, s);
}

struct Common {
  int32_t x_zp, y_zp, act_min, act_max;
  std::vector<int32_t> bias, mult, shift;
};

Common random_common(int channels, bool per_channel, bool small_acc) {
  Common c;
  c.x_zp = uniform(-128, 127);
  c.y_zp = uniform(-128, 127);
  c.act_min = uniform(-128, 0);
  c.act_max = uniform(c.act_min + 1, 127);
  if (uniform(0, 3) == 0) c.act_min = -128, c.act_max = 127;
  c.bias.resize(channels);
  for (auto& b : c.bias) b = uniform(-20000, 20000);
  c.mult.resize(channels);
  c.shift.resize(channels);
  for (int i = 0; i < channels; ++i) {
    if (per_channel || i == 0) random_multiplier(small_acc, &c.mult[i], &c.shift[i]);
    else c.mult[i] = c.mult[0], c.shift[i] = c.shift[0];
  }
  return c;
}

template <class P>
void fill_common(P& p, const Common& c, bool per_channel) {
  p.w_slot = 1;
  p.x_zero_point = c.x_zp;
  p.y_zero_point = c.y_zp;
  p.x_zp_slot = p.w_zp_slot = p.y_zp_slot = -1;
  p.act_min = c.act_min;
  p.act_max = c.act_max;
  p.out_slot = 2;
  p.bias_slot = 3;
  p.per_channel = per_channel;
  p.multiplier_slot = 4;
  p.shift_slot = 5;
  p.x_scale_slot = p.w_scale_slot = p.y_scale_slot = -1;
}

int failures = 0;

// The same product with uint8 data and int8 weights (ONNX Runtime's usual
// form; kernel `fn`): data, zero points and clamp shifted by +128 stand for
// the same real numbers, so its uint8 output minus 128 must equal the int8
// one. ops: {X, W, Y, bias, multipliers, shifts} of the int8 run.
template <class P>
std::vector<int8_t> run_u8s8(rtml_kernel_fn fn, P p, void* const* ops, size_t x_numel, size_t y_numel) {
  std::vector<uint8_t> xu(x_numel), yu(y_numel);
  for (size_t i = 0; i < x_numel; ++i) xu[i] = static_cast<uint8_t>(static_cast<const int8_t*>(ops[0])[i] + 128);
  p.x_zero_point += 128;
  p.y_zero_point += 128;
  p.act_min += 128;
  p.act_max += 128;
  void* ops_u[6] = {xu.data(), ops[1], yu.data(), ops[3], ops[4], ops[5]};
  fn(&p, ops_u);
  std::vector<int8_t> y(y_numel);
  for (size_t i = 0; i < y_numel; ++i) y[i] = static_cast<int8_t>(yu[i] - 128);
  return y;
}

// The same product on rtml's Highway kernel `fn` (kernels/fast_quant.h, the
// best target of this CPU): W as prepare packs it (`packed`; empty for
// depthwise, which reads W), the scratch after it. ops as for run_u8s8.
template <class P>
std::vector<int8_t> run_hwy(rtml_kernel_fn fn, P p, void* const* ops, const std::vector<int8_t>& packed,
                            int64_t scratch_bytes, size_t y_numel) {
  std::vector<int8_t> y(y_numel);
  std::vector<int16_t> scratch(static_cast<size_t>(scratch_bytes) / 2 + 1);
  void* ops_h[8] = {ops[0], ops[1], y.data(), ops[3], ops[4], ops[5], const_cast<int8_t*>(packed.data()), nullptr};
  if (!packed.empty()) p.w_slot = 6;
  ops_h[std::max({p.w_slot, p.multiplier_slot, p.shift_slot}) + 1] = scratch.data();
  fn(&p, ops_h);
  return y;
}

void compare(const char* what, int index, const std::string& shape, const std::vector<int8_t>& want,
             const std::vector<int8_t>& got) {
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i]) {
      if (++failures <= 10)
        std::printf("FAIL %s case %d (%s): element %zu is %d, CMSIS-NN gives %d\n", what, index, shape.c_str(), i,
                    got[i], want[i]);
      return;
    }
}

void fully_connected(int index) {
  const int batches = uniform(1, 3), K = uniform(1, 70), N = uniform(1, 37);
  const bool per_channel = uniform(0, 1) == 1;
  const Common c = random_common(N, per_channel, K <= 16);
  const std::vector<int8_t> x = random_s8(static_cast<size_t>(batches) * K), w = random_s8(static_cast<size_t>(N) * K);
  std::vector<int8_t> want(static_cast<size_t>(batches) * N), got(want.size());

  cmsis_nn_context ctx{nullptr, 0};
  cmsis_nn_fc_params fc{};
  fc.input_offset = -c.x_zp;
  fc.filter_offset = 0;
  fc.output_offset = c.y_zp;
  fc.activation = {c.act_min, c.act_max};
  cmsis_nn_dims in_dims{batches, 1, 1, K}, filter_dims{K, 1, 1, N}, bias_dims{1, 1, 1, N}, out_dims{batches, 1, 1, N};
  arm_cmsis_nn_status st;
  if (per_channel) {
    cmsis_nn_per_channel_quant_params q{const_cast<int32_t*>(c.mult.data()), const_cast<int32_t*>(c.shift.data())};
    st = arm_fully_connected_per_channel_s8(&ctx, &fc, &q, &in_dims, x.data(), &filter_dims, w.data(), &bias_dims,
                                            c.bias.data(), &out_dims, want.data());
  } else {
    cmsis_nn_per_tensor_quant_params q{c.mult[0], c.shift[0]};
    st = arm_fully_connected_s8(&ctx, &fc, &q, &in_dims, x.data(), &filter_dims, w.data(), &bias_dims, c.bias.data(),
                                &out_dims, want.data());
  }
  if (st != ARM_CMSIS_NN_SUCCESS) {
    std::printf("FAIL fully_connected case %d: CMSIS-NN returned %d\n", index, st);
    ++failures;
    return;
  }

  rtml_qmatmul_params p{};
  p.M = batches;
  p.N = N;
  p.K = K;
  p.w_stride_k = 1;  // CMSIS-NN's (and TFLite's) [N x K] weights
  p.w_stride_n = K;
  p.batch_count = 1;
  fill_common(p, c, per_channel);
  void* ops[6] = {const_cast<int8_t*>(x.data()), const_cast<int8_t*>(w.data()), got.data(),
                  const_cast<int32_t*>(c.bias.data()), const_cast<int32_t*>(c.mult.data()),
                  const_cast<int32_t*>(c.shift.data())};
  rtml_s8_fully_connected__ref(&p, ops);
  const std::string shape = std::to_string(batches) + "x" + std::to_string(K) + " -> " + std::to_string(N);
  compare(per_channel ? "fully_connected (per channel)" : "fully_connected (per tensor)", index, shape, want, got);
  compare("u8s8 fully_connected", index, shape, want,
          run_u8s8(rtml_u8s8_fully_connected__ref, p, ops, x.size(), want.size()));
  std::vector<int8_t> packed(static_cast<size_t>(rtml::kernels::qpacked_bytes(K, N)));
  rtml::kernels::qpack(K, N, w.data(), 1, K, packed.data());
  compare("fully_connected__hwy", index, shape, want,
          run_hwy(rtml_s8_fully_connected__hwy, p, ops, packed, rtml::kernels::s8_fully_connected_hwy_scratch(p),
                  want.size()));
}

// A 2-D convolution (depthwise: group == C_in, C_out = C_in * ch_mult).
void conv(int index, bool depthwise) {
  const int batches = depthwise ? 1 : uniform(1, 2);
  const int H = uniform(1, 11), W = uniform(1, 11);
  const int KH = uniform(1, std::min(H, 4) + 1), KW = uniform(1, std::min(W, 4) + 1);  // may exceed H with padding
  const int C = uniform(1, 9);
  const int group = depthwise ? C : (uniform(0, 2) == 0 ? C : 1);
  const int ch_mult = uniform(1, 3);
  const int C_out = depthwise ? C * ch_mult : group * uniform(1, 5);
  const int cin_g = C / group;
  const int sh = uniform(1, 3), sw = uniform(1, 3);
  const int dh = depthwise ? 1 : uniform(1, 2), dw = depthwise ? 1 : uniform(1, 2);
  const int ekh = (KH - 1) * dh + 1, ekw = (KW - 1) * dw + 1;
  const int pt = uniform(0, ekh - 1), pl = uniform(0, ekw - 1);
  if (H + pt < ekh || W + pl < ekw) return conv(index, depthwise);  // no output: draw again
  const int OH = (H + pt - ekh) / sh + 1, OW = (W + pl - ekw) / sw + 1;
  const Common c = random_common(C_out, true, cin_g * KH * KW <= 16);

  const std::vector<int8_t> x = random_s8(static_cast<size_t>(batches) * H * W * C);  // NHWC
  // CMSIS-NN's filter: conv [C_out, KH, KW, cin_g]; depthwise [KH, KW, C_out].
  const std::vector<int8_t> f = random_s8(static_cast<size_t>(C_out) * KH * KW * cin_g);
  std::vector<int8_t> want(static_cast<size_t>(batches) * OH * OW * C_out);
  cmsis_nn_per_channel_quant_params q{const_cast<int32_t*>(c.mult.data()), const_cast<int32_t*>(c.shift.data())};
  cmsis_nn_dims in_dims{batches, H, W, C}, bias_dims{1, 1, 1, C_out}, out_dims{batches, OH, OW, C_out};
  arm_cmsis_nn_status st;
  if (depthwise) {
    cmsis_nn_dw_conv_params dp{};
    dp.input_offset = -c.x_zp;
    dp.output_offset = c.y_zp;
    dp.ch_mult = ch_mult;
    dp.stride = {sw, sh};
    dp.padding = {pl, pt};
    dp.dilation = {dw, dh};
    dp.activation = {c.act_min, c.act_max};
    cmsis_nn_dims filter_dims{1, KH, KW, C_out};
    cmsis_nn_context ctx{nullptr, 0};  // arm_depthwise_conv_s8 needs no buffer
    st = arm_depthwise_conv_s8(&ctx, &dp, &q, &in_dims, x.data(), &filter_dims, f.data(), &bias_dims, c.bias.data(),
                               &out_dims, want.data());
  } else {
    cmsis_nn_conv_params cp{};
    cp.input_offset = -c.x_zp;
    cp.output_offset = c.y_zp;
    cp.stride = {sw, sh};
    cp.padding = {pl, pt};
    cp.dilation = {dw, dh};
    cp.activation = {c.act_min, c.act_max};
    cmsis_nn_dims filter_dims{C_out, KH, KW, cin_g};
    std::vector<int8_t> buf(static_cast<size_t>(arm_convolve_s8_get_buffer_size(&in_dims, &filter_dims)) + 16);
    cmsis_nn_context ctx{buf.data(), static_cast<int32_t>(buf.size())};
    st = arm_convolve_s8(&ctx, &cp, &q, &in_dims, x.data(), &filter_dims, f.data(), &bias_dims, c.bias.data(), nullptr,
                         &out_dims, want.data());
  }
  const char* what = depthwise ? "depthwise_conv" : group > 1 ? "conv (grouped)" : "conv";
  if (st != ARM_CMSIS_NN_SUCCESS) {
    std::printf("FAIL %s case %d: CMSIS-NN returned %d\n", what, index, st);
    ++failures;
    return;
  }

  // rtml: NCHW input, [C_out, cin_g, KH, KW] weights, NCHW output.
  std::vector<int8_t> xr(x.size()), wr(f.size()), out(want.size());
  for (int n = 0; n < batches; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int ch = 0; ch < C; ++ch) xr[((n * C + ch) * H + h) * W + w] = x[((n * H + h) * W + w) * C + ch];
  for (int oc = 0; oc < C_out; ++oc)
    for (int kh = 0; kh < KH; ++kh)
      for (int kw = 0; kw < KW; ++kw)
        for (int ic = 0; ic < cin_g; ++ic)
          wr[((oc * cin_g + ic) * KH + kh) * KW + kw] =
              depthwise ? f[(kh * KW + kw) * C_out + oc] : f[((oc * KH + kh) * KW + kw) * cin_g + ic];
  rtml_qconv_params p{};
  p.N = batches;
  p.C = C;
  p.H = H;
  p.W = W;
  p.C_out = C_out;
  p.group = group;
  p.KH = KH;
  p.KW = KW;
  p.OH = OH;
  p.OW = OW;
  p.stride_h = sh;
  p.stride_w = sw;
  p.dilation_h = dh;
  p.dilation_w = dw;
  p.pad_top = pt;
  p.pad_left = pl;
  fill_common(p, c, true);
  void* ops[6] = {xr.data(), wr.data(), out.data(), const_cast<int32_t*>(c.bias.data()),
                  const_cast<int32_t*>(c.mult.data()), const_cast<int32_t*>(c.shift.data())};
  if (depthwise) rtml_s8_depthwise_conv__ref(&p, ops);
  else rtml_s8_conv__ref(&p, ops);
  const auto to_nhwc = [&](const std::vector<int8_t>& nchw) {
    std::vector<int8_t> nhwc(nchw.size());
    for (int n = 0; n < batches; ++n)
      for (int oc = 0; oc < C_out; ++oc)
        for (int h = 0; h < OH; ++h)
          for (int w = 0; w < OW; ++w) nhwc[((n * OH + h) * OW + w) * C_out + oc] = nchw[((n * C_out + oc) * OH + h) * OW + w];
    return nhwc;
  };
  const std::string shape = "N" + std::to_string(batches) + " C" + std::to_string(C) + " " + std::to_string(H) + "x" +
                            std::to_string(W) + " k" + std::to_string(KH) + "x" + std::to_string(KW) + " C_out" +
                            std::to_string(C_out) + " group" + std::to_string(group);
  compare(what, index, shape, want, to_nhwc(out));
  compare(depthwise ? "u8s8 depthwise_conv" : "u8s8 conv", index, shape, want,
          to_nhwc(run_u8s8(depthwise ? rtml_u8s8_depthwise_conv__ref : rtml_u8s8_conv__ref, p, ops, xr.size(),
                           out.size())));
  std::vector<int8_t> packed;
  if (!depthwise) {
    packed.resize(static_cast<size_t>(rtml::kernels::qpacked_conv_bytes(p)));
    rtml::kernels::qpack_conv(p, wr.data(), packed.data());
  }
  compare(depthwise ? "depthwise_conv__hwy" : "conv__hwy", index, shape, want,
          to_nhwc(run_hwy(depthwise ? rtml_s8_depthwise_conv__hwy : rtml_s8_conv__hwy, p, ops, packed,
                          depthwise ? rtml::kernels::s8_depthwise_conv_hwy_scratch(p)
                                    : rtml::kernels::s8_conv_hwy_scratch(p),
                          out.size())));
}

// Add (TFLite's scheme: inputs scaled by 2^20 and multipliers below one,
// the output's multiplier from the scales) and Mul of two int8 vectors,
// against arm_elementwise_add_s8 / arm_elementwise_mul_s8. The multipliers
// come from random scales as the prepare of the fused QDQ ops makes them.
void elementwise(int index, bool add) {
  const int n = uniform(1, 100);
  const std::vector<int8_t> a = random_s8(n), b = random_s8(n);
  std::vector<int8_t> want(n), got(n);
  const auto scale = [] { return std::exp2(std::uniform_real_distribution<double>(-10.0, 0.0)(rng)); };
  const double as = scale(), bs = scale(), ys = scale();
  rtml_qbinary_params p{};
  p.bc.rank = 1;
  p.bc.num_inputs = 2;
  p.bc.count = p.bc.shape[0] = n;
  p.bc.strides[0][0] = p.bc.strides[1][0] = 1;
  p.b_slot = 1;
  p.out_slot = 2;
  p.a_zero_point = uniform(-128, 127);
  p.b_zero_point = uniform(-128, 127);
  p.y_zero_point = uniform(-128, 127);
  p.act_min = uniform(-128, 0);
  p.act_max = uniform(p.act_min + 1, 127);
  if (add) {
    p.left_shift = 20;
    const double twice_max = 2 * std::max(as, bs);
    rtml_quantize_multiplier(as / twice_max, &p.a_multiplier, &p.a_shift);
    rtml_quantize_multiplier(bs / twice_max, &p.b_multiplier, &p.b_shift);
    rtml_quantize_multiplier(twice_max / ((1 << 20) * ys), &p.y_multiplier, &p.y_shift);
    arm_elementwise_add_s8(a.data(), b.data(), -p.a_zero_point, p.a_multiplier, p.a_shift, -p.b_zero_point,
                           p.b_multiplier, p.b_shift, p.left_shift, want.data(), p.y_zero_point, p.y_multiplier,
                           p.y_shift, p.act_min, p.act_max, n);
  } else {
    rtml_quantize_multiplier(as * bs / ys, &p.y_multiplier, &p.y_shift);
    arm_elementwise_mul_s8(a.data(), b.data(), -p.a_zero_point, -p.b_zero_point, want.data(), p.y_zero_point,
                           p.y_multiplier, p.y_shift, p.act_min, p.act_max, n);
  }
  void* ops[] = {const_cast<int8_t*>(a.data()), const_cast<int8_t*>(b.data()), got.data()};
  (add ? rtml_s8_qadd__ref : rtml_s8_qmul__ref)(&p, ops);
  compare(add ? "add" : "mul", index, std::to_string(n), want, got);
}

// Softmax (TFLite's integer scheme, output scale 1/256, zero point -128)
// against arm_softmax_s8: rows of random values, of one value repeated, of
// the extremes -128 / 127 only, or within a narrow band; beta * input scale
// log-uniform over [2^-12, 2^6] (above about 2^5 the multiplier is capped),
// multiplier, left shift and diff_min from rtml_softmax_scaling (TFLite's
// prepare). The uint8 kernel must give the same outputs + 128 on inputs + 128.
void softmax(int index) {
  const int rows = uniform(1, 4), row_size = uniform(1, 300), kind = uniform(0, 3);
  std::vector<int8_t> x = random_s8(static_cast<size_t>(rows) * row_size);
  const int center = uniform(-128, 127);
  for (int8_t& v : x) {
    if (kind == 1) v = static_cast<int8_t>(center);
    if (kind == 2) v = v < 0 ? -128 : 127;
    if (kind == 3) v = static_cast<int8_t>(std::max(-128, std::min(127, center + uniform(-3, 3))));
  }
  const double scale = std::exp2(std::uniform_real_distribution<double>(-12.0, 6.0)(rng));
  rtml_qsoftmax_params p{};
  p.rows = rows;
  p.row_size = row_size;
  p.out_slot = 1;
  if (!rtml_softmax_scaling(scale, &p.input_multiplier, &p.input_left_shift, &p.diff_min)) {
    std::printf("FAIL softmax case %d: no scaling for %g\n", index, scale);
    ++failures;
    return;
  }
  std::vector<int8_t> want(x.size()), got(x.size());
  arm_softmax_s8(x.data(), rows, row_size, p.input_multiplier, p.input_left_shift, p.diff_min, want.data());
  void* ops[] = {x.data(), got.data()};
  rtml_s8_softmax__ref(&p, ops);
  const std::string shape = std::to_string(rows) + "x" + std::to_string(row_size) + " scale " + std::to_string(scale);
  compare("softmax", index, shape, want, got);
  std::vector<uint8_t> xu(x.size()), yu(x.size());
  for (size_t i = 0; i < x.size(); ++i) xu[i] = static_cast<uint8_t>(x[i] + 128);
  void* ops_u[] = {xu.data(), yu.data()};
  rtml_u8_softmax__ref(&p, ops_u);
  for (size_t i = 0; i < x.size(); ++i) got[i] = static_cast<int8_t>(yu[i] - 128);
  compare("softmax uint8", index, shape, want, got);
}

// Average and max pooling of int8 NHWC images (TFLite's scheme: the raw
// values summed, the average rounded half away from zero over the taps inside
// the image, padding not counted; in and out share one quantization) against
// arm_avgpool_s8 / arm_max_pool_s8: random sizes, kernels, strides and a
// padding below the kernel size, so that every window holds a tap.
void pool(int index, bool average) {
  const int n = uniform(1, 2), c = uniform(1, 20), h = uniform(1, 12), w = uniform(1, 12);
  const int kh = uniform(1, h + 2), kw = uniform(1, w + 2), sh = uniform(1, 3), sw = uniform(1, 3);
  const int ph = uniform(0, std::max(0, std::min(kh - 1, kh - h + 2))), pw = uniform(0, std::max(0, std::min(kw - 1, kw - w + 2)));
  if (h + 2 * ph < kh || w + 2 * pw < kw) return pool(index, average);  // no window fits: draw again
  const int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
  const std::vector<int8_t> nhwc = random_s8(static_cast<size_t>(n) * h * w * c);
  std::vector<int8_t> want(static_cast<size_t>(n) * oh * ow * c);
  const cmsis_nn_dims in_d{n, h, w, c}, f_d{1, kh, kw, 1}, out_d{n, oh, ow, c};
  cmsis_nn_pool_params pp{};
  pp.stride = {sw, sh};
  pp.padding = {pw, ph};
  pp.activation = {-128, 127};
  std::vector<int8_t> buf(static_cast<size_t>(arm_avgpool_s8_get_buffer_size(ow, c)) + 1);
  cmsis_nn_context ctx{buf.data(), static_cast<int32_t>(buf.size())};
  if (average)
    arm_avgpool_s8(&ctx, &pp, &in_d, nhwc.data(), &f_d, &out_d, want.data());
  else
    arm_max_pool_s8(&ctx, &pp, &in_d, nhwc.data(), &f_d, &out_d, want.data());

  rtml_pool_params p{};
  p.spatial = 2;
  p.planes = n * c;
  p.in_shape[0] = h;
  p.in_shape[1] = w;
  p.out_shape[0] = oh;
  p.out_shape[1] = ow;
  p.kernel[0] = kh;
  p.kernel[1] = kw;
  p.stride[0] = sh;
  p.stride[1] = sw;
  p.dilation[0] = p.dilation[1] = 1;
  p.pad_begin[0] = ph;
  p.pad_begin[1] = pw;
  p.pad_end[0] = std::max(0, (oh - 1) * sh + kh - h - ph);
  p.pad_end[1] = std::max(0, (ow - 1) * sw + kw - w - pw);
  p.in_size = h * w;
  p.out_size = oh * ow;
  p.kernel_size = kh * kw;
  std::vector<int8_t> nchw(nhwc.size()), got(want.size()), got_nhwc(want.size());
  for (int b = 0; b < n; ++b)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) nchw[((b * c + ch) * h + y) * w + x] = nhwc[((b * h + y) * w + x) * c + ch];
  void* ops[] = {nchw.data(), got.data(), nullptr};
  (average ? rtml_s8_avgpool__ref : rtml_s8_maxpool__ref)(&p, ops);
  for (int b = 0; b < n; ++b)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        for (int ch = 0; ch < c; ++ch) got_nhwc[((b * oh + y) * ow + x) * c + ch] = got[((b * c + ch) * oh + y) * ow + x];
  char shape[96];
  std::snprintf(shape, sizeof shape, "%dx%dx%dx%d kernel %dx%d stride %dx%d pad %dx%d", n, h, w, c, kh, kw, sh, sw, ph, pw);
  compare(average ? "avgpool" : "maxpool", index, shape, want, got_nhwc);
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 300;
  rng.seed(argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 13u);
  for (int i = 0; i < cases; ++i) {
    fully_connected(i);
    conv(i, false);
    conv(i, true);
    elementwise(i, true);
    elementwise(i, false);
    softmax(i);
    pool(i, true);
    pool(i, false);
  }
  std::printf("cmsis_nn_oracle: %d cases each of fully connected, conv, depthwise conv, add, mul, softmax, average and max pool; "
              "%d failed\n",
              cases, failures);
  return failures == 0 ? 0 : 1;
}
