// engine::Session: walks a Plan. This is the real-time path.
//
// Construction allocates everything: the arena (one block, sized by the
// memory plan), a default buffer for each graph input and output, and the
// flat operand-pointer table the steps read. After that:
//   run()          calls each step's kernel with its operand pointers, then
//                  copies outputs that no step writes. No heap allocation,
//                  no locks, no system calls, no exceptions.
//   bind_input/bind_output point an input or output at caller-owned memory
//                  (a Bela audio buffer, say); it only rewrites pointers.
//   link_state(out, in) makes run() copy output `out` into input `in` after
//                  each run, so a streaming RNN carries its state; reset()
//                  zeroes linked inputs and calls each stateful step's reset
//                  on its state (random ops start their sequence again).
//   run_observed(obs) is run() with obs.before(i) / obs.after(i) around step
//                  i (for the profiler); run() itself stays the plain loop.
// Steps with state (ops::Step::state_bytes) keep it in one more block the
// session allocates (Plan::state_bytes) and resets on construction.
//
// Threads (SessionOptions::threads > 1): the session starts a ThreadPool
// (engine/thread_pool.h) at construction, and run() lets each step that
// splits (step_splits) spread its tasks over it; every other step, and
// everything between steps, runs on the calling thread. The outputs are
// bit-identical to one thread's. run() then also may make the futex calls
// thread_pool.h lists, and nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/parallel.h"
#include "plan/plan.h"

namespace rtml::engine {

class ThreadPool;

struct SessionOptions {
  // Threads run() may split large steps over, the calling one included: 1
  // (the default) starts no thread; 0 takes every core this process may use
  // (available_cores()). At most kMaxThreads (thread_pool.h).
  int threads = 1;
};

// Whether a step spreads its work over a session's threads: its kernel
// splits (kernels::KernelInfo::parallel) and it is large enough
// (Step::flops >= kernels::kParallelMinFlops). Streaming steps (a
// matrix-vector product, one step of an RNN) are far below it.
bool step_splits(const plan::PlanStep& step);

struct RunStatus {
  int code = 0;    // 0: success; else the kernel's error code
  int step = -1;   // index of the failing step, -1 on success
  bool ok() const { return code == 0; }
};

// Called around every step by Session::run_observed (profile/ uses it for
// per-step clocks and counters). Must not throw; should not allocate, or the
// profile of a run measures the observer's allocations too.
struct StepObserver {
  virtual void before(int step) noexcept = 0;
  virtual void after(int step) noexcept = 0;

 protected:
  ~StepObserver() = default;
};

class Session {
 public:
  // Throws rtml::Error for a thread count resolve_threads refuses, or when
  // the system refuses a thread.
  explicit Session(plan::Plan plan, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  RunStatus run() noexcept;
  // The same work as run() (steps, then output copies and state links, which
  // fall outside every before/after pair), calling `observer` around each
  // step in order. No allocation of its own. On a kernel error, after() is
  // called for the failing step and the status returned.
  RunStatus run_observed(StepObserver& observer) noexcept;
  void reset() noexcept;

  int num_inputs() const { return static_cast<int>(plan_.inputs.size()); }
  int num_outputs() const { return static_cast<int>(plan_.outputs.size()); }
  const plan::TensorPlan& input(int i) const { return plan_.tensors[plan_.inputs[i]]; }
  const plan::TensorPlan& output(int i) const { return plan_.tensors[plan_.outputs[i]]; }
  int input_index(const std::string& name) const;   // -1 if absent
  int output_index(const std::string& name) const;  // -1 if absent

  // Current buffers (the session's own until rebound).
  void* input_data(int i) const { return input_ptr_[i]; }
  void* output_data(int i) const { return output_ptr_[i]; }
  void bind_input(int i, void* data) noexcept;
  void bind_output(int i, void* data) noexcept;

  // Throws rtml::Error if the names are unknown or the shapes/types differ.
  void link_state(const std::string& output_name, const std::string& input_name);

  const plan::Plan& plan() const { return plan_; }
  // Threads run() uses (1: the calling thread only), and the pool (nullptr
  // for 1 thread; tests and profiles read its jobs()).
  int threads() const;
  const ThreadPool* thread_pool() const { return pool_.get(); }
  // Pointer to a tensor's current bytes (for profiling and tests).
  const void* tensor_data(int tensor) const;

 private:
  void rebuild_pointers() noexcept;
  void finish_run() noexcept;
  void point_slots(const std::vector<uint32_t>& slots, void* data) noexcept;
  void reset_steps() noexcept;

  plan::Plan plan_;
  void* arena_ = nullptr;
  void* state_ = nullptr;  // Storage::State tensors
  std::vector<std::unique_ptr<uint8_t[]>> own_buffers_;
  std::vector<void*> input_ptr_, output_ptr_;
  std::vector<void*> operand_ptr_;  // one per Plan::operands entry
  // Operand slots that read each graph input / write each graph output, so
  // binding rewrites only those (it may happen every audio callback).
  std::vector<std::vector<uint32_t>> input_slots_, output_slots_;
  std::vector<const void*> copy_source_;  // per Plan::output_copies entry
  struct Link { int output, input; size_t bytes; };
  std::vector<Link> links_;
  // With threads > 1: the pool, and per step the runner its kernel may use
  // (the pool when step_splits, else nullptr).
  std::unique_ptr<ThreadPool> pool_;
  std::vector<kernels::TaskRunner*> step_runner_;
};

}  // namespace rtml::engine
