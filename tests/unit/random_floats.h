// Uniform random floats in [-1, 1) for the kernel tests.
#pragma once

#include <random>
#include <vector>

namespace rtml {

inline std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace rtml
