// Seeded, portable random numbers for RandomNormal(Like) / RandomUniform(Like).
//
// Generator: PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient
// Statistically Good Algorithms for Random Number Generation", 2014): 64-bit
// LCG state, XSH-RR output, 32 bits per draw. Seeding follows the reference
// pcg32_srandom_r(initstate, initseq) with the fixed stream
// initseq = kRandomStream. Everything is integer arithmetic, so the stream is
// identical on every platform and standard library.
//
// Derived values (no std::*_distribution, whose output differs between
// standard libraries):
//   uniform double u in [0,1): 53 bits from two draws, (a*2^26 + b) * 2^-53
//                              with a = draw>>5 (27 bits), b = draw>>6 (26 bits)
//   uniform float:             low + (high-low)*u, rounded to the dtype
//   normal:                    Box-Muller on two uniforms u1, u2:
//                              r = sqrt(-2 ln(1-u1)), z0 = r cos(2 pi u2),
//                              z1 = r sin(2 pi u2); z0 is used first, z1 is
//                              kept for the next draw; value = mean + scale*z.
// (ln/sqrt/cos come from the C library, so normal values can differ in the
// last ulp between libms; the underlying sequence does not.)
//
// Seeds: an ONNX `seed` attribute (a float) seeds with initstate = the float's
// IEEE-754 bit pattern (uint32, zero-extended). Without a seed attribute the
// fixed default initstate kRandomDefaultSeed is used, so runs are reproducible.
//
// State lives in RandomParams: each random_fill continues the sequence, and
// random_reset returns to the seeded start.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace rtml::kernels {

constexpr uint64_t kRandomDefaultSeed = 0x853c49e6748fea9bULL;
constexpr uint64_t kRandomStream = 0xda3e39cb94b95bdbULL;

struct Pcg32 {
  uint64_t state = 0;
  uint64_t inc = 1;
};

void pcg32_seed(Pcg32& g, uint64_t initstate, uint64_t initseq);
uint32_t pcg32_next(Pcg32& g);
double pcg32_uniform(Pcg32& g);  // [0, 1), 53 bits

// Maps an ONNX float seed to an initstate (its bit pattern).
uint64_t random_seed_from_float(float seed);

enum class RandomDist : int32_t { Uniform, Normal };

struct RandomParams {
  RandomDist dist = RandomDist::Uniform;
  DType dtype = DType::F32;  // F32 or F64
  int64_t count = 0;
  double a = 0;  // uniform: low;  normal: mean
  double b = 1;  // uniform: high; normal: scale
  Pcg32 initial;  // seeded start
  // Running state.
  Pcg32 gen;
  bool has_spare = false;
  double spare = 0;
};

void random_init(RandomParams& p, uint64_t initstate);  // seeds and resets
void random_reset(RandomParams& p);
void random_fill(RandomParams& p, void* out);

}  // namespace rtml::kernels
