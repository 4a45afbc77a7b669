// The `handwritten` backend: the reference a person would write by hand for
// the streaming real-time models, timed by the same bench as the engine.
//
// open() imports the ONNX file with the project's importer and recognises
// the computation from the graph's structure (never from the file name):
//
//   dense   MatMul / Gemm with a constant weight (+ a constant bias)
//   mlp     a chain of dense layers with Relu, Tanh, Sigmoid, GELU (erf form,
//           as PyTorch exports it) or sin(w0 * x) between them
//   lstm    one LSTM node, one time step, batch 1, inputs x, h, c (ONNX gate
//           order i, o, f, c), then optionally Squeeze and dense layers
//   gru     one GRU node, one time step, batch 1, linear_before_reset = 1 as
//           PyTorch exports it (gate order z, r, h), then the same head
//   mdn     the mixture density head: tanh hidden layer, softmax weights,
//           means, exp scales, and one sample: the first component whose
//           cumulative weight reaches u, means[k] + scales[k] * eps
//
// Anything else is NotCovered (the bench lists it as not covered, not as an
// error); a recognised pattern with inconsistent shapes is an rtml::Error.
//
// The code is what a competent embedded programmer writes: weights copied at
// prepare into plain row-major float arrays laid out for the loop (W^T,
// [in][out], so the inner loop walks one contiguous row and the compiler may
// vectorise it), std::exp / std::tanh / std::erf / std::sin, no intrinsics,
// no engine kernels. run() allocates nothing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/error.h"
#include "import/onnx_import.h"
#include "ir/graph.h"

namespace rtml::backends {

namespace {

constexpr const char* kCovers =
    "the hand-written baseline covers: a dense layer (MatMul/Gemm with constant weights, + bias), an MLP (dense "
    "layers with Relu, Tanh, Sigmoid, GELU or sin(w*x) between), one LSTM or GRU step (+ Squeeze and dense "
    "layers), and the mixture density head (mdn)";

// ---- the computations, plain loops ------------------------------------------

enum class Act { None, Relu, Tanh, Sigmoid, Gelu, Sin };

const char* act_name(Act a) {
  switch (a) {
    case Act::None: return "linear";
    case Act::Relu: return "relu";
    case Act::Tanh: return "tanh";
    case Act::Sigmoid: return "sigmoid";
    case Act::Gelu: return "gelu";
    case Act::Sin: return "sin";
  }
  return "?";
}

struct Layer {
  int in = 0, out = 0;
  std::vector<float> wt;  // [in][out]: row i holds input i's weight to every output
  std::vector<float> b;   // [out] (zeros when the model has no bias)
  Act act = Act::None;
  float w0 = 1;           // Sin: sin(w0 * y)
};

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// y += x W, W stored [in][out] (row i is what x[i] scales). __restrict
// (every embedded compiler has it): y is never x or W, so the compiler needs
// no run-time overlap check before vectorising.
void add_product(const float* __restrict x, int in, const float* __restrict w, int out, float* __restrict y) {
  for (int i = 0; i < in; ++i, w += out) {
    const float xi = x[i];
    for (int j = 0; j < out; ++j) y[j] += xi * w[j];
  }
}

// y = x W + b.
void dense(const Layer& L, const float* __restrict x, float* __restrict y) {
  for (int j = 0; j < L.out; ++j) y[j] = L.b[j];
  add_product(x, L.in, L.wt.data(), L.out, y);
}

void activate(const Layer& L, float* y) {
  switch (L.act) {
    case Act::None:
      break;
    case Act::Relu:
      for (int j = 0; j < L.out; ++j) y[j] = y[j] > 0 ? y[j] : 0.0f;
      break;
    case Act::Tanh:
      for (int j = 0; j < L.out; ++j) y[j] = std::tanh(y[j]);
      break;
    case Act::Sigmoid:
      for (int j = 0; j < L.out; ++j) y[j] = sigmoid(y[j]);
      break;
    case Act::Gelu:
      for (int j = 0; j < L.out; ++j) y[j] = 0.5f * y[j] * (1.0f + std::erf(y[j] * 0.70710678f));
      break;
    case Act::Sin:
      for (int j = 0; j < L.out; ++j) y[j] = std::sin(L.w0 * y[j]);
      break;
  }
}

// Layers one after the other through two scratch rows; the last writes `out`.
void run_layers(const std::vector<Layer>& layers, const float* x, float* out, float* s0, float* s1) {
  const float* in = x;
  for (size_t l = 0; l < layers.size(); ++l) {
    float* y = l + 1 == layers.size() ? out : (l % 2 == 0 ? s0 : s1);
    dense(layers[l], in, y);
    activate(layers[l], y);
    in = y;
  }
}

struct Recurrent {
  bool lstm = true;
  int I = 0, H = 0;
  std::vector<float> wt;  // [I][G*H]  (G = 4 gates for LSTM, 3 for GRU)
  std::vector<float> rt;  // [H][G*H]
  std::vector<float> wb;  // [G*H] LSTM: Wb + Rb; GRU: Wb
  std::vector<float> rb;  // [G*H] GRU: Rb (the h gate's stays apart: r multiplies it)
  bool squeeze = false;   // Y -> Squeeze(axis 1) before the head
  std::vector<Layer> head;
};

// ONNX LSTM, one step: gates in order i, o, f, c.
void lstm_step(const Recurrent& m, const float* __restrict x, const float* __restrict h, const float* __restrict c,
               float* __restrict h_out, float* __restrict c_out, float* __restrict g) {
  const int H = m.H, G = 4 * H;
  for (int j = 0; j < G; ++j) g[j] = m.wb[j];
  add_product(x, m.I, m.wt.data(), G, g);
  add_product(h, H, m.rt.data(), G, g);
  for (int k = 0; k < H; ++k) {
    const float in_gate = sigmoid(g[k]);
    const float out_gate = sigmoid(g[H + k]);
    const float forget = sigmoid(g[2 * H + k]);
    const float cand = std::tanh(g[3 * H + k]);
    const float cn = forget * c[k] + in_gate * cand;
    c_out[k] = cn;
    h_out[k] = out_gate * std::tanh(cn);
  }
}

// ONNX GRU, one step, linear_before_reset = 1: gates in order z, r, h.
void gru_step(const Recurrent& m, const float* __restrict x, const float* __restrict h, float* __restrict h_out,
              float* __restrict gx, float* __restrict gh) {
  const int H = m.H, G = 3 * H;
  for (int j = 0; j < G; ++j) gx[j] = m.wb[j];
  for (int j = 0; j < G; ++j) gh[j] = m.rb[j];
  add_product(x, m.I, m.wt.data(), G, gx);
  add_product(h, H, m.rt.data(), G, gh);
  for (int k = 0; k < H; ++k) {
    const float z = sigmoid(gx[k] + gh[k]);
    const float reset = sigmoid(gx[H + k] + gh[H + k]);
    const float n = std::tanh(gx[2 * H + k] + reset * gh[2 * H + k]);
    h_out[k] = (1.0f - z) * n + z * h[k];
  }
}

struct Mdn {
  int K = 0, D = 0;
  Layer hidden;                   // features -> tanh hidden
  Layer logits, means, log_scales;
};

void mdn_run(const Mdn& m, const float* features, float u, const float* eps, float* weights, float* means,
             float* scales, float* sample, float* hidden) {
  dense(m.hidden, features, hidden);
  activate(m.hidden, hidden);
  dense(m.logits, hidden, weights);
  float top = weights[0];
  for (int k = 1; k < m.K; ++k) top = std::max(top, weights[k]);
  float sum = 0;
  for (int k = 0; k < m.K; ++k) {
    weights[k] = std::exp(weights[k] - top);
    sum += weights[k];
  }
  for (int k = 0; k < m.K; ++k) weights[k] /= sum;
  dense(m.means, hidden, means);
  dense(m.log_scales, hidden, scales);
  for (int j = 0; j < m.K * m.D; ++j) scales[j] = std::exp(scales[j]);
  // The first component whose cumulative weight reaches u (the last if none).
  int pick = m.K - 1;
  float cum = 0;
  for (int k = 0; k < m.K; ++k) {
    cum += weights[k];
    if (!(cum < u)) {
      pick = k;
      break;
    }
  }
  for (int d = 0; d < m.D; ++d) sample[d] = means[pick * m.D + d] + scales[pick * m.D + d] * eps[d];
}

// ---- recognising the graph ---------------------------------------------------

// The graph with its producers and consumers; Constant nodes are values, not
// steps. Every other node must be claimed by the pattern exactly once.
class Matcher {
 public:
  explicit Matcher(const ir::Graph& g) : g_(g), producer_(g.tensors.size(), -1), consumers_(g.tensors.size()) {
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      for (ir::TensorId t : g.nodes[n].outputs)
        if (t >= 0) producer_[t] = static_cast<int>(n);
      if (g.nodes[n].op_type == "Constant") continue;
      for (ir::TensorId t : g.nodes[n].inputs)
        if (t >= 0) consumers_[t].push_back(static_cast<int>(n));
    }
    for (const auto& n : g.nodes)
      if (n.op_type != "Constant") ++steps_;
  }

  const ir::Graph& graph() const { return g_; }
  const std::string& name(ir::TensorId t) const { return g_.tensors[t].name; }

  // The value of a constant float tensor (an initializer or a Constant node's).
  const ir::Tensor* constant(ir::TensorId t) const {
    if (t < 0) return nullptr;
    const ir::Tensor& x = g_.tensors[t];
    if (x.is_constant()) return &x;
    int p = producer_[t];
    if (p >= 0 && g_.nodes[p].op_type == "Constant") {
      auto it = g_.nodes[p].attrs.find("value");
      if (it != g_.nodes[p].attrs.end() && it->second.tensor && it->second.tensor->is_constant())
        return it->second.tensor.get();
    }
    return nullptr;
  }
  const ir::Tensor* float_constant(ir::TensorId t) const {
    const ir::Tensor* c = constant(t);
    return c && c->dtype == DType::F32 ? c : nullptr;
  }
  // A constant holding one float (any shape of one element).
  std::optional<float> scalar(ir::TensorId t) const {
    const ir::Tensor* c = float_constant(t);
    if (!c || shape_numel(c->shape) != 1) return std::nullopt;
    return c->as<float>()[0];
  }
  std::optional<std::vector<int64_t>> ints(ir::TensorId t) const {
    const ir::Tensor* c = constant(t);
    if (!c || c->dtype != DType::I64) return std::nullopt;
    return std::vector<int64_t>(c->as<int64_t>(), c->as<int64_t>() + shape_numel(c->shape));
  }

  bool is_output(ir::TensorId t) const {
    return std::find(g_.outputs.begin(), g_.outputs.end(), t) != g_.outputs.end();
  }
  const std::vector<int>& consumers(ir::TensorId t) const { return consumers_[t]; }
  // The one node that reads t (and t is not also a graph output), or -1.
  int sole_consumer(ir::TensorId t) const {
    return consumers_[t].size() == 1 && !is_output(t) ? consumers_[t][0] : -1;
  }
  // The one consumer of t with this op type; not covered if none or several.
  int consumer_of(ir::TensorId t, const char* op) const {
    int found = -1;
    for (int n : consumers_[t])
      if (g_.nodes[n].op_type == op) {
        if (found >= 0) not_covered("'" + name(t) + "' feeds two " + op + " nodes");
        found = n;
      }
    if (found < 0) not_covered("no " + std::string(op) + " node reads '" + name(t) + "'");
    return found;
  }
  const ir::Node& node(int n) const { return g_.nodes[n]; }

  // Claims node n for the pattern (each node once).
  const ir::Node& claim(int n) {
    if (!claimed_.insert(n).second) not_covered("node '" + g_.nodes[n].name + "' is used twice by the pattern");
    return g_.nodes[n];
  }
  // Every non-Constant node was claimed: nothing of the model is left out.
  void require_all_claimed() const {
    if (static_cast<int>(claimed_.size()) == steps_) return;
    for (size_t n = 0; n < g_.nodes.size(); ++n)
      if (g_.nodes[n].op_type != "Constant" && !claimed_.count(static_cast<int>(n)))
        not_covered("node '" + g_.nodes[n].name + "' (" + g_.nodes[n].op_type + ") is not part of the pattern");
  }
  int steps() const { return steps_; }

  [[noreturn]] void not_covered(const std::string& why) const {
    throw NotCovered(g_.source + ": no hand-written baseline for this model (" + why + "); " + kCovers);
  }
  [[noreturn]] void malformed(const std::string& why) const {
    throw Error(g_.source + ": " + why + " (the model is malformed: its weights do not fit its own layers)");
  }

 private:
  const ir::Graph& g_;
  std::vector<int> producer_;
  std::vector<std::vector<int>> consumers_;
  std::set<int> claimed_;
  int steps_ = 0;
};

int64_t attr_int(const ir::Node& n, const char* key, int64_t fallback) {
  auto it = n.attrs.find(key);
  return it == n.attrs.end() ? fallback : it->second.i;
}
float attr_float(const ir::Node& n, const char* key, float fallback) {
  auto it = n.attrs.find(key);
  return it == n.attrs.end() ? fallback : it->second.f;
}

// A dense layer reading `x` (`width` values): MatMul(x, W) [+ Add(b)] or
// Gemm(x, W, b). Returns the tensor it writes; nullopt when the reader of x
// is not one.
std::optional<ir::TensorId> match_dense(Matcher& m, ir::TensorId x, int width, Layer& L) {
  int n = m.sole_consumer(x);
  if (n < 0) return std::nullopt;
  const ir::Node& node = m.node(n);
  if (node.op_type != "MatMul" && node.op_type != "Gemm") return std::nullopt;
  if (node.inputs.size() < 2 || node.inputs[0] != x) return std::nullopt;
  const ir::Tensor* w = m.float_constant(node.inputs[1]);
  if (!w) m.not_covered(node.op_type + " '" + node.name + "' has no constant float32 weight");
  bool trans_b = false;
  if (node.op_type == "Gemm") {
    if (attr_int(node, "transA", 0) != 0 || attr_float(node, "alpha", 1) != 1.0f || attr_float(node, "beta", 1) != 1.0f)
      m.not_covered("Gemm '" + node.name + "' uses transA, alpha or beta");
    trans_b = attr_int(node, "transB", 0) != 0;
  }
  if (w->shape.size() != 2)
    m.malformed(node.op_type + " '" + node.name + "': weight '" + w->name + "' is " + shape_str(w->shape) +
                ", expected a matrix");
  const int64_t in = trans_b ? w->shape[1] : w->shape[0], out = trans_b ? w->shape[0] : w->shape[1];
  if (in != width)
    m.malformed(node.op_type + " '" + node.name + "': weight '" + w->name + "' is " + shape_str(w->shape) +
                (trans_b ? " (transposed)" : "") + " but its input has " + std::to_string(width) + " values");
  m.claim(n);
  L.in = static_cast<int>(in);
  L.out = static_cast<int>(out);
  L.wt.assign(static_cast<size_t>(in * out), 0.0f);
  const float* src = w->as<float>();
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < out; ++j) L.wt[i * out + j] = trans_b ? src[j * in + i] : src[i * out + j];
  L.b.assign(static_cast<size_t>(out), 0.0f);

  auto take_bias = [&](const ir::Tensor* b, const ir::Node& where) {
    const int64_t n = shape_numel(b->shape);
    if (n != out && n != 1)
      m.malformed(where.op_type + " '" + where.name + "': bias '" + b->name + "' is " + shape_str(b->shape) +
                  ", expected " + std::to_string(out) + " values");
    for (int64_t j = 0; j < out; ++j) L.b[j] = b->as<float>()[n == 1 ? 0 : j];
  };
  ir::TensorId y = node.outputs[0];
  if (node.op_type == "Gemm" && node.inputs.size() > 2 && node.inputs[2] >= 0) {
    const ir::Tensor* b = m.float_constant(node.inputs[2]);
    if (!b) m.not_covered("Gemm '" + node.name + "' has no constant bias");
    take_bias(b, node);
  } else if (node.op_type == "MatMul") {
    int a = m.sole_consumer(y);
    if (a >= 0 && m.node(a).op_type == "Add" && m.node(a).inputs.size() == 2) {
      const ir::Node& add = m.node(a);
      ir::TensorId other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
      if (const ir::Tensor* b = m.float_constant(other)) {
        take_bias(b, add);
        m.claim(a);
        y = add.outputs[0];
      }
    }
  }
  return y;
}

// The activation after a dense layer's output y; returns its output (y itself
// when there is none).
ir::TensorId match_activation(Matcher& m, ir::TensorId y, Layer& L) {
  if (m.is_output(y)) return y;
  const auto& readers = m.consumers(y);
  auto near = [](std::optional<float> v, float want) { return v && std::fabs(*v - want) <= 1e-6f * std::max(1.0f, std::fabs(want)); };
  if (readers.size() == 1) {
    const ir::Node& n = m.node(readers[0]);
    const std::string& op = n.op_type;
    if (op == "Relu" || op == "Tanh" || op == "Sigmoid" || op == "Sin") {
      L.act = op == "Relu" ? Act::Relu : op == "Tanh" ? Act::Tanh : op == "Sigmoid" ? Act::Sigmoid : Act::Sin;
      m.claim(readers[0]);
      return n.outputs[0];
    }
    if (op == "Mul" && n.inputs.size() == 2) {  // sin(w0 * y), as SIREN layers export
      std::optional<float> w0 = m.scalar(n.inputs[0] == y ? n.inputs[1] : n.inputs[0]);
      int s = m.sole_consumer(n.outputs[0]);
      if (w0 && s >= 0 && m.node(s).op_type == "Sin") {
        L.act = Act::Sin;
        L.w0 = *w0;
        m.claim(readers[0]);
        m.claim(s);
        return m.node(s).outputs[0];
      }
    }
    return y;
  }
  // GELU as torch.onnx exports nn.GELU(): 0.5 * (y * (1 + erf(y / sqrt(2)))).
  if (readers.size() == 2) {
    int div = -1, mul = -1;
    for (int r : readers) {
      if (m.node(r).op_type == "Div") div = r;
      if (m.node(r).op_type == "Mul") mul = r;
    }
    if (div < 0 || mul < 0 || m.node(div).inputs[0] != y || !near(m.scalar(m.node(div).inputs[1]), std::sqrt(2.0f)))
      return y;
    int erf = m.sole_consumer(m.node(div).outputs[0]);
    if (erf < 0 || m.node(erf).op_type != "Erf") return y;
    int add = m.sole_consumer(m.node(erf).outputs[0]);
    if (add < 0 || m.node(add).op_type != "Add") return y;
    const ir::Node& a = m.node(add);
    if (!near(m.scalar(a.inputs[0] == m.node(erf).outputs[0] ? a.inputs[1] : a.inputs[0]), 1.0f)) return y;
    const ir::Node& mu = m.node(mul);
    if (!((mu.inputs[0] == y && mu.inputs[1] == a.outputs[0]) || (mu.inputs[1] == y && mu.inputs[0] == a.outputs[0])))
      return y;
    int half = m.sole_consumer(mu.outputs[0]);
    if (half < 0 || m.node(half).op_type != "Mul") return y;
    const ir::Node& h = m.node(half);
    if (!near(m.scalar(h.inputs[0] == mu.outputs[0] ? h.inputs[1] : h.inputs[0]), 0.5f)) return y;
    for (int n : {div, erf, add, mul, half}) m.claim(n);
    L.act = Act::Gelu;
    return h.outputs[0];
  }
  return y;
}

// Dense layers (each with its activation) from x up to a graph output.
std::vector<Layer> match_layers(Matcher& m, ir::TensorId x, int width, ir::TensorId& end) {
  std::vector<Layer> layers;
  while (!m.is_output(x)) {
    Layer L;
    std::optional<ir::TensorId> y = match_dense(m, x, width, L);
    if (!y) {
      const auto& r = m.consumers(x);
      if (r.empty()) m.not_covered("'" + m.name(x) + "' leads to no output");
      const ir::Node& n = m.node(r[0]);
      m.not_covered("node '" + n.name + "' (" + n.op_type + ") after '" + m.name(x) +
                    "' is not a dense layer or one of its activations");
    }
    x = match_activation(m, *y, L);
    width = L.out;
    layers.push_back(std::move(L));
  }
  end = x;
  return layers;
}

std::string layers_text(const std::vector<Layer>& layers) {
  std::string s = std::to_string(layers.front().in);
  std::set<std::string> acts;
  for (const auto& L : layers) {
    s += "-" + std::to_string(L.out);
    if (&L != &layers.back() || L.act != Act::None) acts.insert(act_name(L.act));
  }
  std::string a;
  for (const auto& x : acts) a += (a.empty() ? "" : "/") + x;
  return a.empty() ? s : s + " " + a;
}

// The width of a float32 graph input whose dims are all 1 but the last.
int vector_width(const Matcher& m, ir::TensorId t) {
  const ir::Tensor& x = m.graph().tensors[t];
  if (x.dtype != DType::F32) m.not_covered("input '" + x.name + "' is not float32");
  if (x.shape.empty()) m.not_covered("input '" + x.name + "' is a scalar");
  for (size_t i = 0; i + 1 < x.shape.size(); ++i)
    if (x.shape[i] != 1) m.not_covered("input '" + x.name + "' is " + shape_str(x.shape) + ", not one vector (batch 1)");
  if (x.shape.back() <= 0) m.not_covered("input '" + x.name + "' has an unknown size");
  return static_cast<int>(x.shape.back());
}

struct Recognised {
  enum class Kind { Layers, Recurrent, Mdn } kind = Kind::Layers;
  std::string pattern;  // for describe()
  std::vector<Layer> layers;
  Recurrent rnn;
  Mdn mdn;
  // The tensors of each role (see HandwrittenBackend::Roles): recurrent
  // {x, h, c} -> {y, h_out, c_out}; mdn {features, u, eps} -> {weights,
  // means, scales, sample}; kNoTensor where the model has none.
  std::vector<ir::TensorId> in_ids, out_ids;
};

// Squeeze(Y, axes [1]) (opset 13: axes as an input; older: an attribute).
ir::TensorId match_squeeze(Matcher& m, ir::TensorId y, bool& squeezed) {
  int s = m.sole_consumer(y);
  squeezed = false;
  if (s < 0 || m.node(s).op_type != "Squeeze") return y;
  const ir::Node& n = m.node(s);
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1) {
    auto a = m.ints(n.inputs[1]);
    if (!a) m.not_covered("Squeeze '" + n.name + "' has no constant axes");
    axes = *a;
  } else if (auto it = n.attrs.find("axes"); it != n.attrs.end()) {
    axes = it->second.ints;
  }
  if (axes != std::vector<int64_t>{1}) m.not_covered("Squeeze '" + n.name + "' does not drop the direction axis 1");
  m.claim(s);
  squeezed = true;
  return n.outputs[0];
}

void recognise_recurrent(Matcher& m, int cell, Recognised& r) {
  const ir::Graph& g = m.graph();
  const ir::Node& n = m.claim(cell);
  const bool lstm = n.op_type == "LSTM";
  const int gates = lstm ? 4 : 3;
  auto in = [&](size_t i) { return i < n.inputs.size() ? n.inputs[i] : ir::kNoTensor; };
  const int64_t H = attr_int(n, "hidden_size", 0);
  if (attr_int(n, "layout", 0) != 0 || n.attrs.count("clip") || n.attrs.count("activations") ||
      attr_int(n, "input_forget", 0) != 0 || (n.attrs.count("direction") && n.attrs.at("direction").s != "forward"))
    m.not_covered(n.op_type + " '" + n.name + "' uses layout, clip, activations, input_forget or a direction");
  if (!lstm && attr_int(n, "linear_before_reset", 0) != 1)
    m.not_covered("GRU '" + n.name + "' has linear_before_reset = 0 (PyTorch exports 1)");
  if (in(4) >= 0 || (lstm && in(7) >= 0)) m.not_covered(n.op_type + " '" + n.name + "' has sequence_lens or peepholes");
  const ir::TensorId x = in(0), h0 = in(5), c0 = lstm ? in(6) : ir::kNoTensor;
  auto is_input = [&](ir::TensorId t) { return t >= 0 && std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end(); };
  if (x >= 0 && !g.tensors[x].shape.empty() && g.tensors[x].shape[0] != 1)
    m.not_covered(n.op_type + " '" + n.name + "' runs " + std::to_string(g.tensors[x].shape[0]) +
                  " time steps (X is " + shape_str(g.tensors[x].shape) + "); the baseline covers one step");
  if (!is_input(x) || !is_input(h0) || (lstm && !is_input(c0)))
    m.not_covered(n.op_type + " '" + n.name + "': X, initial_h" + (lstm ? ", initial_c" : "") +
                  " are not all graph inputs (a one-step streaming cell takes its state as inputs)");
  const ir::Tensor& xt = g.tensors[x];
  if (xt.shape.size() != 3 || xt.shape[0] != 1 || xt.shape[1] != 1)
    m.not_covered(n.op_type + " '" + n.name + "': X is " + shape_str(xt.shape) + ", not one step of batch 1 ([1, 1, I])");
  const int I = vector_width(m, x);
  if (vector_width(m, h0) != H || (lstm && vector_width(m, c0) != H))
    m.malformed(n.op_type + " '" + n.name + "': the state inputs do not hold hidden_size = " + std::to_string(H) +
                " values");
  const ir::Tensor *W = m.float_constant(in(1)), *R = m.float_constant(in(2)), *B = m.float_constant(in(3));
  if (!W || !R || (in(3) >= 0 && !B)) m.not_covered(n.op_type + " '" + n.name + "' has weights that are not constant float32");
  const int64_t G = gates * H;
  if (W->shape != Shape{1, G, I}) m.malformed(n.op_type + " '" + n.name + "': W is " + shape_str(W->shape) + ", expected 1x" + std::to_string(G) + "x" + std::to_string(I));
  if (R->shape != Shape{1, G, H}) m.malformed(n.op_type + " '" + n.name + "': R is " + shape_str(R->shape) + ", expected 1x" + std::to_string(G) + "x" + std::to_string(H));
  if (B && B->shape != Shape{1, 2 * G}) m.malformed(n.op_type + " '" + n.name + "': B is " + shape_str(B->shape) + ", expected 1x" + std::to_string(2 * G));

  Recurrent& c = r.rnn;
  c.lstm = lstm;
  c.I = I;
  c.H = static_cast<int>(H);
  c.wt.resize(static_cast<size_t>(I * G));
  c.rt.resize(static_cast<size_t>(H * G));
  for (int64_t j = 0; j < G; ++j) {
    for (int64_t i = 0; i < I; ++i) c.wt[i * G + j] = W->as<float>()[j * I + i];
    for (int64_t k = 0; k < H; ++k) c.rt[k * G + j] = R->as<float>()[j * H + k];
  }
  c.wb.assign(static_cast<size_t>(G), 0.0f);
  c.rb.assign(static_cast<size_t>(G), 0.0f);
  if (B)
    for (int64_t j = 0; j < G; ++j) {
      if (lstm) {
        c.wb[j] = B->as<float>()[j] + B->as<float>()[G + j];
      } else {
        c.wb[j] = B->as<float>()[j];
        c.rb[j] = B->as<float>()[G + j];
      }
    }

  // Outputs: Y (-> Squeeze -> dense layers), Y_h, Y_c.
  auto out = [&](size_t i) { return i < n.outputs.size() ? n.outputs[i] : ir::kNoTensor; };
  ir::TensorId y = out(0), yh = out(1), yc = lstm ? out(2) : ir::kNoTensor;
  for (ir::TensorId t : {yh, yc})
    if (t >= 0 && !m.consumers(t).empty())
      m.not_covered(n.op_type + " '" + n.name + "': its state output '" + m.name(t) + "' is read by another node");
  ir::TensorId end = y;
  if (y >= 0 && !m.consumers(y).empty()) {
    ir::TensorId v = match_squeeze(m, y, c.squeeze);
    if (!c.squeeze) m.not_covered(n.op_type + " '" + n.name + "': Y is not squeezed before the head");
    c.head = match_layers(m, v, c.H, end);
  }
  r.kind = Recognised::Kind::Recurrent;
  r.pattern = std::string(lstm ? "lstm" : "gru") + " I=" + std::to_string(I) + " H=" + std::to_string(H) + " one step" +
              (c.head.empty() ? "" : ", head " + layers_text(c.head));
  for (ir::TensorId t : g.inputs) {
    if (t != x && t != h0 && t != c0) m.not_covered("input '" + m.name(t) + "' is not read by the " + n.op_type);
  }
  r.in_ids = {x, h0, c0};
  r.out_ids = {end, yh, yc};
  for (ir::TensorId t : g.outputs)
    if (t != end && t != yh && t != yc && t != y)
      m.not_covered("output '" + m.name(t) + "' is not the head's, Y_h or Y_c");
}

// The mixture density head as zoo/families exports it (see docs/handwritten-baseline.md).
void recognise_mdn(Matcher& m, Recognised& r) {
  const ir::Graph& g = m.graph();
  Mdn& d = r.mdn;
  // features: the input a dense layer reads; u: the Less's; eps: the Mul's.
  ir::TensorId features = ir::kNoTensor;
  for (ir::TensorId t : g.inputs) {
    int c = m.sole_consumer(t);
    if (c >= 0 && m.node(c).op_type == "Gemm") features = t;
  }
  if (features < 0) m.not_covered("no input feeds a Gemm");
  std::optional<ir::TensorId> h = match_dense(m, features, vector_width(m, features), d.hidden);
  if (!h) m.not_covered("the features' layer is not dense");
  ir::TensorId hidden = match_activation(m, *h, d.hidden);
  if (d.hidden.act != Act::Tanh) m.not_covered("the hidden layer's activation is not tanh");

  // Three heads read the hidden layer: logits -> Softmax, means -> Reshape,
  // log scales -> Exp -> Reshape. Each is a Gemm; match_dense wants a sole
  // reader, so the three are taken apart here.
  const auto& readers = m.consumers(hidden);
  if (readers.size() != 3) m.not_covered("the hidden layer does not feed exactly three heads");
  ir::TensorId weights = ir::kNoTensor, means = ir::kNoTensor, scales = ir::kNoTensor;
  for (int rd : readers) {
    const ir::Node& gemm = m.node(rd);
    if (gemm.op_type != "Gemm" && gemm.op_type != "MatMul") m.not_covered("a head reads the hidden layer with " + gemm.op_type);
    Layer L;
    const ir::Tensor* w = m.float_constant(gemm.inputs[1]);
    if (!w || gemm.op_type != "Gemm" || attr_int(gemm, "transB", 0) != 1 || attr_int(gemm, "transA", 0) != 0 ||
        attr_float(gemm, "alpha", 1) != 1.0f || attr_float(gemm, "beta", 1) != 1.0f || gemm.inputs.size() < 3)
      m.not_covered("head '" + gemm.name + "' is not a Gemm(transB) with constant weight and bias");
    const ir::Tensor* b = m.float_constant(gemm.inputs[2]);
    if (w->shape.size() != 2 || w->shape[1] != d.hidden.out)
      m.malformed("Gemm '" + gemm.name + "': weight '" + w->name + "' is " + shape_str(w->shape) +
                  " (transposed) but the hidden layer has " + std::to_string(d.hidden.out) + " values");
    if (!b || shape_numel(b->shape) != w->shape[0])
      m.malformed("Gemm '" + gemm.name + "': its bias does not hold " + std::to_string(w->shape[0]) + " values");
    L.in = static_cast<int>(w->shape[1]);
    L.out = static_cast<int>(w->shape[0]);
    L.wt.resize(static_cast<size_t>(L.in * L.out));
    for (int i = 0; i < L.in; ++i)
      for (int j = 0; j < L.out; ++j) L.wt[i * L.out + j] = w->as<float>()[j * L.in + i];
    L.b.assign(b->as<float>(), b->as<float>() + L.out);
    m.claim(rd);
    int next = m.sole_consumer(gemm.outputs[0]);
    if (next < 0) m.not_covered("head '" + gemm.name + "' does not feed one node");
    const std::string& op = m.node(next).op_type;
    if (op == "Softmax") {
      const ir::Node& sm = m.claim(next);
      int64_t axis = attr_int(sm, "axis", -1);
      if (axis != -1 && axis != 1) m.not_covered("Softmax '" + sm.name + "' is not over the last axis");
      weights = sm.outputs[0];
      d.logits = std::move(L);
    } else if (op == "Reshape") {
      m.claim(next);
      means = m.node(next).outputs[0];
      d.means = std::move(L);
    } else if (op == "Exp") {
      m.claim(next);
      int re = m.sole_consumer(m.node(next).outputs[0]);
      if (re < 0 || m.node(re).op_type != "Reshape") m.not_covered("exp(log scales) is not reshaped");
      m.claim(re);
      scales = m.node(re).outputs[0];
      d.log_scales = std::move(L);
    } else {
      m.not_covered("head '" + gemm.name + "' feeds " + op);
    }
  }
  if (weights < 0 || means < 0 || scales < 0) m.not_covered("the heads are not weights, means and scales");
  d.K = d.logits.out;
  if (d.K < 1 || d.means.out % d.K != 0 || d.log_scales.out != d.means.out)
    m.malformed("the means (" + std::to_string(d.means.out) + ") and scales (" + std::to_string(d.log_scales.out) +
                ") do not split into " + std::to_string(d.K) + " components");
  d.D = d.means.out / d.K;
  const int K = d.K;

  // The sample: k = min(#{j : cumsum(weights)[j] < u}, K - 1), as
  // MatMul(weights, upper) -> Less(u) -> Cast -> ReduceSum -> Clip(max K-1);
  // one-hot Equal(index, k) -> Cast -> Unsqueeze; means and scales picked by
  // Mul + ReduceSum(axis 1); sample = mean + scale * eps.
  auto need = [&](int n, const char* op) -> const ir::Node& {
    if (n < 0 || m.node(n).op_type != op) m.not_covered(std::string("expected ") + op + " in the sampling chain");
    return m.claim(n);
  };
  // Axes of a ReduceSum / Unsqueeze (opset 13: an input; older: an attribute).
  auto axes_are = [&](const ir::Node& n, std::initializer_list<int64_t> allowed) {
    std::vector<int64_t> axes;
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
      auto a = m.ints(n.inputs[1]);
      if (a) axes = *a;
    } else if (auto it = n.attrs.find("axes"); it != n.attrs.end()) {
      axes = it->second.ints;
    }
    if (axes.size() != 1 || std::find(allowed.begin(), allowed.end(), axes[0]) == allowed.end())
      m.not_covered(n.op_type + " '" + n.name + "' works on other axes than the mixture's");
  };
  auto to_float = [&](const ir::Node& n) {
    if (attr_int(n, "to", 0) != static_cast<int64_t>(DType::F32)) m.not_covered("Cast '" + n.name + "' is not to float32");
  };
  const ir::Node& mm = need(m.consumer_of(weights, "MatMul"), "MatMul");
  const ir::Tensor* upper = m.float_constant(mm.inputs[1]);
  if (mm.inputs[0] != weights || !upper || upper->shape != Shape{K, K})
    m.not_covered("MatMul '" + mm.name + "' does not multiply the weights by a KxK constant");
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j)
      if (upper->as<float>()[i * K + j] != (i <= j ? 1.0f : 0.0f))
        m.not_covered("MatMul '" + mm.name + "': '" + upper->name + "' is not the upper triangle of ones (a cumulative sum)");
  const ir::Node& less = need(m.sole_consumer(mm.outputs[0]), "Less");
  if (less.inputs[0] != mm.outputs[0]) m.not_covered("Less '" + less.name + "' does not compare cumsum < u");
  const ir::TensorId u = less.inputs[1];
  const ir::Node& cast = need(m.sole_consumer(less.outputs[0]), "Cast");
  to_float(cast);
  const ir::Node& count = need(m.sole_consumer(cast.outputs[0]), "ReduceSum");
  axes_are(count, {-1, 1});
  const ir::Node& clip = need(m.sole_consumer(count.outputs[0]), "Clip");
  auto clip_max = clip.inputs.size() > 2 ? m.scalar(clip.inputs[2]) : std::nullopt;
  auto clip_min = clip.inputs.size() > 1 && clip.inputs[1] >= 0 ? m.scalar(clip.inputs[1]) : std::optional<float>(0.0f);
  if (!clip_max || *clip_max != static_cast<float>(K - 1) || !clip_min || *clip_min > 0)
    m.not_covered("Clip '" + clip.name + "' does not bound the component index to [0, K-1]");
  const ir::Node& eq = need(m.sole_consumer(clip.outputs[0]), "Equal");
  const ir::Tensor* index = m.float_constant(eq.inputs[0] == clip.outputs[0] ? eq.inputs[1] : eq.inputs[0]);
  if (!index || shape_numel(index->shape) != K) m.not_covered("Equal '" + eq.name + "' does not compare with 0..K-1");
  for (int k = 0; k < K; ++k)
    if (index->as<float>()[k] != static_cast<float>(k)) m.not_covered("Equal '" + eq.name + "': the index is not 0..K-1");
  const ir::Node& cast1 = need(m.sole_consumer(eq.outputs[0]), "Cast");
  to_float(cast1);
  const ir::Node& unsq = need(m.sole_consumer(cast1.outputs[0]), "Unsqueeze");
  axes_are(unsq, {-1, 2});
  const ir::TensorId onehot = unsq.outputs[0];
  if (m.consumers(onehot).size() != 2) m.not_covered("the one-hot choice does not pick exactly means and scales");
  ir::TensorId picked_mean = ir::kNoTensor, picked_scale = ir::kNoTensor;
  for (int mul : m.consumers(onehot)) {
    const ir::Node& mu = need(mul, "Mul");
    ir::TensorId other = mu.inputs[0] == onehot ? mu.inputs[1] : mu.inputs[0];
    const ir::Node& rs = need(m.sole_consumer(mu.outputs[0]), "ReduceSum");
    axes_are(rs, {1, -2});
    if (attr_int(rs, "keepdims", 1) != 0) m.not_covered("ReduceSum '" + rs.name + "' keeps the component axis");
    if (other == means) picked_mean = rs.outputs[0];
    else if (other == scales) picked_scale = rs.outputs[0];
    else m.not_covered("Mul '" + mu.name + "' picks neither the means nor the scales");
  }
  const ir::Node& noise = need(m.sole_consumer(picked_scale), "Mul");
  const ir::TensorId eps = noise.inputs[0] == picked_scale ? noise.inputs[1] : noise.inputs[0];
  const ir::Node& add = need(m.consumer_of(picked_mean, "Add"), "Add");
  if (!((add.inputs[0] == picked_mean && add.inputs[1] == noise.outputs[0]) ||
        (add.inputs[1] == picked_mean && add.inputs[0] == noise.outputs[0])))
    m.not_covered("Add '" + add.name + "' is not mean + scale * eps");
  m.require_all_claimed();

  auto is_input = [&](ir::TensorId t) { return std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end(); };
  if (!is_input(u) || !is_input(eps) || g.inputs.size() != 3) m.not_covered("u and eps are not the model's inputs");
  if (vector_width(m, u) != 1) m.malformed("u holds " + shape_str(g.tensors[u].shape) + " values, expected one");
  if (vector_width(m, eps) != d.D)
    m.malformed("eps is " + shape_str(g.tensors[eps].shape) + ", expected " + std::to_string(d.D) + " values");
  r.kind = Recognised::Kind::Mdn;
  r.pattern = "mdn K=" + std::to_string(K) + " D=" + std::to_string(d.D) + ", hidden " +
              std::to_string(d.hidden.in) + "-" + std::to_string(d.hidden.out) + " tanh";
  r.in_ids = {features, u, eps};
  r.out_ids = {weights, means, scales, add.outputs[0]};
  for (ir::TensorId t : r.out_ids)
    if (!m.is_output(t)) m.not_covered("the mixture's '" + m.name(t) + "' is not an output of the model");
  if (g.outputs.size() != 4) m.not_covered("the mixture has other outputs than weights, means, scales and sample");
}

Recognised recognise(const ir::Graph& g) {
  Matcher m(g);
  Recognised r;
  if (g.inputs.empty() || g.outputs.empty()) m.not_covered("it has no inputs or outputs");
  // An op none of the patterns uses settles it at once, and says which.
  static const std::set<std::string> known = {
      "Constant", "MatMul", "Gemm", "Add", "Mul", "Div", "Relu", "Tanh", "Sigmoid", "Sin", "Erf", "LSTM", "GRU",
      "Squeeze", "Softmax", "Reshape", "Exp", "Less", "Cast", "ReduceSum", "Clip", "Equal", "Unsqueeze"};
  for (const ir::Node& n : g.nodes)
    if (!n.domain.empty() || !known.count(n.op_type))
      m.not_covered("node '" + n.name + "' (" + n.op_type + ") is in none of its patterns");
  int cells = 0, cell = -1, softmax = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const std::string& op = g.nodes[n].op_type;
    if (op == "LSTM" || op == "GRU") {
      ++cells;
      cell = static_cast<int>(n);
    }
    if (op == "Softmax") ++softmax;
  }
  if (cells > 1) m.not_covered("it has more than one recurrent node");
  if (cells == 1) {
    recognise_recurrent(m, cell, r);
  } else if (softmax == 1 && g.inputs.size() == 3) {
    recognise_mdn(m, r);
  } else {
    if (g.inputs.size() != 1 || g.outputs.size() != 1) m.not_covered("a dense layer or MLP has one input and one output");
    ir::TensorId end;
    r.layers = match_layers(m, g.inputs[0], vector_width(m, g.inputs[0]), end);
    if (r.layers.empty()) m.not_covered("the input is the output");
    const bool one = r.layers.size() == 1 && r.layers[0].act == Act::None;
    r.pattern = one ? "dense " + std::to_string(r.layers[0].in) + "x" + std::to_string(r.layers[0].out)
                    : "mlp " + layers_text(r.layers);
    r.in_ids = g.inputs;
    r.out_ids = g.outputs;
  }
  m.require_all_claimed();
  return r;
}

// ---- the backend ---------------------------------------------------------------

class HandwrittenBackend final : public Backend {
 public:
  void open(const std::string& onnx_path, const BackendOptions& options) override {
    close();
    ir::Graph g = import::load_onnx(onnx_path);
    r_.emplace(recognise(g));
    assign_roles(g);
    if (options.threads != 1)
      threads_note_ = "handwritten runs on one thread; --threads " + std::to_string(options.threads) + " ignored";
  }

  void prepare() override {
    if (!r_) throw Error("handwritten: prepare() before open()");
    in_buf_.clear();
    out_buf_.clear();
    for (const auto& t : inputs_) in_buf_.emplace_back(static_cast<size_t>(shape_numel(t.shape)), 0.0f);
    for (const auto& t : outputs_) out_buf_.emplace_back(static_cast<size_t>(shape_numel(t.shape)), 0.0f);
    size_t widest = 1;
    auto widen = [&](const std::vector<Layer>& ls) {
      for (const auto& L : ls) widest = std::max(widest, static_cast<size_t>(L.out));
    };
    widen(r_->layers);
    widen(r_->rnn.head);
    widest = std::max(widest, static_cast<size_t>(4 * r_->rnn.H));
    widest = std::max(widest, static_cast<size_t>(r_->mdn.hidden.out));
    s0_.assign(widest, 0.0f);
    s1_.assign(widest, 0.0f);
    // The output shapes the graph declares must hold what the loops write.
    check_sizes();
  }

  void run() override {
    const Recognised& r = *r_;
    switch (r.kind) {
      case Recognised::Kind::Layers:
        run_layers(r.layers, in(0), out(0), s0_.data(), s1_.data());
        break;
      case Recognised::Kind::Recurrent: {
        const Recurrent& c = r.rnn;
        float* h = out(io_.h_out);
        if (c.lstm)
          lstm_step(c, in(io_.x), in(io_.h), in(io_.c), h, out(io_.c_out), s0_.data());
        else
          gru_step(c, in(io_.x), in(io_.h), h, s0_.data(), s1_.data());
        if (io_.y >= 0) {
          if (c.head.empty()) std::memcpy(out(io_.y), h, sizeof(float) * static_cast<size_t>(c.H));
          else run_layers(c.head, h, out(io_.y), s0_.data(), s1_.data());
        }
        break;
      }
      case Recognised::Kind::Mdn:
        mdn_run(r.mdn, in(io_.features), in(io_.u)[0], in(io_.eps), out(io_.weights), out(io_.means),
                out(io_.scales), out(io_.sample), s0_.data());
        break;
    }
  }

  void close() override {
    r_.reset();
    inputs_.clear();
    outputs_.clear();
    in_buf_.clear();
    out_buf_.clear();
    hidden_outputs_.clear();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return in_buf_.at(static_cast<size_t>(i)).data(); }
  const void* output_data(int i) const override { return out_buf_.at(static_cast<size_t>(i)).data(); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", "hand-written C++ loops (the reference for the engine; no intrinsics, no engine kernels)"},
        {"threads", "1"}};
    if (r_) d["pattern"] = r_->pattern;
    if (!threads_note_.empty()) d["note"] = threads_note_;
    return d;
  }

 private:
  // Where each role's buffer is: an index into the model's inputs or
  // outputs (in the model's order), -1 when the model has none.
  struct Roles {
    int x = -1, h = -1, c = -1, y = -1, h_out = -1, c_out = -1;                  // dense, mlp, lstm, gru
    int features = -1, u = -1, eps = -1, weights = -1, means = -1, scales = -1, sample = -1;  // mdn
  };

  void assign_roles(const ir::Graph& g) {
    const Recognised& r = *r_;
    auto pos = [](const std::vector<ir::TensorId>& order, ir::TensorId t) {
      auto it = std::find(order.begin(), order.end(), t);
      return t < 0 || it == order.end() ? -1 : static_cast<int>(it - order.begin());
    };
    for (ir::TensorId t : g.inputs) inputs_.push_back({g.tensors[t].name, g.tensors[t].dtype, g.tensors[t].shape});
    for (ir::TensorId t : g.outputs) outputs_.push_back({g.tensors[t].name, g.tensors[t].dtype, g.tensors[t].shape});
    io_ = {};
    switch (r.kind) {
      case Recognised::Kind::Layers:
        io_.x = 0;
        io_.y = 0;
        break;
      case Recognised::Kind::Recurrent:
        io_.x = pos(g.inputs, r.in_ids[0]);
        io_.h = pos(g.inputs, r.in_ids[1]);
        io_.c = pos(g.inputs, r.in_ids[2]);
        io_.y = pos(g.outputs, r.out_ids[0]);
        io_.h_out = pos(g.outputs, r.out_ids[1]);
        io_.c_out = pos(g.outputs, r.out_ids[2]);
        // The loops write h and c: state the model does not output goes to
        // buffers after its outputs.
        if (io_.h_out < 0) io_.h_out = extra_output(r.rnn.H);
        if (r.rnn.lstm && io_.c_out < 0) io_.c_out = extra_output(r.rnn.H);
        break;
      case Recognised::Kind::Mdn:
        io_.features = pos(g.inputs, r.in_ids[0]);
        io_.u = pos(g.inputs, r.in_ids[1]);
        io_.eps = pos(g.inputs, r.in_ids[2]);
        io_.weights = pos(g.outputs, r.out_ids[0]);
        io_.means = pos(g.outputs, r.out_ids[1]);
        io_.scales = pos(g.outputs, r.out_ids[2]);
        io_.sample = pos(g.outputs, r.out_ids[3]);
        break;
    }
  }

  // A hidden buffer after the model's outputs (not listed in outputs()).
  int extra_output(int n) {
    hidden_outputs_.push_back(n);
    return static_cast<int>(outputs_.size() + hidden_outputs_.size() - 1);
  }

  void check_sizes() {
    for (int n : hidden_outputs_) out_buf_.emplace_back(static_cast<size_t>(n), 0.0f);
    const Recognised& r = *r_;
    auto want = [&](bool input, int i, int64_t n, const char* what) {
      if (i < 0) return;
      const auto& list = input ? inputs_ : outputs_;
      if (static_cast<size_t>(i) >= list.size()) return;  // a hidden buffer, sized above
      if (list[i].dtype != DType::F32 || shape_numel(list[i].shape) != n)
        throw Error("handwritten: " + std::string(input ? "input '" : "output '") + list[i].name + "' is " +
                    shape_str(list[i].shape) + ", but the " + what + " has " + std::to_string(n) +
                    " float values: the model's declared shape does not match its weights");
    };
    switch (r.kind) {
      case Recognised::Kind::Layers:
        want(true, 0, r.layers.front().in, "first layer's input");
        want(false, 0, r.layers.back().out, "last layer's output");
        break;
      case Recognised::Kind::Recurrent:
        want(true, io_.x, r.rnn.I, "cell's input");
        want(true, io_.h, r.rnn.H, "cell's state");
        want(true, io_.c, r.rnn.H, "cell's state");
        want(false, io_.h_out, r.rnn.H, "cell's state");
        want(false, io_.c_out, r.rnn.H, "cell's state");
        want(false, io_.y, r.rnn.head.empty() ? r.rnn.H : r.rnn.head.back().out, "head's output");
        break;
      case Recognised::Kind::Mdn:
        want(true, io_.features, r.mdn.hidden.in, "hidden layer's input");
        want(false, io_.weights, r.mdn.K, "mixture's weights");
        want(false, io_.means, r.mdn.K * r.mdn.D, "mixture's means");
        want(false, io_.scales, r.mdn.K * r.mdn.D, "mixture's scales");
        want(false, io_.sample, r.mdn.D, "sample");
        break;
    }
  }

  float* in(int i) { return in_buf_[static_cast<size_t>(i)].data(); }
  float* out(int i) { return out_buf_[static_cast<size_t>(i)].data(); }

  std::optional<Recognised> r_;
  Roles io_;
  std::vector<int> hidden_outputs_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<std::vector<float>> in_buf_, out_buf_;
  std::vector<float> s0_, s1_;
  std::string threads_note_;
};

}  // namespace

std::unique_ptr<Backend> make_handwritten() { return std::make_unique<HandwrittenBackend>(); }

}  // namespace rtml::backends
