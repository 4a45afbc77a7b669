// The int8 MLPerf Tiny models, layer by layer through CMSIS-NN (built for
// the host) with the file's own scales, zero points, paddings and fused
// activations, against rtml's import + plan + run of the same file: every
// value must be identical. This checks what the kernel oracle
// (cmsis_nn_oracle.cpp) cannot: that the importer's QDQ form turns into the
// integer steps TFLite's arithmetic prescribes (multipliers from
// in_scale * w_scale / out_scale, bias, zero points, clamps, SAME pads).
//
// The file is walked here on its own (tensors, operators, options by field
// index from the schema), NHWC as CMSIS-NN wants it; only the bounds-checked
// byte reader (import/flatbuffer_reader.h) is shared with the importer.
// Layers: CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, FULLY_CONNECTED,
// RESHAPE, ADD (arm_elementwise_add_s8 with TFLite's multipliers: inputs
// times 2^20 scaled by scale / (2 max(scales)), the sum by 2 max(scales) /
// (2^20 output scale)) and SOFTMAX (arm_softmax_s8 with the multiplier,
// left shift and diff_min of TFLite's prepare from beta * input scale; the
// output must be TFLite's scale 1/256, zero point -128). The model's output
// is compared, and the logits (the SOFTMAX's input) too.
//
// Usage: rtml_cmsis_nn_tflite MODELS_DIR [random inputs per model (default 5)]
// (skipped, exit 77, when MODELS_DIR is missing)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "arm_nnfunctions.h"
}

#include "engine/session.h"
#include "import/flatbuffer_reader.h"
#include "import/tflite_import.h"
#include "kernels/quant.h"
#include "plan/plan.h"

namespace fb = rtml::import::fb;

namespace {

struct Tensor {
  std::string name;
  std::vector<int32_t> shape;
  std::vector<float> scale;
  std::vector<int64_t> zp;
  const uint8_t* data = nullptr;
};

struct Op {
  int32_t code;
  std::vector<int32_t> in, out;
  fb::Table opts;
};

template <class T>
std::vector<T> values(const fb::Vector& v) {
  std::vector<T> out(v.count);
  for (uint32_t i = 0; i < v.count; ++i) out[i] = v.get<T>(i);
  return out;
}

// The output clamp of a fused activation (TFLite's CalculateActivationRangeQuantized).
cmsis_nn_activation clamp(int8_t fused, const Tensor& y) {
  const auto q = [&](float v) { return int32_t(y.zp[0] + std::lround(v / y.scale[0])); };
  cmsis_nn_activation a{-128, 127};
  if (fused == 1 || fused == 3) a.min = std::max(-128, q(0.f));
  if (fused == 3) a.max = std::min(127, q(6.f));
  if (fused == 2) a.min = std::max(-128, q(-1.f)), a.max = std::min(127, q(1.f));
  return a;
}

int32_t same_pad(int32_t in, int32_t k, int32_t stride, int32_t dilation, bool same) {
  if (!same) return 0;
  const int32_t out = (in + stride - 1) / stride;
  return std::max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0) / 2;
}

class Walk {
 public:
  Walk(const std::vector<uint8_t>& bytes, const std::string& file) : buf_(bytes.data(), bytes.size(), file) {
    fb::Table model = fb::root(buf_, "model");
    std::vector<int32_t> codes;
    fb::Vector oc = model.vector(1, 4, "operator_codes");
    for (uint32_t i = 0; i < oc.count; ++i) {
      fb::Table c = fb::Table::element(oc, i, "code");
      codes.push_back(std::max<int32_t>(c.scalar<int8_t>(0, 0), c.scalar<int32_t>(3, 0)));
    }
    fb::Vector bufs = model.vector(4, 4, "buffers");
    fb::Table sg = fb::Table::element(model.vector(2, 4, "subgraphs"), 0, "subgraph");
    fb::Vector ts = sg.vector(0, 4, "tensors");
    for (uint32_t i = 0; i < ts.count; ++i) {
      fb::Table t = fb::Table::element(ts, i, "tensor");
      Tensor x;
      x.name = t.string(3, "name");
      x.shape = values<int32_t>(t.vector(0, 4, "shape"));
      fb::Table q = t.table(4, "quantization");
      if (q.valid()) {
        x.scale = values<float>(q.vector(2, 4, "scale"));
        x.zp = values<int64_t>(q.vector(3, 8, "zero_point"));
      }
      fb::Vector data = fb::Table::element(bufs, t.scalar<uint32_t>(2, 0), "buffer").vector(0, 1, "data");
      if (data.count) x.data = buf_.at(data.pos);
      tensors.push_back(x);
    }
    inputs = values<int32_t>(sg.vector(1, 4, "inputs"));
    outputs = values<int32_t>(sg.vector(2, 4, "outputs"));
    fb::Vector ops_v = sg.vector(3, 4, "operators");
    for (uint32_t i = 0; i < ops_v.count; ++i) {
      fb::Table o = fb::Table::element(ops_v, i, "operator");
      ops.push_back({codes.at(o.scalar<uint32_t>(0, 0)), values<int32_t>(o.vector(1, 4, "inputs")),
                     values<int32_t>(o.vector(2, 4, "outputs")), o.table(4, "options")});
    }
  }

  // Runs the layers on `input` (NHWC int8); returns the index of the last
  // tensor written, and the SOFTMAX's input in *logits (-1: none).
  int run(const std::vector<int8_t>& input, std::map<int, std::vector<int8_t>>& v, int* logits) {
    v[inputs[0]] = input;
    int last = inputs[0];
    *logits = -1;
    for (const Op& op : ops) {
      const Tensor& x = tensors[op.in[0]];
      const Tensor& y = tensors[op.out[0]];
      std::vector<int8_t> out(size_t(count(y)));
      const std::vector<int8_t>& in = v.at(op.in[0]);
      if (op.code == 22) {  // RESHAPE: the same bytes
        out = in;
      } else if (op.code == 25) {  // SOFTMAX over the last axis
        if (std::fabs(y.scale[0] * 256.0f - 1.0f) > 1e-3f || y.zp[0] != -128) {
          std::printf("FAIL %s: the SOFTMAX's output is not TFLite's scale 1/256, zero point -128\n", buf_.file().c_str());
          ++failures;
          return -1;
        }
        const double beta = op.opts.scalar<float>(0, 1.f);
        int32_t mult = 0, shift = 0, diff_min = 0;
        if (!rtml_softmax_scaling(beta * x.scale[0], &mult, &shift, &diff_min)) {
          std::printf("FAIL %s: no softmax scaling for input scale %g\n", buf_.file().c_str(), double(x.scale[0]));
          ++failures;
          return -1;
        }
        const int32_t row = x.shape.back();
        arm_softmax_s8(in.data(), int32_t(in.size()) / row, row, mult, shift, diff_min, out.data());
        *logits = op.in[0];
      } else if (op.code == 0) {  // ADD of two int8 tensors of one shape
        const Tensor& b = tensors[op.in[1]];
        const std::vector<int8_t>& in_b = v.at(op.in[1]);
        const int32_t left_shift = 20;
        const double twice_max = 2.0 * std::max<double>(x.scale[0], b.scale[0]);
        int32_t am = 0, as = 0, bm = 0, bs = 0, ym = 0, ys = 0;
        rtml_quantize_multiplier(x.scale[0] / twice_max, &am, &as);
        rtml_quantize_multiplier(b.scale[0] / twice_max, &bm, &bs);
        rtml_quantize_multiplier(twice_max / ((1 << left_shift) * double(y.scale[0])), &ym, &ys);
        const cmsis_nn_activation a = clamp(op.opts.scalar<int8_t>(0, 0), y);
        check(arm_elementwise_add_s8(in.data(), in_b.data(), int32_t(-x.zp[0]), am, as, int32_t(-b.zp[0]), bm, bs, left_shift,
                                     out.data(), int32_t(y.zp[0]), ym, ys, a.min, a.max, int32_t(out.size())),
              "add");
      } else if (op.code == 1) {  // AVERAGE_POOL_2D
        const bool same = op.opts.scalar<int8_t>(0, 0) == 0;
        const int sw = op.opts.scalar<int32_t>(1, 1), sh = op.opts.scalar<int32_t>(2, 1);
        const int fw = op.opts.scalar<int32_t>(3, 1), fh = op.opts.scalar<int32_t>(4, 1);
        cmsis_nn_pool_params p{};
        p.stride = {sw, sh};
        p.padding = {same_pad(x.shape[2], fw, sw, 1, same), same_pad(x.shape[1], fh, sh, 1, same)};
        p.activation = clamp(op.opts.scalar<int8_t>(5, 0), y);
        cmsis_nn_dims in_d{1, x.shape[1], x.shape[2], x.shape[3]}, f_d{1, fh, fw, 1},
            out_d{1, y.shape[1], y.shape[2], y.shape[3]};
        std::vector<int8_t> scratch(size_t(arm_avgpool_s8_get_buffer_size(y.shape[2], x.shape[3])) + 16);
        cmsis_nn_context ctx{scratch.data(), int32_t(scratch.size())};
        check(arm_avgpool_s8(&ctx, &p, &in_d, in.data(), &f_d, &out_d, out.data()), "avgpool");
      } else if (op.code == 3 || op.code == 4 || op.code == 9) {
        const Tensor& w = tensors[op.in[1]];
        const int32_t* bias = op.in.size() > 2 && op.in[2] >= 0 ? reinterpret_cast<const int32_t*>(tensors[op.in[2]].data) : nullptr;
        const int n_out = op.code == 9 ? w.shape[0] : w.shape[op.code == 3 ? 0 : 3];
        std::vector<int32_t> mult(static_cast<size_t>(n_out)), shift(mult), zero_bias(mult.size(), 0);
        for (int c = 0; c < n_out; ++c)
          rtml_quantize_multiplier(double(x.scale[0]) * w.scale[w.scale.size() > 1 ? size_t(c) : 0] / y.scale[0], &mult[size_t(c)],
                                   &shift[size_t(c)]);
        if (!bias) bias = zero_bias.data();
        cmsis_nn_dims b_d{1, 1, 1, n_out};
        const auto* wd = reinterpret_cast<const int8_t*>(w.data);
        if (op.code == 9) {  // FULLY_CONNECTED, per tensor
          const int k = w.shape[1];
          cmsis_nn_fc_params p{};
          p.input_offset = int32_t(-x.zp[0]);
          p.output_offset = int32_t(y.zp[0]);
          p.activation = clamp(op.opts.scalar<int8_t>(0, 0), y);
          cmsis_nn_per_tensor_quant_params q{mult[0], shift[0]};
          cmsis_nn_dims in_d{int32_t(in.size()) / k, 1, 1, k}, f_d{k, 1, 1, n_out}, out_d{int32_t(in.size()) / k, 1, 1, n_out};
          cmsis_nn_context ctx{nullptr, 0};
          check(arm_fully_connected_s8(&ctx, &p, &q, &in_d, in.data(), &f_d, wd, &b_d, bias, &out_d, out.data()), "fc");
        } else {
          const bool dw = op.code == 4;
          const bool same = op.opts.scalar<int8_t>(0, 0) == 0;
          const int sw = op.opts.scalar<int32_t>(1, 1), sh = op.opts.scalar<int32_t>(2, 1);
          const int dlw = op.opts.scalar<int32_t>(dw ? 5 : 4, 1), dlh = op.opts.scalar<int32_t>(dw ? 6 : 5, 1);
          const int8_t fused = op.opts.scalar<int8_t>(dw ? 4 : 3, 0);
          const int kh = w.shape[1], kw = w.shape[2];
          cmsis_nn_per_channel_quant_params q{mult.data(), shift.data()};
          cmsis_nn_dims in_d{1, x.shape[1], x.shape[2], x.shape[3]}, out_d{1, y.shape[1], y.shape[2], y.shape[3]};
          const cmsis_nn_tile pad{same_pad(x.shape[2], kw, sw, dlw, same), same_pad(x.shape[1], kh, sh, dlh, same)};
          if (dw) {
            cmsis_nn_dw_conv_params p{};
            p.input_offset = int32_t(-x.zp[0]);
            p.output_offset = int32_t(y.zp[0]);
            p.ch_mult = n_out / x.shape[3];
            p.stride = {sw, sh};
            p.padding = pad;
            p.dilation = {dlw, dlh};
            p.activation = clamp(fused, y);
            cmsis_nn_dims f_d{1, kh, kw, n_out};
            cmsis_nn_context ctx{nullptr, 0};
            check(arm_depthwise_conv_s8(&ctx, &p, &q, &in_d, in.data(), &f_d, wd, &b_d, bias, &out_d, out.data()), "dwconv");
          } else {
            cmsis_nn_conv_params p{};
            p.input_offset = int32_t(-x.zp[0]);
            p.output_offset = int32_t(y.zp[0]);
            p.stride = {sw, sh};
            p.padding = pad;
            p.dilation = {dlw, dlh};
            p.activation = clamp(fused, y);
            cmsis_nn_dims f_d{n_out, kh, kw, w.shape[3]};
            std::vector<int8_t> scratch(size_t(arm_convolve_s8_get_buffer_size(&in_d, &f_d)) + 16);
            cmsis_nn_context ctx{scratch.data(), int32_t(scratch.size())};
            check(arm_convolve_s8(&ctx, &p, &q, &in_d, in.data(), &f_d, wd, &b_d, bias, nullptr, &out_d, out.data()), "conv");
          }
        }
      } else {
        std::printf("FAIL %s: operator code %d is not walked by this test\n", buf_.file().c_str(), op.code);
        ++failures;
        return -1;
      }
      v[op.out[0]] = std::move(out);
      last = op.out[0];
    }
    return last;
  }

  std::vector<Tensor> tensors;
  std::vector<int32_t> inputs, outputs;
  std::vector<Op> ops;
  int failures = 0;

 private:
  static int64_t count(const Tensor& t) {
    int64_t n = 1;
    for (int32_t d : t.shape) n *= d;
    return n;
  }
  void check(arm_cmsis_nn_status st, const char* what) {
    if (st != ARM_CMSIS_NN_SUCCESS) {
      std::printf("FAIL %s: CMSIS-NN %s returned %d\n", buf_.file().c_str(), what, int(st));
      ++failures;
    }
  }
  fb::Buffer buf_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::printf("usage: rtml_cmsis_nn_tflite MODELS_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint32_t seeds = argc > 2 ? static_cast<uint32_t>(std::atoi(argv[2])) : 5u;
  int failures = 0, checked = 0;
  for (const char* name : {"ad01_int8", "kws_ref_model", "pretrainedResnet_quant"}) {
    const std::string path = dir + "/" + name + ".tflite";
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      std::printf("SKIP: %s is missing (the MLPerf Tiny models live in ../shared)\n", path.c_str());
      return 77;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    try {
      Walk walk(bytes, path);
      rtml::ir::Graph g = rtml::import::load_tflite(path);
      std::string compared;
      for (uint32_t seed = 1; seed <= seeds; ++seed) {
        std::mt19937 rng(seed);
        int64_t n = 1;
        for (int32_t d : walk.tensors[walk.inputs[0]].shape) n *= d;
        std::vector<int8_t> input(static_cast<size_t>(n));
        for (auto& e : input) e = int8_t(std::uniform_int_distribution<int>(-128, 127)(rng));
        std::map<int, std::vector<int8_t>> want;
        int logits = -1;
        const int last = walk.run(input, want, &logits);
        if (last < 0) return 1;
        // rtml: the compared tensors made graph outputs, so the plan keeps them.
        std::vector<int> tensors{last};
        if (logits >= 0) tensors.push_back(logits);
        rtml::ir::Graph gg = g;
        std::vector<size_t> slots;
        for (int t : tensors) {
          const rtml::ir::TensorId id = gg.find(walk.tensors[t].name);
          const auto at = std::find(gg.outputs.begin(), gg.outputs.end(), id);
          slots.push_back(size_t(at - gg.outputs.begin()));
          if (at == gg.outputs.end()) gg.outputs.push_back(id);
        }
        rtml::engine::Session s(rtml::plan::build_plan(gg));
        std::memcpy(s.input_data(0), input.data(), input.size());
        if (!s.run().ok()) {
          std::printf("FAIL %s: rtml's run failed\n", name);
          ++failures;
          continue;
        }
        compared.clear();
        for (size_t k = 0; k < tensors.size(); ++k) {
          const auto* got = static_cast<const int8_t*>(s.output_data(int(slots[k])));
          const std::vector<int8_t>& ref = want.at(tensors[k]);
          int differ = 0;
          for (size_t i = 0; i < ref.size(); ++i) differ += got[i] != ref[i];
          ++checked;
          compared += (k ? "', '" : "") + walk.tensors[tensors[k]].name;
          if (differ) {
            ++failures;
            std::printf("FAIL %s seed %u: '%s' differs from CMSIS-NN in %d of %zu values\n", name, seed,
                        walk.tensors[tensors[k]].name.c_str(), differ, ref.size());
          }
        }
      }
      failures += walk.failures;
      std::printf("%s: '%s' compared on %u random inputs\n", name, compared.c_str(), seeds);
    } catch (const std::exception& e) {
      std::printf("FAIL %s: %s\n", name, e.what());
      ++failures;
    }
  }
  std::printf("cmsis_nn_tflite: %d checked, %d failed\n", checked, failures);
  return failures ? 1 : 0;
}
