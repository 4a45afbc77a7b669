// See parallel.h. Builds into generated C++ too (rtml compile copies it with
// the fast kernels), where no engine ever sets a runner: every call runs inline.
#include "kernels/parallel.h"

namespace rtml::kernels {

namespace {
// Initialised to a constant: no constructor, no allocation when a thread first reads it.
thread_local TaskRunner* t_runner = nullptr;
}  // namespace

void set_task_runner(TaskRunner* runner) noexcept { t_runner = runner; }

int parallel_threads() noexcept { return t_runner ? t_runner->threads() : 1; }

void parallel_tasks(int64_t tasks, TaskFn fn, void* ctx) noexcept {
  TaskRunner* runner = t_runner;
  if (!runner || tasks < 2) {
    for (int64_t t = 0; t < tasks; ++t) fn(ctx, t);
    return;
  }
  // A kernel the tasks call that splits again runs inline: one level of tasks.
  t_runner = nullptr;
  runner->run(tasks, fn, ctx);
  t_runner = runner;
}

}  // namespace rtml::kernels
