// Checks a plugin author runs in their own tests, the same ones ftengine's suite runs on its
// ops, backends and adapters. No test framework is assumed: each check returns a report.
//
//   auto report = ft::conformance::check_gradients(
//       [&](const std::vector<ft::Tensor>& in) { return my_adapter_forward(in[0], in[1]); },
//       {ft::conformance::random_tensor({3, 8}, backend, 1),
//        ft::conformance::random_tensor({4, 8}, backend, 2)});
//   EXPECT_TRUE(report.ok()) << report.summary();        // GoogleTest, or any other
//
// check_gradients: for y = f(x_1, ..., x_n) and a fixed random cotangent r, the scalar
// L = sum(y * r) has dL/dx_i = the vector-Jacobian product autograd computes. Each input's
// gradient is compared, element by element, with central differences of L (in double on
// the host). Run it in f32 on the CPU backend: finite differences need the precision.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/tensor.hpp"

namespace ft::conformance {

// n values uniform in [lo, hi), the same for a seed on every machine (std::mt19937).
std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                 float hi = 1.0f);
// An f32 tensor of random_values on `backend`.
Tensor random_tensor(const Shape& shape, Backend& backend, std::uint32_t seed, float lo = -1.0f,
                     float hi = 1.0f);

struct GradientCheckOptions {
  float eps = 1e-2f;   // finite-difference step
  double atol = 1e-3;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 5e-3;
  std::size_t max_checks = 64;  // elements checked per input, spread over the tensor
};

struct GradientMismatch {
  std::size_t input = 0, element = 0;
  double analytic = 0, numeric = 0;
};

struct GradientReport {
  std::size_t checked = 0;               // elements compared, over all inputs
  std::vector<std::size_t> no_gradient;  // inputs autograd gave no gradient
  std::vector<GradientMismatch> mismatches;
  bool ok() const { return no_gradient.empty() && mismatches.empty(); }
  // One line per problem (the first 20), or "ok: N elements".
  std::string summary() const;
};

// `inputs` get requires_grad and are restored to their values afterwards.
GradientReport check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                               std::vector<Tensor> inputs,
                               const GradientCheckOptions& options = {});

// max |a - b|; shapes must match (ft::Error otherwise).
double max_abs_diff(const Tensor& a, const Tensor& b);

// A backend plugin to run checks on, loaded as ftengine loads it (ABI checked): a name
// ("cpu": <libdir>/ftengine/plugins/libftengine-backend-<name>.so beside this SDK library)
// or the path of a plugin file. ft::Error saying why when it cannot be loaded. The library
// stays loaded while the LoadedBackend lives; tensors made on it must not outlive it.
//
//   ft::conformance::LoadedBackend cpu = ft::conformance::load_backend("cpu");
//   ft::Tensor x = ft::conformance::random_tensor({4, 8}, *cpu, 1);
class LoadedBackend {
 public:
  LoadedBackend(LoadedBackend&&) noexcept;
  LoadedBackend& operator=(LoadedBackend&&) noexcept;
  ~LoadedBackend();
  Backend& operator*() const;
  Backend* operator->() const;

  struct Impl;

 private:
  explicit LoadedBackend(std::unique_ptr<Impl> impl);
  friend LoadedBackend load_backend(const std::string& name_or_path);
  std::unique_ptr<Impl> impl_;
};
LoadedBackend load_backend(const std::string& name_or_path);

}  // namespace ft::conformance
