// The `xnnpack` backend: an XNNPACK subgraph built from rtml's IR (the graph
// the host imported, BackendOptions::graph), as a plugin
// (rtml-backend-xnnpack.so, backends/plugin.h) loaded only when --backend
// names it. XNNPACK is the library under TFLite's and PyTorch's mobile CPU
// paths; Debian 12 ships a build from February 2022 (libxnnpack-dev).
//
// open()     walks the nodes in file order and defines one XNNPACK node per
//            ONNX node, float32 only; weights are packed once by XNNPACK when
//            the runtime is created. A node XNNPACK cannot run (Debian's
//            version has no Tanh, Exp, Slice, Transpose, Concat, recurrent
//            cells...) makes open() throw, naming it: the bench's error row.
// prepare()  creates the runtime (one thread, or a pthreadpool of --threads)
//            and binds the input and output buffers once.
// run()      converts inputs to XNNPACK's layout where needed, invokes the
//            runtime, converts outputs back.
//
// Layout. ONNX convolutions are channels-first (N, C, H, W; N, C, L for 1-D);
// XNNPACK's are channels-last. Every activation produced by a convolution or
// a pool stays channels-last (1-D as N, 1, L, C); constants combined with it
// are permuted once at build; a graph input read by a convolution is
// transposed into XNNPACK's layout in run(), and a channels-last graph output
// back. Flattening a channels-last tensor to (N, C*H*W) keeps XNNPACK's
// element order (H, W, C): the fully connected layer that reads it gets its
// weight columns permuted to match at build; any other reader is refused.
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "backends/backend.h"
#include "backends/io_buffer.h"
#include "backends/plugin.h"
#include "core/error.h"
#include "ir/graph.h"

namespace rtml::backends {

namespace {

void check(xnn_status status, const std::string& what) {
  if (status != xnn_status_success)
    throw Error("xnnpack: " + what + " (XNNPACK status " + std::to_string(static_cast<int>(status)) + ")");
}

using Bytes = IoBuffer;

// 64-byte aligned, zeroed, with XNNPACK's XNN_EXTRA_BYTES of readable tail.
Bytes allocate(size_t bytes) { return zeroed_io_buffer(bytes, XNN_EXTRA_BYTES, "xnnpack"); }

enum class Layout {
  Plain,         // as in ONNX
  ChannelsLast,  // ONNX (N, C, H, W) or (N, C, L) held as (N, H, W, C) or (N, 1, L, C)
  Flattened,     // (N, C*H*W) flattened from channels-last: elements in (H, W, C) order
};

// What the builder knows of each ONNX tensor.
struct Value {
  uint32_t id = XNN_INVALID_VALUE_ID;  // XNNPACK value (activations)
  Shape shape;                         // ONNX shape
  Layout layout = Layout::Plain;
  Shape spatial;                       // Flattened: the (C, H, W) it came from
  const float* constant = nullptr;     // constants: ONNX layout data
};

std::vector<size_t> dims_of(const Shape& s) {
  std::vector<size_t> d(s.size());
  for (size_t i = 0; i < s.size(); ++i) d[i] = static_cast<size_t>(s[i]);
  return d;
}

// (N, C, rest...) -> the channels-last dims XNNPACK sees: (N, H, W, C), (N, 1, L, C).
std::vector<size_t> channels_last_dims(const Shape& s) {
  if (s.size() == 3) return {size_t(s[0]), 1, size_t(s[2]), size_t(s[1])};
  return {size_t(s[0]), size_t(s[2]), size_t(s[3]), size_t(s[1])};
}

// Copies an ONNX (N, C, P) tensor (P = product of the spatial dims) to (N, P, C), or back.
void to_channels_last(const float* src, float* dst, int64_t n, int64_t c, int64_t p) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < p; ++i) dst[(b * p + i) * c + ch] = src[(b * c + ch) * p + i];
}
void from_channels_last(const float* src, float* dst, int64_t n, int64_t c, int64_t p) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < p; ++i) dst[(b * c + ch) * p + i] = src[(b * p + i) * c + ch];
}

int64_t spatial_size(const Shape& s) {
  int64_t p = 1;
  for (size_t d = 2; d < s.size(); ++d) p *= s[d];
  return p;
}

class Builder;

class XnnpackBackend final : public Backend {
 public:
  ~XnnpackBackend() override { close(); }

  void open(const std::string& onnx_path, const BackendOptions& options) override;
  void prepare() override;
  void run() override;
  void close() override {
    if (pool_) pthreadpool_destroy(pool_);
    pool_ = nullptr;
    if (runtime_) xnn_delete_runtime(runtime_);
    runtime_ = nullptr;
    if (subgraph_) xnn_delete_subgraph(subgraph_);
    subgraph_ = nullptr;
    io_.clear();
    weights_.clear();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return io_.at(static_cast<size_t>(i)).user.get(); }
  const void* output_data(int i) const override { return io_.at(inputs_.size() + static_cast<size_t>(i)).user.get(); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", "XNNPACK (Debian libxnnpack 0.0~git20220216)"},
        {"threads", std::to_string(threads_)},
        {"graph", "XNNPACK subgraph built from the ONNX graph; weights packed at runtime creation; "
                  "channels-last convolutions"},
    };
    return d;
  }

 private:
  friend class Builder;
  // One graph input or output: the caller's buffer in ONNX layout and, when
  // XNNPACK holds it channels-last, XNNPACK's own buffer.
  struct Io {
    Bytes user;
    Bytes xnn;  // null: XNNPACK reads or writes `user` directly
    int64_t n = 0, c = 0, p = 0;
    uint32_t id = 0;
  };

  std::string path_;
  int threads_ = 1;
  pthreadpool_t pool_ = nullptr;  // --threads > 1
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<Io> io_;                 // inputs, then outputs
  std::vector<Bytes> weights_;         // data XNNPACK's static values point at
  xnn_subgraph_t subgraph_ = nullptr;
  xnn_runtime_t runtime_ = nullptr;
};

// Defines the subgraph, node by node.
class Builder {
 public:
  Builder(XnnpackBackend& b, const ir::Graph& g) : b_(b), g_(g) { values_.resize(g.tensors.size()); }

  void build() {
    check(xnn_create_subgraph(static_cast<uint32_t>(g_.inputs.size() + g_.outputs.size()), 0, &b_.subgraph_),
          "cannot create a subgraph");
    for (size_t t = 0; t < g_.tensors.size(); ++t)
      if (g_.tensors[t].is_constant()) {
        if (g_.tensors[t].dtype == DType::F32) values_[t].constant = g_.tensors[t].as<float>();
        values_[t].shape = g_.tensors[t].shape;
      }
    // Graph inputs: channels-last when a convolution or pool reads them.
    for (size_t k = 0; k < g_.inputs.size(); ++k) {
      const ir::Tensor& t = g_.tensors[g_.inputs[k]];
      Value& v = values_[g_.inputs[k]];
      v.shape = t.shape;
      v.layout = read_as_image(g_.inputs[k]) ? Layout::ChannelsLast : Layout::Plain;
      v.id = define(v, static_cast<uint32_t>(k), XNN_VALUE_FLAG_EXTERNAL_INPUT);
    }
    for (const ir::Node& n : g_.nodes) node(n);
    for (size_t k = 0; k < g_.outputs.size(); ++k) {
      const ir::TensorId t = g_.outputs[k];
      Value& v = values_[t];
      if (v.id == XNN_INVALID_VALUE_ID)
        throw Error(g_.source + ": output '" + g_.tensors[t].name + "' is not computed by a node XNNPACK runs");
      if (v.layout == Layout::Flattened)
        throw Error(g_.source + ": output '" + g_.tensors[t].name +
                    "' is a flattened convolution output; the xnnpack backend does not return that layout");
      // output() made the value external; a graph input or a repeated output is not one.
      if (std::find(g_.inputs.begin(), g_.inputs.end(), t) != g_.inputs.end() || !outputs_seen_.insert(t).second)
        throw Error(g_.source + ": output '" + g_.tensors[t].name +
                    "' is also an input or another output; the xnnpack backend cannot bind it twice");
    }
  }

  std::vector<Value> values_;  // per ONNX tensor, after build()

 private:
  std::string where(const ir::Node& n) const { return g_.source + ": node '" + n.name + "' (" + n.op_type + ")"; }
  [[noreturn]] void unsupported(const ir::Node& n, const std::string& why) const {
    throw Error(where(n) + ": the xnnpack backend cannot run this: " + why);
  }

  bool read_as_image(ir::TensorId t) const {
    for (const ir::Node& n : g_.nodes)
      if ((n.op_type == "Conv" || n.op_type == "MaxPool" || n.op_type == "AveragePool" ||
           n.op_type == "GlobalAveragePool") &&
          !n.inputs.empty() && n.inputs[0] == t)
        return true;
    return false;
  }

  bool is_output(ir::TensorId t) const { return std::find(g_.outputs.begin(), g_.outputs.end(), t) != g_.outputs.end(); }

  uint32_t define(const Value& v, uint32_t external, uint32_t flags, const void* data = nullptr) {
    std::vector<size_t> dims = v.layout == Layout::ChannelsLast ? channels_last_dims(v.shape) : dims_of(v.shape);
    uint32_t id = XNN_INVALID_VALUE_ID;
    check(xnn_define_tensor_value(b_.subgraph_, xnn_datatype_fp32, dims.size(), dims.data(), data, external, flags, &id),
          "cannot define a tensor");
    return id;
  }

  // A static tensor XNNPACK reads at runtime creation; the backend keeps the bytes.
  uint32_t define_static(const std::vector<size_t>& dims, std::vector<float> data) {
    Bytes bytes = allocate(data.size() * sizeof(float));
    std::memcpy(bytes.get(), data.data(), data.size() * sizeof(float));
    uint32_t id = XNN_INVALID_VALUE_ID;
    check(xnn_define_tensor_value(b_.subgraph_, xnn_datatype_fp32, dims.size(), dims.data(), bytes.get(),
                                  XNN_INVALID_VALUE_ID, 0, &id),
          "cannot define a weight tensor");
    b_.weights_.push_back(std::move(bytes));
    return id;
  }

  // An activation input of `n`: defined by an earlier node or a graph input.
  const Value& activation(const ir::Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i] == ir::kNoTensor) unsupported(n, "input " + std::to_string(i) + " missing");
    const ir::TensorId t = n.inputs[i];
    const Value& v = values_[t];  // every value the builder defines is float32
    if (v.id == XNN_INVALID_VALUE_ID)
      unsupported(n, v.constant ? "a constant where a computed input is expected"
                                : "input '" + g_.tensors[t].name + "' is not computed by an earlier node");
    return v;
  }
  const Value* constant(const ir::Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i] == ir::kNoTensor) return nullptr;
    const Value& v = values_[n.inputs[i]];
    return v.constant ? &v : nullptr;
  }

  // Defines node output `i` with `shape` and `layout`.
  uint32_t output(const ir::Node& n, const Shape& shape, Layout layout, Shape spatial = {}) {
    const ir::TensorId t = n.outputs.at(0);
    Value& v = values_[t];
    v.shape = shape;
    v.layout = layout;
    v.spatial = std::move(spatial);
    uint32_t external = XNN_INVALID_VALUE_ID, flags = 0;
    for (size_t k = 0; k < g_.outputs.size(); ++k)
      if (g_.outputs[k] == t) {
        external = static_cast<uint32_t>(g_.inputs.size() + k);
        flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
      }
    v.id = define(v, external, flags);
    return v.id;
  }

  int64_t attr_int(const ir::Node& n, const char* name, int64_t fallback) const {
    auto it = n.attrs.find(name);
    return it == n.attrs.end() ? fallback : it->second.i;
  }
  float attr_float(const ir::Node& n, const char* name, float fallback) const {
    auto it = n.attrs.find(name);
    return it == n.attrs.end() ? fallback : it->second.f;
  }
  std::vector<int64_t> attr_ints(const ir::Node& n, const char* name, std::vector<int64_t> fallback) const {
    auto it = n.attrs.find(name);
    return it == n.attrs.end() ? fallback : it->second.ints;
  }

  void node(const ir::Node& n) {
    if (!n.domain.empty()) unsupported(n, "ops outside the default ONNX domain");
    for (ir::TensorId t : n.outputs)
      if (t != ir::kNoTensor && g_.tensors[t].dtype != DType::F32 && g_.tensors[t].dtype != DType::Undefined)
        unsupported(n, "only float32 tensors");
    const std::string& op = n.op_type;
    if (op == "Constant") return constant_node(n);
    if (op == "Identity" || op == "Dropout") return alias(n);
    if (op == "Gemm" || op == "MatMul") return fully_connected(n);
    if (op == "Conv") return conv(n);
    if (op == "MaxPool" || op == "AveragePool") return pool(n);
    if (op == "GlobalAveragePool" || op == "ReduceMean") return global_average(n);
    if (op == "Flatten" || op == "Reshape") return reshape(n);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") return binary(n);
    if (op == "Softmax") return softmax(n);
    return unary(n);
  }

  void constant_node(const ir::Node& n) {
    auto it = n.attrs.find("value");
    if (it == n.attrs.end() || !it->second.tensor || !it->second.tensor->data) unsupported(n, "a Constant without a value tensor");
    Value& v = values_[n.outputs.at(0)];
    v.shape = it->second.tensor->shape;
    if (it->second.tensor->dtype == DType::F32) v.constant = it->second.tensor->as<float>();
    int64s_[n.outputs.at(0)] = it->second.tensor;  // also non-float values: shapes, axes
  }

  void alias(const ir::Node& n) {
    const Value& in = activation(n, 0);
    if (is_output(n.outputs.at(0))) unsupported(n, "an Identity as a graph output");
    values_[n.outputs.at(0)] = in;
  }

  void unary(const ir::Node& n) {
    const Value& in = activation(n, 0);
    const uint32_t x = in.id;
    const std::string& op = n.op_type;
    const float inf = std::numeric_limits<float>::infinity();
    auto out = [&] { return output(n, in.shape, in.layout, in.spatial); };
    if (op == "Relu") {
      check(xnn_define_clamp(b_.subgraph_, 0.0f, inf, x, out(), 0), where(n));
    } else if (op == "Clip") {
      float lo = -inf, hi = inf;
      if (n.attrs.count("min")) lo = attr_float(n, "min", lo);
      if (n.attrs.count("max")) hi = attr_float(n, "max", hi);
      for (size_t i : {size_t(1), size_t(2)})
        if (i < n.inputs.size() && n.inputs[i] != ir::kNoTensor) {
          const Value* c = constant(n, i);
          if (!c) unsupported(n, "Clip bounds that are not constants");
          (i == 1 ? lo : hi) = c->constant[0];
        }
      check(xnn_define_clamp(b_.subgraph_, lo, hi, x, out(), 0), where(n));
    } else if (op == "Sigmoid") {
      check(xnn_define_sigmoid(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "LeakyRelu") {
      check(xnn_define_leaky_relu(b_.subgraph_, attr_float(n, "alpha", 0.01f), x, out(), 0), where(n));
    } else if (op == "Elu") {
      check(xnn_define_elu(b_.subgraph_, attr_float(n, "alpha", 1.0f), x, out(), 0), where(n));
    } else if (op == "HardSwish") {
      check(xnn_define_hardswish(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "Abs") {
      check(xnn_define_abs(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "Neg") {
      check(xnn_define_negate(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "Floor") {
      check(xnn_define_floor(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "Ceil") {
      check(xnn_define_ceiling(b_.subgraph_, x, out(), 0), where(n));
    } else if (op == "Sqrt") {
      check(xnn_define_square_root(b_.subgraph_, x, out(), 0), where(n));
    } else {
      unsupported(n, "XNNPACK (Debian's February 2022 build) has no " + op + " operator");
    }
  }

  // Gemm (alpha = beta = 1, A not transposed) and MatMul, with constant
  // weights: one fully connected layer, kernel (N, K).
  void fully_connected(const ir::Node& n) {
    const Value& a = activation(n, 0);
    const Value* w = constant(n, 1);
    if (!w) unsupported(n, "weights that are not constants (XNNPACK's fully connected layer packs them once)");
    if (w->shape.size() != 2) unsupported(n, "weights of rank " + std::to_string(w->shape.size()) + " (2 expected)");
    bool trans_b = false;
    if (n.op_type == "Gemm") {
      if (attr_int(n, "transA", 0) != 0) unsupported(n, "transA = 1");
      if (attr_float(n, "alpha", 1.0f) != 1.0f || attr_float(n, "beta", 1.0f) != 1.0f) unsupported(n, "alpha or beta other than 1");
      trans_b = attr_int(n, "transB", 0) != 0;
      if (a.shape.size() != 2) unsupported(n, "an input of rank other than 2");
    } else if (a.layout != Layout::Plain && a.layout != Layout::Flattened) {
      unsupported(n, "a MatMul over a channels-last tensor");
    }
    const int64_t K = trans_b ? w->shape[1] : w->shape[0], N = trans_b ? w->shape[0] : w->shape[1];
    if (a.shape.empty() || a.shape.back() != K) unsupported(n, "inner dimensions that differ");
    // kernel[o][k] in the reading order of A's K elements.
    std::vector<float> kernel(static_cast<size_t>(N * K));
    for (int64_t o = 0; o < N; ++o)
      for (int64_t k = 0; k < K; ++k) kernel[o * K + k] = trans_b ? w->constant[o * K + k] : w->constant[k * N + o];
    if (a.layout == Layout::Flattened) {  // A's element k = channels-last (h, w, c): permute the columns
      const int64_t C = a.spatial[0], P = K / C;
      std::vector<float> permuted(kernel.size());
      for (int64_t o = 0; o < N; ++o)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < P; ++i) permuted[o * K + i * C + c] = kernel[o * K + c * P + i];
      kernel = std::move(permuted);
    }
    const uint32_t kernel_id = define_static({size_t(N), size_t(K)}, std::move(kernel));
    uint32_t bias_id = XNN_INVALID_VALUE_ID;
    if (n.op_type == "Gemm" && n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor) {
      const Value* c = constant(n, 2);
      if (!c) unsupported(n, "a bias that is not a constant");
      int64_t cn = 1;
      for (int64_t d : c->shape) cn *= d;
      if (cn != N && cn != 1) unsupported(n, "a bias that is not one value per output column");
      std::vector<float> bias(static_cast<size_t>(N));
      for (int64_t o = 0; o < N; ++o) bias[o] = c->constant[cn == 1 ? 0 : o];
      bias_id = define_static({size_t(N)}, std::move(bias));
    }
    Shape out_shape = a.shape;
    out_shape.back() = N;
    const float inf = std::numeric_limits<float>::infinity();
    check(xnn_define_fully_connected(b_.subgraph_, -inf, inf, a.id, kernel_id, bias_id,
                                     output(n, out_shape, Layout::Plain), 0),
          where(n));
  }

  // Spatial attributes of Conv and pools, 1-D as 2-D with height 1.
  struct Window {
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  };
  Window window(const ir::Node& n, const Shape& x, const std::vector<int64_t>& kernel) {
    const size_t sp = x.size() - 2;
    if (sp != 1 && sp != 2) unsupported(n, "only 1-D and 2-D windows");
    std::string auto_pad = n.attrs.count("auto_pad") ? n.attrs.at("auto_pad").s : "NOTSET";
    if (auto_pad != "NOTSET" && auto_pad != "VALID") unsupported(n, "auto_pad " + auto_pad);
    auto strides = attr_ints(n, "strides", std::vector<int64_t>(sp, 1));
    auto dil = attr_ints(n, "dilations", std::vector<int64_t>(sp, 1));
    auto pads = attr_ints(n, "pads", std::vector<int64_t>(2 * sp, 0));
    if (kernel.size() != sp || strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp)
      unsupported(n, "window attributes that do not match the input's rank");
    Window w;
    if (sp == 1) {
      w.kw = kernel[0], w.sw = strides[0], w.dw = dil[0], w.pl = pads[0], w.pr = pads[1];
    } else {
      w.kh = kernel[0], w.kw = kernel[1], w.sh = strides[0], w.sw = strides[1], w.dh = dil[0], w.dw = dil[1];
      w.pt = pads[0], w.pl = pads[1], w.pb = pads[2], w.pr = pads[3];
    }
    return w;
  }
  Shape window_output(const Shape& x, const Window& w, int64_t channels) {
    Shape y = {x[0], channels};
    auto len = [](int64_t in, int64_t k, int64_t s, int64_t d, int64_t p) { return (in + p - d * (k - 1) - 1) / s + 1; };
    if (x.size() == 3) {
      y.push_back(len(x[2], w.kw, w.sw, w.dw, w.pl + w.pr));
    } else {
      y.push_back(len(x[2], w.kh, w.sh, w.dh, w.pt + w.pb));
      y.push_back(len(x[3], w.kw, w.sw, w.dw, w.pl + w.pr));
    }
    return y;
  }

  void conv(const ir::Node& n) {
    const Value& x = activation(n, 0);
    if (x.layout != Layout::ChannelsLast) unsupported(n, "a convolution over a tensor that is not an image");
    const Value* w = constant(n, 1);
    if (!w) unsupported(n, "weights that are not constants");
    const Shape& ws = w->shape;  // (M, C/group, k...)
    if (ws.size() != x.shape.size()) unsupported(n, "weights whose rank differs from the input's");
    const int64_t group = attr_int(n, "group", 1), M = ws[0], Cg = ws[1], C = x.shape[1];
    if (group < 1 || C != Cg * group || M % group != 0) unsupported(n, "channels that do not match the groups");
    Window win = window(n, x.shape, attr_ints(n, "kernel_shape", Shape(ws.begin() + 2, ws.end())));
    // ONNX (M, C/g, kh, kw) -> XNNPACK (M, kh, kw, C/g).
    const int64_t khw = win.kh * win.kw;
    std::vector<float> kernel(static_cast<size_t>(M * khw * Cg));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t i = 0; i < khw; ++i) kernel[(m * khw + i) * Cg + c] = w->constant[(m * Cg + c) * khw + i];
    const uint32_t kernel_id = define_static({size_t(M), size_t(win.kh), size_t(win.kw), size_t(Cg)}, std::move(kernel));
    uint32_t bias_id = XNN_INVALID_VALUE_ID;
    if (n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor) {
      const Value* b = constant(n, 2);
      if (!b) unsupported(n, "a bias that is not a constant");
      bias_id = define_static({size_t(M)}, std::vector<float>(b->constant, b->constant + M));
    }
    const float inf = std::numeric_limits<float>::infinity();
    const uint32_t y = output(n, window_output(x.shape, win, M), Layout::ChannelsLast);
    check(xnn_define_convolution_2d(b_.subgraph_, uint32_t(win.pt), uint32_t(win.pr), uint32_t(win.pb), uint32_t(win.pl),
                                    uint32_t(win.kh), uint32_t(win.kw), uint32_t(win.sh), uint32_t(win.sw),
                                    uint32_t(win.dh), uint32_t(win.dw), uint32_t(group), size_t(Cg), size_t(M / group),
                                    -inf, inf, x.id, kernel_id, bias_id, y, 0),
          where(n));
  }

  void pool(const ir::Node& n) {
    const Value& x = activation(n, 0);
    if (x.layout != Layout::ChannelsLast) unsupported(n, "a pool over a tensor that is not an image");
    if (attr_int(n, "ceil_mode", 0) != 0) unsupported(n, "ceil_mode = 1");
    if (n.outputs.size() > 1 && n.outputs[1] != ir::kNoTensor) unsupported(n, "the Indices output");
    Window win = window(n, x.shape, attr_ints(n, "kernel_shape", {}));
    const float inf = std::numeric_limits<float>::infinity();
    const uint32_t y = output(n, window_output(x.shape, win, x.shape[1]), Layout::ChannelsLast);
    if (n.op_type == "MaxPool") {
      check(xnn_define_max_pooling_2d(b_.subgraph_, uint32_t(win.pt), uint32_t(win.pr), uint32_t(win.pb), uint32_t(win.pl),
                                      uint32_t(win.kh), uint32_t(win.kw), uint32_t(win.sh), uint32_t(win.sw),
                                      uint32_t(win.dh), uint32_t(win.dw), -inf, inf, x.id, y, 0),
            where(n));
    } else {
      if (win.dh != 1 || win.dw != 1) unsupported(n, "a dilated average pool");
      // XNNPACK's average leaves padding out of the count: ONNX's count_include_pad = 0.
      if (attr_int(n, "count_include_pad", 0) != 0 && (win.pt || win.pl || win.pb || win.pr))
        unsupported(n, "count_include_pad = 1 with padding");
      check(xnn_define_average_pooling_2d(b_.subgraph_, uint32_t(win.pt), uint32_t(win.pr), uint32_t(win.pb),
                                          uint32_t(win.pl), uint32_t(win.kh), uint32_t(win.kw), uint32_t(win.sh),
                                          uint32_t(win.sw), -inf, inf, x.id, y, 0),
            where(n));
    }
  }

  // GlobalAveragePool, and ReduceMean over every spatial axis of an image.
  void global_average(const ir::Node& n) {
    const Value& x = activation(n, 0);
    if (x.layout != Layout::ChannelsLast) unsupported(n, "a mean that is not over an image's spatial axes");
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    bool keep = true;
    if (n.op_type == "ReduceMean") {
      std::vector<int64_t> axes = attr_ints(n, "axes", {});
      if (axes.empty() && n.inputs.size() > 1 && n.inputs[1] != ir::kNoTensor) {
        auto it = int64s_.find(n.inputs[1]);
        const ir::Tensor* t = it != int64s_.end() ? it->second.get() : &g_.tensors[n.inputs[1]];
        if (!t->data || t->dtype != DType::I64) unsupported(n, "axes that are not constants");
        axes.assign(t->as<int64_t>(), t->as<int64_t>() + shape_numel(t->shape));
      }
      for (int64_t& a : axes) a = a < 0 ? a + rank : a;
      std::sort(axes.begin(), axes.end());
      std::vector<int64_t> spatial;
      for (int64_t a = 2; a < rank; ++a) spatial.push_back(a);
      if (axes != spatial) unsupported(n, "a ReduceMean over axes other than all spatial ones");
      keep = attr_int(n, "keepdims", 1) != 0;
    }
    const float inf = std::numeric_limits<float>::infinity();
    if (keep) {
      Shape y = {x.shape[0], x.shape[1]};
      for (int64_t a = 2; a < rank; ++a) y.push_back(1);
      check(xnn_define_global_average_pooling_2d(b_.subgraph_, -inf, inf, x.id, output(n, y, Layout::ChannelsLast), 0),
            where(n));
    } else {  // (N, C): the same elements as channels-last (N, 1, 1, C)
      check(xnn_define_global_average_pooling_2d(b_.subgraph_, -inf, inf, x.id,
                                                 output(n, {x.shape[0], x.shape[1]}, Layout::Plain), 0),
            where(n));
    }
  }

  void reshape(const ir::Node& n) {
    const Value& x = activation(n, 0);
    const ir::TensorId out = n.outputs.at(0);
    Shape y = g_.tensors[out].shape;
    if (n.op_type == "Flatten") {
      int64_t axis = attr_int(n, "axis", 1), rank = static_cast<int64_t>(x.shape.size());
      if (axis < 0) axis += rank;
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= x.shape[d];
      y = {outer, inner};
    } else {
      auto it = int64s_.find(n.inputs.size() > 1 ? n.inputs[1] : ir::kNoTensor);
      const ir::Tensor* t = it != int64s_.end() ? it->second.get()
                                                : (n.inputs.size() > 1 ? &g_.tensors[n.inputs[1]] : nullptr);
      if (!t || !t->data || t->dtype != DType::I64) unsupported(n, "a shape that is not a constant");
      y.assign(t->as<int64_t>(), t->as<int64_t>() + shape_numel(t->shape));
      int64_t known = 1, infer = -1;
      for (size_t d = 0; d < y.size(); ++d) {
        if (y[d] == 0) y[d] = x.shape.at(d);
        if (y[d] == -1) infer = static_cast<int64_t>(d); else known *= y[d];
      }
      if (infer >= 0) y[infer] = shape_numel(x.shape) / known;
    }
    if (shape_numel(y) != shape_numel(x.shape)) unsupported(n, "a reshape that changes the element count");
    Layout layout = Layout::Plain;
    Shape spatial;
    if (x.layout == Layout::ChannelsLast) {
      if (y.size() != 2 || y[0] != x.shape[0]) unsupported(n, "a reshape of an image other than flattening it");
      layout = Layout::Flattened;
      spatial = {x.shape[1]};
    } else if (x.layout == Layout::Flattened) {
      unsupported(n, "reshaping a flattened image again");
    }
    std::vector<size_t> dims = dims_of(y);
    const uint32_t id = output(n, y, layout, spatial);
    check(xnn_define_static_reshape(b_.subgraph_, dims.size(), dims.data(), x.id, id, 0), where(n));
  }

  // Add, Sub, Mul, Div, Max, Min with NumPy broadcasting; a constant operand
  // becomes a static tensor (permuted to channels-last beside an image).
  void binary(const ir::Node& n) {
    if (n.inputs.size() != 2) unsupported(n, "other than two inputs");
    const Value* ca = constant(n, 0);
    const Value* cb = constant(n, 1);
    if (ca && cb) unsupported(n, "two constant inputs");
    const Value& x = activation(n, ca ? 1 : 0);
    uint32_t other;
    Shape other_shape;
    if (ca || cb) {
      const Value& c = ca ? *ca : *cb;
      other_shape = c.shape;
      other = static_operand(n, c, x);
    } else {
      const Value& y = activation(n, 1);
      if (y.layout != x.layout) unsupported(n, "operands in different layouts");
      other = y.id;
      other_shape = y.shape;
    }
    // ONNX output shape: NumPy broadcasting.
    Shape out(std::max(x.shape.size(), other_shape.size()), 1);
    for (size_t k = 0; k < out.size(); ++k) {
      int64_t a = k < out.size() - x.shape.size() ? 1 : x.shape[k - (out.size() - x.shape.size())];
      int64_t b = k < out.size() - other_shape.size() ? 1 : other_shape[k - (out.size() - other_shape.size())];
      if (a != b && a != 1 && b != 1) unsupported(n, "shapes that do not broadcast");
      out[k] = std::max(a, b);
    }
    if (x.layout != Layout::Plain && out != x.shape) unsupported(n, "broadcasting an image to a larger shape");
    uint32_t first = x.id, second = other;
    if (ca) std::swap(first, second);
    const uint32_t y = output(n, out, x.layout, x.spatial);
    const float inf = std::numeric_limits<float>::infinity();
    const std::string& op = n.op_type;
    xnn_status s;
    if (op == "Add") s = xnn_define_add2(b_.subgraph_, -inf, inf, first, second, y, 0);
    else if (op == "Sub") s = xnn_define_subtract(b_.subgraph_, -inf, inf, first, second, y, 0);
    else if (op == "Mul") s = xnn_define_multiply2(b_.subgraph_, -inf, inf, first, second, y, 0);
    else if (op == "Div") s = xnn_define_divide(b_.subgraph_, -inf, inf, first, second, y, 0);
    else if (op == "Max") s = xnn_define_maximum2(b_.subgraph_, first, second, y, 0);
    else s = xnn_define_minimum2(b_.subgraph_, first, second, y, 0);
    check(s, where(n));
  }

  uint32_t static_operand(const ir::Node& n, const Value& c, const Value& x) {
    const int64_t count = shape_numel(c.shape);
    std::vector<float> data(c.constant, c.constant + count);
    if (x.layout == Layout::Plain) return define_static(c.shape.empty() ? dims_of({1}) : dims_of(c.shape), std::move(data));
    if (x.layout == Layout::Flattened) unsupported(n, "a constant beside a flattened image");
    // Left-pad to the image's rank, then to channels-last.
    Shape s(x.shape.size() - std::min(x.shape.size(), c.shape.size()), 1);
    s.insert(s.end(), c.shape.begin(), c.shape.end());
    if (s.size() != x.shape.size()) unsupported(n, "a constant of higher rank than the image");
    std::vector<float> permuted(data.size());
    to_channels_last(data.data(), permuted.data(), s[0], s[1], spatial_size(s));
    return define_static(channels_last_dims(s), std::move(permuted));
  }

  void softmax(const ir::Node& n) {
    const Value& x = activation(n, 0);
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = attr_int(n, "axis", g_.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    // Before opset 13, Softmax flattens from `axis` on: the last axis when it is the last.
    bool last = axis == rank - 1;
    if (x.layout == Layout::ChannelsLast) last = axis == 1 && g_.opset >= 13;  // channels are innermost
    if (!last || x.layout == Layout::Flattened) unsupported(n, "a softmax over other than the innermost axis");
    check(xnn_define_softmax(b_.subgraph_, x.id, output(n, x.shape, x.layout), 0), where(n));
  }

  XnnpackBackend& b_;
  const ir::Graph& g_;
  std::map<ir::TensorId, std::shared_ptr<ir::Tensor>> int64s_;  // Constant nodes' values (shapes, axes)
  std::set<ir::TensorId> outputs_seen_;
};

void XnnpackBackend::open(const std::string& onnx_path, const BackendOptions& options) {
  close();
  inputs_.clear();
  outputs_.clear();
  if (!options.graph) throw Error("xnnpack: open() needs the ONNX graph from the host (BackendOptions::graph)");
  static const xnn_status init = xnn_initialize(nullptr);
  check(init, "cannot initialise XNNPACK (is this CPU supported?)");
  if (options.threads < 1)
    throw Error("xnnpack: --threads must be at least 1 (got " + std::to_string(options.threads) + ")");
  threads_ = options.threads;
  const ir::Graph& g = *options.graph;
  path_ = onnx_path;
  for (const std::vector<ir::TensorId>* list : {&g.inputs, &g.outputs})
    for (ir::TensorId id : *list) {
      const ir::Tensor& t = g.tensors[id];
      if (t.dtype != DType::F32)
        throw Error(onnx_path + ": '" + t.name + "' is " + dtype_name(t.dtype) + "; the xnnpack backend runs float32 only");
      if (!shape_is_static(t.shape))
        throw Error(onnx_path + ": '" + t.name + "' has shape " + shape_str(t.shape) +
                    " with an unknown dimension; the xnnpack backend needs fixed shapes");
      (list == &g.inputs ? inputs_ : outputs_).push_back({t.name, t.dtype, t.shape});
    }
  Builder builder(*this, g);
  try {
    builder.build();
  } catch (...) {
    close();
    throw;
  }
  io_.clear();
  for (size_t k = 0; k < g.inputs.size() + g.outputs.size(); ++k) {
    const ir::TensorId t = k < g.inputs.size() ? g.inputs[k] : g.outputs[k - g.inputs.size()];
    const Value& v = builder.values_[t];
    Io io;
    io.id = static_cast<uint32_t>(k);
    io.user = allocate(static_cast<size_t>(shape_numel(v.shape)) * sizeof(float));
    if (v.layout == Layout::ChannelsLast) {
      io.n = v.shape[0], io.c = v.shape[1], io.p = spatial_size(v.shape);
      io.xnn = allocate(static_cast<size_t>(shape_numel(v.shape)) * sizeof(float));
    }
    io_.push_back(std::move(io));
  }
}

void XnnpackBackend::prepare() {
  if (!subgraph_) throw Error("xnnpack: prepare() before open()");
  if (runtime_) xnn_delete_runtime(runtime_);
  runtime_ = nullptr;
  if (threads_ > 1 && !pool_) {
    pool_ = pthreadpool_create(static_cast<size_t>(threads_));
    if (!pool_) throw Error("xnnpack: cannot create a pool of " + std::to_string(threads_) + " threads");
  }
  check(xnn_create_runtime_v2(subgraph_, pool_, 0, &runtime_), path_ + ": cannot create the runtime");
  std::vector<xnn_external_value> ext;
  for (Io& io : io_) ext.push_back({io.id, io.xnn ? io.xnn.get() : io.user.get()});
  check(xnn_setup_runtime(runtime_, ext.size(), ext.data()), path_ + ": cannot bind the inputs and outputs");
}

void XnnpackBackend::run() {
  if (!runtime_) throw Error("xnnpack: run() before prepare()");
  for (size_t k = 0; k < inputs_.size(); ++k)
    if (io_[k].xnn)
      to_channels_last(static_cast<const float*>(io_[k].user.get()), static_cast<float*>(io_[k].xnn.get()), io_[k].n,
                       io_[k].c, io_[k].p);
  check(xnn_invoke_runtime(runtime_), path_ + ": run failed");
  for (size_t k = inputs_.size(); k < io_.size(); ++k)
    if (io_[k].xnn)
      from_channels_last(static_cast<const float*>(io_[k].xnn.get()), static_cast<float*>(io_[k].user.get()), io_[k].n,
                         io_[k].c, io_[k].p);
}

}  // namespace

}  // namespace rtml::backends

RTML_BACKEND_PLUGIN("xnnpack", rtml::backends::XnnpackBackend)
