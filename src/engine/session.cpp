#include "engine/session.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "engine/thread_pool.h"
#include "kernels/table.h"

namespace rtml::engine {

namespace {
uint8_t* new_zeroed(size_t bytes) {
  auto* p = new uint8_t[bytes ? bytes : 1];
  std::memset(p, 0, bytes ? bytes : 1);
  return p;
}
// 64-byte aligned and zeroed; nullptr for 0 bytes.
void* aligned_zeroed(size_t bytes) {
  if (!bytes) return nullptr;
  bytes = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return p;
}
}  // namespace

bool step_splits(const plan::PlanStep& st) {
  return st.step.info && st.step.info->parallel && st.step.flops >= kernels::kParallelMinFlops;
}

Session::Session(plan::Plan plan, const SessionOptions& options) : plan_(std::move(plan)) {
  if (plan_.kernels == kernels::KernelSet::CmsisNn)
    throw Error(plan_.source + ": the cmsis-nn kernel set runs in generated code only (rtml compile, rtml bench "
                "--target): the engine links no CMSIS-NN; --kernels cortex-m computes the same int8 results");
  if (const int threads = resolve_threads(options.threads); threads > 1) {
    pool_ = std::make_unique<ThreadPool>(threads);
    for (const plan::PlanStep& st : plan_.steps) step_runner_.push_back(step_splits(st) ? pool_.get() : nullptr);
  }
  arena_ = aligned_zeroed(plan_.arena_bytes);
  try {
    state_ = aligned_zeroed(plan_.state_bytes);
  } catch (...) {
    std::free(arena_);
    throw;
  }
  for (int id : plan_.inputs) {
    own_buffers_.emplace_back(new_zeroed(plan_.tensors[id].bytes));
    input_ptr_.push_back(own_buffers_.back().get());
  }
  for (int id : plan_.outputs) {
    own_buffers_.emplace_back(new_zeroed(plan_.tensors[id].bytes));
    output_ptr_.push_back(own_buffers_.back().get());
  }
  operand_ptr_.assign(plan_.operands.size(), nullptr);
  input_slots_.resize(plan_.inputs.size());
  output_slots_.resize(plan_.outputs.size());
  for (uint32_t i = 0; i < plan_.operands.size(); ++i) {
    if (plan_.operands[i] < 0) continue;
    const plan::TensorPlan& t = plan_.tensors[plan_.operands[i]];
    if (t.storage == plan::Storage::Input) input_slots_[t.index].push_back(i);
    if (t.storage == plan::Storage::Output) output_slots_[t.index].push_back(i);
  }
  copy_source_.resize(plan_.output_copies.size());
  rebuild_pointers();
  reset_steps();
}

Session::~Session() {
  pool_.reset();  // idle: joins the workers
  std::free(arena_);
  std::free(state_);
}

int Session::threads() const { return pool_ ? pool_->threads() : 1; }

const void* Session::tensor_data(int id) const {
  const plan::TensorPlan& t = plan_.tensors[id];
  switch (t.storage) {
    case plan::Storage::Arena: return static_cast<uint8_t*>(arena_) + t.offset;
    case plan::Storage::Constant: return t.constant->data();
    case plan::Storage::Input: return input_ptr_[t.index];
    case plan::Storage::Output: return output_ptr_[t.index];
    case plan::Storage::State: return static_cast<uint8_t*>(state_) + t.offset;
  }
  return nullptr;
}

void Session::rebuild_pointers() noexcept {
  for (size_t i = 0; i < plan_.operands.size(); ++i) {
    int id = plan_.operands[i];
    operand_ptr_[i] = id < 0 ? nullptr : const_cast<void*>(tensor_data(id));
  }
  for (size_t c = 0; c < plan_.output_copies.size(); ++c) copy_source_[c] = tensor_data(plan_.output_copies[c].source);
}

void Session::point_slots(const std::vector<uint32_t>& slots, void* data) noexcept {
  for (uint32_t s : slots) operand_ptr_[s] = data;
  // An output copied from an input or an earlier output follows its source.
  for (size_t c = 0; c < plan_.output_copies.size(); ++c) copy_source_[c] = tensor_data(plan_.output_copies[c].source);
}

void Session::bind_input(int i, void* data) noexcept {
  input_ptr_[i] = data;
  point_slots(input_slots_[i], data);
}

void Session::bind_output(int i, void* data) noexcept {
  output_ptr_[i] = data;
  point_slots(output_slots_[i], data);
}

int Session::input_index(const std::string& name) const {
  for (int i = 0; i < num_inputs(); ++i)
    if (input(i).name == name) return i;
  return -1;
}

int Session::output_index(const std::string& name) const {
  for (int i = 0; i < num_outputs(); ++i)
    if (output(i).name == name) return i;
  return -1;
}

void Session::link_state(const std::string& output_name, const std::string& input_name) {
  int o = output_index(output_name), i = input_index(input_name);
  if (o < 0) throw Error(plan_.source + ": no output named '" + output_name + "'");
  if (i < 0) throw Error(plan_.source + ": no input named '" + input_name + "'");
  if (output(o).dtype != input(i).dtype || output(o).shape != input(i).shape)
    throw Error(plan_.source + ": cannot carry state from output '" + output_name + "' (" + dtype_name(output(o).dtype) +
                " " + shape_str(output(o).shape) + ") to input '" + input_name + "' (" + dtype_name(input(i).dtype) +
                " " + shape_str(input(i).shape) + ")");
  links_.push_back({o, i, output(o).bytes});
}

// After the steps: outputs no step writes, then linked state (run() and
// run_observed() alike).
void Session::finish_run() noexcept {
  for (size_t c = 0, n = plan_.output_copies.size(); c < n; ++c) {
    const plan::OutputCopy& oc = plan_.output_copies[c];
    std::memcpy(output_ptr_[oc.output], copy_source_[c], plan_.tensors[oc.source].bytes);
  }
  for (const Link& l : links_) std::memmove(input_ptr_[l.input], output_ptr_[l.output], l.bytes);
}

RunStatus Session::run() noexcept {
  const plan::PlanStep* steps = plan_.steps.data();
  void* const* ptrs = operand_ptr_.data();
  for (size_t s = 0, n = plan_.steps.size(); s < n; ++s) {
    const plan::PlanStep& st = steps[s];
    if (pool_) kernels::set_task_runner(step_runner_[s]);
    if (int rc = st.step.run(st.step.params.get(), ptrs + st.first_operand)) {
      if (pool_) kernels::set_task_runner(nullptr);
      return {rc, static_cast<int>(s)};
    }
  }
  if (pool_) kernels::set_task_runner(nullptr);
  finish_run();
  return {};
}

RunStatus Session::run_observed(StepObserver& observer) noexcept {
  const plan::PlanStep* steps = plan_.steps.data();
  void* const* ptrs = operand_ptr_.data();
  for (size_t s = 0, n = plan_.steps.size(); s < n; ++s) {
    const plan::PlanStep& st = steps[s];
    observer.before(static_cast<int>(s));
    if (pool_) kernels::set_task_runner(step_runner_[s]);
    int rc = st.step.run(st.step.params.get(), ptrs + st.first_operand);
    if (pool_) kernels::set_task_runner(nullptr);
    observer.after(static_cast<int>(s));
    if (rc) return {rc, static_cast<int>(s)};
  }
  finish_run();
  return {};
}

void Session::reset_steps() noexcept {
  for (const plan::PlanStep& st : plan_.steps)
    if (st.step.reset) st.step.reset(st.step.params.get(), st.step.state_bytes ? operand_ptr_[st.state_operand()] : nullptr);
}

void Session::reset() noexcept {
  for (const Link& l : links_) std::memset(input_ptr_[l.input], 0, l.bytes);
  reset_steps();
}

}  // namespace rtml::engine
