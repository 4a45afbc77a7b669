#include "plan/memory_planner.h"

#include "core/error.h"
#include "core/size.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <set>
#include <utility>

namespace rtml::plan {

namespace {
size_t align_up(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }
bool lifetimes_meet(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

// The placed buffers, found by lifetime: those whose lifetime meets
// [first, last] are the ones live at step `first` (a segment tree over the
// steps: each lifetime is stored at the O(log steps) nodes that cover it,
// and a point's query walks from its leaf to the root) plus those that start
// in (first, last] (ordered by first step). A query costs O(log n) plus one
// per buffer it finds, so a placement costs O(n log n) plus the conflicts
// it finds, instead of a scan of every placed buffer for every buffer.
class PlacedByLifetime {
 public:
  PlacedByLifetime(int first_step, int last_step)
      : base_(first_step), leaves_(static_cast<size_t>(last_step - first_step) + 1), nodes_(2 * leaves_) {}
  void clear() {
    for (auto& n : nodes_) n.clear();
    by_start_.clear();
  }
  void add(size_t idx, const BufferRequest& r) {
    for (size_t lo = leaf(r.first_step), hi = leaf(r.last_step) + 1; lo < hi; lo >>= 1, hi >>= 1) {
      if (lo & 1) nodes_[lo++].push_back(idx);
      if (hi & 1) nodes_[--hi].push_back(idx);
    }
    by_start_.insert({r.first_step, idx});
  }
  // Calls f(idx) once for every placed buffer whose lifetime meets r's.
  template <class F>
  void for_each_meeting(const BufferRequest& r, F&& f) const {
    for (size_t node = leaf(r.first_step); node >= 1; node >>= 1)
      for (size_t idx : nodes_[node]) f(idx);
    auto it = by_start_.upper_bound({r.first_step, SIZE_MAX});
    for (; it != by_start_.end() && it->first <= r.last_step; ++it) f(it->second);
  }

 private:
  size_t leaf(int step) const { return leaves_ + static_cast<size_t>(step - base_); }
  int base_;
  size_t leaves_;
  std::vector<std::vector<size_t>> nodes_;  // nodes_[1] is the root; leaves at [leaves_, 2 * leaves_)
  std::set<std::pair<int, size_t>> by_start_;
};

// One greedy placement: buffers in `order`, each at the lowest aligned
// offset clear of every placed buffer whose lifetime meets its own.
// Returns the arena size; fills `offsets`.
size_t place_greedy(const std::vector<BufferRequest>& requests, const std::vector<size_t>& order,
                    PlacedByLifetime& placed, std::vector<size_t>& offsets) {
  struct Placed { size_t begin, end; };
  std::vector<Placed> conflicts;
  size_t arena = 0;
  placed.clear();
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    size_t size = align_up(r.bytes);
    conflicts.clear();
    placed.for_each_meeting(r, [&](size_t p) {
      conflicts.push_back({offsets[p], offsets[p] + align_up(requests[p].bytes)});
    });
    std::sort(conflicts.begin(), conflicts.end(), [](const Placed& a, const Placed& b) { return a.begin < b.begin; });
    size_t offset = 0;
    for (const Placed& c : conflicts) {
      if (offset + size <= c.begin) break;  // fits in the gap before c
      offset = std::max(offset, c.end);
    }
    offsets[idx] = offset;
    arena = std::max(arena, offset + size);
    if (r.first_step <= r.last_step) placed.add(idx, r);
  }
  return arena;
}
}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests) {
  MemoryPlan plan;
  const size_t n = requests.size();
  if (n == 0) return plan;
  // The lower bound: a sweep over the steps where lifetimes begin and end.
  std::vector<std::pair<int, size_t>> begins, ends;  // (step, bytes); ends at last_step + 1
  int first = requests[0].first_step, last = requests[0].last_step;
  for (const auto& r : requests) {
    begins.push_back({r.first_step, align_up(r.bytes)});
    ends.push_back({r.last_step + 1, align_up(r.bytes)});
    first = std::min(first, r.first_step);
    last = std::max(last, r.last_step);
  }
  std::sort(begins.begin(), begins.end());
  std::sort(ends.begin(), ends.end());
  size_t live = 0;
  for (size_t b = 0, e = 0; b < n; ++b) {
    for (; e < n && ends[e].first <= begins[b].first; ++e) live -= ends[e].second;
    live += begins[b].second;
    plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, live);
  }
  auto size_of = [&](size_t i) { return align_up(requests[i].bytes); };
  auto span_of = [&](size_t i) { return static_cast<size_t>(requests[i].last_step - requests[i].first_step + 1); };
  // Placement orders tried; the smallest arena wins (ties: the earlier
  // order). Size first is TFLite Micro's; the others help chains where a
  // long-lived buffer is smaller than short-lived ones beside it (a residual
  // carried past a padded conv output), which size order fragments.
  using Less = std::function<bool(size_t, size_t)>;
  const Less orders[] = {
      [&](size_t a, size_t b) {  // largest first
        if (size_of(a) != size_of(b)) return size_of(a) > size_of(b);
        return requests[a].first_step < requests[b].first_step;
      },
      [&](size_t a, size_t b) {  // longest-lived first, then largest
        if (span_of(a) != span_of(b)) return span_of(a) > span_of(b);
        return size_of(a) > size_of(b);
      },
      [&](size_t a, size_t b) {  // most bytes x steps first
        if (size_of(a) * span_of(a) != size_of(b) * span_of(b)) return size_of(a) * span_of(a) > size_of(b) * span_of(b);
        return requests[a].first_step < requests[b].first_step;
      },
      [&](size_t a, size_t b) {  // in schedule order, then largest
        if (requests[a].first_step != requests[b].first_step) return requests[a].first_step < requests[b].first_step;
        return size_of(a) > size_of(b);
      },
  };
  std::vector<size_t> order(n), offsets(n), best_order;
  PlacedByLifetime placed(first, last);
  plan.arena_bytes = SIZE_MAX;
  for (const Less& less : orders) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), less);
    size_t arena = place_greedy(requests, order, placed, offsets);
    if (arena < plan.arena_bytes) {
      plan.arena_bytes = arena;
      plan.offsets = offsets;
      best_order = order;
    }
  }
  // Local search: swap two buffers in the best order, keep the swap when the
  // arena does not grow; stop at the lower bound. A fixed seed keeps plans
  // reproducible. The number of tries shrinks with n^3 (a budget set when a
  // placement cost n^2 log n; kept so plans stay the same): none from about
  // 460 buffers on.
  const size_t tries = n < 3 ? 0 : std::min<size_t>(4000, 100000000 / (n * n * n + 1));
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  auto next = [&rng]() { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; };
  order = best_order;
  for (size_t t = 0; t < tries && plan.arena_bytes > plan.lower_bound_bytes; ++t) {
    size_t a = next() % n, b = next() % n;
    if (a == b) continue;
    std::swap(order[a], order[b]);
    size_t arena = place_greedy(requests, order, placed, offsets);
    if (arena <= plan.arena_bytes) {
      plan.arena_bytes = arena;
      plan.offsets = offsets;
    } else {
      std::swap(order[a], order[b]);
    }
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

MemoryPlan plan_memory_within(const std::vector<BufferRequest>& requests, uint64_t other_bytes, uint64_t limit,
                              const std::string& what) {
  // In 64 bits, so that no sum wraps on a 32-bit target; each request is
  // already at most the limit (ops::OpContext::set_output).
  uint64_t total = 0;
  for (const auto& r : requests) total += (uint64_t(r.bytes) + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  const std::string needs = what + ": the arena and the input and output buffers";
  if (total > SIZE_MAX)
    throw Error(needs + " need " + format_bytes(total + other_bytes) + " without reuse, more than this machine can address");
  MemoryPlan plan = plan_memory(requests);
  check_memory(uint64_t(plan.arena_bytes) + other_bytes, limit, needs);
  return plan;
}

}  // namespace rtml::plan
