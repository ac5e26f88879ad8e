#include "plugins/optimizers/sgd/sgd.hpp"

#include <fmt/format.h>

#include "ftengine/error.hpp"

namespace ft::plugins::sgd {

namespace {
constexpr std::string_view kName = "sgd";
}  // namespace

void Sgd::configure(const Options& options) {
  FT_CHECK(backend_ == nullptr, "sgd: configure() must come before init()");
  const double momentum = optimizers::non_negative_option(options, "momentum", 0.0);
  const bool nesterov = options.boolean("nesterov", false);
  // Nesterov with no momentum is plain SGD under another name: refused, as PyTorch does.
  if (nesterov && !(momentum > 0))
    optimizers::option_error(options, "nesterov",
                             fmt::format("Nesterov momentum needs {} > 0, found {}",
                                         optimizers::option_name(options, "momentum"), momentum));
  const double weight_decay = optimizers::non_negative_option(options, "weight_decay", 0.0);

  momentum_ = static_cast<float>(momentum);
  nesterov_ = nesterov;
  weight_decay_ = static_cast<float>(weight_decay);
  decay_norms_and_biases_ = options.boolean("decay_norms_and_biases", false);
}

void Sgd::init(const std::vector<Parameter>& parameters, Backend& backend) {
  FT_CHECK(backend_ == nullptr, "sgd: init() called twice");
  parameters_ = optimizers::check_parameters(kName, parameters, decay_norms_and_biases_);
  if (momentum_ > 0)
    for (const optimizers::TrainableParameter& p : parameters_)
      momentum_buffers_.push_back(Tensor::zeros(p.tensor.shape(), DType::f32, backend));
  steps_ = optimizers::StepCounts(kName, parameters_, backend);
  backend_ = &backend;
}

void Sgd::step(float lr) {
  FT_CHECK(backend_ != nullptr, "sgd: step() before init()");
  optimizers::check_learning_rate(kName, lr);
  // Everything is checked before the first kernel runs, so an error leaves parameters and
  // state as they were.
  std::vector<Tensor> grads;
  for (const optimizers::TrainableParameter& p : parameters_)
    grads.push_back(optimizers::gradient_of(kName, p));
  std::vector<std::int64_t> counts = steps_.read();

  // One multi-tensor call for every parameter with a gradient.
  std::vector<SgdTensor> tensors;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!grads[i].defined()) continue;
    const optimizers::TrainableParameter& p = parameters_[i];
    tensors.push_back(
        {.param = p.tensor.f32(),
         .grad = grads[i].f32(),
         .momentum_buffer = momentum_buffers_.empty() ? nullptr : momentum_buffers_[i].f32(),
         .n = p.tensor.numel(),
         .weight_decay = p.decay ? weight_decay_ : 0.0f,
         .first_step = counts[i] == 0});
    ++counts[i];
  }
  backend_->sgd_step({.tensors = tensors.data(),
                      .count = static_cast<std::int64_t>(tensors.size()),
                      .lr = lr,
                      .momentum = momentum_,
                      .nesterov = nesterov_});
  steps_.write(counts);
}

std::vector<Parameter> Sgd::state() const {
  std::vector<Parameter> out;
  for (std::size_t i = 0; i < momentum_buffers_.size(); ++i)
    out.push_back({"momentum_buffer/" + parameters_[i].name, momentum_buffers_[i]});
  for (const Parameter& count : steps_.views()) out.push_back(count);
  return out;
}

}  // namespace ft::plugins::sgd
