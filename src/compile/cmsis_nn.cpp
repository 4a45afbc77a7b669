#include "compile/cmsis_nn.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "compile/codegen.h"
#include "core/error.h"
#include "kernels/pool.h"
#include "kernels/quant.h"
#include "kernels/table.h"
#include "kernels/tensor_ops.h"

namespace rtml::compile {

namespace {

enum class Kind { None, Conv, Depthwise, FullyConnected, Add, Softmax, AvgPool, MaxPool };

// Channels-last activations: convolutions, pools and Add read and write them.
bool spatial(Kind k) { return k != Kind::None && k != Kind::FullyConnected && k != Kind::Softmax; }

int tensor_at(const plan::Plan& plan, const plan::PlanStep& st, int slot) {
  return slot < 0 || static_cast<uint32_t>(slot) >= st.num_operands ? -1 : plan.operands[st.first_operand + slot];
}

bool is_constant(const plan::Plan& plan, int id) {
  return id >= 0 && plan.tensors[id].storage == plan::Storage::Constant;
}

// A zero point: its constant operand's (first) value when the slot is >= 0, else the params'.
int32_t zero_point(const plan::Plan& plan, const plan::PlanStep& st, int32_t slot, int32_t in_params) {
  if (slot < 0) return in_params;
  return *static_cast<const int8_t*>(plan.tensors[tensor_at(plan, st, slot)].constant->data());
}

bool zero_constant(const plan::Plan& plan, const plan::PlanStep& st, int32_t slot) {
  const int id = tensor_at(plan, st, slot);
  if (!is_constant(plan, id)) return false;
  const auto* at = static_cast<const uint8_t*>(plan.tensors[id].constant->data());
  return std::all_of(at, at + plan.tensors[id].bytes, [](uint8_t b) { return b == 0; });
}

// Zero points, weights, bias and requantization known at compile; weights symmetric.
template <class P>
bool constant_quantization(const plan::Plan& plan, const plan::PlanStep& st, const P& p) {
  return (p.x_zp_slot < 0 || is_constant(plan, tensor_at(plan, st, p.x_zp_slot))) &&
         (p.y_zp_slot < 0 || is_constant(plan, tensor_at(plan, st, p.y_zp_slot))) &&
         (p.w_zp_slot < 0 ? p.w_zero_point == 0 : zero_constant(plan, st, p.w_zp_slot)) && p.multiplier_slot >= 0 &&
         is_constant(plan, tensor_at(plan, st, p.w_slot)) && is_constant(plan, tensor_at(plan, st, p.multiplier_slot)) &&
         is_constant(plan, tensor_at(plan, st, p.shift_slot)) &&
         (p.bias_slot < 0 || is_constant(plan, tensor_at(plan, st, p.bias_slot)));
}

Kind kind_of(const plan::Plan& plan, const plan::PlanStep& st, CmsisArch arch) {
  const std::string sym = st.step.info ? st.step.info->symbol : "";
  const void* params = st.step.params.get();
  if (sym == "rtml_s8_conv__ref" || sym == "rtml_s8_depthwise_conv__ref") {
    const auto& p = *static_cast<const rtml_qconv_params*>(params);
    if (!constant_quantization(plan, st, p)) return Kind::None;
    if (p.group == 1) return Kind::Conv;
    if (p.group == p.C && p.C_out % p.C == 0 && p.N == 1) return Kind::Depthwise;
    return Kind::None;
  }
  if (sym == "rtml_s8_fully_connected__ref") {
    const auto& p = *static_cast<const rtml_qmatmul_params*>(params);
    // On Helium CMSIS-NN wants the weights' column sums in ctx.buf (arm_vector_sum_s8): not made here yet.
    return arch != CmsisArch::Mve && p.batch_count == 1 && constant_quantization(plan, st, p) ? Kind::FullyConnected
                                                                                               : Kind::None;
  }
  if (sym == "rtml_s8_qadd__ref") {
    const auto& p = *static_cast<const rtml_qbinary_params*>(params);
    const int a = tensor_at(plan, st, 0), b = tensor_at(plan, st, p.b_slot), y = tensor_at(plan, st, p.out_slot);
    return a >= 0 && b >= 0 && y >= 0 && plan.tensors[a].shape == plan.tensors[y].shape &&
                   plan.tensors[b].shape == plan.tensors[y].shape
               ? Kind::Add
               : Kind::None;
  }
  if (sym == "rtml_s8_softmax__ref") return Kind::Softmax;
  if (sym == "rtml_s8_avgpool__ref" || sym == "rtml_s8_maxpool__ref") {
    // One image, no dilation, no Indices output, every window holding an input
    // (CMSIS-NN fails an empty window, rtml writes 0).
    const auto& p = *static_cast<const rtml_pool_params*>(params);
    const int x = tensor_at(plan, st, 0);
    bool ok = x >= 0 && plan.tensors[x].shape.size() == static_cast<size_t>(p.spatial) + 2 &&
              plan.tensors[x].shape[0] == 1 && !p.has_indices;
    for (int i = 0; i < p.spatial; ++i)
      ok = ok && p.dilation[i] == 1 && p.pad_begin[i] < p.kernel[i] && p.pad_end[i] < p.kernel[i];
    return !ok ? Kind::None : sym == "rtml_s8_avgpool__ref" ? Kind::AvgPool : Kind::MaxPool;
  }
  return Kind::None;
}

// The activation operands of a covered step (inputs) and its output.
std::vector<int> activation_inputs(const plan::Plan& plan, const plan::PlanStep& st, Kind k) {
  if (k == Kind::Add)
    return {tensor_at(plan, st, 0), tensor_at(plan, st, static_cast<const rtml_qbinary_params*>(st.step.params.get())->b_slot)};
  return {tensor_at(plan, st, 0)};
}
int activation_output(const plan::Plan& plan, const plan::PlanStep& st, Kind k) {
  const void* p = st.step.params.get();
  switch (k) {
    case Kind::Conv:
    case Kind::Depthwise: return tensor_at(plan, st, static_cast<const rtml_qconv_params*>(p)->out_slot);
    case Kind::FullyConnected: return tensor_at(plan, st, static_cast<const rtml_qmatmul_params*>(p)->out_slot);
    case Kind::Add: return tensor_at(plan, st, static_cast<const rtml_qbinary_params*>(p)->out_slot);
    case Kind::Softmax: return tensor_at(plan, st, static_cast<const rtml_qsoftmax_params*>(p)->out_slot);
    case Kind::AvgPool:
    case Kind::MaxPool: return tensor_at(plan, st, 1);
    case Kind::None: break;
  }
  return -1;
}

// [N, C, spatial...] as N, C and the product of the spatial dims.
struct Ncs {
  int64_t n = 1, c = 1, s = 1;
};
Ncs ncs(const Shape& shape) {
  Ncs r;
  r.n = shape.size() > 0 ? shape[0] : 1;
  r.c = shape.size() > 1 ? shape[1] : 1;
  for (size_t i = 2; i < shape.size(); ++i) r.s *= shape[i];
  return r;
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// CMSIS-NN v7's arm_convolve_wrapper_s8_get_buffer_size for the architecture.
int64_t conv_buffer(CmsisArch arch, const rtml_qconv_params& p) {
  const bool one_by_one = p.pad_top == 0 && p.pad_left == 0 && p.KH == 1 && p.KW == 1 && p.dilation_h == 1 &&
                          p.dilation_w == 1;
  if (one_by_one) return 0;  // the 1x1 fast path's buffer is for Arm Compiler 6 only
  const int64_t col = p.C * p.KH * p.KW;
  if (arch == CmsisArch::Mve) {
    // The 1 x N path's buffer is at most (KW + pad + 2) * C; the general one 4 im2col rows of 16-byte lanes.
    return std::max<int64_t>(4 * ((col + 15) / 16) * 16, (p.KW + p.pad_left + 2) * p.C);
  }
  return 2 * ((col + 3) / 4 * 4) * 2;  // two int16 im2col rows
}

int64_t depthwise_buffer(CmsisArch arch, const rtml_qconv_params& p) {
  if (arch == CmsisArch::Mve) {
    int64_t size = 4 * 124 * p.KH * p.KW;  // CH_IN_BLOCK_MVE
    if (p.C == 1) {
      rtml_qconv_params as_conv = p;
      as_conv.C = 1;
      size = std::max(size, conv_buffer(arch, as_conv) + p.C_out * p.KH * p.KW);
    }
    return size;
  }
  const bool same = p.C == p.C_out && p.dilation_h == 1 && p.dilation_w == 1;
  if (!same || (p.KH == 3 && p.KW == 3 && p.pad_top <= 1 && p.pad_left <= 1)) return 0;
  return p.C * p.KH * p.KW * 2;
}

class Emitter {
 public:
  Emitter(const plan::Plan& plan, const std::string& name, CmsisArch arch, size_t base,
          const std::function<std::string(int)>& pointer)
      : plan_(plan), N_(name), arch_(arch), base_(base), pointer_(pointer) {}

  CmsisNnCode run() {
    const size_t n = plan_.steps.size();
    kinds_.assign(n, Kind::None);
    for (size_t s = 0; s < n; ++s) kinds_[s] = kind_of(plan_, plan_.steps[s], arch_);
    choose_layouts();
    code_.call.assign(n, "");
    code_.function.assign(n, "");
    for (size_t s = 0; s < n; ++s)
      if (kinds_[s] != Kind::None) emit(s);
    return std::move(code_);
  }

 private:
  // nhwc_[t]: tensor t is held channels-last. A covered conv, pool or Add
  // writes it, only such steps read it, and no view shares its bytes (a view
  // is an arena tensor no step writes).
  void choose_layouts() {
    const size_t T = plan_.tensors.size();
    std::vector<int> writer(T, -1);
    std::vector<bool> read_elsewhere(T, false), written(T, false);
    for (size_t s = 0; s < plan_.steps.size(); ++s) {
      const plan::PlanStep& st = plan_.steps[s];
      for (uint32_t i = 0; i < st.num_operands; ++i) {
        const int id = plan_.operands[st.first_operand + i];
        if (id < 0) continue;
        const bool is_output = i >= st.num_inputs && i < st.num_inputs + st.num_outputs;
        if (is_output) {
          written[id] = true;
          if (spatial(kinds_[s]) && id == activation_output(plan_, st, kinds_[s])) writer[id] = static_cast<int>(s);
        } else {
          const std::vector<int> acts = spatial(kinds_[s]) ? activation_inputs(plan_, st, kinds_[s]) : std::vector<int>{};
          if (std::find(acts.begin(), acts.end(), id) == acts.end()) read_elsewhere[id] = true;
        }
      }
    }
    for (const plan::OutputCopy& c : plan_.output_copies) read_elsewhere[c.source] = true;
    nhwc_.assign(T, false);
    for (size_t t = 0; t < T; ++t) {
      const plan::TensorPlan& tp = plan_.tensors[t];
      if (writer[t] < 0 || read_elsewhere[t] || tp.storage != plan::Storage::Arena || tp.shape.size() < 3) continue;
      bool viewed = false;
      for (size_t u = 0; u < T && !viewed; ++u) {
        const plan::TensorPlan& up = plan_.tensors[u];
        viewed = u != t && !written[u] && up.storage == plan::Storage::Arena && up.offset < tp.offset + tp.bytes &&
                 tp.offset < up.offset + up.bytes;
      }
      nhwc_[t] = !viewed;
      code_.nhwc_tensors += nhwc_[t] ? 1 : 0;
    }
  }

  // A const array in NAME_weights.c; returns its name.
  template <class T>
  std::string array(size_t s, const char* role, const std::vector<T>& values, const char* c_type) {
    const std::string name = N_ + "_cmsis" + std::to_string(s) + "_" + role;
    std::ostringstream w;
    w << "\n/* step " << s << ": " << role << " for CMSIS-NN */\nconst " << c_type << " " << name << "["
      << std::max<size_t>(1, values.size()) << "] " << N_ << "_ALIGNED = {";
    for (size_t i = 0; i < values.size(); ++i) w << (i % 16 == 0 ? "\n" : " ") << static_cast<int64_t>(values[i]) << ",";
    if (values.empty()) w << "0";
    w << "\n};\n";
    code_.weights += w.str();
    code_.statics += std::string("extern const ") + c_type + " " + name + "[];\n";
    code_.weight_bytes += values.size() * sizeof(T);
    return name;
  }

  template <class T>
  std::vector<T> constant(int id) const {
    const plan::TensorPlan& t = plan_.tensors[id];
    std::vector<T> v(t.bytes / sizeof(T));
    std::memcpy(v.data(), t.constant->data(), v.size() * sizeof(T));
    return v;
  }

  // Per-channel (multiplier, shift) arrays of `channels` values (a per-tensor pair repeated).
  template <class P>
  std::pair<std::string, std::string> requantization(size_t s, const P& p, int64_t channels) {
    const plan::PlanStep& st = plan_.steps[s];
    std::vector<int32_t> m = constant<int32_t>(tensor_at(plan_, st, p.multiplier_slot));
    std::vector<int32_t> sh = constant<int32_t>(tensor_at(plan_, st, p.shift_slot));
    m.resize(static_cast<size_t>(channels), m.empty() ? 0 : m[0]);
    sh.resize(static_cast<size_t>(channels), sh.empty() ? 0 : sh[0]);
    return {array(s, "multiplier", m, "int32_t"), array(s, "shift", sh, "int32_t")};
  }

  template <class P>
  std::string bias(size_t s, const P& p, int64_t channels) {
    std::vector<int32_t> b(static_cast<size_t>(channels), 0);
    if (p.bias_slot >= 0) b = constant<int32_t>(tensor_at(plan_, plan_.steps[s], p.bias_slot));
    return array(s, "bias", b, "int32_t");
  }

  // rtml_x8_transpose__ref from [n, a, b] to [n, b, a] (NCHW <-> NHWC).
  std::string transpose(const std::string& from, const std::string& to, int64_t n, int64_t a, int64_t b) {
    rtml_strided_copy_params p{};
    p.rank = 3;
    p.count = n * a * b;
    const int64_t shape[3] = {n, b, a}, strides[3] = {a * b, 1, b};
    std::memcpy(p.shape, shape, sizeof shape);
    std::memcpy(p.in_strides, strides, sizeof strides);
    p.out_slot = 1;
    bool needs_math = false;
    code_.transposes = true;
    return "    {\n      static const rtml_strided_copy_params t = " +
           params_initializer(*kernels::kernel("rtml_x8_transpose__ref").params, &p, needs_math) +
           ";\n      void* const to[] = {(void*)(" + from + "), " + to + "};\n      rtml_x8_transpose__ref(&t, to);\n    }\n";
  }

  void emit(size_t s) {
    const plan::PlanStep& st = plan_.steps[s];
    const Kind k = kinds_[s];
    std::ostringstream pre, call, post;
    size_t scratch = 0;
    // Inputs: channels-last for a spatial step (through a transpose into scratch when stored NCHW).
    std::vector<std::string> in;
    for (int id : activation_inputs(plan_, st, k)) {
      std::string ptr = pointer_(id);
      if (spatial(k) && !nhwc_[id] && plan_.tensors[id].shape.size() >= 3) {
        const Ncs d = ncs(plan_.tensors[id].shape);
        const std::string buf = "a + " + std::to_string(base_ + scratch);
        pre << transpose(ptr, buf, d.n, d.c, d.s);
        scratch += align16(plan_.tensors[id].bytes);
        ptr = buf;
      }
      in.push_back("(const int8_t*)(" + ptr + ")");
    }
    const int y = activation_output(plan_, st, k);
    std::string out = pointer_(y);
    if (spatial(k) && !nhwc_[y] && plan_.tensors[y].shape.size() >= 3) {
      const Ncs d = ncs(plan_.tensors[y].shape);
      const std::string buf = "a + " + std::to_string(base_ + scratch);
      post << transpose(buf, out, d.n, d.s, d.c);
      scratch += align16(plan_.tensors[y].bytes);
      out = buf;
    }
    out = "(int8_t*)(" + out + ")";
    const std::string ctx_buf = "a + " + std::to_string(base_ + scratch);
    int64_t ctx_bytes = 0;
    const std::string step_fail = "return " + std::to_string(s + 1) + ";";
    const auto dims = [](const char* name, int64_t n, int64_t h, int64_t w, int64_t c) {
      return std::string("    static const cmsis_nn_dims ") + name + " = {" + std::to_string(n) + ", " +
             std::to_string(h) + ", " + std::to_string(w) + ", " + std::to_string(c) + "};\n";
    };
    if (k == Kind::Conv || k == Kind::Depthwise) {
      const auto& p = *static_cast<const rtml_qconv_params*>(st.step.params.get());
      const std::vector<int8_t> w = constant<int8_t>(tensor_at(plan_, st, p.w_slot));  // [C_out, C_in/group, KH, KW]
      const int64_t cin = k == Kind::Conv ? p.C : 1;
      std::vector<int8_t> lay(w.size());
      for (int64_t o = 0; o < p.C_out; ++o)
        for (int64_t i = 0; i < cin; ++i)
          for (int64_t kh = 0; kh < p.KH; ++kh)
            for (int64_t kw = 0; kw < p.KW; ++kw) {
              const size_t from = static_cast<size_t>(((o * cin + i) * p.KH + kh) * p.KW + kw);
              const size_t to = k == Kind::Conv ? static_cast<size_t>(((o * p.KH + kh) * p.KW + kw) * cin + i)
                                                : static_cast<size_t>((kh * p.KW + kw) * p.C_out + o);
              lay[to] = w[from];
            }
      const std::string wname = array(s, k == Kind::Conv ? "filter_ohwi" : "filter_1hwc", lay, "int8_t");
      const std::string bname = bias(s, p, p.C_out);
      const auto [mname, sname] = requantization(s, p, p.C_out);
      const char* type = k == Kind::Conv ? "cmsis_nn_conv_params" : "cmsis_nn_dw_conv_params";
      call << "    static const " << type << " cp = {" << -zero_point(plan_, st, p.x_zp_slot, p.x_zero_point) << ", "
           << zero_point(plan_, st, p.y_zp_slot, p.y_zero_point) << ", "
           << (k == Kind::Depthwise ? std::to_string(p.C_out / p.C) + ", " : std::string()) << "{" << p.stride_w
           << ", " << p.stride_h << "}, {" << p.pad_left << ", " << p.pad_top << "}, {" << p.dilation_w << ", "
           << p.dilation_h << "}, {" << p.act_min << ", " << p.act_max << "}};\n"
           << "    static const cmsis_nn_per_channel_quant_params qp = {(int32_t*)" << mname << ", (int32_t*)" << sname
           << "};\n"
           << dims("in_dims", p.N, p.H, p.W, p.C)
           << (k == Kind::Conv ? dims("filter_dims", p.C_out, p.KH, p.KW, p.C) : dims("filter_dims", 1, p.KH, p.KW, p.C_out))
           << dims("bias_dims", 1, 1, 1, p.C_out) << dims("out_dims", p.N, p.OH, p.OW, p.C_out);
      const std::string fn = k == Kind::Conv ? "arm_convolve_wrapper_s8" : "arm_depthwise_conv_wrapper_s8";
      ctx_bytes = k == Kind::Conv ? conv_buffer(arch_, p) : depthwise_buffer(arch_, p);
      call << "    const cmsis_nn_context ctx = {" << ctx_buf << ", " << ctx_bytes << "};\n"
           << "    if (" << fn << "_get_buffer_size(&cp, &in_dims, &filter_dims, &out_dims) > " << ctx_bytes << ") "
           << step_fail << "\n";
      code_.function[s] = fn;
      call << "    if (" << fn << "(&ctx, &cp, &qp, &in_dims, " << in[0] << ", &filter_dims, " << wname
           << ", &bias_dims, " << bname << ", &out_dims, " << out << ") != ARM_CMSIS_NN_SUCCESS) " << step_fail << "\n";
    } else if (k == Kind::FullyConnected) {
      const auto& p = *static_cast<const rtml_qmatmul_params*>(st.step.params.get());
      const std::vector<int8_t> w = constant<int8_t>(tensor_at(plan_, st, p.w_slot));
      std::vector<int8_t> lay(static_cast<size_t>(p.N * p.K));
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t kk = 0; kk < p.K; ++kk) lay[static_cast<size_t>(n * p.K + kk)] = w[static_cast<size_t>(kk * p.w_stride_k + n * p.w_stride_n)];
      const std::string wname = array(s, "filter_nk", lay, "int8_t");
      const std::string bname = bias(s, p, p.N);
      call << "    static const cmsis_nn_fc_params fp = {" << -zero_point(plan_, st, p.x_zp_slot, p.x_zero_point) << ", 0, "
           << zero_point(plan_, st, p.y_zp_slot, p.y_zero_point) << ", {"
           << p.act_min << ", " << p.act_max << "}};\n"
           << dims("in_dims", p.M, 1, 1, p.K) << dims("filter_dims", p.K, 1, 1, p.N) << dims("bias_dims", 1, 1, 1, p.N)
           << dims("out_dims", p.M, 1, 1, p.N) << "    const cmsis_nn_context ctx = {0, 0};\n";
      std::string fn;
      if (p.per_channel) {
        const auto [mname, sname] = requantization(s, p, p.N);
        call << "    static const cmsis_nn_per_channel_quant_params qp = {(int32_t*)" << mname << ", (int32_t*)" << sname
             << "};\n";
        fn = "arm_fully_connected_per_channel_s8";
      } else {
        const plan::PlanStep& ps = plan_.steps[s];
        call << "    static const cmsis_nn_per_tensor_quant_params qp = {"
             << constant<int32_t>(tensor_at(plan_, ps, p.multiplier_slot))[0] << ", "
             << constant<int32_t>(tensor_at(plan_, ps, p.shift_slot))[0] << "};\n";
        fn = "arm_fully_connected_s8";
      }
      code_.function[s] = fn;
      call << "    if (" << fn << "(&ctx, &fp, &qp, &in_dims, " << in[0] << ", &filter_dims, " << wname
           << ", &bias_dims, " << bname << ", &out_dims, " << out << ") != ARM_CMSIS_NN_SUCCESS) " << step_fail << "\n";
    } else if (k == Kind::Add) {
      const auto& p = *static_cast<const rtml_qbinary_params*>(st.step.params.get());
      code_.function[s] = "arm_elementwise_add_s8";
      call << "    if (arm_elementwise_add_s8(" << in[0] << ", " << in[1] << ", " << -p.a_zero_point << ", "
           << p.a_multiplier << ", " << p.a_shift << ", " << -p.b_zero_point << ", " << p.b_multiplier << ", "
           << p.b_shift << ", " << p.left_shift << ", " << out << ", " << p.y_zero_point << ", " << p.y_multiplier
           << ", " << p.y_shift << ", " << p.act_min << ", " << p.act_max << ", " << shape_numel(plan_.tensors[y].shape)
           << ") != ARM_CMSIS_NN_SUCCESS) " << step_fail << "\n";
    } else if (k == Kind::AvgPool || k == Kind::MaxPool) {
      const auto& p = *static_cast<const rtml_pool_params*>(st.step.params.get());
      const bool two = p.spatial == 2;  // 1-D: H = 1
      const int64_t C = plan_.tensors[y].shape[1];
      const int64_t H = two ? p.in_shape[0] : 1, W = p.in_shape[two ? 1 : 0];
      const int64_t OH = two ? p.out_shape[0] : 1, OW = p.out_shape[two ? 1 : 0];
      const int64_t KH = two ? p.kernel[0] : 1, KW = p.kernel[two ? 1 : 0];
      const int64_t SH = two ? p.stride[0] : 1, SW = p.stride[two ? 1 : 0];
      const int64_t PH = two ? p.pad_begin[0] : 0, PW = p.pad_begin[two ? 1 : 0];
      const std::string fn = k == Kind::AvgPool ? "arm_avgpool_s8" : "arm_max_pool_s8";
      code_.function[s] = fn;
      ctx_bytes = k == Kind::AvgPool ? C * 4 : 0;  // the DSP path's int32 row of sums
      call << "    static const cmsis_nn_pool_params pp = {{" << SW << ", " << SH << "}, {" << PW << ", " << PH
           << "}, {-128, 127}};\n"
           << dims("in_dims", 1, H, W, C) << dims("filter_dims", 1, KH, KW, 1) << dims("out_dims", 1, OH, OW, C)
           << "    const cmsis_nn_context ctx = {" << ctx_buf << ", " << ctx_bytes << "};\n";
      if (k == Kind::AvgPool)
        call << "    if (arm_avgpool_s8_get_buffer_size(" << OW << ", " << C << ") > " << ctx_bytes << ") " << step_fail
             << "\n";
      call << "    if (" << fn << "(&ctx, &pp, &in_dims, " << in[0] << ", &filter_dims, &out_dims, " << out
           << ") != ARM_CMSIS_NN_SUCCESS) " << step_fail << "\n";
    } else if (k == Kind::Softmax) {
      const auto& p = *static_cast<const rtml_qsoftmax_params*>(st.step.params.get());
      code_.function[s] = "arm_softmax_s8";
      call << "    arm_softmax_s8(" << in[0] << ", " << p.rows << ", " << p.row_size << ", " << p.input_multiplier
           << ", " << p.input_left_shift << ", " << p.diff_min << ", " << out << ");\n";
    }
    scratch += align16(static_cast<size_t>(ctx_bytes));
    code_.scratch_bytes = std::max(code_.scratch_bytes, scratch);
    code_.call[s] = pre.str() + call.str() + post.str();
  }

  const plan::Plan& plan_;
  const std::string N_;
  const CmsisArch arch_;
  const size_t base_;
  const std::function<std::string(int)>& pointer_;
  std::vector<Kind> kinds_;
  std::vector<bool> nhwc_;
  CmsisNnCode code_;
};

}  // namespace

CmsisNnCode cmsis_nn_code(const plan::Plan& plan, const std::string& name, CmsisArch arch, size_t scratch_base,
                          const std::function<std::string(int)>& pointer) {
  return Emitter(plan, name, arch, scratch_base, pointer).run();
}

void check_cmsis_nn_dir(const std::string& dir) {
  if (dir.empty())
    throw Error("--kernels cmsis-nn needs --cmsis-nn DIR: the CMSIS-NN source tree the generated project builds "
                "(e.g. ../shared/third_party/cmsis-nn)");
  if (!std::filesystem::exists(std::filesystem::path(dir) / "Include" / "arm_nnfunctions.h"))
    throw Error("--cmsis-nn " + dir + ": no Include/arm_nnfunctions.h there; expected a CMSIS-NN source tree (v7)");
}

const std::vector<std::string>& cmsis_nn_source_globs() {
  static const std::vector<std::string> g = {"Source/ConvolutionFunctions/*_s8*.c",
                                             "Source/FullyConnectedFunctions/*_s8.c",
                                             "Source/NNSupportFunctions/arm_nn_*conv*_s8.c",
                                             "Source/NNSupportFunctions/arm_nn_mat_mul*_s8*.c",
                                             "Source/NNSupportFunctions/arm_nn_transpose_conv_row_s8_s32.c",
                                             "Source/NNSupportFunctions/arm_nn_vec_mat_mult_t_*s8.c",
                                             "Source/NNSupportFunctions/arm_q7_to_q15_with_offset.c",
                                             "Source/NNSupportFunctions/arm_s8_to_s16_unordered_with_offset.c",
                                             "Source/BasicMathFunctions/arm_elementwise_add_s8.c",
                                             "Source/SoftmaxFunctions/arm_softmax_s8.c",
                                             "Source/PoolingFunctions/arm_*pool_*s8.c",
                                             "Source/TransposeFunctions/arm_transpose_s8.c",
                                             "Source/SoftmaxFunctions/arm_nn_softmax_common_s8.c"};
  return g;
}

}  // namespace rtml::compile
