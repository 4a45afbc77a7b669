#include "quantize/quantize.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "data/test_data.h"
#include "engine/session.h"
#include "import/onnx_import.h"
#include "onnx.pb.h"
#include "quantize/calibration.h"
#include "quantize/qdq_writer.h"
#include "util/atomic_file.h"

namespace rtml::quantize {

namespace fs = std::filesystem;
using nlohmann::json;

const char* method_name(Method m) {
  switch (m) {
    case Method::MinMax: return "minmax";
    case Method::Percentile: return "percentile";
    case Method::Mse: return "mse";
  }
  return "?";
}

namespace {

constexpr int kHistogramBins = 2048;

// One quantizable node (quantize.h: which ones and how).
struct Layer {
  std::string node, op_type;
  std::vector<std::string> weights;  // Conv/Gemm/MatMul: W; recurrent: W and R
  int axis = 0;                      // output-channel axis of the weights
  std::string bias;                  // "" for none (or not quantized)
  std::string input;                 // the activation input; "" for recurrent (weight-only)
  std::string output;                // after a Relu/Clip left inside the pattern; "" for none
};

// The producer and the readers of every tensor, and the graph outputs.
struct Uses {
  std::map<ir::TensorId, int> producer;
  std::map<ir::TensorId, std::vector<int>> readers;
  std::set<ir::TensorId> outputs;
  explicit Uses(const ir::Graph& g) : outputs(g.outputs.begin(), g.outputs.end()) {
    for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
      for (ir::TensorId t : g.nodes[i].inputs)
        if (t != ir::kNoTensor) readers[t].push_back(i);
      for (ir::TensorId t : g.nodes[i].outputs)
        if (t != ir::kNoTensor) producer[t] = i;
    }
  }
  // t's value if it is an int64 initializer or a Constant node's; nullptr if not.
  const ir::Tensor* int64_constant(const ir::Graph& g, ir::TensorId t) const {
    const ir::Tensor* v = &g.tensors[t];
    if (auto it = producer.find(t); !v->is_constant() && it != producer.end()) {
      const ir::Node& n = g.nodes[it->second];
      auto a = n.attrs.find("value");
      v = n.op_type == "Constant" && a != n.attrs.end() ? a->second.tensor.get() : nullptr;
    }
    return v && v->is_constant() && v->dtype == DType::I64 ? v : nullptr;
  }
  // The node that alone reads t (t not a graph output), or nullptr.
  const ir::Node* only_reader(const ir::Graph& g, ir::TensorId t) const {
    auto it = readers.find(t);
    if (outputs.count(t) || it == readers.end() || it->second.size() != 1) return nullptr;
    const ir::Node& n = g.nodes[it->second[0]];
    return !n.inputs.empty() && n.inputs[0] == t && !n.outputs.empty() ? &n : nullptr;
  }
};

bool is_activation(const ir::Node* n) { return n && (n->op_type == "Relu" || n->op_type == "Clip"); }

// A Slice of a tensor of `rank` dimensions that keeps a run of values along
// spatial axes (>= 2) only, step 1, all its arguments constant: the trim of
// a causal convolution, which the planner folds into the Conv's padding
// (plan/passes/fold_causal_slice).
bool is_spatial_slice(const ir::Graph& g, const Uses& uses, const ir::Node* n, int64_t rank) {
  if (!n || n->op_type != "Slice" || g.opset < 10 || n->inputs.size() < 4 || n->inputs[3] == ir::kNoTensor) return false;
  for (size_t i = 1; i < n->inputs.size(); ++i) {
    if (n->inputs[i] == ir::kNoTensor) continue;
    const ir::Tensor* t = uses.int64_constant(g, n->inputs[i]);
    if (!t) return false;
    const int64_t* v = t->as<int64_t>();
    for (int64_t k = 0, count = shape_numel(t->shape); k < count; ++k)
      if ((i == 3 && (v[k] < 0 ? v[k] + rank : v[k]) < 2) || (i == 4 && v[k] != 1)) return false;
  }
  return true;
}

// Where a quantized group that starts at tensor y ends: after a Relu or
// Clip that alone reads y; for a Conv (conv_rank: its output's rank, else
// 0) also after a causal Slice that alone reads y and is followed by such a
// Relu or Clip (the planner folds the Slice, then runs Conv + Relu as one
// integer step).
ir::TensorId group_end(const ir::Graph& g, const Uses& uses, ir::TensorId y, int64_t conv_rank) {
  const ir::Node* next = uses.only_reader(g, y);
  if (is_activation(next)) return next->outputs[0];
  if (conv_rank >= 3 && is_spatial_slice(g, uses, next, conv_rank)) {
    const ir::Node* act = uses.only_reader(g, next->outputs[0]);
    if (is_activation(act)) return act->outputs[0];
  }
  return y;
}

bool attr_is(const ir::Node& n, const char* name, int64_t value, int64_t absent) {
  auto it = n.attrs.find(name);
  return (it == n.attrs.end() ? absent : it->second.i) == value;
}
float attr_f(const ir::Node& n, const char* name, float absent) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? absent : it->second.f;
}

std::vector<Layer> find_layers(const ir::Graph& g, const Uses& uses, const std::set<std::string>& initializers) {
  std::vector<Layer> layers;
  for (const auto& n : g.nodes) {
    auto weight = [&](size_t slot) -> const ir::Tensor* {
      if (slot >= n.inputs.size() || n.inputs[slot] == ir::kNoTensor) return nullptr;
      const ir::Tensor& t = g.tensors[n.inputs[slot]];
      return t.is_constant() && t.dtype == DType::F32 && initializers.count(t.name) ? &t : nullptr;
    };
    auto activation = [&](size_t slot) -> std::string {
      if (slot >= n.inputs.size() || n.inputs[slot] == ir::kNoTensor) return "";
      const ir::Tensor& t = g.tensors[n.inputs[slot]];
      return t.is_constant() ? "" : t.name;
    };
    Layer L;
    L.node = n.name;
    L.op_type = n.op_type;
    const ir::Tensor* w = weight(1);
    const ir::Tensor* b = weight(2);
    int64_t channels = 0;
    if (n.op_type == "Conv") {
      if (!w || w->shape.size() < 3) continue;
      L.axis = 0;
    } else if (n.op_type == "Gemm") {
      if (!w || w->shape.size() != 2 || !attr_is(n, "transA", 0, 0)) continue;
      L.axis = attr_is(n, "transB", 1, 0) ? 0 : 1;
      if (attr_f(n, "alpha", 1) != 1 || attr_f(n, "beta", 1) != 1) b = nullptr;
    } else if (n.op_type == "MatMul") {
      if (!w || w->shape.size() < 2) continue;
      L.axis = static_cast<int>(w->shape.size()) - 1;
      b = nullptr;
    } else if (n.op_type == "LSTM" || n.op_type == "GRU" || n.op_type == "RNN") {
      const ir::Tensor* r = weight(2);
      if (!w || !r || w->shape.size() != 3 || r->shape.size() != 3) continue;
      L.weights = {w->name, r->name};
      L.axis = 1;
      if (!n.outputs.empty() && n.outputs[0] != ir::kNoTensor) L.output = g.tensors[n.outputs[0]].name;
      layers.push_back(L);
      continue;
    } else {
      continue;
    }
    L.input = activation(0);
    if (L.input.empty()) continue;  // a constant input: folding's job, not ours
    L.weights = {w->name};
    channels = w->shape[L.axis];
    if (b && shape_numel(b->shape) == channels) L.bias = b->name;
    // A Relu or Clip that alone reads the output stays inside the pattern.
    const ir::TensorId y = n.outputs.empty() ? ir::kNoTensor : n.outputs[0];
    if (y == ir::kNoTensor) continue;
    const int64_t conv_rank = n.op_type == "Conv" ? static_cast<int64_t>(w->shape.size()) : 0;
    L.output = g.tensors[group_end(g, uses, y, conv_rank)].name;
    layers.push_back(L);
  }
  return layers;
}

// Add nodes whose two inputs are quantized activations (`quantized`, which
// gains their outputs as they are found, in graph order, so that a chain
// of residual Adds is found whole): their output, after a Relu or Clip that
// alone reads it, is quantized too, and the planner runs each as TFLite's
// integer Add (fuse_qdq: QLinearAdd) rather than DequantizeLinear -> float
// Add -> QuantizeLinear.
std::vector<Layer> find_adds(const ir::Graph& g, const Uses& uses, std::vector<std::string>& quantized) {
  std::vector<Layer> adds;
  for (const auto& n : g.nodes) {
    if (n.op_type != "Add" || !n.domain.empty() || n.inputs.size() != 2 || n.outputs.size() != 1) continue;
    bool both = true;
    for (ir::TensorId t : n.inputs)
      both = both && t != ir::kNoTensor &&
             std::find(quantized.begin(), quantized.end(), g.tensors[t].name) != quantized.end();
    if (!both) continue;
    Layer L;
    L.node = n.name;
    L.op_type = n.op_type;
    L.input = g.tensors[n.inputs[0]].name;
    L.output = g.tensors[group_end(g, uses, n.outputs[0], 0)].name;
    if (std::find(quantized.begin(), quantized.end(), L.output) == quantized.end()) quantized.push_back(L.output);
    adds.push_back(L);
  }
  return adds;
}

// A copy of a graph with some tensors as extra outputs, run set by set;
// planned without fusion (so that every named tensor is written by a step),
// or, for a quantized graph, with it: its QDQ groups then run as the integer
// steps `rtml run` runs (the probed tensors are DequantizeLinear outputs,
// which fuse_qdq keeps while they are read).
class Probe {
 public:
  Probe(ir::Graph g, const std::vector<std::string>& names, const plan::PlanOptions& options, bool fuse = false)
      : g_(std::move(g)), options_(options) {
    options_.fuse = fuse;
    first_ = static_cast<int>(g_.outputs.size());
    for (const auto& name : names) {
      ir::TensorId id = g_.find(name);
      if (id == ir::kNoTensor) throw Error(g_.source + ": quantize: no tensor named '" + name + "'");
      g_.outputs.push_back(id);
    }
  }

  const engine::Session& run(const data::TestSet& set) {
    plan::PlanOptions po = options_;
    for (const auto& [name, shape] : data::input_shapes(set)) po.input_shapes.try_emplace(name, shape);
    if (!session_ || po.input_shapes != shapes_) {
      session_ = std::make_unique<engine::Session>(plan::build_plan(g_, po));
      shapes_ = po.input_shapes;
    }
    session_->reset();
    data::copy_inputs(set, *session_);
    engine::RunStatus st = session_->run();
    if (!st.ok()) {
      const auto& step = session_->plan().steps[st.step];
      throw Error(g_.source + ": on " + set.dir + ", node '" + step.node_name + "' (" + step.op_type +
                  ") failed at run time (code " + std::to_string(st.code) + ")");
    }
    return *session_;
  }

  // Output o's float32 values after run() (nullptr if it is not float32).
  const float* output(int o, int64_t& n) const {
    const auto& t = session_->output(o);
    n = shape_numel(t.shape);
    return t.dtype == DType::F32 ? static_cast<const float*>(session_->output_data(o)) : nullptr;
  }
  const float* probe(size_t k, int64_t& n) const { return output(first_ + static_cast<int>(k), n); }

 private:
  ir::Graph g_;
  plan::PlanOptions options_;
  int first_ = 0;
  std::unique_ptr<engine::Session> session_;
  std::map<std::string, Shape> shapes_;
};

std::vector<data::TestSet> load_sets(const std::string& dir, const ir::Graph& g, const char* what, int max_sets) {
  std::vector<data::TestSet> sets;
  try {
    sets = data::load_test_data(dir, g);
  } catch (const Error& e) {
    throw Error(std::string("quantize: the ") + what + " data: " + e.what());
  }
  if (max_sets > 0 && static_cast<int>(sets.size()) > max_sets) sets.resize(static_cast<size_t>(max_sets));
  return sets;
}

// The ranges of `names` over the calibration sets, by the chosen method.
std::vector<Range> calibrate(const ir::Graph& g, const std::vector<std::string>& names,
                             const std::vector<data::TestSet>& sets, const QuantizeOptions& o,
                             std::vector<bool>& is_float) {
  Probe probe(g, names, o.plan);
  const int passes = o.method == Method::MinMax ? 1 : 2;
  const int total = passes * static_cast<int>(sets.size());
  std::vector<Range> minmax(names.size(), Range{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()});
  is_float.assign(names.size(), true);
  int done = 0;
  for (const auto& set : sets) {
    probe.run(set);
    for (size_t k = 0; k < names.size(); ++k) {
      int64_t n = 0;
      const float* v = probe.probe(k, n);
      if (!v) {
        is_float[k] = false;
        continue;
      }
      for (int64_t i = 0; i < n; ++i)
        if (std::isfinite(v[i])) {
          minmax[k].lo = std::min(minmax[k].lo, static_cast<double>(v[i]));
          minmax[k].hi = std::max(minmax[k].hi, static_cast<double>(v[i]));
        }
    }
    if (o.progress) o.progress("calibrating", ++done, total);
  }
  for (auto& r : minmax)
    if (r.lo > r.hi) r = {0, 0};  // no finite value seen
  if (o.method == Method::MinMax) return minmax;

  std::vector<Histogram> hist;
  for (const auto& r : minmax) hist.emplace_back(r.lo, r.hi, kHistogramBins);
  for (const auto& set : sets) {
    probe.run(set);
    for (size_t k = 0; k < names.size(); ++k) {
      int64_t n = 0;
      if (const float* v = probe.probe(k, n)) hist[k].add(v, n);
    }
    if (o.progress) o.progress("calibrating", ++done, total);
  }
  std::vector<Range> ranges;
  for (const auto& h : hist)
    ranges.push_back(o.method == Method::Percentile ? percentile_range(h, o.percentile) : mse_range(h, o.activations));
  return ranges;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the model");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int64_t initializer_bytes(const onnx::GraphProto& g) {
  int64_t total = 0;
  for (const auto& t : g.initializer()) {
    int64_t n = 1;
    for (int64_t d : t.dims()) n *= d;
    total += n * static_cast<int64_t>(dtype_size(static_cast<DType>(t.data_type())));
  }
  return total;
}

// Weights and biases are scaled from their values: NaN or infinity cannot be.
const float* finite_values(const ir::Tensor& t, const std::string& model) {
  const float* v = t.as<float>();
  for (int64_t i = 0, n = shape_numel(t.shape); i < n; ++i)
    if (!std::isfinite(v[i]))
      throw Error(model + ": initializer '" + t.name + "' holds NaN or infinity at element " + std::to_string(i) +
                  "; rtml quantize cannot scale it");
  return v;
}

json scales_json(const std::vector<float>& s) {
  if (s.size() == 1) return s[0];
  return json(s);
}

// The float model against the quantized one on the test sets.
json evaluate(const ir::Graph& fg, const std::string& out, const std::vector<Layer>& layers,
              const std::vector<data::TestSet>& sets, const QuantizeOptions& o, json& layer_rows) {
  ir::Graph qg = import::load_onnx(out);
  std::vector<std::string> probes;
  for (const auto& L : layers)
    if (!L.output.empty()) probes.push_back(L.output);
  Probe pf(fg, probes, o.plan), pq(qg, probes, o.plan, /*fuse=*/true);
  const int outputs = static_cast<int>(fg.outputs.size());
  std::vector<double> max_abs(outputs, 0), sum_abs(outputs, 0), count(outputs, 0);
  std::vector<double> signal(probes.size(), 0), noise(probes.size(), 0);
  data::Top1 top_f, top_q;
  int done = 0;
  for (const auto& set : sets) {
    const engine::Session& sf = pf.run(set);
    const engine::Session& sq = pq.run(set);
    data::count_top1(set, sf, top_f);
    data::count_top1(set, sq, top_q);
    for (int k = 0; k < outputs; ++k) {
      int64_t n = 0, m = 0;
      const float *a = pf.output(k, n), *b = pq.output(k, m);
      if (!a || !b || n != m) continue;
      for (int64_t i = 0; i < n; ++i) {
        const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
        max_abs[k] = std::max(max_abs[k], d);
        sum_abs[k] += d;
      }
      count[k] += static_cast<double>(n);
    }
    for (size_t k = 0; k < probes.size(); ++k) {
      int64_t n = 0, m = 0;
      const float *a = pf.probe(k, n), *b = pq.probe(k, m);
      if (!a || !b || n != m) continue;
      for (int64_t i = 0; i < n; ++i) {
        const double x = a[i], d = x - b[i];
        signal[k] += x * x;
        noise[k] += d * d;
      }
    }
    if (o.progress) o.progress("evaluating", ++done, static_cast<int>(sets.size()));
  }
  size_t k = 0;
  for (auto& row : layer_rows)
    if (!row["output"].is_null()) {
      const double db = sqnr_db(signal[k], noise[k]);
      row["sqnr_db"] = std::isfinite(db) ? json(db) : json(nullptr);
      ++k;
    }
  json acc = {{"test_data", o.test_data_dir}, {"sets", sets.size()}, {"labelled_sets", top_f.labelled}};
  if (top_f.labelled) {
    const double f = *top_f.accuracy(), q = *top_q.accuracy();
    acc["float_top1"] = f;
    acc["int8_top1"] = q;
    acc["top1_drop_points"] = 100 * (f - q);
  } else {
    acc["float_top1"] = acc["int8_top1"] = acc["top1_drop_points"] = nullptr;
  }
  acc["outputs"] = json::array();
  for (int i = 0; i < outputs; ++i)
    acc["outputs"].push_back({{"name", fg.tensors[fg.outputs[i]].name},
                              {"max_abs_error", count[i] ? json(max_abs[i]) : json(nullptr)},
                              {"mean_abs_error", count[i] ? json(sum_abs[i] / count[i]) : json(nullptr)}});
  return acc;
}

}  // namespace

json quantize_model(const std::string& model, const std::string& out, const QuantizeOptions& o) {
  // An unwritable --out fails now, not after the calibration.
  const fs::path parent = fs::absolute(fs::path(out)).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw Error(out + ": cannot write the quantized model: folder " + parent.string() + " does not exist");

  ir::Graph g = import::load_onnx(model);
  onnx::ModelProto proto;
  if (!proto.ParseFromString(read_file(model))) throw Error(model + ": not an ONNX model");
  int64_t opset = 0;
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  if (opset < 13)
    throw Error(model + ": opset " + std::to_string(opset) +
                " is below 13, which per-channel DequantizeLinear needs; re-export the model with opset 13 or newer");
  std::set<std::string> initializers;
  for (const auto& t : proto.graph().initializer()) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      throw Error(model + ": initializer '" + t.name() + "' is stored as external data, which rtml quantize does not rewrite");
    initializers.insert(t.name());
  }
  const int64_t bytes_before = initializer_bytes(proto.graph());

  const Uses uses(g);
  std::vector<Layer> layers = find_layers(g, uses, initializers);
  if (layers.empty())
    throw Error(model + ": no quantizable layer: rtml quantize quantizes Conv, Gemm and MatMul with a weight "
                "initializer, and LSTM, GRU and RNN (weight-only)");

  // The activations to quantize, each once, in graph order; then the Adds of two of them.
  std::vector<std::string> names;
  if (!o.weights_only) {
    for (const auto& L : layers)
      for (const auto& t : {L.input, L.output})
        if (!t.empty() && !L.input.empty() && std::find(names.begin(), names.end(), t) == names.end()) names.push_back(t);
    for (Layer& add : find_adds(g, uses, names)) layers.push_back(std::move(add));
  }

  QdqEdits edits;
  json tensors = json::array();
  std::map<std::string, QuantParams> act;
  std::vector<data::TestSet> calib;
  if (!names.empty()) {
    calib = load_sets(o.calibration_dir, g, "calibration", o.max_calibration_sets);
    std::vector<bool> is_float;
    std::vector<Range> ranges = calibrate(g, names, calib, o, is_float);
    for (size_t k = 0; k < names.size(); ++k) {
      if (!is_float[k]) continue;
      QuantParams p = activation_params(ranges[k], o.activations);
      act[names[k]] = p;
      edits.activations.push_back({names[k], p, o.activations});
      tensors.push_back({{"name", names[k]}, {"kind", "activation"}, {"dtype", dtype_name(o.activations)},
                         {"scale", p.scale}, {"zero_point", p.zero_point}, {"range", {ranges[k].lo, ranges[k].hi}}});
    }
  }

  int64_t float_bytes = 0, int8_bytes = 0, param_bytes = 0;
  json layer_rows = json::array();
  std::set<std::string> done;
  for (const auto& L : layers) {
    const bool weight_only = L.input.empty() || !act.count(L.input);
    std::vector<float> wscales;
    for (const auto& wname : L.weights) {
      const ir::Tensor& w = g.tensors[g.find(wname)];
      if (done.count(wname)) continue;
      done.insert(wname);
      const bool per_channel = !o.per_tensor;
      QuantizedWeights q = quantize_weights(finite_values(w, model), w.shape, L.axis, per_channel);
      if (wscales.empty()) wscales = q.scales;
      const int64_t n = shape_numel(w.shape);
      float_bytes += n * 4;
      int8_bytes += n;
      param_bytes += static_cast<int64_t>(q.scales.size()) * 5;
      tensors.push_back({{"name", wname}, {"kind", "weight"}, {"dtype", "int8"}, {"axis", per_channel ? json(L.axis) : json(nullptr)},
                         {"scale", scales_json(q.scales)}, {"zero_point", 0}});
      edits.weights.push_back({wname, std::move(q), per_channel ? L.axis : -1});
    }
    if (!L.bias.empty() && !weight_only && !wscales.empty() && !done.count(L.bias)) {
      done.insert(L.bias);
      const ir::Tensor& b = g.tensors[g.find(L.bias)];
      QuantizedBias q = quantize_bias(finite_values(b, model), shape_numel(b.shape), act[L.input].scale, wscales);
      tensors.push_back({{"name", L.bias}, {"kind", "bias"}, {"dtype", "int32"}, {"axis", q.scales.size() > 1 ? json(0) : json(nullptr)},
                         {"scale", scales_json(q.scales)}, {"zero_point", 0}});
      edits.biases.push_back({L.bias, std::move(q)});
    }
    layer_rows.push_back({{"node", L.node}, {"op_type", L.op_type}, {"weights", L.weights},
                          {"mode", weight_only ? "weight-only" : "int8"},
                          {"output", L.output.empty() ? json(nullptr) : json(L.output)}, {"sqnr_db", nullptr}});
  }

  apply_qdq(proto, edits, model);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw Error(out + ": cannot serialize the quantized model");
  util::write_file_atomic(out, [&](std::ostream& s) { s.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });

  json report = {{"schema", "rtml.quantize/1"}, {"model", model}, {"out", out}};
  json settings = {{"method", method_name(o.method)},
                   {"activations", o.weights_only ? json(nullptr) : json(dtype_name(o.activations))},
                   {"weights", o.per_tensor ? "int8 symmetric per tensor" : "int8 symmetric per output channel"},
                   {"weights_only", o.weights_only},
                   {"calibration", {{"dir", calib.empty() ? json(nullptr) : json(o.calibration_dir)}, {"sets", calib.size()}}}};
  if (o.method == Method::Percentile) settings["percentile"] = o.percentile;
  report["settings"] = settings;
  report["weight_bytes"] = {{"float32", float_bytes}, {"int8", int8_bytes}, {"scales_and_zero_points", param_bytes}};
  report["parameter_bytes"] = {{"before", bytes_before}, {"after", initializer_bytes(proto.graph())}};
  report["tensors"] = tensors;
  report["accuracy"] = nullptr;
  if (!o.test_data_dir.empty()) {
    std::vector<data::TestSet> sets = load_sets(o.test_data_dir, g, "test", 0);
    report["accuracy"] = evaluate(g, out, layers, sets, o, layer_rows);
  }
  report["layers"] = layer_rows;
  return report;
}

}  // namespace rtml::quantize
