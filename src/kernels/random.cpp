// Random kernels (kernels/random.h). Portable: freestanding C++17.
#include "kernels/random.h"

#include <string.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

uint32_t pcg32_next(Pcg32& g) {
  const uint64_t old = g.state;
  g.state = old * 6364136223846793005ULL + g.inc;
  const uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
  const uint32_t rot = static_cast<uint32_t>(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

void pcg32_seed(Pcg32& g, uint64_t initstate, uint64_t initseq) {
  g.state = 0;
  g.inc = (initseq << 1u) | 1u;
  pcg32_next(g);
  g.state += initstate;
  pcg32_next(g);
}

double pcg32_uniform(Pcg32& g) {
  const uint64_t a = pcg32_next(g) >> 5, b = pcg32_next(g) >> 6;
  return static_cast<double>(a * 67108864ULL + b) * (1.0 / 9007199254740992.0);
}

uint64_t random_seed_from_float(float seed) {
  uint32_t bits = 0;
  memcpy(&bits, &seed, sizeof bits);
  return bits;
}

namespace {

double next_normal(const rtml_random_params& p, rtml_random_state& s) {
  double z;
  if (s.has_spare) {
    z = s.spare;
    s.has_spare = 0;
  } else {
    const double u1 = pcg32_uniform(s.gen), u2 = pcg32_uniform(s.gen);
    const double r = km::sqrt(-2.0 * km::log(1.0 - u1));  // 1-u1 in (0, 1]
    const double theta = 6.283185307179586476925 * u2;
    z = r * km::cos(theta);
    s.spare = r * km::sin(theta);
    s.has_spare = 1;
  }
  return p.a + p.b * z;
}

template <class T>
int random_normal(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_random_params*>(params);
  auto& s = *static_cast<rtml_random_state*>(operands[p.state_slot]);
  T* y = static_cast<T*>(operands[p.out_slot]);
  for (int64_t i = 0; i < p.count; ++i) y[i] = static_cast<T>(next_normal(p, s));
  return 0;
}

template <class T>
int random_uniform(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_random_params*>(params);
  auto& s = *static_cast<rtml_random_state*>(operands[p.state_slot]);
  T* y = static_cast<T*>(operands[p.out_slot]);
  const T high = static_cast<T>(p.b), low = static_cast<T>(p.a);
  // Below high after rounding to T: [low, high) stays half-open.
  const T below_high = sizeof(T) == 4 ? static_cast<T>(nextafterf(static_cast<float>(high), static_cast<float>(low)))
                                      : high;
  for (int64_t i = 0; i < p.count; ++i) {
    T v = static_cast<T>(p.a + (p.b - p.a) * pcg32_uniform(s.gen));
    if (sizeof(T) == 4 && high > low && v >= high) v = below_high;
    y[i] = v;
  }
  return 0;
}

}  // namespace
}  // namespace rtml::kernels

RTML_EXTERN_C void rtml_random_reset__ref(const void* params, void* state) {
  const auto& p = *static_cast<const rtml_random_params*>(params);
  auto& s = *static_cast<rtml_random_state*>(state);
  rtml::kernels::pcg32_seed(s.gen, static_cast<uint64_t>(p.seed_hi) << 32 | p.seed_lo, RTML_RANDOM_STREAM);
  s.spare = 0;
  s.has_spare = 0;
}

RTML_KERNEL(rtml_f32_random_normal__ref) { return rtml::kernels::random_normal<float>(params, operands); }
RTML_KERNEL(rtml_f64_random_normal__ref) { return rtml::kernels::random_normal<double>(params, operands); }
RTML_KERNEL(rtml_f32_random_uniform__ref) { return rtml::kernels::random_uniform<float>(params, operands); }
RTML_KERNEL(rtml_f64_random_uniform__ref) { return rtml::kernels::random_uniform<double>(params, operands); }
