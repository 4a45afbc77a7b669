// libFuzzer target: a .tflite file through `rtml info`'s path (import from
// memory, then build_plan) and, when the plan is small, one run of a session
// on zero inputs (`rtml run`'s path). rtml::Error is the expected outcome for
// bad input; anything else (a crash, a sanitizer report, another exception)
// is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_plan.h"
#include "fuzz_util.h"
#include "import/tflite_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    rtml::import::ImportOptions io;
    io.max_memory_bytes = rtml::fuzz::kMaxMemoryBytes;
    rtml::ir::Graph g = rtml::import::load_tflite_bytes(data, size, "model.tflite", io);
    rtml::fuzz::plan_and_run(g);
  } catch (const rtml::Error&) {
  }
  return 0;
}
