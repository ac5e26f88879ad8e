// Finite-difference gradient checks for ops: the SDK's conformance check
// (ftengine/conformance.hpp), the one plugin authors run, as a GoogleTest assertion.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "ftengine/conformance.hpp"
#include "support/random.hpp"

namespace ft::testing {

using conformance::random_tensor;
using GradcheckOptions = conformance::GradientCheckOptions;

// inputs: tensors whose gradients are checked (they get requires_grad); fn builds the op.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      std::vector<Tensor> inputs, const GradcheckOptions& options = {}) {
  const conformance::GradientReport report =
      conformance::check_gradients(fn, std::move(inputs), options);
  EXPECT_GT(report.checked, 0u);
  EXPECT_TRUE(report.ok()) << report.summary();
}

}  // namespace ft::testing
