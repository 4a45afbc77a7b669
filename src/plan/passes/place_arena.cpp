// place_arena: an offset in the one arena for every buffer emit_steps
// requested (memory_planner.h: greedy placement in four orders and a seeded
// local search), and the arena's size next to the liveness lower bound and
// the no-reuse size. With PlanOptions::memory_levels: place_levels.
#include <cstdio>

#include "plan/pass.h"

namespace rtml::plan {

void place_arena(PlanState& s, PassReport& report) {
  if (!s.options.memory_levels.empty()) return place_levels(s, report);
  Plan& plan = s.plan;
  uint64_t io_bytes = plan.state_bytes;  // the session's own input, output and state buffers
  for (int id : plan.inputs) io_bytes += plan.tensors[id].bytes;
  for (int id : plan.outputs) io_bytes += plan.tensors[id].bytes;
  MemoryPlan mp = plan_memory_within(s.requests, io_bytes, s.options.max_memory_bytes, plan.source);
  for (size_t r = 0; r < s.requests.size(); ++r) plan.tensors[s.request_tensor[r]].offset = mp.offsets[r];
  plan.arena_bytes = mp.arena_bytes;
  plan.arena_lower_bound_bytes = mp.lower_bound_bytes;
  plan.arena_no_reuse_bytes = mp.no_reuse_bytes;

  report.summary = plural(s.requests.size(), "buffer") + " in an arena of " + with_commas(mp.arena_bytes) + " B";
  if (mp.arena_bytes == mp.lower_bound_bytes) {
    report.summary += " = lower bound";
  } else {
    const double over = 100.0 * (static_cast<double>(mp.arena_bytes) / static_cast<double>(mp.lower_bound_bytes) - 1);
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f", over);
    report.summary += ", lower bound " + with_commas(mp.lower_bound_bytes) + " B (+" + pct + "%)";
  }
  report.summary += ", no reuse " + with_commas(mp.no_reuse_bytes) + " B";
  report.numbers = {{"buffers", static_cast<int64_t>(s.requests.size())},
                    {"arena_bytes", static_cast<int64_t>(mp.arena_bytes)},
                    {"lower_bound_bytes", static_cast<int64_t>(mp.lower_bound_bytes)},
                    {"no_reuse_bytes", static_cast<int64_t>(mp.no_reuse_bytes)}};
}

}  // namespace rtml::plan
