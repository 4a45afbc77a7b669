// Memory planner: puts every intermediate tensor at an offset in one arena.
//
// Algorithm:
//   1. Each buffer has a size and a lifetime [first_step, last_step]: the
//      step that writes it first and the step that reads it last.
//   2. A greedy placement takes buffers in some order and puts each at the
//      lowest 64-byte-aligned offset where it does not overlap any already
//      placed buffer whose lifetime intersects its own (found through a
//      segment tree over the steps: O(n log n) plus the overlaps found, not
//      a scan of every placed buffer).
//   3. Four orders are tried (largest first, as in TFLite Micro's
//      GreedyMemoryPlanner; longest-lived first; most bytes x steps first;
//      schedule order) and the smallest arena kept. Then a local search swaps
//      two buffers in that order, keeping swaps that do not grow the arena,
//      until it reaches the lower bound (the most bytes live at any one step)
//      or a budget of tries that shrinks with n^3. Fixed seed: the same model
//      always gets the same plan.
// The problem is NP-hard, so the result can stay above the lower bound; the
// arena, the lower bound and the no-reuse size are all reported so users can
// judge it.
//
// The planner owns nothing: it returns offsets; the engine owns the arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtml::plan {

constexpr size_t kArenaAlignment = 64;

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // 0 <= first_step <= last_step
  int last_step = 0;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request
  size_t arena_bytes = 0;       // high-water mark of the placement
  size_t lower_bound_bytes = 0; // most bytes live at any step (aligned sizes)
  size_t no_reuse_bytes = 0;    // sum of all aligned sizes
};

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

// plan_memory, held to a memory limit: throws rtml::Error ("WHAT: the arena
// and the input and output buffers need 34.4 GB ..., over the memory limit
// of 12 GB (--max-memory)") when the lower bound, or then the arena, plus
// `other_bytes` (what the session allocates besides the arena) is over
// `limit`, or when the buffers together would not fit in size_t.
MemoryPlan plan_memory_within(const std::vector<BufferRequest>& requests, uint64_t other_bytes, uint64_t limit,
                              const std::string& what);

// Returns an empty string if no two buffers with intersecting lifetimes
// overlap in memory, else a description of the first conflict (for tests).
std::string check_memory_plan(const std::vector<BufferRequest>& requests, const MemoryPlan& plan);

}  // namespace rtml::plan
