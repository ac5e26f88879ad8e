#include "ftengine/conformance.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"

namespace ft::conformance {

std::vector<float> random_values(std::size_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(const Shape& shape, Backend& backend, std::uint32_t seed, float lo, float hi) {
  return Tensor::from_vector(
      random_values(static_cast<std::size_t>(shape_numel(shape)), seed, lo, hi), shape, backend);
}

std::string GradientReport::summary() const {
  if (ok()) return fmt::format("ok: {} elements", checked);
  std::string out;
  for (const std::size_t i : no_gradient) out += fmt::format("input {}: no gradient\n", i);
  const std::size_t shown = std::min<std::size_t>(mismatches.size(), 20);
  for (std::size_t k = 0; k < shown; ++k) {
    const GradientMismatch& m = mismatches[k];
    out += fmt::format("input {} element {}: autograd {:.6g}, finite differences {:.6g}\n", m.input,
                       m.element, m.analytic, m.numeric);
  }
  if (mismatches.size() > shown)
    out += fmt::format("... {} more mismatches\n", mismatches.size() - shown);
  return out + fmt::format("{} of {} elements differ", mismatches.size(), checked);
}

namespace {

double weighted_sum(const Tensor& y, const std::vector<float>& r) {
  const std::vector<float> v = y.to_vector();
  double total = 0;
  for (std::size_t i = 0; i < v.size(); ++i) total += static_cast<double>(v[i]) * r[i];
  return total;
}

}  // namespace

GradientReport check_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                               std::vector<Tensor> inputs, const GradientCheckOptions& options) {
  GradientReport report;
  for (Tensor& t : inputs) {
    t.zero_grad();
    t.set_requires_grad(true);
  }
  Tensor y = fn(inputs);
  const std::vector<float> r = random_values(static_cast<std::size_t>(y.numel()), 1234);
  y.backward(Tensor::from_vector(r, y.shape(), y.backend()));

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    if (!x.grad().defined()) {
      report.no_gradient.push_back(i);
      continue;
    }
    const std::vector<float> analytic = x.grad().to_vector();
    std::vector<float> values = x.to_vector();
    const std::size_t n = values.size();
    const std::size_t step =
        std::max<std::size_t>(1, n / std::max<std::size_t>(1, options.max_checks));
    for (std::size_t e = 0; e < n; e += step) {
      const float original = values[e];
      const auto loss_at = [&](float value) {
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
      ++report.checked;
      if (!(std::abs(analytic[e] - numeric) <= options.atol + options.rtol * std::abs(numeric)))
        report.mismatches.push_back({i, e, analytic[e], numeric});
    }
  }
  return report;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw Error(fmt::format("max_abs_diff: shapes {} and {} differ", shape_str(a.shape()),
                            shape_str(b.shape())));
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = std::abs(static_cast<double>(x[i]) - y[i]);
    if (!(d <= worst)) worst = d;  // NaN wins
  }
  return worst;
}

}  // namespace ft::conformance
