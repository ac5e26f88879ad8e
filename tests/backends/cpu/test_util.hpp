// Shared helpers of the CPU backend tests: one backend, seeded random data, comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.hpp"
#include "support/random.hpp"

namespace ft::backends::cpu::test {

// One backend for the whole binary; tests that change the thread count restore it.
inline CpuBackend& backend() {
  static CpuBackend instance;
  return instance;
}

using ft::testing::random_values;

// max_i |actual[i] - expected[i]| / (atol + rtol |expected[i]|) <= 1, with the worst index in
// the failure message.
template <typename Expected>
::testing::AssertionResult all_close(const std::vector<float>& actual,
                                     const std::vector<Expected>& expected, double rtol,
                                     double atol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  }
  double worst = 0.0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double e = static_cast<double>(expected[i]);
    const double err = std::abs(static_cast<double>(actual[i]) - e) / (atol + rtol * std::abs(e));
    if (!(err <= worst) || std::isnan(err)) {
      worst = std::isnan(err) ? INFINITY : err;
      worst_i = i;
    }
  }
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "element " << worst_i << ": got " << actual[worst_i] << ", expected "
         << static_cast<double>(expected[worst_i]) << " (error " << worst << "x the tolerance)";
}

// Restores the backend's thread count at the end of a scope.
class ThreadsGuard {
 public:
  ThreadsGuard() : saved_(backend().threads()) {}
  ~ThreadsGuard() { backend().set_threads(saved_); }
  ThreadsGuard(const ThreadsGuard&) = delete;
  ThreadsGuard& operator=(const ThreadsGuard&) = delete;

 private:
  int saved_;
};

}  // namespace ft::backends::cpu::test
