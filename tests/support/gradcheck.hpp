// Finite-difference gradient checks for ops.
//
// For an op y = f(x_1, ..., x_n) and a fixed random cotangent r, the scalar
// L = sum(y * r) has dL/dx_i = the op's vector-Jacobian product with r. We compare the
// gradients autograd returns against central differences of L (computed in double on
// the host), element by element.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "ftengine/autograd.hpp"
#include "ftengine/tensor.hpp"
#include "support/random.hpp"

namespace ft::testing {

inline Tensor random_tensor(const Shape& shape, Backend& backend, std::uint32_t seed,
                            float lo = -1.0f, float hi = 1.0f) {
  return Tensor::from_vector(random_values(shape_numel(shape), seed, lo, hi), shape, backend);
}

inline double weighted_sum(const Tensor& y, const std::vector<float>& r) {
  const std::vector<float> v = y.to_vector();
  double total = 0;
  for (std::size_t i = 0; i < v.size(); ++i) total += static_cast<double>(v[i]) * r[i];
  return total;
}

struct GradcheckOptions {
  float eps = 1e-2f;
  double atol = 1e-3;
  double rtol = 5e-3;
  // Check at most this many elements per input (spread over the tensor).
  std::size_t max_checks = 64;
};

// inputs: tensors whose gradients are checked (they get requires_grad); fn builds the op.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                      std::vector<Tensor> inputs, const GradcheckOptions& options = {}) {
  for (Tensor& t : inputs) {
    t.zero_grad();
    t.set_requires_grad(true);
  }
  Tensor y = fn(inputs);
  const std::vector<float> r = random_values(y.numel(), 1234);
  y.backward(Tensor::from_vector(r, y.shape(), y.backend()));

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    ASSERT_TRUE(x.grad().defined()) << "input " << i << " got no gradient";
    const std::vector<float> analytic = x.grad().to_vector();
    std::vector<float> values = x.to_vector();
    const std::size_t n = values.size();
    const std::size_t step = std::max<std::size_t>(1, n / options.max_checks);
    for (std::size_t e = 0; e < n; e += step) {
      const float original = values[e];
      auto loss_at = [&](float value) {
        values[e] = value;
        x.copy_from_host(values.data());
        NoGrad no_grad;
        return weighted_sum(fn(inputs), r);
      };
      const double plus = loss_at(original + options.eps);
      const double minus = loss_at(original - options.eps);
      values[e] = original;
      x.copy_from_host(values.data());
      const double numeric = (plus - minus) / (2.0 * options.eps);
      EXPECT_NEAR(analytic[e], numeric, options.atol + options.rtol * std::abs(numeric))
          << "input " << i << " element " << e;
    }
  }
}

}  // namespace ft::testing
