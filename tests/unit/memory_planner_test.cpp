#include "plan/memory_planner.h"

#include <gtest/gtest.h>

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
