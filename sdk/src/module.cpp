#include "ftengine/module.hpp"

#include "ftengine/ops.hpp"

namespace ft {

struct Linear::State {
  std::string name;
  Tensor weight;
  Tensor bias;
  std::shared_ptr<LinearHook> hook;
  std::optional<ops::Weight4bit> weight_4bit;
};

Linear::Linear() : state_(std::make_unique<State>()) {}
Linear::Linear(std::string name, Tensor weight, Tensor bias)
    : state_(std::make_unique<State>(
          State{std::move(name), std::move(weight), std::move(bias), nullptr, std::nullopt})) {}
Linear::Linear(const Linear& other) : state_(std::make_unique<State>(*other.state_)) {}
Linear& Linear::operator=(const Linear& other) {
  if (this != &other) state_ = std::make_unique<State>(*other.state_);
  return *this;
}
// A moved-from Linear is empty, not invalid: it gets a fresh state.
Linear::Linear(Linear&& other) noexcept : state_(std::move(other.state_)) {
  other.state_ = std::make_unique<State>();
}
Linear& Linear::operator=(Linear&& other) noexcept {
  std::swap(state_, other.state_);
  return *this;
}
Linear::~Linear() = default;

Tensor Linear::operator()(const Tensor& x) const {
  return state_->hook ? state_->hook->forward(*this, x) : base_forward(x);
}

Tensor Linear::base_forward(const Tensor& x) const {
  const State& s = *state_;
  return s.weight_4bit ? ops::linear_4bit(x, *s.weight_4bit, s.bias)
                       : ops::linear(x, s.weight, s.bias);
}

const std::string& Linear::name() const { return state_->name; }
const Tensor& Linear::weight() const { return state_->weight; }
const Tensor& Linear::bias() const { return state_->bias; }

void Linear::set_weight(Tensor weight) {
  state_->weight = std::move(weight);
  state_->weight_4bit.reset();
}

void Linear::set_weight_4bit(ops::Weight4bit weight) {
  state_->weight.release_data();
  state_->weight_4bit = std::move(weight);
}

const std::optional<ops::Weight4bit>& Linear::weight_4bit() const { return state_->weight_4bit; }

Tensor Linear::dense_weight() const {
  return state_->weight_4bit ? ops::dequantize_4bit(*state_->weight_4bit) : state_->weight;
}

std::int64_t Linear::in_features() const { return state_->weight.dim(1); }
std::int64_t Linear::out_features() const { return state_->weight.dim(0); }
void Linear::set_hook(std::shared_ptr<LinearHook> hook) { state_->hook = std::move(hook); }
const std::shared_ptr<LinearHook>& Linear::hook() const { return state_->hook; }

}  // namespace ft
