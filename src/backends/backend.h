// backends/: one interface over the runtimes `rtml bench` measures.
//
// A backend is one folder (src/backends/<name>/) holding a class that
// implements Backend. The engine's own backends (native, handwritten) are
// built into rtml: a factory function and one line in the table of
// src/backends/registry.cpp (an explicit table, not static registration
// objects: those are dropped by the linker from a static library). Every other
// runtime is a plugin, a shared object loaded only when asked for
// (backends/plugin.h): one line in known_plugins() and a MODULE target in
// CMakeLists.txt.
//
// The bench drives every backend the same way:
//
//   open(model, options)   load the model files (timed as part of init)
//   prepare()              everything needed before the first run: memory,
//                          weight packing, threads (timed as part of init)
//   input_data(i) ...      the caller writes inputs into the backend's buffers
//   run()                  one inference; outputs stay readable until the next
//   output_data(i)         run (kept alive: nothing can be optimised away)
//   close()                releases the model (also done by the destructor)
//
// `rtml profile` (profile/profiler.h) also uses, where a runtime has them:
//   steps() + run_observed(observer)   the steps one run() walks (node, op
//                          type, kernel, FLOPs, output bytes) and a run() that
//                          calls the observer around each of them (native)
//   profile_op_timeline(runs, trace)   the runtime's own profiler: costs per
//                          operator kind, each run's time, and the op ranges of
//                          the first `trace` runs (torch: LibTorch's profiler)
//
// Tensors are described by the ONNX model beside every runtime's own file:
// the zoo writes NAME/model.onnx and NAME/model.pt, and each backend opens
// the ONNX path it is given (the torch backend loads model.pt beside it, or
// BackendOptions::torch_model). Inputs and outputs are dense, row-major, in
// the ONNX model's order and types.
//
// Errors throw rtml::Error with a message a user can act on; run() may throw
// too (bench records the error and goes on with the next model).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace rtml::engine {
struct StepObserver;  // engine/session.h
}
namespace rtml::ir {
struct Graph;  // ir/graph.h
}

namespace rtml::backends {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t bytes() const { return static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype); }
};

struct BackendOptions {
  int threads = 1;          // intra-op threads; 1 = single-threaded (the default everywhere)
  std::string torch_model;  // torch: the TorchScript file ("" = model.pt beside the .onnx)
  std::string kernels = "simd";  // native: the kernel set (kernels/table.h, `--kernels`)
  // native: per-step schedule choices (plan/schedule.h: a tuning record's, `--tuning`)
  std::map<std::string, std::map<std::string, std::string>> schedule;
  // Plugins (backends/plugin.h): the ONNX model as the host imported it, valid
  // until close(). Plugins read the tensor interface (and, where they build
  // their own graph, the nodes and weights) from it instead of parsing the file.
  const ir::Graph* graph = nullptr;
};

// One operator's cost, for runtimes that can profile themselves.
struct OpCost {
  std::string node;     // node name (or the runtime's own label)
  std::string op_type;  // ONNX op type, or the runtime's op name
  int64_t calls = 0;
  double total_us = 0;
  std::optional<double> median_us;  // of one call, when the profiler kept every call
};

// One operator call in a run, for timelines: `row` indexes OpProfile::ops,
// `start_us` counts from the start of its run, `depth` is how deeply it is
// nested in other ops' calls (0: called by the model itself).
struct OpEvent {
  int run = 0;
  int row = 0;
  int depth = 0;
  double start_us = 0;
  double dur_us = 0;
};

struct OpProfile {
  std::vector<OpCost> ops;      // as profile_ops
  std::vector<double> run_us;   // wall time of each profiled run (empty if not known)
  std::vector<double> run_start_us;  // when each run started: std::chrono::steady_clock, µs since its epoch
  std::vector<OpEvent> events;  // the op calls of the first `trace_runs` runs, in order
};

// One step of a runtime whose steps are visible (native: a plan step).
struct StepInfo {
  std::string node;     // ONNX node name
  std::string op_type;  // ONNX op type
  std::string kernel;   // the kernel the step calls ("gemm_f32_packed")
  std::optional<double> flops;          // per run, estimated
  std::optional<int64_t> output_bytes;  // bytes the step writes (its outputs)
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual void open(const std::string& onnx_path, const BackendOptions& options) = 0;
  virtual void prepare() = 0;
  virtual void run() = 0;
  virtual void close() = 0;

  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  virtual void* input_data(int i) = 0;
  virtual const void* output_data(int i) const = 0;

  // Facts the report records: runtime version, the BLAS it uses, threads...
  virtual std::map<std::string, std::string> describe() const { return {}; }

  // Per-operator costs of `runs` inferences, where the runtime has a
  // profiler; empty if it has none.
  virtual std::vector<OpCost> profile_ops(int runs) { return {}; }
  // The same, plus each run's wall time and the op calls of the first
  // `trace_runs` runs (default: profile_ops only, no timeline).
  virtual OpProfile profile_op_timeline(int runs, int trace_runs) {
    (void)trace_runs;
    OpProfile p;
    p.ops = profile_ops(runs);
    return p;
  }

  // The steps one run() walks, in order, after prepare(); empty when the
  // runtime does not show them (then run_observed is not available).
  virtual std::vector<StepInfo> steps() const { return {}; }
  // One run() calling observer.before(i) / after(i) around step i of
  // steps(). Throws like run().
  virtual void run_observed(engine::StepObserver& observer) {
    (void)observer;
    throw Error("this backend does not show its steps: it cannot run step by step");
  }
};

// Thrown by open() of a backend that implements only some models (the
// hand-written baseline) for a model it does not implement: a gap in that
// backend's coverage, not a failure. `rtml bench` lists such pairs as not
// covered instead of as errors; everything else sees an rtml::Error.
class NotCovered : public Error {
 public:
  using Error::Error;
};

using Factory = std::unique_ptr<Backend> (*)();

struct Registration {
  const char* name;
  const char* description;
  Factory make;
};

// The backends built into rtml, in table order ("native" first).
const std::vector<Registration>& registered();
// The names `create` can make here: the built-in backends, then the plugins
// found in plugin_dirs() (not loaded).
std::vector<std::string> available();
// A backend by name: built in, or a plugin loaded on first use. Throws
// rtml::Error listing the backends if `name` is none of them, and saying how to
// install a known plugin that is missing.
std::unique_ptr<Backend> create(const std::string& name);

}  // namespace rtml::backends
