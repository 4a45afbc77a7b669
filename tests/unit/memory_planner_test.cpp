#include "plan/memory_planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace rtml::plan;

TEST(MemoryPlanner, ReusesMemoryOfDeadBuffers) {
  // A chain a -> b -> c: a and c never live together, so they share bytes.
  std::vector<BufferRequest> r = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}};
  MemoryPlan p = plan_memory(r);
  EXPECT_EQ(check_memory_plan(r, p), "");
  EXPECT_EQ(p.no_reuse_bytes, 3 * 1024u);  // 1000 rounds up to 1024
  EXPECT_EQ(p.lower_bound_bytes, 2 * 1024u);
  EXPECT_EQ(p.arena_bytes, 2 * 1024u);
}

TEST(MemoryPlanner, RandomPlansNeverOverlapAndStayWithinBounds) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferRequest> r;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      int a = static_cast<int>(rng() % 30), b = a + static_cast<int>(rng() % 8);
      r.push_back({1 + rng() % 5000, a, b});
    }
    MemoryPlan p = plan_memory(r);
    ASSERT_EQ(check_memory_plan(r, p), "") << "trial " << trial;
    EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
    EXPECT_LE(p.arena_bytes, p.no_reuse_bytes);
  }
}

// A causal TCN with grouped convolutions (zoo tcn_c8_l64_g4): per block k with
// dilation d, Conv writes 8 x (64 + 2d) floats plus a scratch of the same size,
// Slice, Relu and the residual Add write 8 x 64 floats, and the residual input
// A(k-1) lives through the whole block. Ordering by size alone placed the
// 2048-byte residuals beside the slightly larger conv outputs and fragmented
// the arena to 8704 bytes (1.21x the bound); three slots of 2560 bytes
// (7680, 1.07x) are enough, so the planner must get within 1.1x.
TEST(MemoryPlanner, ResidualChainStaysWithinTenPercentOfTheBound) {
  std::vector<BufferRequest> r;
  const int dilations[] = {1, 2, 4, 8};
  for (int k = 0; k < 4; ++k) {
    int s = 4 * k;  // the block's Conv step; Slice s+1, Relu s+2, Add s+3
    size_t conv = 8 * (64 + 2 * dilations[k]) * 4;
    r.push_back({conv, s, s + 1});      // conv output, read by Slice
    r.push_back({conv, s, s});          // conv scratch
    r.push_back({2048, s + 1, s + 2});  // slice, read by Relu
    r.push_back({2048, s + 2, s + 3});  // relu, read by Add
    if (k < 3) r.push_back({2048, s + 3, s + 7});  // residual: read by the next block's Conv and Add
  }
  MemoryPlan p = plan_memory(r);
  EXPECT_EQ(check_memory_plan(r, p), "");
  // Most bytes live: the last Conv step holds A2 (2048), its output and its scratch (2560 each).
  EXPECT_EQ(p.lower_bound_bytes, 2048u + 2560u + 2560u);
  EXPECT_LE(static_cast<double>(p.arena_bytes), 1.1 * static_cast<double>(p.lower_bound_bytes));

  MemoryPlan again = plan_memory(r);  // same model, same plan
  EXPECT_EQ(again.offsets, p.offsets);
}

// A model with 20,000 arena buffers (a long unrolled recurrence): each step
// writes one or two buffers read up to a few steps later, and every 100th
// buffer is a skip connection that lives 300 steps. Placing each buffer by
// scanning every placed one took about n^2 = 4 * 10^8 checks per order tried;
// the planner must now finish it and still return a valid plan.
TEST(MemoryPlanner, TwentyThousandBuffersGetAValidPlan) {
  std::mt19937 rng(7);
  std::vector<BufferRequest> r;
  for (int step = 0; static_cast<int>(r.size()) < 20000; ++step) {
    const int outputs = 1 + static_cast<int>(rng() % 2);
    for (int k = 0; k < outputs; ++k) {
      const bool skip = r.size() % 100 == 0;
      r.push_back({64 + rng() % 10000, step, step + (skip ? 300 : 1 + static_cast<int>(rng() % 4))});
    }
  }
  MemoryPlan p = plan_memory(r);
  ASSERT_EQ(p.offsets.size(), r.size());
  EXPECT_EQ(check_memory_plan(r, p), "");
  // The bound by hand: the aligned bytes live at each step, the most of them.
  std::vector<size_t> live(static_cast<size_t>(r.back().last_step) + 302, 0);
  size_t total = 0;
  for (const auto& b : r) {
    const size_t aligned = (b.bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    total += aligned;
    for (int s = b.first_step; s <= b.last_step; ++s) live[static_cast<size_t>(s)] += aligned;
  }
  EXPECT_EQ(p.lower_bound_bytes, *std::max_element(live.begin(), live.end()));
  EXPECT_EQ(p.no_reuse_bytes, total);
  EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
  EXPECT_LT(p.arena_bytes, total / 100);  // reuse: a few steps' buffers, not all 20,000
}
