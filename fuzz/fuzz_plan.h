// Shared by the model fuzz targets (fuzz_onnx, fuzz_tflite): an imported
// graph through `rtml info`'s path (build_plan: shape inference, folding,
// memory planning) and, when the plan is small, one run of a session on zero
// inputs (`rtml run`'s path). Throws rtml::Error for bad input, like them.
#pragma once

#include "engine/session.h"
#include "fuzz_util.h"
#include "plan/plan.h"

namespace rtml::fuzz {

inline void plan_and_run(const ir::Graph& g) {
  plan::PlanOptions po;
  po.max_memory_bytes = kMaxMemoryBytes;
  plan::Plan p = plan::build_plan(g, po);
  if (p.arena_bytes < (uint64_t(4) << 20) && p.flops < 1e7) {
    engine::Session s(std::move(p));
    (void)s.run();
  }
}

}  // namespace rtml::fuzz
