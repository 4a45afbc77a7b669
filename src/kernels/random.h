/* Seeded, portable random numbers for RandomNormal(Like) / RandomUniform(Like):
 * C/C++ header of the kernel library (kernels/rtml_kernel.h).
 *
 * Generator: PCG32 (O'Neill, "PCG: A Family of Simple Fast Space-Efficient
 * Statistically Good Algorithms for Random Number Generation", 2014): 64-bit
 * LCG state, XSH-RR output, 32 bits per draw. Seeding follows the reference
 * pcg32_srandom_r(initstate, initseq) with the fixed stream
 * initseq = RTML_RANDOM_STREAM. Everything is integer arithmetic, so the
 * stream is identical on every platform and C library.
 *
 * Derived values (no std::*_distribution, whose output differs between
 * standard libraries):
 *   uniform double u in [0,1): 53 bits from two draws, (a*2^26 + b) * 2^-53
 *                              with a = draw>>5 (27 bits), b = draw>>6 (26 bits)
 *   uniform float:             low + (high-low)*u, rounded to the dtype
 *   normal:                    Box-Muller on two uniforms u1, u2:
 *                              r = sqrt(-2 ln(1-u1)), z0 = r cos(2 pi u2),
 *                              z1 = r sin(2 pi u2); z0 is used first, z1 is
 *                              kept for the next draw; value = mean + scale*z.
 * (ln/sqrt/cos come from the C library, so normal values can differ in the
 * last ulp between libms; the underlying sequence does not.)
 *
 * Seeds: an ONNX `seed` attribute (a float) seeds with initstate = the float's
 * IEEE-754 bit pattern (uint32, zero-extended). Without a seed attribute the
 * fixed default initstate RTML_RANDOM_DEFAULT_SEED is used, so runs are
 * reproducible.
 *
 * The params are read-only; the generator lives in the step's state operand
 * (rtml_random_state, ops::Step::state_bytes), which persists across runs:
 * every run continues the sequence, and rtml_random_reset__ref (the entries'
 * reset function, called when a session is created and on Session::reset)
 * returns it to the seeded start.
 *
 * Entry points (operands in brackets; `in` only for the *Like ops):
 *   rtml_<t>_random_normal__ref   [in?, Y, state]   t = f32 f64
 *   rtml_<t>_random_uniform__ref  [in?, Y, state]
 *   rtml_random_reset__ref(params, state)           their reset */
#ifndef RTML_KERNELS_RANDOM_H
#define RTML_KERNELS_RANDOM_H

#include "kernels/rtml_kernel.h"

#define RTML_RANDOM_DEFAULT_SEED 0x853c49e6748fea9bULL
#define RTML_RANDOM_STREAM 0xda3e39cb94b95bdbULL

typedef struct rtml_pcg32 {
  uint64_t state, inc;
} rtml_pcg32;

/* a, b: uniform low and high, or normal mean and scale. The 64-bit initstate
 * is split in two halves (params hold no unsigned 64-bit fields). */
typedef struct rtml_random_params {
  int64_t count;
  double a, b;
  uint32_t seed_lo, seed_hi;
  int32_t out_slot, state_slot;
} rtml_random_params;

/* The step's state operand. */
typedef struct rtml_random_state {
  rtml_pcg32 gen;
  double spare; /* the second Box-Muller value, when has_spare */
  int32_t has_spare;
} rtml_random_state;

RTML_KERNEL(rtml_f32_random_normal__ref);
RTML_KERNEL(rtml_f64_random_normal__ref);
RTML_KERNEL(rtml_f32_random_uniform__ref);
RTML_KERNEL(rtml_f64_random_uniform__ref);
RTML_EXTERN_C void rtml_random_reset__ref(const void* params, void* state);

#ifdef __cplusplus
namespace rtml::kernels {

constexpr uint64_t kRandomDefaultSeed = RTML_RANDOM_DEFAULT_SEED;
constexpr uint64_t kRandomStream = RTML_RANDOM_STREAM;

using Pcg32 = rtml_pcg32;
void pcg32_seed(Pcg32& g, uint64_t initstate, uint64_t initseq);
uint32_t pcg32_next(Pcg32& g);
double pcg32_uniform(Pcg32& g);  // [0, 1), 53 bits

// Maps an ONNX float seed to an initstate (its bit pattern).
uint64_t random_seed_from_float(float seed);

}  // namespace rtml::kernels
#endif

#endif
