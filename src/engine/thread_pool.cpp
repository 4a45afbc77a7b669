// See thread_pool.h.
#include "engine/thread_pool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <system_error>

#include "core/error.h"

namespace rtml::engine {

namespace {

// About 100 µs of spinning on the 2-core AMD EPYC this was measured on (a
// pause there is ~27 ns; 10 to 140 cycles on x86-64 in general; ARM's yield
// is shorter, so spins end sooner there).
constexpr int kSpinChecks = 4000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

#if defined(SYS_futex)
constexpr long kFutex = SYS_futex;
#else
constexpr long kFutex = SYS_futex_time64;
#endif

// Sleeps while *word == expected (returns at once otherwise, or on a wake).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) noexcept {
  ::syscall(kFutex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>& word, int threads) noexcept {
  ::syscall(kFutex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, threads, nullptr, nullptr, 0);
}

constexpr uint64_t kGeneration = uint64_t{1} << 32;
inline uint32_t generation(uint64_t state) { return static_cast<uint32_t>(state >> 32); }
inline uint32_t inside(uint64_t state) { return static_cast<uint32_t>(state); }

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

int resolve_threads(int requested) {
  if (requested == 0) return std::min(available_cores(), kMaxThreads);
  if (requested < 0 || requested > kMaxThreads)
    throw Error("threads: " + std::to_string(requested) + " is not a thread count: give 1 to " +
                std::to_string(kMaxThreads) + ", or 0 for every core this process may use (" +
                std::to_string(available_cores()) + " here)");
  return requested;
}

ThreadPool::ThreadPool(int threads) : threads_(threads) {
  // Workers start with every signal blocked (signals go to the application's
  // threads) and inherit the creating thread's scheduling policy and CPU set.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    workers_.reserve(static_cast<size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) {
      workers_.emplace_back([this] { worker(); });
      const std::string name = "rtml-worker-" + std::to_string(i);
      pthread_setname_np(workers_.back().native_handle(), name.c_str());
    }
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    const size_t started = workers_.size();
    stop_workers();
    throw Error("cannot start " + std::to_string(threads - 1) + " worker threads (started " +
                std::to_string(started) + "): " + e.what());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
  close_job();
  stop_.store(true, std::memory_order_relaxed);
  state_.fetch_add(2 * kGeneration, std::memory_order_seq_cst);  // a new closed generation
  wake_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(wake_, INT_MAX);
  for (std::thread& w : workers_) w.join();
  workers_.clear();
}

// The previous job: no worker may join it any more; waits for those inside
// (late joiners that found no task left) to leave.
void ThreadPool::close_job() noexcept {
  uint64_t s = state_.load(std::memory_order_acquire);
  if (!(generation(s) & 1)) return;
  for (;;) {
    if (inside(s) == 0 && state_.compare_exchange_weak(s, s + kGeneration, std::memory_order_acq_rel)) return;
    cpu_relax();
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::finish_tasks(kernels::TaskFn fn, void* ctx, int64_t tasks) noexcept {
  uint32_t finished = 0;
  for (int64_t t; (t = next_task_.fetch_add(1, std::memory_order_relaxed)) < tasks; ++finished) fn(ctx, t);
  if (!finished) return;
  done_.fetch_add(finished, std::memory_order_seq_cst);  // release: the tasks' writes
  if (caller_parked_.load(std::memory_order_seq_cst)) futex_wake(done_, 1);
}

void ThreadPool::run(int64_t tasks, kernels::TaskFn fn, void* ctx) noexcept {
  ++jobs_;
  close_job();
  fn_ = fn;
  ctx_ = ctx;
  tasks_ = tasks;
  next_task_.store(0, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  const uint64_t closed = state_.load(std::memory_order_relaxed);
  state_.store(closed + kGeneration, std::memory_order_seq_cst);  // open: odd generation, nobody inside
  wake_.fetch_add(1, std::memory_order_seq_cst);
  if (parked_workers_.load(std::memory_order_seq_cst) > 0) futex_wake(wake_, threads_ - 1);

  finish_tasks(fn, ctx, tasks);
  const uint32_t all = static_cast<uint32_t>(tasks);
  for (int i = 0; i < kSpinChecks; ++i) {
    if (done_.load(std::memory_order_acquire) == all) return;
    cpu_relax();
  }
  caller_parked_.store(1, std::memory_order_seq_cst);
  for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != all;) futex_wait(done_, d);
  caller_parked_.store(0, std::memory_order_relaxed);
}

void ThreadPool::worker() noexcept {
  // The generation the pool was created with (a worker that starts late must
  // still see every change after it, the stop included).
  uint32_t seen = 0;
  for (;;) {
    // Wait for a new generation: spin, then park on wake_.
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int i = 0; generation(s) == seen; s = state_.load(std::memory_order_acquire)) {
      if (++i < kSpinChecks) {
        cpu_relax();
        continue;
      }
      const uint32_t w = wake_.load(std::memory_order_seq_cst);
      parked_workers_.fetch_add(1, std::memory_order_seq_cst);
      if (generation(state_.load(std::memory_order_seq_cst)) == seen) futex_wait(wake_, w);
      parked_workers_.fetch_sub(1, std::memory_order_relaxed);
      i = 0;
    }
    seen = generation(s);
    if (!(seen & 1)) {  // closed: the end of a job, or the pool stopping
      if (stop_.load(std::memory_order_relaxed)) return;
      continue;
    }
    // Join the open job, unless it closed meanwhile.
    bool joined = false;
    while (generation(s) == seen && !joined)
      joined = state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_acquire);
    if (!joined) continue;
    finish_tasks(fn_, ctx_, tasks_);
    state_.fetch_sub(1, std::memory_order_release);  // leave
  }
}

}  // namespace rtml::engine
