#include "engine/train/gradients.hpp"

#include <cmath>

#include "ftengine/autograd.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

double global_grad_norm(const std::vector<Parameter>& parameters, Backend& backend) {
  double sum = 0.0;
  for (const Parameter& p : parameters) {
    const Tensor grad = p.tensor.grad();
    if (grad.defined()) sum += backend.sum_squares(grad.f32(), grad.numel());
  }
  return std::sqrt(sum);
}

const Parameter* first_nonfinite_gradient(const std::vector<Parameter>& parameters,
                                          Backend& backend) {
  for (const Parameter& p : parameters) {
    const Tensor grad = p.tensor.grad();
    if (grad.defined() && backend.count_nonfinite(grad.f32(), grad.numel()) > 0) return &p;
  }
  return nullptr;
}

void clip_gradients(const std::vector<Parameter>& parameters, double max_norm, double norm) {
  if (max_norm <= 0) return;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient >= 1.0) return;
  NoGrad no_grad;
  for (const Parameter& p : parameters) {
    const Tensor grad = p.tensor.grad();
    if (grad.defined()) p.tensor.set_grad(ops::scale(grad, static_cast<float>(coefficient)));
  }
}

}  // namespace ft::engine
