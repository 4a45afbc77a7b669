// libFuzzer target: an .onnx file through `rtml info`'s path (import, then
// build_plan: shape inference, folding, memory planning) and, when the plan
// is small, one run of a session on zero inputs (`rtml run`'s path).
// rtml::Error is the expected outcome for bad input; anything else (a
// crash, a sanitizer report, another exception) is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_plan.h"
#include "fuzz_util.h"
#include "import/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rtml::fuzz::write_input(data, size, "model.onnx");
  try {
    rtml::import::ImportOptions io;
    io.max_memory_bytes = rtml::fuzz::kMaxMemoryBytes;
    rtml::ir::Graph g = rtml::import::load_onnx(path, io);
    rtml::fuzz::plan_and_run(g);
  } catch (const rtml::Error&) {
  }
  return 0;
}
