#include "plan/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace rtml::plan {

namespace {
size_t align_up(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }
bool lifetimes_meet(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}
}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests) {
  MemoryPlan plan;
  const size_t n = requests.size();
  plan.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].first_step < requests[b].first_step;
  });

  struct Placed { size_t begin, end; };
  std::vector<size_t> placed;  // indices already given an offset
  std::vector<Placed> conflicts;
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    size_t size = align_up(r.bytes);
    conflicts.clear();
    for (size_t p : placed)
      if (lifetimes_meet(r, requests[p])) conflicts.push_back({plan.offsets[p], plan.offsets[p] + align_up(requests[p].bytes)});
    std::sort(conflicts.begin(), conflicts.end(), [](const Placed& a, const Placed& b) { return a.begin < b.begin; });
    size_t offset = 0;
    for (const Placed& c : conflicts) {
      if (offset + size <= c.begin) break;  // fits in the gap before c
      offset = std::max(offset, c.end);
    }
    plan.offsets[idx] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
    placed.push_back(idx);
  }

  int last = 0;
  for (const auto& r : requests) last = std::max(last, r.last_step);
  for (int s = 0; s <= last; ++s) {
    size_t live = 0;
    for (const auto& r : requests)
      if (r.first_step <= s && s <= r.last_step) live += align_up(r.bytes);
    plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, live);
  }
  for (const auto& r : requests) plan.no_reuse_bytes += align_up(r.bytes);
  return plan;
}

std::string check_memory_plan(const std::vector<BufferRequest>& requests, const MemoryPlan& plan) {
  for (size_t a = 0; a < requests.size(); ++a) {
    if (plan.offsets[a] % kArenaAlignment) return "buffer " + std::to_string(a) + " is not aligned";
    if (plan.offsets[a] + requests[a].bytes > plan.arena_bytes)
      return "buffer " + std::to_string(a) + " ends past the arena";
    for (size_t b = a + 1; b < requests.size(); ++b) {
      if (!lifetimes_meet(requests[a], requests[b])) continue;
      size_t a0 = plan.offsets[a], a1 = a0 + requests[a].bytes;
      size_t b0 = plan.offsets[b], b1 = b0 + requests[b].bytes;
      if (requests[a].bytes && requests[b].bytes && a0 < b1 && b0 < a1)
        return "buffers " + std::to_string(a) + " and " + std::to_string(b) + " overlap in memory and in time";
    }
  }
  return {};
}

}  // namespace rtml::plan
