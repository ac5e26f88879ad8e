// Seeded random test data, the same on every run and machine.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace ft::testing {

inline std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace ft::testing
