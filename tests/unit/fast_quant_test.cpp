// The Highway int8 kernels (kernels/fast_quant.h) and the cortex-m set's
// (kernels/cortexm_quant.cpp, their plain C form on the host) bit for bit
// against the reference kernels of kernels/quant.h (themselves checked by hand in
// quant_test.cpp and against CMSIS-NN in tests/cmsis_nn/), on every SIMD
// target this CPU supports (AVX3_DL, VNNI, included: this file asks Highway
// for it as kernels/fast_quant.cpp does): random shapes with sizes off the vector widths
// (M = 1 matrix-vector included), random scales (multipliers above and below
// 1) and zero points, per-tensor and per-channel, fused clamps, accumulators
// driven to wrap around; and the QLinear ops through build_plan, which pick
// the Highway kernels only for the simd kernel set and the cortex-m ones only
// for the cortex-m set.
#define HWY_WANT_AVX3_DL  // before Highway's headers: iterate the AVX3_DL target too
#include "kernels/fast_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "attributes.h"
#include "engine/session.h"
#include "ir/graph.h"
#include "kernels/broadcast_plan.h"
#include "kernels/quant.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "quant_graph.h"
#include "simd_targets.h"

using namespace rtml;

namespace {

std::vector<int8_t> random_int8(size_t n, std::mt19937& rng, int lo = -128, int hi = 127) {
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(u(rng));
  return v;
}

int pick(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// The per-channel (or per-tensor) requantization constants of random scales:
// real multipliers from about 2^-14 to 4 (right and left shifts).
struct Requant {
  std::vector<int32_t> multiplier, shift;
  Requant(int64_t channels, std::mt19937& rng) {
    std::uniform_real_distribution<float> e(-14.0f, 2.0f);
    for (int64_t c = 0; c < channels; ++c) {
      int32_t m = 0, s = 0;
      rtml_quantize_multiplier(std::exp2(static_cast<double>(e(rng))), &m, &s);
      multiplier.push_back(m);
      shift.push_back(s);
    }
  }
};

// The fields both params structs share, random: zero points (in the params
// or as operands), clamp, per-channel or not, bias or not.
struct Common {
  int8_t x_zp, y_zp;
  bool zp_operands, per_channel, bias;
  int32_t act_min, act_max;
  Common(std::mt19937& rng)
      : x_zp(static_cast<int8_t>(pick(rng, -128, 127))),
        y_zp(static_cast<int8_t>(pick(rng, -128, 127))),
        zp_operands(pick(rng, 0, 1) == 1),
        per_channel(pick(rng, 0, 1) == 1),
        bias(pick(rng, 0, 3) > 0) {
    act_min = pick(rng, 0, 2) == 0 ? pick(rng, -128, 0) : -128;  // a fused Relu / Clip now and then
    act_max = pick(rng, 0, 2) == 0 ? pick(rng, act_min, 127) : 127;
  }
};

// Operand slots of the direct calls as prepare lays them out: X 0, W 1,
// x zero point 2, y zero point 3 (node inputs), Y 4, bias 5, multipliers 6,
// shifts 7, packed W 8 (constants), then the scratch.
template <class P>
void fill_common(P& p, const Common& c) {
  p.w_slot = 1;
  p.out_slot = 4;
  p.bias_slot = c.bias ? 5 : -1;
  p.multiplier_slot = 6;
  p.shift_slot = 7;
  p.x_zp_slot = c.zp_operands ? 2 : -1;
  p.y_zp_slot = c.zp_operands ? 3 : -1;
  p.x_zero_point = c.zp_operands ? 99 : c.x_zp;  // the params' values are ignored when a slot is set
  p.y_zero_point = c.zp_operands ? -99 : c.y_zp;
  p.w_zp_slot = -1;
  p.act_min = c.act_min;
  p.act_max = c.act_max;
  p.per_channel = c.per_channel;
  p.x_scale_slot = p.w_scale_slot = p.y_scale_slot = -1;
}

// Runs the reference and the Highway kernel on the same operands; `packed`
// (empty for depthwise) replaces W for the Highway one. Returns the
// mismatches (at most a few printed).
template <class P>
int compare(rtml_kernel_fn ref, rtml_kernel_fn fast, P p, const Common& c, const std::vector<int8_t>& x,
            const std::vector<int8_t>& w, const std::vector<int32_t>& bias, const Requant& rq, size_t y_size,
            const std::vector<int8_t>& packed, int64_t scratch_bytes, const std::string& what) {
  std::vector<int8_t> y_ref(y_size, 0), y_fast(y_size, 0x55);
  std::vector<int8_t> scratch(static_cast<size_t>(scratch_bytes) + 64);
  void* scratch_aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  int8_t x_zp = c.x_zp, y_zp = c.y_zp;
  std::vector<void*> ops = {const_cast<int8_t*>(x.data()), const_cast<int8_t*>(w.data()), &x_zp, &y_zp,
                            y_ref.data(), const_cast<int32_t*>(bias.data()), const_cast<int32_t*>(rq.multiplier.data()),
                            const_cast<int32_t*>(rq.shift.data()), const_cast<int8_t*>(packed.data()), nullptr};
  EXPECT_EQ(ref(&p, ops.data()), 0);
  ops[4] = y_fast.data();
  if (!packed.empty()) p.w_slot = 8;
  ops[static_cast<size_t>(std::max({p.w_slot, p.multiplier_slot, p.shift_slot}) + 1)] = scratch_aligned;
  EXPECT_EQ(fast(&p, ops.data()), 0);
  int bad = 0;
  for (size_t i = 0; i < y_size; ++i)
    if (y_ref[i] != y_fast[i] && ++bad <= 3)
      ADD_FAILURE() << what << ": element " << i << " is " << int(y_fast[i]) << ", the reference " << int(y_ref[i]);
  return bad;
}

std::vector<int32_t> random_bias(size_t n, std::mt19937& rng, bool extreme) {
  std::uniform_int_distribution<int32_t> u(extreme ? INT32_MIN : -100000, extreme ? INT32_MAX : 100000);
  std::vector<int32_t> b(n);
  for (int32_t& v : b) v = u(rng);
  return b;
}

// Fully connected on random shapes, the Highway kernel or (cm) the cortex-m
// one; returns the cases run.
int check_fully_connected(uint32_t seed, bool cm = false) {
  std::mt19937 rng(seed);
  int cases = 0;
  for (int64_t M : {1, 2, 3, 5, 9})
    for (int64_t K : {1, 3, 4, 17, 64, 255})
      for (int64_t N : {1, 7, 16, 17, 40}) {
        const Common c(rng);
        rtml_qmatmul_params p{};
        p.M = M;
        p.N = N;
        p.K = K;
        // W stored [N x K] (TFLite's layout; the only one the cortex-m kernel takes) or [K x N] (ONNX's)
        const bool trans = cm || pick(rng, 0, 1) == 1;
        p.w_stride_k = trans ? 1 : N;
        p.w_stride_n = trans ? K : 1;
        p.batch_count = pick(rng, 1, 2);
        const bool shared_w = pick(rng, 0, 1) == 1;
        p.x_batch_stride = M * K;
        p.w_batch_stride = shared_w ? 0 : K * N;
        fill_common(p, c);
        const bool extreme = pick(rng, 0, 3) == 0;  // saturating values, wrapping sums
        const std::vector<int8_t> x = extreme ? std::vector<int8_t>(static_cast<size_t>(p.batch_count * M * K), -128)
                                              : random_int8(static_cast<size_t>(p.batch_count * M * K), rng);
        const int64_t matrices = shared_w ? 1 : p.batch_count;
        const std::vector<int8_t> w = random_int8(static_cast<size_t>(matrices * K * N), rng, extreme ? -128 : -128,
                                                  extreme ? -127 : 127);
        const std::vector<int32_t> bias = random_bias(static_cast<size_t>(N), rng, extreme);
        const Requant rq(c.per_channel ? N : 1, rng);
        const int64_t bytes = kernels::qpacked_bytes(K, N);
        std::vector<int8_t> packed(static_cast<size_t>(matrices * bytes));
        for (int64_t b = 0; b < matrices; ++b)
          kernels::qpack(K, N, w.data() + b * K * N, p.w_stride_k, p.w_stride_n, packed.data() + b * bytes);
        const std::string what = "M " + std::to_string(M) + " K " + std::to_string(K) + " N " + std::to_string(N);
        if (cm)
          compare(rtml_s8_fully_connected__ref, rtml_s8_fully_connected__cm, p, c, x, w, bias, rq,
                  static_cast<size_t>(p.batch_count * M * N), {}, rtml_s8_fully_connected_cm_scratch_bytes(&p), what);
        else
          compare(rtml_s8_fully_connected__ref, rtml_s8_fully_connected__hwy, p, c, x, w, bias, rq,
                  static_cast<size_t>(p.batch_count * M * N), packed, kernels::s8_fully_connected_hwy_scratch(p), what);
        ++cases;
      }
  return cases;
}

// A random 1-D or 2-D convolution's params (group 1, 2 or depthwise).
rtml_qconv_params random_conv(std::mt19937& rng, bool two_d, bool depthwise) {
  rtml_qconv_params p{};
  p.N = pick(rng, 1, 2);
  p.group = depthwise ? pick(rng, 2, 9) : pick(rng, 1, 2);
  // Up to 20 channels a group, 8 often: whole blocks of 8 channels, and a remainder, in the
  // channels-last copy of the input; a quarter of them 32 to 40 outputs a group (two whole
  // panels in one pass over X on AVX3_DL, then a remainder).
  p.C = depthwise ? p.group : p.group * (pick(rng, 0, 2) == 0 ? (pick(rng, 0, 1) == 0 ? 8 : pick(rng, 6, 20)) : pick(rng, 1, 5));
  p.C_out = p.group * (depthwise ? pick(rng, 1, 2) : pick(rng, 0, 3) == 0 ? pick(rng, 32, 40) : pick(rng, 1, 19));
  p.H = two_d ? pick(rng, 1, 9) : 1;
  p.W = pick(rng, 1, 37);
  p.KH = two_d ? pick(rng, 1, 3) : 1;
  p.KW = pick(rng, 1, 5);
  p.stride_h = two_d ? pick(rng, 1, 2) : 1;
  p.stride_w = pick(rng, 1, 3);
  p.dilation_h = two_d ? pick(rng, 1, 2) : 1;
  p.dilation_w = pick(rng, 1, 2);
  p.pad_top = two_d ? pick(rng, 0, 2) : 0;
  p.pad_left = pick(rng, 0, 2);
  const int64_t pad_bottom = two_d ? pick(rng, 0, 2) : 0, pad_right = pick(rng, 0, 2);
  // A window that fits: grow the input until the padded span holds the kernel.
  const int64_t ekh = (p.KH - 1) * p.dilation_h + 1, ekw = (p.KW - 1) * p.dilation_w + 1;
  p.H = std::max(p.H, ekh - p.pad_top - pad_bottom);
  p.W = std::max(p.W, ekw - p.pad_left - pad_right);
  p.OH = (p.H + p.pad_top + pad_bottom - ekh) / p.stride_h + 1;
  p.OW = (p.W + p.pad_left + pad_right - ekw) / p.stride_w + 1;
  return p;
}

int check_convs(uint32_t seed, bool depthwise, bool cm = false) {
  std::mt19937 rng(seed);
  int cases = 0;
  for (int i = 0; i < 60; ++i) {
    rtml_qconv_params p = random_conv(rng, i % 2 == 1, depthwise);
    const Common c(rng);
    fill_common(p, c);
    const int64_t K = p.C / p.group * p.KH * p.KW;
    const std::vector<int8_t> x = random_int8(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
    const std::vector<int8_t> w = random_int8(static_cast<size_t>(p.C_out * K), rng);
    const std::vector<int32_t> bias = random_bias(static_cast<size_t>(p.C_out), rng, i % 7 == 0);
    const Requant rq(c.per_channel ? p.C_out : 1, rng);
    std::vector<int8_t> packed;
    if (!depthwise && !cm) {
      packed.resize(static_cast<size_t>(kernels::qpacked_conv_bytes(p)));
      kernels::qpack_conv(p, w.data(), packed.data());
    }
    const std::string what = std::string(depthwise ? "depthwise " : "conv ") + "case " + std::to_string(i) + " C " +
                             std::to_string(p.C) + " C_out " + std::to_string(p.C_out) + " group " +
                             std::to_string(p.group) + " " + std::to_string(p.H) + "x" + std::to_string(p.W) +
                             " kernel " + std::to_string(p.KH) + "x" + std::to_string(p.KW) + " stride " +
                             std::to_string(p.stride_h) + "," + std::to_string(p.stride_w);
    const size_t y_size = static_cast<size_t>(p.N * p.C_out * p.OH * p.OW);
    if (cm && depthwise)
      compare(rtml_s8_depthwise_conv__ref, rtml_s8_depthwise_conv__cm, p, c, x, w, bias, rq, y_size, packed,
              rtml_s8_depthwise_conv_cm_scratch_bytes(&p), what);
    else if (cm)
      compare(rtml_s8_conv__ref, rtml_s8_conv__cm, p, c, x, w, bias, rq, y_size, packed,
              rtml_s8_conv_cm_scratch_bytes(&p), what);
    else if (depthwise)
      compare(rtml_s8_depthwise_conv__ref, rtml_s8_depthwise_conv__hwy, p, c, x, w, bias, rq, y_size, packed,
              kernels::s8_depthwise_conv_hwy_scratch(p), what);
    else
      compare(rtml_s8_conv__ref, rtml_s8_conv__hwy, p, c, x, w, bias, rq, y_size, packed,
              kernels::s8_conv_hwy_scratch(p), what);
    ++cases;
  }
  return cases;
}

TEST(FastQuant, MatchesReferenceBitForBitOnEveryTarget) {
  const std::set<std::string> checked = rtml::testing::check_every_dispatched_target(kernels::fast_quant_target, [] {
    EXPECT_EQ(check_fully_connected(1), 5 * 6 * 5);
    EXPECT_EQ(check_convs(2, false), 60);
    EXPECT_EQ(check_convs(3, true), 60);
  });
  std::string names;
  for (const std::string& t : checked) names += " " + t;
  std::printf("fast_quant targets checked:%s\n", names.c_str());
#if HWY_ARCH_X86
  EXPECT_EQ(checked.size(), hwy::SupportedAndGeneratedTargets().size());
#endif
}

// The cortex-m kernels as the host builds them (the same loops on plain C
// versions of the DSP instructions: pairs of output channels x pairs of
// pixels, four channels of a fully connected layer, quads of k).
TEST(CortexMQuant, MatchesReferenceBitForBit) {
  EXPECT_EQ(check_fully_connected(11, true), 5 * 6 * 5);
  EXPECT_EQ(check_convs(12, false, true), 60);
  EXPECT_EQ(check_convs(13, true, true), 60);
}

// The shapes the cortex-m kernels take special paths for, which random
// shapes seldom draw: depthwise 3 x 3 at stride 1 (two outputs a pass, an odd
// last one alone; 1 to 8 columns, padding 0 to 2, row stride 1 and 2, channel
// multiplier 2) next to stride 2 and dilation 2, and pointwise convolutions
// with odd and whole-quad channel counts, strides, padding (the border pixels
// take the general im2col) and groups.
TEST(CortexMQuant, DepthwiseThreeByThreeAndPointwiseShapes) {
  std::mt19937 rng(14);
  int cases = 0;
  const auto run = [&](rtml_qconv_params p, int64_t pad_bottom, int64_t pad_right, bool depthwise) {
    const int64_t ekh = (p.KH - 1) * p.dilation_h + 1, ekw = (p.KW - 1) * p.dilation_w + 1;
    if (p.H + p.pad_top + pad_bottom < ekh || p.W + p.pad_left + pad_right < ekw) return;
    p.OH = (p.H + p.pad_top + pad_bottom - ekh) / p.stride_h + 1;
    p.OW = (p.W + p.pad_left + pad_right - ekw) / p.stride_w + 1;
    const Common c(rng);
    fill_common(p, c);
    const int64_t K = p.C / p.group * p.KH * p.KW;
    const std::vector<int8_t> x = random_int8(static_cast<size_t>(p.N * p.C * p.H * p.W), rng);
    const std::vector<int8_t> w = random_int8(static_cast<size_t>(p.C_out * K), rng);
    const std::vector<int32_t> bias = random_bias(static_cast<size_t>(p.C_out), rng, cases % 9 == 0);
    const Requant rq(c.per_channel ? p.C_out : 1, rng);
    const std::string what = std::string(depthwise ? "depthwise " : "pointwise ") + "C " + std::to_string(p.C) +
                             " C_out " + std::to_string(p.C_out) + " group " + std::to_string(p.group) + " " +
                             std::to_string(p.H) + "x" + std::to_string(p.W) + " kernel " + std::to_string(p.KH) +
                             "x" + std::to_string(p.KW) + " stride " + std::to_string(p.stride_h) + "," +
                             std::to_string(p.stride_w) + " dilation " + std::to_string(p.dilation_w) + " pads " +
                             std::to_string(p.pad_top) + "," + std::to_string(p.pad_left) + "," +
                             std::to_string(pad_bottom) + "," + std::to_string(pad_right);
    const size_t y_size = static_cast<size_t>(p.N * p.C_out * p.OH * p.OW);
    if (depthwise)
      compare(rtml_s8_depthwise_conv__ref, rtml_s8_depthwise_conv__cm, p, c, x, w, bias, rq, y_size, {},
              rtml_s8_depthwise_conv_cm_scratch_bytes(&p), what);
    else
      compare(rtml_s8_conv__ref, rtml_s8_conv__cm, p, c, x, w, bias, rq, y_size, {},
              rtml_s8_conv_cm_scratch_bytes(&p), what);
    ++cases;
  };
  for (int64_t W : {1, 2, 3, 4, 5, 8})
    for (int64_t pad : {0, 1, 2})
      for (int64_t sh : {1, 2})
        for (int64_t variant : {0, 1, 2, 3}) {  // 0, 1: stride 1 (1: channel multiplier 2); 2: stride 2; 3: dilation 2
          rtml_qconv_params p{};
          p.N = 1;
          p.C = p.group = pick(rng, 1, 5);
          p.C_out = p.C * (variant == 1 ? 2 : 1);
          p.H = pick(rng, 1, 6);
          p.W = W;
          p.KH = p.KW = 3;
          p.stride_h = sh;
          p.stride_w = variant == 2 ? 2 : 1;
          p.dilation_h = p.dilation_w = variant == 3 ? 2 : 1;
          p.pad_top = p.pad_left = pad;
          run(p, pad == 2 ? 1 : pad, pad == 2 ? 1 : pad, true);
        }
  for (int64_t cin : {3, 4, 7, 13, 64})
    for (int64_t stride : {1, 2})
      for (int64_t pad : {0, 1}) {
        rtml_qconv_params p{};
        p.N = pick(rng, 1, 2);
        p.group = cin % 2 == 0 && pick(rng, 0, 1) == 1 ? 2 : 1;
        p.C = cin;
        p.C_out = p.group * pick(rng, 1, 5);
        p.H = pick(rng, 1, 5);
        p.W = pick(rng, 1, 7);
        p.KH = p.KW = 1;
        p.stride_h = p.stride_w = stride;
        p.dilation_h = p.dilation_w = 1;
        p.pad_top = p.pad_left = pad;
        run(p, pad, pad, false);
      }
  EXPECT_GT(cases, 100);  // 125 of the 164 shapes have an output
}

// Random int8 Add parameters: scales 2^-10 .. 2^2 (multipliers as the op's
// prepare makes them), zero points and clamps.
rtml_qbinary_params random_qadd_params(std::mt19937& rng) {
  rtml_qbinary_params p{};
  p.b_slot = 1;
  p.out_slot = 2;
  p.a_zero_point = pick(rng, -128, 127);
  p.b_zero_point = pick(rng, -128, 127);
  p.y_zero_point = pick(rng, -128, 127);
  p.act_min = pick(rng, 0, 2) == 0 ? pick(rng, -128, 0) : -128;
  p.act_max = pick(rng, 0, 2) == 0 ? pick(rng, p.act_min, 127) : 127;
  std::uniform_real_distribution<double> e(-10.0, 2.0);
  const double as = std::exp2(e(rng)), bs = pick(rng, 0, 3) == 0 ? as : std::exp2(e(rng)), ys = std::exp2(e(rng));
  const double twice_max = 2.0 * std::max(as, bs);
  p.left_shift = 20;
  rtml_quantize_multiplier(as / twice_max, &p.a_multiplier, &p.a_shift);
  rtml_quantize_multiplier(bs / twice_max, &p.b_multiplier, &p.b_shift);
  rtml_quantize_multiplier(twice_max / (static_cast<double>(1 << p.left_shift) * ys), &p.y_multiplier, &p.y_shift);
  return p;
}

// `fast` against the reference on A, B and the broadcast in p; false (and
// up to 3 failures) where they differ.
bool same_qadd(rtml_kernel_fn fast, const rtml_qbinary_params& p, const std::vector<int8_t>& a,
               const std::vector<int8_t>& b, const std::string& what) {
  const size_t n = static_cast<size_t>(p.bc.count);
  std::vector<int8_t> want(n, 0), got(n, 0x55);
  std::vector<void*> ops = {const_cast<int8_t*>(a.data()), const_cast<int8_t*>(b.data()), want.data()};
  EXPECT_EQ(rtml_s8_qadd__ref(&p, ops.data()), 0);
  ops[2] = got.data();
  EXPECT_EQ(fast(&p, ops.data()), 0);
  int bad = 0;
  for (size_t i = 0; i < n; ++i)
    if (want[i] != got[i] && ++bad <= 3)
      ADD_FAILURE() << what << ": element " << i << " (" << int(a[i % a.size()]) << " + " << int(b[i % b.size()])
                    << ") is " << int(got[i]) << ", the reference " << int(want[i]);
  return bad == 0;
}

// An int8 Add kernel `fast` against the reference on these shapes, 6 rounds
// each of random parameters; returns the cases.
int check_qadd(rtml_kernel_fn fast, const std::vector<std::pair<Shape, Shape>>& shapes, uint32_t seed) {
  std::mt19937 rng(seed);
  int cases = 0;
  for (const auto& [sa, sb] : shapes)
    for (int round = 0; round < 6; ++round) {
      rtml_qbinary_params p = random_qadd_params(rng);
      Shape out;
      EXPECT_TRUE(kernels::broadcast_shape({sa, sb}, out) && kernels::make_broadcast({sa, sb}, out, p.bc));
      const std::vector<int8_t> a = random_int8(static_cast<size_t>(shape_numel(sa)), rng);
      const std::vector<int8_t> b = random_int8(static_cast<size_t>(shape_numel(sb)), rng);
      same_qadd(fast, p, a, b, shape_str(sa) + " + " + shape_str(sb));
      ++cases;
    }
  return cases;
}

// The cortex-m set's: one shape (its own loop) from 1 to 1000 elements and
// broadcasts (the reference's walk).
TEST(CortexMQuant, AddMatchesReferenceBitForBit) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1}, {1}}, {{7}, {7}}, {{2, 3, 5}, {2, 3, 5}}, {{1, 16, 8, 8}, {1, 16, 8, 8}}, {{1000}, {1000}},
      {{4, 5}, {5}}, {{3, 1}, {1, 6}}, {{2, 3, 4}, {1}}};
  EXPECT_EQ(check_qadd(rtml_s8_qadd__cm, shapes, 15), 48);
}

// The simd set's int8 Add (A and B of one shape): sizes around every vector width.
TEST(FastQuant, AddMatchesReferenceBitForBitOnEveryTarget) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1}, {1}}, {{3}, {3}}, {{4}, {4}}, {{8}, {8}}, {{15}, {15}}, {{16}, {16}}, {{17}, {17}}, {{2, 3, 5}, {2, 3, 5}},
      {{1, 8, 64}, {1, 8, 64}}, {{1001}, {1001}}};
  rtml::testing::check_every_dispatched_target(kernels::fast_quant_target,
                                               [&] { EXPECT_EQ(check_qadd(rtml_s8_qadd__hwy, shapes, 16), 60); });
}

// The simd set's int8 Add estimates in float and redoes exactly a vector
// with a lane near a rounding tie (fast_quant.cpp): every pair of int8
// values (so every near tie there is) under 60 random parameter sets, two
// where half the sums are ties (y = (a + b) / 2 and / 4: the reference
// rounds them away from zero, the float estimate to even), and two where
// the estimate is not used (output scale far below the inputs'), equal to
// the reference.
TEST(FastQuant, AddOfEveryPairOfValuesMatchesReferenceOnEveryTarget) {
  std::vector<int8_t> a(65536), b(65536);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<int8_t>(i % 256);
    b[i] = static_cast<int8_t>(i / 256);
  }
  rtml::testing::check_every_dispatched_target(kernels::fast_quant_target, [&] {
    std::mt19937 rng(21);
    int good = 0;
    for (int round = 0; round < 64; ++round) {
      rtml_qbinary_params p = random_qadd_params(rng);
      if (round == 60 || round == 61) {  // a_scale = b_scale = y_scale / 2 (or / 4)
        rtml_quantize_multiplier(0.5, &p.a_multiplier, &p.a_shift);
        rtml_quantize_multiplier(0.5, &p.b_multiplier, &p.b_shift);
        rtml_quantize_multiplier(std::exp2(round == 60 ? -20.0 : -21.0), &p.y_multiplier, &p.y_shift);
      }
      if (round >= 62)  // y_scale 2^-8 and 2^-29 of the inputs': values far beyond int8, left shifts
        rtml_quantize_multiplier(std::exp2(round == 62 ? 8.0 : 29.0), &p.y_multiplier, &p.y_shift);
      EXPECT_TRUE(kernels::make_broadcast({{65536}, {65536}}, {65536}, p.bc));
      good += same_qadd(rtml_s8_qadd__hwy, p, a, b, "parameter set " + std::to_string(round));
    }
    EXPECT_EQ(good, 64);
  });
}

// The simd set's int8 mean of contiguous runs against the reference: run
// lengths around every vector width (1 to 300), 1 to 40 runs, random zero
// points and scales (the op's multiplier for x_scale / (y_scale n)).
TEST(FastQuant, MeanOfContiguousRunsMatchesReferenceOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_quant_target, [] {
    std::mt19937 rng(31);
    int good = 0;
    const int64_t lengths[] = {1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 50, 63, 64, 65, 100, 127, 128, 129, 300};
    for (int64_t n : lengths)
      for (int round = 0; round < 4; ++round) {
        rtml_qmean_params p{};
        p.outer = pick(rng, 1, 40);
        p.n = n;
        p.inner = 1;
        p.x_zero_point = pick(rng, -128, 127);
        p.y_zero_point = pick(rng, -128, 127);
        std::uniform_real_distribution<double> e(-6.0, 3.0);
        rtml_quantize_multiplier(std::exp2(e(rng)) / static_cast<double>(n), &p.multiplier, &p.shift);
        p.out_slot = 1;
        const std::vector<int8_t> x = random_int8(static_cast<size_t>(p.outer * n), rng);
        std::vector<int8_t> want(static_cast<size_t>(p.outer), 0), got(static_cast<size_t>(p.outer), 0x55);
        std::vector<void*> ops = {const_cast<int8_t*>(x.data()), want.data()};
        EXPECT_EQ(rtml_s8_mean__ref(&p, ops.data()), 0);
        ops[1] = got.data();
        EXPECT_EQ(rtml_s8_mean__hwy(&p, ops.data()), 0);
        good += want == got;
        if (want != got)
          for (size_t i = 0; i < want.size(); ++i)
            if (want[i] != got[i]) {
              ADD_FAILURE() << "n " << n << " runs " << p.outer << ": run " << i << " is " << int(got[i])
                            << ", the reference " << int(want[i]);
              break;
            }
      }
    EXPECT_EQ(good, 19 * 4);
  });
}

// The kernels' vector requantization against the scalar routine: random
// accumulators, multipliers and shifts, the extremes of each (INT32_MIN *
// INT32_MIN saturates; left shifts wrap), with and without an int8 clamp.
int check_requantize_lanes(uint32_t seed) {
  std::mt19937 rng(seed);
  // Products a * m at the rounding ties and one below them: 2^30 +- 1 times 1, 2^30 times odd numbers...
  const int32_t edges[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, 3, INT32_MAX, INT32_MAX - 1, 1 << 30, -(1 << 30),
                           (1 << 30) - 1, -(1 << 30) + 1, (1 << 30) + 1, 255, -256};
  const int last_edge = static_cast<int>(sizeof(edges) / sizeof(edges[0])) - 1;
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  const size_t n = 4099;  // not a multiple of any vector
  std::vector<int32_t> acc(n), mult(n), shift(n), got(n);
  int cases = 0;
  for (int round = 0; round < 40; ++round) {
    for (size_t i = 0; i < n; ++i) {
      const int kind = pick(rng, 0, 3);
      acc[i] = kind == 0 ? edges[pick(rng, 0, last_edge)] : kind == 1 ? pick(rng, -100000, 100000) : any(rng);
      const int mk = pick(rng, 0, 4);
      mult[i] = mk <= 1 ? edges[pick(rng, 0, last_edge)] : mk == 2 ? pick(rng, 1 << 30, INT32_MAX) : any(rng);
      shift[i] = pick(rng, 0, 5) == 0 ? pick(rng, -31, 31) : pick(rng, -20, 2);
    }
    const bool clamp = round % 2 == 0;
    const int32_t zy = clamp ? pick(rng, -128, 127) : 0;
    const int32_t lo = clamp ? pick(rng, -128, 0) : INT32_MIN + 1000, hi = clamp ? pick(rng, lo, 127) : INT32_MAX - 1000;
    kernels::requantize_lanes(static_cast<int64_t>(n), acc.data(), mult.data(), shift.data(), zy, lo, hi, got.data());
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
      const int32_t want = rtml_requantize_output(acc[i], mult[i], shift[i], zy, lo, hi);
      if (got[i] != want && ++bad <= 3)
        ADD_FAILURE() << "acc " << acc[i] << " multiplier " << mult[i] << " shift " << shift[i] << " zy " << zy
                      << ": " << got[i] << ", the scalar routine " << want;
    }
    cases += static_cast<int>(n);
  }
  return cases;
}

TEST(FastQuant, VectorRequantizationIsTheScalarRoutineOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_quant_target,
                                               [] { EXPECT_EQ(check_requantize_lanes(11), 40 * 4099); });
}

// QuantizeLinear and DequantizeLinear on vectors against the reference
// kernels, bit for bit: random shapes (runs of 1 to 70 elements, off every
// vector width), per tensor and per axis, with and without a zero point,
// int8 and uint8; inputs at and around the rounding ties ((k + 1/2) * scale,
// one and two float steps either side: where the vector kernel divides after
// all rather than multiply by the reciprocal), beyond the type's range, +-inf, NaN, -0 and
// denormals; scales from tiny (denormal products) to huge. Returns the cases.
template <class T>
int check_quantize_linear(uint32_t seed, rtml_kernel_fn q_ref, rtml_kernel_fn q_fast, rtml_kernel_fn dq_ref,
                          rtml_kernel_fn dq_fast) {
  std::mt19937 rng(seed);
  int cases = 0;
  const float scales[] = {1.0f, 0.5f, 0.1f, 0.0173f, 3.0f, 1e-3f, 7.5e-6f, 1e-30f, 1e-39f /* denormal */, 1e30f};
  for (int i = 0; i < 120; ++i) {
    rtml_quantize_params p{};
    p.per_axis = pick(rng, 0, 2) == 0;
    p.has_zero_point = pick(rng, 0, 3) > 0;
    p.outer = p.per_axis ? pick(rng, 1, 3) : 1;
    p.axis_dim = p.per_axis ? pick(rng, 1, 5) : 1;
    p.inner = pick(rng, 1, 70);
    p.out_slot = 3;
    const int64_t n = p.outer * p.axis_dim * p.inner;
    std::vector<float> scale(static_cast<size_t>(p.axis_dim));
    std::vector<T> zp(static_cast<size_t>(p.axis_dim));
    for (size_t c = 0; c < scale.size(); ++c) {
      scale[c] = scales[pick(rng, 0, 9)] * (1.0f + 0.01f * static_cast<float>(pick(rng, 0, 50)));
      zp[c] = static_cast<T>(pick(rng, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()));
    }
    std::vector<float> x(static_cast<size_t>(n));
    std::vector<T> q(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) {
      const float s = scale[static_cast<size_t>(p.per_axis ? (e / p.inner) % p.axis_dim : 0)];
      const float tie = (static_cast<float>(pick(rng, -300, 300)) + 0.5f) * s;
      float v = 0;
      switch (pick(rng, 0, 9)) {
        case 0: v = tie; break;
        case 1: v = std::nextafter(tie, INFINITY); break;
        case 2: v = std::nextafter(tie, -INFINITY); break;
        case 6: v = std::nextafter(std::nextafter(tie, INFINITY), INFINITY); break;
        case 7: v = std::nextafter(std::nextafter(tie, -INFINITY), -INFINITY); break;
        case 3: v = std::uniform_real_distribution<float>(-200.0f, 200.0f)(rng) * s; break;
        case 4: v = std::uniform_real_distribution<float>(-1e7f, 1e7f)(rng) * s; break;
        case 5: {
          const float special[] = {INFINITY, -INFINITY, NAN, -0.0f, 1e-40f, -1e-40f, 3.4e38f, -3.4e38f};
          v = special[pick(rng, 0, 7)];
          break;
        }
        default: v = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng); break;
      }
      x[static_cast<size_t>(e)] = v;
      q[static_cast<size_t>(e)] = static_cast<T>(pick(rng, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()));
    }
    const std::string what = "case " + std::to_string(i) + " outer " + std::to_string(p.outer) + " axis " +
                             std::to_string(p.axis_dim) + " inner " + std::to_string(p.inner) +
                             (p.has_zero_point ? "" : " (no zero point)");
    {  // QuantizeLinear
      std::vector<T> y_ref(static_cast<size_t>(n), 0), y_fast(static_cast<size_t>(n), 0x55);
      std::vector<void*> ops = {x.data(), scale.data(), zp.data(), y_ref.data()};
      EXPECT_EQ(q_ref(&p, ops.data()), 0);
      ops[3] = y_fast.data();
      EXPECT_EQ(q_fast(&p, ops.data()), 0);
      int bad = 0;
      for (size_t e = 0; e < y_ref.size(); ++e)
        if (y_ref[e] != y_fast[e] && ++bad <= 3)
          ADD_FAILURE() << "quantize " << what << ": element " << e << " (" << x[e] << ") is " << int(y_fast[e])
                        << ", the reference " << int(y_ref[e]);
    }
    {  // DequantizeLinear: the float bits
      std::vector<float> y_ref(static_cast<size_t>(n), 0.0f), y_fast(static_cast<size_t>(n), 7.0f);
      std::vector<void*> ops = {q.data(), scale.data(), zp.data(), y_ref.data()};
      EXPECT_EQ(dq_ref(&p, ops.data()), 0);
      ops[3] = y_fast.data();
      EXPECT_EQ(dq_fast(&p, ops.data()), 0);
      EXPECT_EQ(std::memcmp(y_ref.data(), y_fast.data(), y_ref.size() * sizeof(float)), 0) << "dequantize " << what;
    }
    ++cases;
  }
  return cases;
}

TEST(FastQuant, QuantizeLinearMatchesReferenceBitForBitOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_quant_target, [] {
    EXPECT_EQ(check_quantize_linear<int8_t>(21, rtml_s8_quantize__ref, rtml_s8_quantize__hwy, rtml_s8_dequantize__ref,
                                            rtml_s8_dequantize__hwy),
              120);
    EXPECT_EQ(check_quantize_linear<uint8_t>(22, rtml_u8_quantize__ref, rtml_u8_quantize__hwy,
                                             rtml_u8_dequantize__ref, rtml_u8_dequantize__hwy),
              120);
  });
}

// The packed constant: weight sums first, then k-quads of 16 channels.
TEST(FastQuant, PackedLayoutByHand) {
  const int8_t w[2 * 5] = {1, 2, 3, 4, 5, -1, -2, -3, -4, -128};  // [N = 2 x K = 5]
  std::vector<int8_t> packed(static_cast<size_t>(kernels::qpacked_bytes(5, 2)));
  ASSERT_EQ(packed.size(), 16 * 4 + 2 * 16 * 4u);  // 16 sums, two k-quads of a 16-channel panel
  kernels::qpack(5, 2, w, 1, 5, packed.data());
  int32_t sums[2];
  std::memcpy(sums, packed.data(), sizeof(sums));
  EXPECT_EQ(sums[0], 15);
  EXPECT_EQ(sums[1], -138);
  const int8_t* q0 = packed.data() + 64;
  EXPECT_EQ(std::vector<int8_t>(q0, q0 + 8), (std::vector<int8_t>{1, 2, 3, 4, -1, -2, -3, -4}));
  EXPECT_EQ(std::vector<int8_t>(q0 + 64, q0 + 72), (std::vector<int8_t>{5, 0, 0, 0, -128, 0, 0, 0}));
  EXPECT_TRUE(std::all_of(q0 + 8, q0 + 64, [](int8_t v) { return v == 0; }));
}

// ---- through the ops ---------------------------------------------------------

struct Graph : rtml::testing::QLinearGraph {
  // Runs with the kernel set; returns Y and the last step's kernel.
  std::pair<std::vector<int8_t>, std::string> run(kernels::KernelSet set) const {
    plan::PlanOptions po;
    po.kernels = set;
    engine::Session s(plan::build_plan(g, po));
    for (size_t i = 0; i < feeds.size(); ++i)
      std::memcpy(s.input_data(static_cast<int>(i)), feeds[i].second.data(), feeds[i].second.size());
    EXPECT_TRUE(s.run().ok());
    const size_t n = static_cast<size_t>(shape_numel(s.output(0).shape));
    const auto* y = static_cast<const int8_t*>(s.output_data(0));
    return {std::vector<int8_t>(y, y + n), s.plan().steps.back().step.kernel};
  }
};

// A QLinear node of int8 X [x_shape] (a graph input) and constant W, per-channel
// weight scales, an int32 bias when `bias`.
Graph qlinear_graph(const char* op, const Shape& x_shape, const Shape& w_shape, int64_t channels, bool bias,
                    std::map<std::string, ir::Attribute> attrs, std::mt19937& rng) {
  Graph q;
  q.g.opset = 13;
  q.g.source = "fast_quant_test";
  const std::vector<int8_t> x = random_int8(static_cast<size_t>(shape_numel(x_shape)), rng);
  const std::vector<int8_t> w = random_int8(static_cast<size_t>(shape_numel(w_shape)), rng);
  std::vector<float> w_scale(static_cast<size_t>(channels));
  for (float& s : w_scale) s = std::uniform_real_distribution<float>(0.001f, 0.02f)(rng);
  const std::vector<int8_t> w_zp(static_cast<size_t>(channels), 0);
  const std::vector<int32_t> b = random_bias(static_cast<size_t>(channels), rng, false);
  const float xs = 0.05f, ys = 0.1f;
  const int8_t xzp = -7, yzp = 3;
  ir::Node n;
  n.name = "q";
  n.op_type = op;
  n.attrs = std::move(attrs);
  n.inputs = {q.add("x", DType::I8, x_shape, x.data(), x.size(), false),
              q.add("x_scale", DType::F32, {}, &xs, 4, true),
              q.add("x_zp", DType::I8, {}, &xzp, 1, true),
              q.add("w", DType::I8, w_shape, w.data(), w.size(), true),
              q.add("w_scale", DType::F32, {channels}, w_scale.data(), w_scale.size() * 4, true),
              q.add("w_zp", DType::I8, {channels}, w_zp.data(), w_zp.size(), true),
              q.add("y_scale", DType::F32, {}, &ys, 4, true),
              q.add("y_zp", DType::I8, {}, &yzp, 1, true)};
  if (bias) n.inputs.push_back(q.add("bias", DType::I32, {channels}, b.data(), b.size() * 4, true));
  ir::Tensor out;
  out.name = "y";
  n.outputs = {q.g.add_tensor(out)};
  q.g.outputs = {n.outputs[0]};
  q.g.nodes.push_back(n);
  return q;
}

TEST(FastQuantOps, SimdKernelSetPicksHighwayAndMatchesReference) {
  std::mt19937 rng(7);
  struct Case {
    const char* op;
    Shape x, w;
    int64_t channels;
    std::map<std::string, ir::Attribute> attrs;
    const char* fast;
  };
  const std::vector<Case> cases = {
      {"QLinearMatMul", {1, 256}, {256, 256}, 256, {}, "rtml_s8_fully_connected__hwy"},
      {"QLinearMatMul", {5, 33}, {33, 19}, 19, {}, "rtml_s8_fully_connected__hwy"},
      {"QLinearConv", {1, 3, 50}, {17, 3, 5}, 17, {{"pads", attr_ints({2, 2})}}, "rtml_s8_conv__hwy"},
      {"QLinearConv", {2, 4, 9, 11}, {6, 4, 3, 3}, 6, {{"strides", attr_ints({2, 1})}, {"pads", attr_ints({1, 1, 1, 1})}},
       "rtml_s8_conv__hwy"},
      {"QLinearConv", {1, 8, 7, 13}, {8, 1, 3, 3}, 8, {{"group", attr_int(8)}, {"pads", attr_ints({1, 1, 1, 1})}},
       "rtml_s8_depthwise_conv__hwy"},
  };
  for (const Case& c : cases) {
    for (bool bias : {false, true}) {
      if (bias && std::string(c.op) == "QLinearMatMul") continue;  // QLinearMatMul has no bias
      const Graph q = qlinear_graph(c.op, c.x, c.w, c.channels, bias, c.attrs, rng);
      const auto ref = q.run(kernels::KernelSet::Reference);
      const auto fast = q.run(kernels::KernelSet::Simd);
      EXPECT_NE(ref.second.find("__ref"), std::string::npos) << ref.second;
      EXPECT_EQ(fast.second, c.fast);
      EXPECT_EQ(fast.first, ref.first) << c.op << " " << shape_str(c.x);
    }
  }
}

TEST(FastQuantOps, CortexMKernelSetPicksItsKernelsAndMatchesReference) {
  std::mt19937 rng(8);
  struct Case {
    const char* op;
    Shape x, w;
    int64_t channels;
    std::map<std::string, ir::Attribute> attrs;
    bool fused;  // the planner's rtml.fused form (a bias; transB)
    const char* cm;
  };
  const std::vector<Case> cases = {
      // ONNX's W [K x N]: the reference (the cortex-m kernel reads rows of W).
      {"QLinearMatMul", {1, 40}, {40, 12}, 12, {}, false, "rtml_s8_fully_connected__ref"},
      // A TFLite / Gemm(transB) weight [N x K], as fuse_qdq leaves it.
      {"QLinearMatMul", {3, 33}, {19, 33}, 19, {{"transB", attr_int(1)}}, true, "rtml_s8_fully_connected__cm"},
      {"QLinearConv", {1, 3, 50}, {17, 3, 5}, 17, {{"pads", attr_ints({2, 2})}}, false, "rtml_s8_conv__cm"},
      {"QLinearConv", {1, 16, 6, 5}, {9, 16, 1, 1}, 9, {}, true, "rtml_s8_conv__cm"},
      {"QLinearConv", {2, 4, 9, 11}, {6, 4, 3, 3}, 6, {{"strides", attr_ints({2, 1})}, {"pads", attr_ints({1, 1, 1, 1})}},
       true, "rtml_s8_conv__cm"},
      {"QLinearConv", {1, 8, 7, 13}, {8, 1, 3, 3}, 8, {{"group", attr_int(8)}, {"pads", attr_ints({1, 1, 1, 1})}}, true,
       "rtml_s8_depthwise_conv__cm"},
  };
  for (const Case& c : cases) {
    Graph q = qlinear_graph(c.op, c.x, c.w, c.channels, c.fused, c.attrs, rng);
    if (c.fused) q.g.nodes[0].domain = ops::kFusedDomain;
    const auto ref = q.run(kernels::KernelSet::Reference);
    const auto cm = q.run(kernels::KernelSet::CortexM);
    EXPECT_NE(ref.second.find("__ref"), std::string::npos) << ref.second;
    EXPECT_EQ(cm.second, c.cm);
    EXPECT_EQ(cm.first, ref.first) << c.op << " " << shape_str(c.x);
  }
}

}  // namespace
