#include "ftengine/module.hpp"

#include "ftengine/ops.hpp"

namespace ft {

Linear::Linear(std::string name, Tensor weight, Tensor bias)
    : name_(std::move(name)), weight_(std::move(weight)), bias_(std::move(bias)) {}

Tensor Linear::operator()(const Tensor& x) const {
  return hook_ ? hook_->forward(*this, x) : base_forward(x);
}

Tensor Linear::base_forward(const Tensor& x) const { return ops::linear(x, weight_, bias_); }

std::int64_t Linear::in_features() const { return weight_.dim(1); }
std::int64_t Linear::out_features() const { return weight_.dim(0); }

}  // namespace ft
