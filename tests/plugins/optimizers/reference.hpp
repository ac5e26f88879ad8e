// torch.optim.AdamW and torch.optim.SGD as their documentation writes them, in double, one
// parameter at a time. The plugins' f32 kernels must agree to rounding.
//
// AdamW (amsgrad and maximize off), at the parameter's step t:
//   θ ← θ − γλθ;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
//   θ ← θ − γ (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
// SGD (dampening 0):
//   g ← g + λθ;  if μ ≠ 0: b ← (first update ? g : μ b + g);  g ← nesterov ? g + μ b : b
//   θ ← θ − γ g
// PyTorch keeps per-parameter state created on the parameter's first gradient, so t counts
// the parameter's own updates and "first update" is its own first.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace ft::testing {

struct ReferenceParameter {
  std::vector<double> param;
  std::vector<double> m;  // AdamW exp_avg, or SGD momentum_buffer
  std::vector<double> v;  // AdamW exp_avg_sq
  std::int64_t step = 0;
  bool decay = true;  // whether weight decay applies to it

  explicit ReferenceParameter(const std::vector<float>& values, bool decay)
      : param(values.begin(), values.end()),
        m(values.size(), 0.0),
        v(values.size(), 0.0),
        decay(decay) {}
};

struct AdamWSettings {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

inline void adamw_reference(ReferenceParameter& p, const std::vector<float>& grad, double lr,
                            const AdamWSettings& s) {
  const std::int64_t t = ++p.step;
  const double wd = p.decay ? s.weight_decay : 0.0;
  for (std::size_t i = 0; i < p.param.size(); ++i) {
    const double g = grad[i];
    double theta = p.param[i];
    theta -= lr * wd * theta;
    p.m[i] = s.beta1 * p.m[i] + (1 - s.beta1) * g;
    p.v[i] = s.beta2 * p.v[i] + (1 - s.beta2) * g * g;
    const double m_hat = p.m[i] / (1 - std::pow(s.beta1, static_cast<double>(t)));
    const double v_hat = p.v[i] / (1 - std::pow(s.beta2, static_cast<double>(t)));
    p.param[i] = theta - lr * m_hat / (std::sqrt(v_hat) + s.eps);
  }
}

struct SgdSettings {
  double momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

inline void sgd_reference(ReferenceParameter& p, const std::vector<float>& grad, double lr,
                          const SgdSettings& s) {
  const bool first = p.step++ == 0;
  const double wd = p.decay ? s.weight_decay : 0.0;
  for (std::size_t i = 0; i < p.param.size(); ++i) {
    double g = grad[i] + wd * p.param[i];
    if (s.momentum != 0) {
      p.m[i] = first ? g : s.momentum * p.m[i] + g;
      g = s.nesterov ? g + s.momentum * p.m[i] : p.m[i];
    }
    p.param[i] -= lr * g;
  }
}

}  // namespace ft::testing
