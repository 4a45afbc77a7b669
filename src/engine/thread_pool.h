// engine::ThreadPool: the threads a Session with `threads` > 1 splits its
// large steps over (kernels/parallel.h is the kernels' side).
//
// Created with the session (at prepare): threads - 1 workers, started then,
// plus the thread that calls Session::run(), which takes tasks too. One job
// at a time, from one caller (the session's run()):
//   1. run(tasks, fn, ctx) publishes the job (fn, ctx, task count) under a
//      new generation of `state_` and, if a worker is parked, wakes it
//      (futex FUTEX_WAKE on `wake_`);
//   2. every thread, the caller first, claims task indices with one atomic
//      fetch_add on `next_task_` until none are left (fixed tasks, claimed
//      dynamically: a late or preempted worker leaves its share to the
//      others; which thread runs a task never changes what it computes);
//   3. each thread adds its count of finished tasks to `done_`; the caller
//      returns when `done_` reaches the task count (the completion barrier:
//      an atomic counter).
// Waiting, on both sides: spin (a pause instruction per check) for about
// kSpinChecks checks, then park with FUTEX_WAIT until woken. A worker that
// finishes a job spins for the next one, so the steps of one run, and runs
// back to back, usually wake no one; a worker idle for longer (between
// audio periods, say) sleeps in the kernel and costs a FUTEX_WAKE to the
// first large step of the next run. The caller parks only when a task it
// waits for takes longer than the spin (a preempted worker); the worker that
// finishes it wakes the caller.
//
// So run() allocates nothing, takes no lock and makes no system call except
// FUTEX_WAKE (a parked worker) and FUTEX_WAIT (the caller waiting for a
// slow task). Workers allocate nothing after they start. Destroying the
// pool (an idle session) stops and joins the workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "kernels/parallel.h"

namespace rtml::engine {

// The most threads a session takes (--threads above it is refused).
constexpr int kMaxThreads = 64;

// The CPUs this process may run on (its affinity mask), at least 1.
int available_cores();

// `requested` checked and resolved: 0 -> available_cores(); 1..kMaxThreads
// as given; otherwise throws rtml::Error saying what is allowed.
int resolve_threads(int requested);

class ThreadPool final : public kernels::TaskRunner {
 public:
  // Starts threads - 1 workers (threads >= 2). Throws rtml::Error if the
  // system refuses a thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const noexcept override { return threads_; }
  // From one thread at a time (the session's run()); see the top of the file.
  void run(int64_t tasks, kernels::TaskFn fn, void* ctx) noexcept override;
  // Jobs run() has handed out so far (read by the thread that calls run()).
  uint64_t jobs() const noexcept { return jobs_; }

 private:
  void worker() noexcept;
  void close_job() noexcept;
  void stop_workers() noexcept;
  void finish_tasks(kernels::TaskFn fn, void* ctx, int64_t tasks) noexcept;

  int threads_;
  uint64_t jobs_ = 0;
  std::vector<std::thread> workers_;
  // Generation (high 32 bits; odd while a job is open to joining) and the
  // number of workers inside the open job (low 32 bits). The caller rewrites
  // the job below only when the job is closed and no worker is inside.
  alignas(64) std::atomic<uint64_t> state_{0};
  kernels::TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<bool> stop_{false};  // with a new closed generation: workers leave
  alignas(64) std::atomic<int64_t> next_task_{0};
  alignas(64) std::atomic<uint32_t> done_{0};        // futex word: the caller parks on it
  std::atomic<uint32_t> caller_parked_{0};
  alignas(64) std::atomic<uint32_t> wake_{0};        // futex word: parked workers wait on it
  std::atomic<int32_t> parked_workers_{0};
};

}  // namespace rtml::engine
