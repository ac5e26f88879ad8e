#include "plugins/optimizers/adamw/adamw.hpp"

#include <fmt/format.h>

#include <cmath>

#include "ftengine/error.hpp"

namespace ft::plugins::adamw {

namespace {
constexpr std::string_view kName = "adamw";
}  // namespace

void AdamW::configure(const Options& options) {
  FT_CHECK(backend_ == nullptr, "adamw: configure() must come before init()");
  const std::vector<double> betas = options.numbers("betas", {0.9, 0.999});
  if (betas.size() != 2)
    optimizers::option_error(options, "betas",
                             fmt::format("expected 2 numbers, found {}", betas.size()));
  for (const double beta : betas)
    if (!(beta >= 0 && beta < 1))  // also refuses NaN
      optimizers::option_error(options, "betas",
                               fmt::format("each beta must be in [0, 1), found {}", beta));
  const double eps = options.number("eps", 1e-8);
  if (!(eps > 0) || !std::isfinite(eps))
    optimizers::option_error(options, "eps", fmt::format("must be a number > 0, found {}", eps));
  const double weight_decay = optimizers::non_negative_option(options, "weight_decay", 0.0);

  beta1_ = static_cast<float>(betas[0]);
  beta2_ = static_cast<float>(betas[1]);
  eps_ = static_cast<float>(eps);
  weight_decay_ = static_cast<float>(weight_decay);
  decay_norms_and_biases_ = options.boolean("decay_norms_and_biases", false);
}

void AdamW::init(const std::vector<Parameter>& parameters, Backend& backend) {
  FT_CHECK(backend_ == nullptr, "adamw: init() called twice");
  parameters_ = optimizers::check_parameters(kName, parameters, decay_norms_and_biases_);
  for (const optimizers::TrainableParameter& p : parameters_) {
    exp_avg_.push_back(Tensor::zeros(p.tensor.shape(), DType::f32, backend));
    exp_avg_sq_.push_back(Tensor::zeros(p.tensor.shape(), DType::f32, backend));
  }
  steps_ = optimizers::StepCounts(kName, parameters_, backend);
  backend_ = &backend;
}

void AdamW::step(float lr) {
  FT_CHECK(backend_ != nullptr, "adamw: step() before init()");
  optimizers::check_learning_rate(kName, lr);
  // Everything is checked before the first kernel runs, so an error leaves parameters and
  // state as they were.
  std::vector<Tensor> grads;
  for (const optimizers::TrainableParameter& p : parameters_)
    grads.push_back(optimizers::gradient_of(kName, p));
  std::vector<std::int64_t> counts = steps_.read();

  // One multi-tensor call for every parameter with a gradient.
  std::vector<AdamWTensor> tensors;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    if (!grads[i].defined()) continue;
    const optimizers::TrainableParameter& p = parameters_[i];
    tensors.push_back({.param = p.tensor.f32(),
                       .grad = grads[i].f32(),
                       .m = exp_avg_[i].f32(),
                       .v = exp_avg_sq_[i].f32(),
                       .n = p.tensor.numel(),
                       .weight_decay = p.decay ? weight_decay_ : 0.0f,
                       .step = ++counts[i]});
  }
  backend_->adamw_step({.tensors = tensors.data(),
                        .count = static_cast<std::int64_t>(tensors.size()),
                        .lr = lr,
                        .beta1 = beta1_,
                        .beta2 = beta2_,
                        .eps = eps_});
  steps_.write(counts);
}

std::vector<Parameter> AdamW::state() const {
  std::vector<Parameter> out;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    out.push_back({"exp_avg/" + parameters_[i].name, exp_avg_[i]});
    out.push_back({"exp_avg_sq/" + parameters_[i].name, exp_avg_sq_[i]});
  }
  for (const Parameter& count : steps_.views()) out.push_back(count);
  return out;
}

}  // namespace ft::plugins::adamw
