// rtml C++ API: load an ONNX model, prepare it for fixed shapes, run it on
// your own buffers.
//
//   rtml::Model model = rtml::Model::load("lstm.onnx");
//   rtml::Session s = rtml::Session::prepare(model, {{"x", {1, 1, 16}}});
//   s.bind_input(0, my_input);     // caller-owned, s.input(0).bytes long
//   s.bind_output(0, my_output);
//   s.link_state("h_out", "h_in"); // optional: carry RNN state across runs
//   s.run();                       // real-time safe: no allocation, no locks,
//                                  // no system calls, no exceptions
//
// load() and prepare() do all the work that may fail or allocate and throw
// rtml::Error with a message naming the file, node and op. After prepare(),
// run() only returns a status. A Session is not thread-safe: use one per
// thread (they may share a Model). SessionOptions::threads > 1 gives a
// session worker threads of its own (started by prepare) that run() splits
// its large GEMMs and convolutions over (ARCHITECTURE.md, "Threads").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtml/error.hpp"

namespace rtml {

// Element type codes are ONNX's TensorProto.DataType numbers.
enum class ElementType : int32_t { Float32 = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Bool = 9, Float64 = 11 };

struct TensorDesc {
  std::string name;
  int32_t element_type = 0;     // ONNX data type number (1 = float32)
  std::vector<int64_t> shape;   // -1 for a dimension not fixed yet (Model only)
  size_t bytes = 0;             // 0 while a dimension is unknown
};

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

struct SessionOptions {
  // Threads per inference, the caller's included: 1 (the default) starts no
  // thread; 0 takes every core this process may use; at most 64. With more
  // than 1, run() may wake the session's workers and wait for them (futex
  // calls, no allocation, no lock); the outputs are bit-identical.
  int threads = 1;
};

class Model {
 public:
  // Throws rtml::Error if the file is missing, not ONNX, truncated, too large,
  // cyclic or malformed.
  static Model load(const std::string& path);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  std::vector<TensorDesc> inputs() const;   // as declared in the file
  std::vector<TensorDesc> outputs() const;
  const std::string& path() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct RunResult {
  int code = 0;         // 0 on success
  int failed_step = -1; // which step failed, for messages
  bool ok() const { return code == 0; }
};

class Session {
 public:
  // Infers every shape, folds constants and plans memory for `shapes` (needed
  // for inputs with dynamic dimensions). Throws rtml::Error.
  static Session prepare(const Model& model, const ShapeMap& shapes = {}, const SessionOptions& options = {});
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  size_t num_inputs() const;
  size_t num_outputs() const;
  TensorDesc input(size_t i) const;
  TensorDesc output(size_t i) const;
  int input_index(const std::string& name) const;   // -1 if there is none
  int output_index(const std::string& name) const;  // -1 if there is none

  // The buffers run() reads and writes: the session's own until rebound.
  void* input_data(size_t i);
  void* output_data(size_t i);
  // Point an input/output at caller-owned memory of at least input(i).bytes.
  // The memory must stay valid while the session uses it.
  void bind_input(size_t i, void* data);
  void bind_output(size_t i, void* data);

  // After each run, copy output `output_name` into input `input_name` (e.g.
  // an LSTM's Y_h into its initial_h). Throws if shapes or types differ.
  void link_state(const std::string& output_name, const std::string& input_name);
  // Zeroes linked state inputs and restarts seeded random ops.
  void reset() noexcept;

  // One inference. No allocation, locks, system calls or exceptions.
  RunResult run() noexcept;

  // Memory plan: bytes of the intermediate-tensor arena, and its bounds.
  size_t arena_bytes() const;
  // Threads run() uses (SessionOptions::threads resolved).
  int threads() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtml
