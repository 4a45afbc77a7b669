// The inner loops of `rtml limits` (bench/limits.h): an FMA throughput loop
// and a streaming read, compiled once per Highway target with runtime
// dispatch (like kernels/fast_gemm). Kept apart from the timing code so the
// unit tests can check their arithmetic against closed forms.
#pragma once

#include <cstddef>

namespace rtml::bench {

// Independent FMA chains: enough vectors in flight to cover the FMA latency
// times the number of FMA pipes (5 cycles x 2 pipes on recent x86-64 cores;
// ARM cores need fewer), while fitting 16 vector registers with the two
// constants.
inline constexpr size_t kFmaChains = 12;

// The Highway target the limits kernels dispatch to on this CPU ("AVX2",
// "AVX3", "NEON"...), and its float32 lanes per vector.
const char* limits_target();
size_t limits_lanes();
// Whether MulAdd is one fused multiply-add instruction on that target
// (false: SSSE3/SSE4, and ARMv7 NEON without VFPv4, where Highway emulates it
// as a multiply then an add).
bool limits_fma_fused();

// acc holds kFmaChains * limits_lanes() floats. `iters` times, every lane
// becomes acc * mul + add (Highway MulAdd: one rounding when fused). Counts
// 2 flops per lane per step: 2 * iters * kFmaChains * limits_lanes() flops.
void fma_chains_f32(float* acc, size_t iters, float mul, float add);

// The sum of p[0..n), read `passes` times over (passes x the sum): per pass,
// vector loads added into 8 independent accumulators (so the loop is bound
// by loads, not by the add latency), then the whole vectors left, then the
// last n % lanes values one by one. The order of the additions differs from
// a plain loop's, so the result equals the exact sum only when every partial
// sum is exact (small integers, as in the tests).
float read_sum_f32(const float* p, size_t n, size_t passes = 1);

}  // namespace rtml::bench
