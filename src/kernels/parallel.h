// How a kernel splits its work over the session's threads (`--threads N`).
//
// A kernel that can split (KernelInfo::parallel in the kernel table) cuts
// its work into tasks, each writing outputs no other task writes, and calls
//     parallel_tasks(n, [&](int64_t task) { ... });
// When the engine runs the step on a pool (engine/thread_pool.h: a Session
// with threads > 1, and the step at least kParallelMinFlops), the tasks run
// on the pool's threads and the call returns when all are done; otherwise
// (one thread, a small step, generated C, any nested call) they run here,
// in order. Each output element is computed by the same code from the same
// inputs in the same order whichever thread runs its task, so the result is
// bit-identical to one thread's, whatever the split.
//
// The runner is per thread (a thread_local pointer the engine sets around a
// step), so sessions on different threads never see each other's pools.
// Nothing here allocates, locks or blocks; the runner's own waiting is
// described in engine/thread_pool.h.
#pragma once

#include <cstdint>
#include <type_traits>

namespace rtml::kernels {

using TaskFn = void (*)(void* ctx, int64_t task);

// What the engine's pool offers a kernel.
class TaskRunner {
 public:
  // Threads that take tasks, the calling one included (>= 2).
  virtual int threads() const noexcept = 0;
  // Calls fn(ctx, t) once for every t in [0, tasks), spread over the threads
  // (the calling one takes tasks too); returns when every call has returned.
  virtual void run(int64_t tasks, TaskFn fn, void* ctx) noexcept = 0;

 protected:
  ~TaskRunner() = default;
};

// A step smaller than this (ops::Step::flops) runs on one thread: waking the
// other threads and waiting for the last task costs more than it saves
// (measured on a 2-core x86-64: ARCHITECTURE.md, "Threads").
constexpr double kParallelMinFlops = 2e5;

// The runner this thread's current step may use (nullptr: none). The engine
// sets it around each step; kernels only read it through the calls below.
void set_task_runner(TaskRunner* runner) noexcept;

// Threads the current step's tasks are spread over (1 without a runner), for
// choosing how many tasks to make; the results never depend on it.
int parallel_threads() noexcept;

// Runs fn(ctx, t) for every t in [0, tasks) (see the top of this file).
void parallel_tasks(int64_t tasks, TaskFn fn, void* ctx) noexcept;

template <class F>
void parallel_tasks(int64_t tasks, F&& f) noexcept {
  using Fn = typename std::remove_reference<F>::type;
  parallel_tasks(
      tasks, [](void* ctx, int64_t t) { (*static_cast<Fn*>(ctx))(t); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

// Cutting work into tasks. A dimension of `count` elements is cut into
// parts of whole units (tiles of rows, panels of columns): part i of n is
// [part_begin(count, unit, n, i), part_begin(count, unit, n, i + 1)); each
// holds at least one unit when n <= count / unit, the last part takes the
// remainder.
inline int64_t part_begin(int64_t count, int64_t unit, int64_t parts, int64_t i) {
  if (i >= parts) return count;
  const int64_t units = count / unit;
  return units * i / parts * unit;
}

// A grid of row_units x col_units units cut into about `want` rectangles:
// columns first, then rows; never more parts along a side than its units.
struct TaskGrid {
  int64_t rows = 1, cols = 1;
  int64_t tasks() const { return rows * cols; }
};
inline TaskGrid task_grid(int64_t row_units, int64_t col_units, int64_t want) {
  TaskGrid g;
  g.cols = col_units < 1 ? 1 : col_units < want ? col_units : want;
  const int64_t rows = (want + g.cols - 1) / g.cols;
  g.rows = row_units < 1 ? 1 : row_units < rows ? row_units : rows;
  return g;
}

// Tasks per thread a kernel aims for: some slack, so that a thread that
// starts late (a parked worker waking) leaves its share to the others.
constexpr int64_t kTasksPerThread = 4;

// [0, count) in parts of whole units, one task each: part(begin, end) for
// every part (part(0, count) alone on one thread).
template <class F>
void parallel_parts(int64_t count, int64_t unit, const F& part) noexcept {
  const int threads = parallel_threads();
  const int64_t units = count / unit;
  const int64_t parts = units < kTasksPerThread * threads ? units : kTasksPerThread * threads;
  if (threads < 2 || parts < 2) return part(int64_t{0}, count);
  parallel_tasks(parts, [&](int64_t i) { part(part_begin(count, unit, parts, i), part_begin(count, unit, parts, i + 1)); });
}

}  // namespace rtml::kernels
