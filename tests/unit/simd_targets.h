// Runs a check once for every SIMD kernel the runtime dispatch reaches: each
// Highway target this CPU supports is forced in turn, and the kernel it lands
// on (that target, or a lower one for targets a kernel file leaves out, e.g.
// SVE/SVE2 that qemu-aarch64 reports go to NEON) is checked once.
//
// armhf: Debian's libhwy is built for the armhf baseline (no NEON), so it
// reports no target this code was compiled for; the dispatch then takes the
// static target (NEON, -mfpu=neon), and the check runs once on it.
#pragma once

#include <gtest/gtest.h>
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <set>
#include <string>
#include <vector>

namespace rtml::testing {

// `kernel_target()` names the target the kernel under test dispatches to
// (e.g. kernels::fast_gemm_target). Returns the kernels checked.
template <class Name, class Check>
std::set<std::string> check_every_dispatched_target(Name kernel_target, Check check) {
  std::set<std::string> checked;
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  if (targets.empty()) {
    const std::string ran = kernel_target();
    SCOPED_TRACE("static target " + ran);
    EXPECT_EQ(ran, hwy::TargetName(HWY_STATIC_TARGET));
    check();
    checked.insert(ran);
    return checked;
  }
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    const std::string ran = kernel_target();
    if (!checked.insert(ran).second) continue;
    SCOPED_TRACE(hwy::TargetName(target) + std::string(" -> ") + ran);
    check();
    if (::testing::Test::HasFailure()) break;  // one target's failures, not every target's
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the CPU's own
  EXPECT_FALSE(checked.empty());
  return checked;
}

}  // namespace rtml::testing
