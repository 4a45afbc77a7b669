// The `armnn` backend: Arm NN (Debian's 20.08, library 22.0.0) running a
// .tflite file through its own TfLite parser, as a plugin
// (rtml-backend-armnn.so, backends/plugin.h) loaded only when --backend names it.
// Many Bela users run their .tflite models on Arm NN today.
//
// Unlike the other plugins it reads the model file itself (KnownPlugin::
// reads_model_file): the host hands no graph over, and a file that is not
// .tflite (an .onnx model: Debian ships no Arm NN ONNX parser) is not covered.
//
// open()     ITfLiteParser reads the file (subgraph 0); the network is
//            optimised for the first of CpuAcc (NEON, where the build has it)
//            and CpuRef (the portable reference backend) that supports each
//            layer, and loaded into the runtime. A layer no backend supports
//            (kws_ref_model_float32: a float Conv with int8 weights on CpuRef)
//            fails here with Arm NN's own messages. Inputs and outputs are the
//            subgraph's, bound by the names GetSubgraph{Input,Output}TensorNames
//            gives, in the file's types (int8 / uint8 stay integers: the
//            caller writes quantized values).
// prepare()  input and output buffers allocated once, 64-byte aligned and
//            zeroed; the InputTensors / OutputTensors lists over them made once
//            (import and export enabled: the network works in those buffers
//            where its backend can import malloc'ed memory, as CpuRef can,
//            instead of copying them in and out on each run)
// run()      IRuntime::EnqueueWorkload with those lists. Arm NN still builds
//            per-run bookkeeping (queue descriptors, the import/export
//            workloads) on every call: it allocates on the heap per run, 67
//            times on ad01 (the bench's allocs/run); rtml cannot avoid that
//            from outside.
//
// describe() names the backend Arm NN placed the layers on ("CpuRef: 14
// layers"), read from the optimised network's own description.
// profile_op_timeline() loads the model a second time with Arm NN's profiler
// on and reads its JSON: one row per executed workload, in execution order
// (Arm NN's events name the workload, not the TFLite operator).
#include <dlfcn.h>

#include <armnn/ArmNN.hpp>
#include <armnn/Utils.hpp>
#include <armnnTfLiteParser/ITfLiteParser.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "backends/backend.h"
#include "backends/io_buffer.h"
#include "backends/op_profile.h"
#include "backends/plugin.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace rtml::backends {

namespace {

// Preferred first; Arm NN falls back layer by layer to the next one.
const std::vector<armnn::BackendId>& backend_preferences() {
  static const std::vector<armnn::BackendId> prefs = {armnn::BackendId("CpuAcc"), armnn::BackendId("CpuRef")};
  return prefs;
}

// One runtime per process (it loads the dynamic backends, CpuRef among them);
// never released.
armnn::IRuntime& runtime() {
  static armnn::IRuntime* rt = [] {
    armnn::ConfigureLogging(false, false, armnn::LogSeverity::Fatal);  // errors come back as exceptions
    return armnn::IRuntime::CreateRaw(armnn::IRuntime::CreationOptions());
  }();
  return *rt;
}

// Import and export on: where a backend can use the caller's (malloc'ed,
// aligned) memory in place (CpuRef can), Arm NN reads the inputs from rtml's
// buffers and writes the outputs into them instead of copying both per run.
armnn::OptimizerOptions import_options() {
  armnn::OptimizerOptions o;
  o.m_ImportEnabled = true;
  return o;
}

DType to_dtype(armnn::DataType t, const std::string& what) {
  switch (t) {
    case armnn::DataType::Float32: return DType::F32;
    case armnn::DataType::Float16: return DType::F16;
    case armnn::DataType::BFloat16: return DType::BF16;
    case armnn::DataType::QAsymmU8: return DType::U8;
    case armnn::DataType::QAsymmS8:
    case armnn::DataType::QSymmS8: return DType::I8;
    case armnn::DataType::QSymmS16: return DType::I16;
    case armnn::DataType::Signed32: return DType::I32;
    case armnn::DataType::Boolean: return DType::Bool;
    default: break;
  }
  throw Error(what + " has Arm NN data type " + armnn::GetDataTypeName(t) + ", which the armnn backend cannot bind");
}

// "CpuRef: 14 layers" (or "CpuAcc: 12 layers, CpuRef: 2 layers") from the
// optimised network's Graphviz description, which names each layer's BackendID.
std::string placement(const armnn::IOptimizedNetwork& net) {
  std::stringstream dot;
  if (net.SerializeToDot(dot) != armnn::Status::Success) return "unknown";
  std::map<std::string, int> layers;
  const std::string key = "BackendID : ";
  const std::string text = dot.str();
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
    at += key.size();
    size_t end = text.find_first_of("\\}\n", at);
    ++layers[text.substr(at, end - at)];
  }
  std::string out;
  for (const auto& [backend, n] : layers)
    out += (out.empty() ? "" : ", ") + backend + ": " + std::to_string(n) + (n == 1 ? " layer" : " layers");
  return out.empty() ? "unknown" : out;
}

std::string library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&armnn::IRuntime::CreateRaw), &info) && info.dli_fname) return info.dli_fname;
  return "";
}

class ArmnnBackend final : public Backend {
 public:
  ~ArmnnBackend() override { close(); }

  void open(const std::string& path, const BackendOptions& options) override {
    close();
    inputs_.clear();
    outputs_.clear();
    bindings_.clear();
    placement_.clear();
    path_ = path;
    if (fs::path(path).extension() != ".tflite")
      throw NotCovered(path + ": the armnn backend runs TensorFlow Lite files (.tflite) through Arm NN's TfLite "
                       "parser; Debian's Arm NN has no parser for other formats");
    if (options.threads != 1)
      throw Error("armnn: --threads " + std::to_string(options.threads) +
                  ": Arm NN 20.08 runs on one thread here (CpuRef has no thread setting)");
    network_id_ = load(true);
  }

  void prepare() override {
    if (!network_id_) throw Error("armnn: prepare() before open()");
    buffers_.clear();
    input_tensors_.clear();
    output_tensors_.clear();
    const size_t n_in = inputs_.size();
    for (size_t i = 0; i < bindings_.size(); ++i) {
      const TensorInfo& t = i < n_in ? inputs_[i] : outputs_[i - n_in];
      IoBuffer buf = zeroed_io_buffer(t.bytes(), 0, "armnn: '" + t.name + "'");
      const auto& [id, info] = bindings_[i];
      if (i < n_in)
        input_tensors_.emplace_back(id, armnn::ConstTensor(info, buf.get()));
      else
        output_tensors_.emplace_back(id, armnn::Tensor(info, buf.get()));
      buffers_.push_back(std::move(buf));
    }
  }

  void run() override {
    if (buffers_.size() != bindings_.size() || !network_id_) throw Error("armnn: run() before prepare()");
    run_on(*network_id_);
  }

  void close() override {
    input_tensors_.clear();
    output_tensors_.clear();
    buffers_.clear();
    if (network_id_) runtime().UnloadNetwork(*network_id_);
    network_id_.reset();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return buffers_.at(static_cast<size_t>(i)).get(); }
  const void* output_data(int i) const override { return buffers_.at(inputs_.size() + static_cast<size_t>(i)).get(); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", std::string("Arm NN ") + ARMNN_VERSION + " (TfLite parser)"},
        {"backends_available", join(supported_backends())},
        {"backend_preferences", "CpuAcc, CpuRef"},
        {"threads", "1"},
        {"graph", "network optimised by Arm NN for the first supporting backend per layer; input and output "
                  "buffers bound once, imported / exported (used in place where the backend can)"},
    };
    if (!placement_.empty()) d["compute"] = placement_;
    if (std::string lib = library_path(); !lib.empty()) d["library"] = lib;
    return d;
  }

  std::vector<OpCost> profile_ops(int runs) override { return profile_op_timeline(runs, 0).ops; }

  // A second load of the model with Arm NN's profiler on (enabled after the
  // warm-up), read from its JSON (IProfiler::Print): one row per workload the
  // network executes, in order ("RefFullyConnectedWorkload_Execute #2"), from
  // the events directly inside each run's "Execute" event (the copies in and
  // out of imported buffers among them); each event holds every run's time.
  OpProfile profile_op_timeline(int runs, int trace_runs) override {
    if (buffers_.size() != bindings_.size() || !network_id_) throw Error("armnn: profile_ops() before prepare()");
    OpProfile out;
    if (runs < 1) return out;
    struct Unload {
      armnn::NetworkId id;
      ~Unload() { runtime().UnloadNetwork(id); }
    } network{load(false)};
    constexpr int kWarmup = 3;  // kept out of the costs, as for the other backends
    for (int w = 0; w < kWarmup; ++w) run_on(network.id);
    const std::shared_ptr<armnn::IProfiler> profiler = runtime().GetProfiler(network.id);
    if (!profiler) throw Error("armnn: the loaded network has no profiler");
    profiler->EnableProfiling(true);
    out.run_us.assign(static_cast<size_t>(runs), 0.0);
    out.run_start_us.assign(static_cast<size_t>(runs), 0.0);
    for (int r = 0; r < runs; ++r) {
      auto a = std::chrono::steady_clock::now();
      run_on(network.id);
      out.run_us[r] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
      out.run_start_us[r] = std::chrono::duration<double, std::micro>(a.time_since_epoch()).count();
    }
    profiler->EnableProfiling(false);
    std::stringstream text;
    profiler->Print(text);
    read_profile(text.str(), runs, trace_runs, out);
    return out;
  }

 private:
  // Parses path_, optimises the network and loads it into the runtime; with
  // `describe_io`, fills inputs_, outputs_, bindings_ and placement_ (a second
  // load of the same file, for the profiler, binds the same ids).
  armnn::NetworkId load(bool describe_io) {
    const std::string& path = path_;
    try {
      auto parser = armnnTfLiteParser::ITfLiteParser::Create();
      armnn::INetworkPtr network = parser->CreateNetworkFromBinaryFile(path.c_str());
      if (parser->GetSubgraphCount() != 1)
        throw Error(path + ": holds " + std::to_string(parser->GetSubgraphCount()) +
                    " subgraphs; the armnn backend runs models with one");
      auto bind = [&](const std::string& name, bool input) {
        armnn::BindingPointInfo b = input ? parser->GetNetworkInputBindingInfo(0, name)
                                          : parser->GetNetworkOutputBindingInfo(0, name);
        const std::string what = path + ": " + (input ? "input '" : "output '") + name + "'";
        TensorInfo t{name, to_dtype(b.second.GetDataType(), what), {}};
        for (unsigned d = 0; d < b.second.GetNumDimensions(); ++d) t.shape.push_back(b.second.GetShape()[d]);
        (input ? inputs_ : outputs_).push_back(std::move(t));
        bindings_.push_back(b);
      };
      if (describe_io) {
        for (const std::string& name : parser->GetSubgraphInputTensorNames(0)) bind(name, true);
        for (const std::string& name : parser->GetSubgraphOutputTensorNames(0)) bind(name, false);
      }

      std::vector<std::string> messages;
      armnn::IOptimizedNetworkPtr optimized =
          armnn::Optimize(*network, backend_preferences(), runtime().GetDeviceSpec(), import_options(),
                          armnn::Optional<std::vector<std::string>&>(messages));
      if (!optimized) {
        std::string why;
        for (std::string m : messages) {  // Arm NN's messages hold line breaks
          m.erase(std::remove(m.begin(), m.end(), '\n'), m.end());
          why += (why.empty() ? "" : "; ") + m;
        }
        throw Error(path + ": Arm NN cannot run this model on " + join(supported_backends()) + ": " +
                    (why.empty() ? "Optimize failed" : why));
      }
      if (describe_io) placement_ = placement(*optimized);
      std::string load_error;
      armnn::NetworkId id = 0;
      const armnn::INetworkProperties import_export(true, true);
      if (runtime().LoadNetwork(id, std::move(optimized), load_error, import_export) != armnn::Status::Success)
        throw Error(path + ": Arm NN cannot load the optimised network: " + load_error);
      return id;
    } catch (const armnn::Exception& e) {
      throw Error(path + ": Arm NN: " + e.what());
    }
  }

  void run_on(armnn::NetworkId id) {
    armnn::Status status;
    try {
      status = runtime().EnqueueWorkload(id, input_tensors_, output_tensors_);
    } catch (const armnn::Exception& e) {
      throw Error(path_ + ": Arm NN: run failed: " + e.what());
    }
    if (status != armnn::Status::Success) throw Error(path_ + ": Arm NN: EnqueueWorkload failed");
  }

  // Arm NN's profile JSON: {"ArmNN": {"inference_measurements_#1": {"type":
  // "Event", "Wall clock time_#1": {"raw": [one per run]}, "Wall clock time
  // (Start)_#1": ..., "Execute_#4": {"type": "Event", "RefXWorkload_Execute_#7":
  // {...}, ...}}}}: an event's measurements are named with the event's "_#N".
  void read_profile(const std::string& text, int runs, int trace_runs, OpProfile& out) const {
    using Json = nlohmann::ordered_json;  // keeps the events in execution order
    Json root;
    try {
      root = Json::parse(text);
    } catch (const std::exception& e) {
      throw Error("armnn: cannot read its profiler's output: " + std::string(e.what()));
    }
    auto suffix = [](const std::string& key) { return key.substr(std::min(key.rfind("_#"), key.size())); };
    auto raw = [&](const Json& event, const std::string& key, const char* what) -> const Json* {
      auto m = event.find(std::string(what) + suffix(key));
      if (m == event.end() || !m->is_object() || !m->contains("raw") || !(*m)["raw"].is_array()) return nullptr;
      return &(*m)["raw"];
    };
    auto find_event = [](const Json& parent, const std::string& prefix) -> std::pair<std::string, const Json*> {
      if (parent.is_object())
        for (auto it = parent.begin(); it != parent.end(); ++it)
          if (it.key().rfind(prefix, 0) == 0 && it->is_object() && it->value("type", "") == "Event")
            return {it.key(), &*it};
      return {"", nullptr};
    };
    const Json none = Json::object();
    const Json& top = root.is_object() && root.contains("ArmNN") ? root["ArmNN"] : none;
    auto [inference_key, inference] = find_event(top, "inference_measurements_#");
    if (!inference) throw Error("armnn: its profiler recorded no inference");
    auto [execute_key, execute] = find_event(*inference, "Execute_#");
    const Json* starts = raw(*inference, inference_key, "Wall clock time (Start)");
    if (!execute || !starts) throw Error("armnn: its profiler recorded no Execute event");
    std::map<std::string, int> seen;  // per workload name, for the rows' ordinals
    std::vector<std::vector<double>> calls_us;
    for (auto it = execute->begin(); it != execute->end(); ++it) {
      if (!it->is_object() || it->value("type", "") != "Event") continue;
      const Json* durs = raw(*it, it.key(), "Wall clock time");
      const Json* begins = raw(*it, it.key(), "Wall clock time (Start)");
      if (!durs) continue;
      const std::string name = it.key().substr(0, it.key().rfind("_#"));
      std::string op_type = name;  // "RefFullyConnectedWorkload_Execute" -> "RefFullyConnected"
      for (const std::string tail : {"_Execute", "Workload"})
        if (op_type.size() > tail.size() && op_type.compare(op_type.size() - tail.size(), tail.size(), tail) == 0)
          op_type.resize(op_type.size() - tail.size());
      const int row = static_cast<int>(out.ops.size());
      out.ops.push_back({name + " #" + std::to_string(++seen[name]), op_type, 0, 0, std::nullopt});
      calls_us.emplace_back();
      for (size_t r = 0; r < durs->size(); ++r) {
        const double dur = (*durs)[r].get<double>();
        out.ops[row].calls += 1;
        out.ops[row].total_us += dur;
        calls_us[row].push_back(dur);
        // One call per run: the r-th is run r's (the timeline needs that).
        if (durs->size() == static_cast<size_t>(runs) && static_cast<int>(r) < trace_runs && begins &&
            r < begins->size() && r < starts->size())
          out.events.push_back(
              {static_cast<int>(r), row, 0, (*begins)[r].get<double>() - (*starts)[r].get<double>(), dur});
      }
    }
    finish_op_profile(out, calls_us);
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "no backend" : out;
  }

  // The backends this Arm NN has loaded, in preference order (CpuAcc only
  // where the build has NEON and its backend package is installed).
  static std::vector<std::string> supported_backends() {
    const armnn::BackendIdSet have = runtime().GetDeviceSpec().GetSupportedBackends();
    std::vector<std::string> out;
    for (const armnn::BackendId& b : backend_preferences())
      if (have.count(b)) out.push_back(b.Get());
    return out;
  }

  std::string path_;
  std::string placement_;
  std::optional<armnn::NetworkId> network_id_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<armnn::BindingPointInfo> bindings_;  // inputs, then outputs
  std::vector<IoBuffer> buffers_;  // same order
  armnn::InputTensors input_tensors_;
  armnn::OutputTensors output_tensors_;
};

}  // namespace

}  // namespace rtml::backends

RTML_BACKEND_PLUGIN("armnn", rtml::backends::ArmnnBackend)
