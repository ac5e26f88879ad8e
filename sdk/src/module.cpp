#include "ftengine/module.hpp"

#include "ftengine/ops.hpp"

namespace ft {

Linear::Linear(std::string name, Tensor weight, Tensor bias)
    : name_(std::move(name)), weight_(std::move(weight)), bias_(std::move(bias)) {}

Tensor Linear::operator()(const Tensor& x) const {
  return hook_ ? hook_->forward(*this, x) : base_forward(x);
}

Tensor Linear::base_forward(const Tensor& x) const {
  return weight_4bit_ ? ops::linear_4bit(x, *weight_4bit_, bias_) : ops::linear(x, weight_, bias_);
}

void Linear::set_weight_4bit(ops::Weight4bit weight) {
  weight_.release_data();
  weight_4bit_ = std::move(weight);
}

Tensor Linear::dense_weight() const {
  return weight_4bit_ ? ops::dequantize_4bit(*weight_4bit_) : weight_;
}

std::int64_t Linear::in_features() const { return weight_.dim(1); }
std::int64_t Linear::out_features() const { return weight_.dim(0); }

}  // namespace ft
