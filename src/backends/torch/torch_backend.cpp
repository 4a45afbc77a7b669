// The `torch` backend: LibTorch (Debian's libtorch-dev) running the
// TorchScript export that sits beside the ONNX file (the zoo writes
// NAME/model.onnx and NAME/model.pt).
//
// The tensor interface (names, types, shapes, order) comes from the ONNX file,
// as for every backend; the TorchScript module must take the ONNX inputs in
// order and return the ONNX outputs in order (a Tensor, or a tuple of them),
// which run() checks.
//
// It is a plugin (rtml-backend-torch.so, backends/plugin.h), loaded only when
// --backend names it: the rtml command itself links no LibTorch.
//
// open()     reads the interface from the ONNX graph the host imported
//            (BackendOptions::graph), finds and loads the TorchScript file, sets
//            LibTorch's (and OpenBLAS's) thread counts
// prepare()  eval + freeze (weights become constants; numerics untouched),
//            input tensors allocated once and bound to a reusable stack
// run()      one call of forward under c10::InferenceMode; the output
//            tensors are kept until the next run
//
// Every LibTorch include stays in this file: they cost a lot of compile time.
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/script.h>
#include <torch/version.h>

#include "backends/backend.h"
#include "backends/op_profile.h"
#include "backends/plugin.h"
#include "core/error.h"
#include "ir/graph.h"

namespace fs = std::filesystem;

namespace rtml::backends {

namespace {

// ---- types ----------------------------------------------------------------

std::optional<at::ScalarType> to_torch(DType t) {
  switch (t) {
    case DType::F32: return at::kFloat;
    case DType::F64: return at::kDouble;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::I16: return at::kShort;
    case DType::I32: return at::kInt;
    case DType::I64: return at::kLong;
    case DType::Bool: return at::kBool;
    default: return std::nullopt;  // uint16/32/64, string: no LibTorch tensor type
  }
}

std::string describe_tensor(const at::Tensor& t) {
  std::string type = c10::toString(t.scalar_type());  // LibTorch's name where ONNX has none
  for (DType d : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I16, DType::I32,
                  DType::I64, DType::Bool})
    if (to_torch(d) == t.scalar_type()) type = dtype_name(d);
  return type + " " + shape_str(Shape(t.sizes().begin(), t.sizes().end()));
}

std::string describe_info(const TensorInfo& i) { return std::string(dtype_name(i.dtype)) + " " + shape_str(i.shape); }

// LibTorch's messages carry C++ backtraces, and the interpreter's a
// TorchScript traceback ending in the actual error: keep what a user reads.
std::string torch_message(const std::exception& e) {
  std::string m;
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e))
    m = ce->what_without_backtrace();
  else
    m = e.what();
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.find("Traceback of TorchScript") != std::string::npos) {
    size_t nl = m.rfind('\n');
    if (nl != std::string::npos) m = m.substr(nl + 1);
  }
  return m;
}

// ---- threads --------------------------------------------------------------

// LibTorch allows set_num_interop_threads once per process, before any
// inter-op work; later backends leave the pool as the first one set it. The
// models run no inter-op tasks (no torch.jit.fork), so one thread is enough.
void set_interop_threads_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // something in the process started the pool already: keep it
    }
  });
}

// ---- BLAS -----------------------------------------------------------------

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  return p;
}

struct BlasInfo {
  std::string path;     // the real file that defines sgemm_ in this process ("" if none)
  std::string kind;     // "openblas", "reference", "blis", "atlas", "mkl", "other", ""
  std::string variant;  // the alternatives folder: openblas-pthread, blas, blis-openmp...
};

int collect_object(struct dl_phdr_info* info, size_t, void* data) {
  if (info->dlpi_name && *info->dlpi_name) static_cast<std::vector<std::string>*>(data)->push_back(info->dlpi_name);
  return 0;
}

// LibTorch calls the Fortran BLAS (sgemm_ and friends) of whatever
// libblas.so.3 the dynamic linker found: on Debian a symlink chain through
// /etc/alternatives to the reference BLAS or to OpenBLAS/BLIS. The object that
// defines sgemm_ in the global scope is the one LibTorch's calls bind to;
// several BLAS libraries can be loaded at once (liblapack.so.3 may bring
// libopenblas.so.0 while libblas.so.3 is the reference one), so the provider
// decides, not the presence of a library.
BlasInfo find_blas() {
  BlasInfo b;
  if (void* sym = ::dlsym(RTLD_DEFAULT, "sgemm_")) {
    Dl_info di;
    if (::dladdr(sym, &di) && di.dli_fname && *di.dli_fname) b.path = real_path(di.dli_fname);
  }
  if (b.path.empty()) {  // no global sgemm_: look for a BLAS among the loaded objects
    std::vector<std::string> objects;
    ::dl_iterate_phdr(collect_object, &objects);
    for (const auto& o : objects) {
      std::string name = fs::path(o).filename().string();
      if (name.rfind("libblas.so", 0) == 0 || name.rfind("libopenblas", 0) == 0 || name.rfind("libblis", 0) == 0 ||
          name.rfind("libmkl_rt", 0) == 0) {
        b.path = real_path(o);
        break;
      }
    }
  }
  if (b.path.empty()) return b;
  fs::path p(b.path);
  b.variant = p.parent_path().filename().string();
  std::string name = p.filename().string();
  auto has = [&](const char* s) { return b.path.find(s) != std::string::npos; };
  if (has("openblas"))
    b.kind = "openblas";
  else if (has("blis"))
    b.kind = "blis";
  else if (has("atlas"))
    b.kind = "atlas";
  else if (has("mkl"))
    b.kind = "mkl";
  else if (b.variant == "blas" && name.rfind("libblas.so", 0) == 0)
    b.kind = "reference";
  else
    b.kind = "other";
  return b;
}

// OpenBLAS's own entry points, from the library that provides sgemm_ (its
// libblas.so.3 wrapper depends on libopenblas.so.0, which defines them).
template <typename Fn>
Fn openblas_fn(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, name));
}

// OpenBLAS (pthread build) runs its own thread pool, as wide as the machine,
// whatever LibTorch's thread count: the backend gives it the same count so
// --threads 1 means one thread. Null unless OpenBLAS serves LibTorch's calls.
using SetThreadsFn = void (*)(int);
SetThreadsFn openblas_set_threads() {
  if (find_blas().kind != "openblas") return nullptr;
  return openblas_fn<SetThreadsFn>("openblas_set_num_threads");
}

std::string multiarch_of(const std::string& blas_path) {
  // /usr/lib/x86_64-linux-gnu/blas/libblas.so.3 -> x86_64-linux-gnu
  return fs::path(blas_path).parent_path().parent_path().filename().string();
}

// ---- the backend ----------------------------------------------------------

class TorchBackend final : public Backend {
 public:
  ~TorchBackend() override { close(); }

  void open(const std::string& onnx_path, const BackendOptions& options) override {
    close();
    inputs_.clear();
    outputs_.clear();
    onnx_path_ = onnx_path;
    pt_path_.clear();

    if (!options.graph) throw Error("torch: open() needs the ONNX graph from the host (BackendOptions::graph)");
    const ir::Graph& g = *options.graph;
    for (ir::TensorId id : g.inputs) {
      const ir::Tensor& t = g.tensors[id];
      if (!to_torch(t.dtype))
        throw Error(onnx_path + ": input '" + t.name + "' is " + dtype_name(t.dtype) +
                    ", which LibTorch has no tensor type for (the torch backend cannot feed it)");
      if (!shape_is_static(t.shape))
        throw Error(onnx_path + ": input '" + t.name + "' has shape " + shape_str(t.shape) +
                    " with an unknown dimension; the torch backend allocates its inputs from the ONNX shapes, so "
                    "export the model with fixed input shapes");
      inputs_.push_back({t.name, t.dtype, t.shape});
    }
    for (ir::TensorId id : g.outputs) {
      const ir::Tensor& t = g.tensors[id];
      if (!to_torch(t.dtype))
        throw Error(onnx_path + ": output '" + t.name + "' is " + dtype_name(t.dtype) +
                    ", which LibTorch has no tensor type for (the torch backend cannot return it)");
      outputs_.push_back({t.name, t.dtype, t.shape});
    }

    pt_path_ = find_torchscript(onnx_path, options.torch_model);

    if (options.threads < 1)
      throw Error("torch: --threads must be at least 1 (got " + std::to_string(options.threads) + ")");
    threads_ = options.threads;
    blas_set_threads_ = openblas_set_threads();
    apply_threads();
    set_interop_threads_once();

    try {
      module_.emplace(torch::jit::load(pt_path_));
    } catch (const std::exception& e) {
      throw Error(pt_path_ + ": LibTorch cannot load this TorchScript file: " + torch_message(e));
    }
    auto forward = module_->find_method("forward");
    if (!forward) {
      module_.reset();
      throw Error(pt_path_ + ": the TorchScript module has no forward method");
    }
    size_t args = forward->function().getSchema().arguments().size() - 1;  // minus self
    if (args != inputs_.size()) {
      module_.reset();
      throw Error(pt_path_ + ": forward takes " + std::to_string(args) + " argument(s), but " + onnx_path +
                  " has " + std::to_string(inputs_.size()) + " input(s); the two files must be exports of the " +
                  "same model");
    }
  }

  void prepare() override {
    if (!module_) throw Error("torch: prepare() before open()");
    if (!forward_) {  // once per open(); a second prepare() only re-creates the inputs
      try {
        module_->eval();
        // Freezing inlines the weights and attributes as constants and drops
        // the module lookups from the graph. optimize_numerics = false: no
        // conv/batch-norm folding, so outputs stay bitwise those of the
        // unfrozen module (measured on the whole zoo; optimize_for_inference
        // changed conv outputs and was slower on the small CNNs).
        module_ = torch::jit::freeze(*module_, c10::nullopt, /*optimize_numerics=*/false);
        forward_ = &module_->get_method("forward").function();
      } catch (const std::exception& e) {
        throw Error(pt_path_ + ": LibTorch cannot freeze the module for inference: " + torch_message(e));
      }
    }

    input_tensors_.clear();
    args_.clear();
    for (const auto& in : inputs_) {
      // Zeros, not torch::empty: a run before the caller writes the inputs
      // then computes on defined values (garbage can be NaN or denormal,
      // which would skew a timing).
      at::Tensor t = torch::zeros(in.shape, at::TensorOptions().dtype(*to_torch(in.dtype)));
      input_tensors_.push_back(t);
      args_.emplace_back(t);
    }
    stack_.clear();
    stack_.reserve(args_.size() + 1);
    output_tensors_.clear();
    output_tensors_.reserve(outputs_.size());
    outputs_ok_ = false;
  }

  void run() override {
    if (!forward_) throw Error("torch: run() before prepare()");
    // The thread counts are per process: another backend may have changed them.
    if (at::get_num_threads() != threads_) apply_threads();
    c10::InferenceMode inference;
    try {
      // The stack keeps its capacity: no allocation for it after the first run.
      stack_.clear();
      stack_.push_back(module_->_ivalue());
      stack_.insert(stack_.end(), args_.begin(), args_.end());
      forward_->run(stack_);
    } catch (const std::exception& e) {
      output_tensors_.clear();
      throw Error(pt_path_ + ": forward failed: " + torch_message(e));
    }
    output_tensors_.clear();
    if (stack_.size() != 1) throw Error(pt_path_ + ": forward left " + std::to_string(stack_.size()) + " values");
    if (!flatten(stack_.back())) {
      std::string got = stack_.back().tagKind();
      stack_.clear();
      throw Error(pt_path_ + ": forward returned a " + got +
                  "; the torch backend needs a Tensor or a tuple of Tensors (the ONNX outputs, in order)");
    }
    stack_.clear();
    check_outputs();
  }

  void close() override {
    output_tensors_.clear();
    stack_.clear();
    args_.clear();
    input_tensors_.clear();
    forward_ = nullptr;
    module_.reset();
    outputs_ok_ = false;
  }

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }

  void* input_data(int i) override {
    if (i < 0 || i >= static_cast<int>(input_tensors_.size())) return nullptr;
    return input_tensors_[i].data_ptr();
  }
  const void* output_data(int i) const override {
    if (i < 0 || i >= static_cast<int>(output_tensors_.size())) return nullptr;
    return output_tensors_[i].data_ptr();
  }

  std::map<std::string, std::string> describe() const override {
    std::map<std::string, std::string> d = {
        {"runtime", std::string("LibTorch ") + TORCH_VERSION},
        {"threads", std::to_string(threads_)},  // run() re-applies it if another backend changed it
        {"interop_threads", std::to_string(at::get_num_interop_threads())},
        {"graph", "TorchScript, frozen (torch::jit::freeze), InferenceMode"},
    };
    if (!pt_path_.empty()) d["torchscript"] = pt_path_;
    BlasInfo b = find_blas();
    if (b.kind == "openblas") {
      d["blas"] = "OpenBLAS (" + b.variant + ": " + b.path + ")";
      if (auto config = openblas_fn<char* (*)()>("openblas_get_config")) d["blas_config"] = config();
      if (auto threads = openblas_fn<int (*)()>("openblas_get_num_threads"))
        d["blas_threads"] = std::to_string(threads());
    } else if (b.kind == "reference") {
      d["blas"] = "reference BLAS (" + b.path +
                  ") — slow; install libopenblas0-pthread (or select it: update-alternatives --config "
                  "libblas.so.3-" + multiarch_of(b.path) + ")";
    } else if (b.kind == "blis") {
      d["blas"] = "BLIS (" + b.variant + ": " + b.path + ")";
    } else if (b.kind == "atlas") {
      d["blas"] = "ATLAS (" + b.path + ")";
    } else if (b.kind == "mkl") {
      d["blas"] = "Intel MKL (" + b.path + ")";
    } else if (b.kind == "other") {
      d["blas"] = "unrecognised BLAS (" + b.path + ")";
    } else {
      d["blas"] = "none found in the process (LibTorch built without BLAS uses its own GEMM)";
    }
    return d;
  }

  // LibTorch's legacy (non-Kineto) CPU profiler: every aten op the TorchScript
  // interpreter calls is a push/pop range; an op's self time is its range minus
  // the ranges nested in it (aten::linear -> aten::addmm ...), so the rows add
  // up to the profiled time instead of counting nested ops twice.
  std::vector<OpCost> profile_ops(int runs) override { return profile_op_timeline(runs, 0).ops; }

  // The same, each run inside a user-scope range of our own (kRunScope), so
  // the op ranges can be told apart by run: the first `trace_runs` runs' ops
  // become timeline events (start relative to the run's range, nesting depth
  // below it); each run's wall time is the steady clock around it.
  OpProfile profile_op_timeline(int runs, int trace_runs) override {
    if (!forward_) throw Error("torch: profile_ops() before prepare()");
    OpProfile out;
    if (runs < 1) return out;
    // TorchScript's profiling executor records on the first run and compiles
    // an optimised graph on the next (constant pooling compares tensors with
    // aten::equal...): keep that out of the per-run costs.
    for (int w = 0; w < 3; ++w) run();
    namespace prof = torch::autograd::profiler;
    static constexpr const char* kRunScope = "rtml::run";
    out.run_us.assign(static_cast<size_t>(runs), 0.0);
    out.run_start_us.assign(static_cast<size_t>(runs), 0.0);
    prof::thread_event_lists events;
    try {
      prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
    } catch (const std::exception& e) {
      throw Error("torch: LibTorch's profiler cannot start: " + torch_message(e));
    }
    try {
      for (int r = 0; r < runs; ++r) {
        auto a = std::chrono::steady_clock::now();
        {
          RECORD_USER_SCOPE(kRunScope);
          run();
        }
        out.run_us[r] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count();
        out.run_start_us[r] = std::chrono::duration<double, std::micro>(a.time_since_epoch()).count();
      }
    } catch (...) {
      prof::disableProfilerLegacy();
      throw;
    }
    events = prof::disableProfilerLegacy();

    struct Open {
      at::RecordFunctionHandle handle;
      const prof::LegacyEvent* push;
      double child_us;
    };
    std::unordered_map<std::string, size_t> row_of;
    std::vector<std::vector<double>> self_of;  // per row: every call's self time
    for (const auto& list : events) {
      std::vector<Open> stack;
      int run_index = -1;        // the run whose range is open on this thread, if any
      size_t run_depth = 0;      // stack size just inside that range
      double run_start_us = 0;
      for (const auto& ev : list) {
        if (ev.kind() == prof::EventKind::PushRange) {
          if (std::strcmp(ev.name(), kRunScope) == 0) {
            ++run_index;
            run_start_us = ev.cpuUs();
            run_depth = stack.size() + 1;
          }
          stack.push_back({ev.handle(), &ev, 0.0});
        } else if (ev.kind() == prof::EventKind::PopRange) {
          // Ranges nest on one thread; match by handle all the same.
          auto it = std::find_if(stack.rbegin(), stack.rend(), [&](const Open& o) { return o.handle == ev.handle(); });
          if (it == stack.rend()) continue;
          size_t at = static_cast<size_t>(std::distance(it, stack.rend())) - 1;
          const prof::LegacyEvent* push = stack[at].push;
          double elapsed = push->cpuElapsedUs(ev);
          double self = std::max(0.0, elapsed - stack[at].child_us);
          stack.resize(at);
          if (std::strcmp(push->name(), kRunScope) == 0) {
            run_depth = 0;
            continue;  // our own range: not an op, and not a child of anything
          }
          if (!stack.empty()) stack.back().child_us += elapsed;
          std::string name = push->name();
          auto [pos, inserted] = row_of.emplace(name, out.ops.size());
          if (inserted) {
            out.ops.push_back({name, name, 0, 0, std::nullopt});
            self_of.emplace_back();
          }
          out.ops[pos->second].calls += 1;
          out.ops[pos->second].total_us += self;
          self_of[pos->second].push_back(self);
          if (run_depth > 0 && at >= run_depth && run_index >= 0 && run_index < trace_runs)
            out.events.push_back({run_index, static_cast<int>(pos->second), static_cast<int>(at - run_depth),
                                  push->cpuUs() - run_start_us, elapsed});
        }
      }
    }
    finish_op_profile(out, self_of);
    return out;
  }

 private:
  // options.torch_model, else model.pt beside the .onnx (the zoo's layout),
  // else <stem>.pt beside it.
  static std::string find_torchscript(const std::string& onnx_path, const std::string& explicit_path) {
    std::error_code ec;
    if (!explicit_path.empty()) {
      if (!fs::is_regular_file(explicit_path, ec))
        throw Error(explicit_path + ": no such TorchScript file (given with --torch-model for " + onnx_path + ")");
      return explicit_path;
    }
    fs::path onnx(onnx_path);
    std::vector<fs::path> tried = {onnx.parent_path() / "model.pt"};
    fs::path beside = onnx.parent_path() / (onnx.stem().string() + ".pt");
    if (beside != tried[0]) tried.push_back(beside);
    for (const auto& p : tried)
      if (fs::is_regular_file(p, ec)) return p.string();
    std::string list;
    for (const auto& p : tried) list += (list.empty() ? "" : ", ") + p.string();
    // A model that comes without TorchScript (the zoo's int8 QDQ files, made by
    // rtml quantize) is a gap in this backend's coverage, not a failure.
    throw backends::NotCovered(onnx_path + ": no TorchScript model for the torch backend (tried " + list +
                               "); name one with --torch-model FILE.pt");
  }

  void apply_threads() {
    at::set_num_threads(threads_);
    if (blas_set_threads_) blas_set_threads_(threads_);
  }

  // Appends the tensors of a Tensor / (nested) tuple / list of Tensors; false
  // if it holds anything else.
  bool flatten(const c10::IValue& v) {
    if (v.isTensor()) {
      output_tensors_.push_back(v.toTensor());
      return true;
    }
    if (v.isTuple()) {
      for (const auto& e : v.toTupleRef().elements())
        if (!flatten(e)) return false;
      return true;
    }
    if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorVector()) output_tensors_.push_back(t);
      return true;
    }
    return false;
  }

  // Count, types and shapes against the ONNX outputs (a few comparisons, so
  // every run: output_data() must never point at a tensor smaller than
  // outputs()[i].bytes()); dense row-major data for the caller.
  void check_outputs() {
    if (output_tensors_.size() != outputs_.size()) {
      std::string names;
      for (const auto& o : outputs_) names += (names.empty() ? "" : ", ") + o.name;
      size_t got = output_tensors_.size();
      output_tensors_.clear();
      throw Error(pt_path_ + ": forward returned " + std::to_string(got) + " tensor(s), but " + onnx_path_ +
                  " declares " + std::to_string(outputs_.size()) + " output(s) (" + names +
                  "); the two files must be exports of the same model");
    }
    for (size_t i = 0; i < outputs_.size(); ++i) {
      at::Tensor& t = output_tensors_[i];
      const TensorInfo& o = outputs_[i];
      bool same = t.scalar_type() == *to_torch(o.dtype) && t.dim() == static_cast<int64_t>(o.shape.size());
      for (size_t d = 0; same && d < o.shape.size(); ++d) same = o.shape[d] < 0 || o.shape[d] == t.size(d);
      if (!same) {
        std::string got = describe_tensor(t);
        output_tensors_.clear();
        throw Error(pt_path_ + ": forward's output " + std::to_string(i) + " is " + got + ", but " + onnx_path_ +
                    " declares output '" + o.name + "' as " + describe_info(o) +
                    "; the two files must be exports of the same model");
      }
      if (!outputs_ok_ && o.shape != Shape(t.sizes().begin(), t.sizes().end())) outputs_[i].shape = t.sizes().vec();
      if (!t.is_contiguous()) t = t.contiguous();
    }
    outputs_ok_ = true;
  }

  std::string onnx_path_, pt_path_;
  int threads_ = 1;
  SetThreadsFn blas_set_threads_ = nullptr;
  std::vector<TensorInfo> inputs_, outputs_;
  std::optional<torch::jit::Module> module_;
  torch::jit::Function* forward_ = nullptr;  // the frozen module's forward
  std::vector<at::Tensor> input_tensors_;
  std::vector<c10::IValue> args_;   // the input tensors, built once
  std::vector<c10::IValue> stack_;  // self + args, then the result
  std::vector<at::Tensor> output_tensors_;
  bool outputs_ok_ = false;
};

}  // namespace

}  // namespace rtml::backends

RTML_BACKEND_PLUGIN("torch", rtml::backends::TorchBackend)
