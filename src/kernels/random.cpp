#include "kernels/random.h"

#include <cmath>
#include <cstring>

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
  std::memcpy(&bits, &seed, sizeof bits);
  return bits;
}

void random_init(RandomParams& p, uint64_t initstate) {
  pcg32_seed(p.initial, initstate, kRandomStream);
  random_reset(p);
}

void random_reset(RandomParams& p) {
  p.gen = p.initial;
  p.has_spare = false;
  p.spare = 0;
}

namespace {

double next_value(RandomParams& p) {
  if (p.dist == RandomDist::Uniform) return p.a + (p.b - p.a) * pcg32_uniform(p.gen);
  double z;
  if (p.has_spare) {
    z = p.spare;
    p.has_spare = false;
  } else {
    const double u1 = pcg32_uniform(p.gen), u2 = pcg32_uniform(p.gen);
    const double r = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1-u1 in (0, 1]
    const double theta = 6.283185307179586476925 * u2;
    z = r * std::cos(theta);
    p.spare = r * std::sin(theta);
    p.has_spare = true;
  }
  return p.a + p.b * z;
}

}  // namespace

void random_fill(RandomParams& p, void* out) {
  if (p.dtype == DType::F64) {
    double* o = static_cast<double*>(out);
    for (int64_t i = 0; i < p.count; ++i) o[i] = next_value(p);
  } else {
    float* o = static_cast<float*>(out);
    const float high = static_cast<float>(p.b), low = static_cast<float>(p.a);
    const bool uniform = p.dist == RandomDist::Uniform && high > low;
    for (int64_t i = 0; i < p.count; ++i) {
      float v = static_cast<float>(next_value(p));
      if (uniform && v >= high) v = std::nextafter(high, low);  // keep [low, high) after rounding
      o[i] = v;
    }
  }
}

}  // namespace rtml::kernels
