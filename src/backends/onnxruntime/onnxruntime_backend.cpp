// The `onnxruntime` backend: ONNX Runtime's CPU execution provider through its
// C API (onnxruntime_c_api.h), as a plugin (rtml-backend-onnxruntime.so,
// backends/plugin.h) loaded only when --backend names it.
//
// open()     reads the interface from the ONNX graph the host imported
//            (BackendOptions::graph) and creates the session from the same
//            file: graph optimisations at their highest level
//            (ORT_ENABLE_ALL), sequential execution, intra-op threads =
//            --threads (1 by default), inter-op threads 1
// prepare()  input and output buffers allocated once, 64-byte aligned and
//            zeroed, each wrapped once in an OrtValue over rtml's bytes
// run()      OrtApi::Run with those OrtValues: ONNX Runtime reads the inputs
//            and writes the outputs in place, so the timed loop measures
//            inference, not tensor creation
//
// profile_op_timeline() runs a second session with ONNX Runtime's profiler
// on and reads its JSON trace (one "Node" event per kernel call, named
// "<node>_kernel_time", inside one "model_run" event per run): per-node costs
// under the ONNX node names, as rtml's own rows are named.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <onnxruntime_c_api.h>

#include "backends/backend.h"
#include "backends/io_buffer.h"
#include "backends/op_profile.h"
#include "backends/plugin.h"
#include "core/error.h"
#include "ir/graph.h"

namespace fs = std::filesystem;

namespace rtml::backends {

namespace {

const OrtApi& ort() {
  static const OrtApi* api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
  if (!api)
    throw Error(std::string("onnxruntime: the ONNX Runtime library (version ") + OrtGetApiBase()->GetVersionString() +
                ") does not serve C API version " + std::to_string(ORT_API_VERSION) +
                ", which rtml was built with: install the ONNX Runtime the plugin was built against");
  return *api;
}

void check(OrtStatus* status, const std::string& what) {
  if (!status) return;
  std::string message = ort().GetErrorMessage(status);
  ort().ReleaseStatus(status);
  throw Error("onnxruntime: " + what + ": " + message);
}

// Owners for the C API's objects.
struct Release {
  void operator()(OrtSessionOptions* p) const { ort().ReleaseSessionOptions(p); }
  void operator()(OrtSession* p) const { ort().ReleaseSession(p); }
  void operator()(OrtValue* p) const { ort().ReleaseValue(p); }
  void operator()(OrtMemoryInfo* p) const { ort().ReleaseMemoryInfo(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Release>;

// One environment per process, as ONNX Runtime asks; never released.
OrtEnv* env() {
  static OrtEnv* e = [] {
    OrtEnv* out = nullptr;
    check(ort().CreateEnv(ORT_LOGGING_LEVEL_WARNING, "rtml", &out), "cannot create its environment");
    return out;
  }();
  return e;
}

// The ONNX Runtime library this process runs (for the report).
std::string library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OrtGetApiBase), &info) && info.dli_fname) return info.dli_fname;
  return "";
}

class OnnxRuntimeBackend final : public Backend {
 public:
  ~OnnxRuntimeBackend() override { close(); }

  void open(const std::string& onnx_path, const BackendOptions& options) override {
    close();
    inputs_.clear();
    outputs_.clear();
    if (!options.graph)
      throw Error("onnxruntime: open() needs the ONNX graph from the host (BackendOptions::graph)");
    if (options.threads < 1)
      throw Error("onnxruntime: --threads must be at least 1 (got " + std::to_string(options.threads) + ")");
    const ir::Graph& g = *options.graph;
    auto describe_io = [&](ir::TensorId id, const char* kind, std::vector<TensorInfo>& into) {
      const ir::Tensor& t = g.tensors[id];
      if (dtype_size(t.dtype) == 0)
        throw Error(onnx_path + ": " + kind + " '" + t.name + "' is " + dtype_name(t.dtype) +
                    ", which the onnxruntime backend cannot bind to a buffer");
      if (!shape_is_static(t.shape))
        throw Error(onnx_path + ": " + kind + " '" + t.name + "' has shape " + shape_str(t.shape) +
                    " with an unknown dimension; the onnxruntime backend binds its buffers from the ONNX shapes, "
                    "so export the model with fixed shapes");
      into.push_back({t.name, t.dtype, t.shape});
    };
    for (ir::TensorId id : g.inputs) describe_io(id, "input", inputs_);
    for (ir::TensorId id : g.outputs) describe_io(id, "output", outputs_);
    path_ = onnx_path;
    threads_ = options.threads;
    session_ = create_session(nullptr);
  }

  void prepare() override {
    if (!session_) throw Error("onnxruntime: prepare() before open()");
    OrtMemoryInfo* mi = nullptr;
    check(ort().CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mi), "cannot describe CPU memory");
    Owned<OrtMemoryInfo> memory(mi);
    buffers_.clear();
    values_.clear();
    raw_values_.clear();
    names_.clear();
    for (const std::vector<TensorInfo>* list : {&inputs_, &outputs_})
      for (const TensorInfo& t : *list) {
        size_t bytes = t.bytes();
        IoBuffer buf = zeroed_io_buffer(bytes, 0, "onnxruntime: '" + t.name + "'");
        OrtValue* v = nullptr;
        check(ort().CreateTensorWithDataAsOrtValue(memory.get(), buf.get(), bytes, t.shape.data(), t.shape.size(),
                                                   static_cast<ONNXTensorElementDataType>(t.dtype), &v),
              "cannot wrap the buffer of '" + t.name + "'");
        values_.emplace_back(v);
        raw_values_.push_back(v);
        names_.push_back(t.name.c_str());
        buffers_.push_back(std::move(buf));
      }
  }

  void run() override {
    if (values_.empty() && !(inputs_.empty() && outputs_.empty())) throw Error("onnxruntime: run() before prepare()");
    run_on(session_.get());
  }

  void close() override {
    values_.clear();
    raw_values_.clear();
    buffers_.clear();
    names_.clear();
    session_.reset();
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  void* input_data(int i) override { return buffers_.at(static_cast<size_t>(i)).get(); }
  const void* output_data(int i) const override { return buffers_.at(inputs_.size() + static_cast<size_t>(i)).get(); }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", std::string("ONNX Runtime ") + OrtGetApiBase()->GetVersionString()},
        {"execution_provider", "CPUExecutionProvider"},
        {"threads", std::to_string(threads_)},
        {"interop_threads", "1"},
        {"graph", "graph optimisation level ORT_ENABLE_ALL, sequential execution, inputs and outputs bound once"},
        {"c_api_version", std::to_string(ORT_API_VERSION)},
    };
    if (std::string lib = library_path(); !lib.empty()) d["library"] = lib;
    return d;
  }

  std::vector<OpCost> profile_ops(int runs) override { return profile_op_timeline(runs, 0).ops; }

  OpProfile profile_op_timeline(int runs, int trace_runs) override {
    if (values_.empty() && !(inputs_.empty() && outputs_.empty()))
      throw Error("onnxruntime: profile_ops() before prepare()");
    OpProfile out;
    if (runs < 1) return out;
    static std::atomic<int> counter{0};
    const fs::path prefix = fs::temp_directory_path() / ("rtml-onnxruntime-profile-" + std::to_string(getpid()) +
                                                         "-" + std::to_string(counter++));
    Owned<OrtSession> session = create_session(&prefix);
    constexpr int kWarmup = 3;  // kept out of the costs, as for the other backends
    for (int w = 0; w < kWarmup; ++w) run_on(session.get());
    out.run_us.assign(static_cast<size_t>(runs), 0.0);
    out.run_start_us.assign(static_cast<size_t>(runs), 0.0);
    for (int r = 0; r < runs; ++r) {
      auto a = std::chrono::steady_clock::now();
      run_on(session.get());
      out.run_us[r] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
      out.run_start_us[r] = std::chrono::duration<double, std::micro>(a.time_since_epoch()).count();
    }
    OrtAllocator* allocator = nullptr;
    check(ort().GetAllocatorWithDefaultOptions(&allocator), "no default allocator");
    char* file = nullptr;
    check(ort().SessionEndProfiling(session.get(), allocator, &file), "cannot end profiling");
    std::string trace_path = file ? file : "";
    if (file) check(ort().AllocatorFree(allocator, file), "cannot free the profile's name");
    session.reset();
    read_trace(trace_path, kWarmup, runs, trace_runs, out);
    std::error_code ec;
    fs::remove(trace_path, ec);
    return out;
  }

 private:
  // A session over path_; with `profile_prefix`, ONNX Runtime's profiler on.
  Owned<OrtSession> create_session(const fs::path* profile_prefix) const {
    OrtSessionOptions* so = nullptr;
    check(ort().CreateSessionOptions(&so), "cannot create session options");
    Owned<OrtSessionOptions> options(so);
    check(ort().SetIntraOpNumThreads(so, threads_), "cannot set the intra-op threads");
    check(ort().SetInterOpNumThreads(so, 1), "cannot set the inter-op threads");
    check(ort().SetSessionExecutionMode(so, ORT_SEQUENTIAL), "cannot set sequential execution");
    check(ort().SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "cannot set the optimisation level");
    if (profile_prefix) check(ort().EnableProfiling(so, profile_prefix->c_str()), "cannot enable its profiler");
    OrtSession* s = nullptr;
    check(ort().CreateSession(env(), path_.c_str(), so, &s), path_ + ": cannot create a session");
    Owned<OrtSession> session(s);
    size_t n_in = 0, n_out = 0;
    check(ort().SessionGetInputCount(s, &n_in), "cannot count the session's inputs");
    check(ort().SessionGetOutputCount(s, &n_out), "cannot count the session's outputs");
    if (n_in != inputs_.size() || n_out != outputs_.size())
      throw Error(path_ + ": ONNX Runtime sees " + std::to_string(n_in) + " input(s) and " + std::to_string(n_out) +
                  " output(s), the ONNX graph has " + std::to_string(inputs_.size()) + " and " +
                  std::to_string(outputs_.size()) + " (initializers listed as inputs?)");
    return session;
  }

  void run_on(OrtSession* session) {
    const size_t n_in = inputs_.size();
    check(ort().Run(session, nullptr, names_.data(), raw_values_.data(), n_in, names_.data() + n_in,
                    outputs_.size(), raw_values_.data() + n_in),
          path_ + ": run failed");
  }

  // ONNX Runtime's trace: a JSON array of Chrome trace events. "model_run"
  // (cat Session) spans each run; "<node>_kernel_time" (cat Node, args.op_name)
  // each kernel call inside it. The first `skip` runs were the warm-up.
  void read_trace(const std::string& path, int skip, int runs, int trace_runs, OpProfile& out) const {
    std::ifstream in(path);
    if (!in) throw Error("onnxruntime: its profiler wrote no trace (" + path + ")");
    nlohmann::json trace;
    try {
      in >> trace;
    } catch (const std::exception& e) {
      throw Error("onnxruntime: cannot read its profiler's trace " + path + ": " + e.what());
    }
    if (!trace.is_array()) throw Error("onnxruntime: its profiler's trace " + path + " is not a list of events");
    struct Run {
      double start, end;
    };
    std::vector<Run> model_runs;
    for (const auto& ev : trace)
      if (ev.value("cat", "") == "Session" && ev.value("name", "") == "model_run")
        model_runs.push_back({ev.value("ts", 0.0), ev.value("ts", 0.0) + ev.value("dur", 0.0)});
    std::sort(model_runs.begin(), model_runs.end(), [](const Run& a, const Run& b) { return a.start < b.start; });
    auto run_of = [&](double ts) -> int {
      for (size_t r = 0; r < model_runs.size(); ++r)
        if (ts >= model_runs[r].start && ts <= model_runs[r].end) return static_cast<int>(r) - skip;
      return -1;
    };
    std::unordered_map<std::string, size_t> row_of;
    std::vector<std::vector<double>> calls_us;
    const std::string suffix = "_kernel_time";
    for (const auto& ev : trace) {
      if (ev.value("cat", "") != "Node") continue;
      std::string name = ev.value("name", "");
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;  // "_fence_before" / "_fence_after" events
      const double ts = ev.value("ts", 0.0), dur = ev.value("dur", 0.0);
      const int run = run_of(ts);
      if (run < 0 || run >= runs) continue;
      name.resize(name.size() - suffix.size());
      std::string op_type = name;
      if (auto args = ev.find("args"); args != ev.end() && args->is_object()) op_type = args->value("op_name", name);
      auto [pos, inserted] = row_of.emplace(name, out.ops.size());
      if (inserted) {
        out.ops.push_back({name, op_type, 0, 0, std::nullopt});
        calls_us.emplace_back();
      }
      out.ops[pos->second].calls += 1;
      out.ops[pos->second].total_us += dur;
      calls_us[pos->second].push_back(dur);
      if (run < trace_runs)
        out.events.push_back({run, static_cast<int>(pos->second), 0, ts - model_runs[run + skip].start, dur});
    }
    finish_op_profile(out, calls_us);
  }

  std::string path_;
  int threads_ = 1;
  std::vector<TensorInfo> inputs_, outputs_;
  Owned<OrtSession> session_;
  std::vector<IoBuffer> buffers_;  // inputs, then outputs
  std::vector<Owned<OrtValue>> values_;                      // over buffers_, same order
  std::vector<OrtValue*> raw_values_;
  std::vector<const char*> names_;  // into inputs_ / outputs_
};

}  // namespace

}  // namespace rtml::backends

RTML_BACKEND_PLUGIN("onnxruntime", rtml::backends::OnnxRuntimeBackend)
