#include "engine/train/gradients.hpp"

namespace ft::engine {

void measure_gradients(const FlatParameters& flat, double* squared_norm) {
  ReduceArgs args;
  args.x = flat.grads().f32();
  args.n = flat.numel();
  args.op = ReduceOp::sum_squares;
  args.out64 = squared_norm;
  flat.grads().backend().reduce(args);
}

double clip_coefficient(double max_norm, double norm) {
  if (max_norm <= 0) return 1.0;
  const double coefficient = max_norm / (norm + 1e-6);
  return coefficient < 1.0 ? coefficient : 1.0;
}

void clip_gradients(const FlatParameters& flat, double coefficient) {
  if (coefficient == 1.0 || flat.numel() == 0) return;
  AxpbyArgs args;
  args.x = flat.grads().f32();
  args.y = flat.grads().f32();
  args.n = flat.numel();
  args.alpha = static_cast<float>(coefficient);
  args.beta = 0.0f;
  flat.grads().backend().axpby(args);
}

const Parameter* first_nonfinite_gradient(const std::vector<Parameter>& parameters,
                                          Backend& backend) {
  for (const Parameter& p : parameters) {
    const Tensor grad = p.tensor.grad();
    if (grad.defined() && backend.count_nonfinite(grad.f32(), grad.numel()) > 0) return &p;
  }
  return nullptr;
}

}  // namespace ft::engine
