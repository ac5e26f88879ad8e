// What the optimizer plugins share: option errors that name the key as the job file spells
// it, the weight-decay rule, and the checks on the parameters and gradients they are given.
//
//   const double eps = options.number("eps", 1e-8);
//   if (!(eps > 0)) option_error(options, "eps", fmt::format("must be > 0, found {}", eps));
//   parameters_ = check_parameters("adamw", parameters, decay_norms_and_biases);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ftengine/module.hpp"
#include "ftengine/options.hpp"
#include "ftengine/tensor.hpp"

namespace ft::plugins::optimizers {

// "optimizer.eps". The table is [optimizer] even when the caller left the section unnamed.
std::string option_name(const Options& options, const std::string& key);

// Throws ft::Error "<option_name>: <message>".
[[noreturn]] void option_error(const Options& options, const std::string& key,
                               const std::string& message);

// A finite number >= 0 (weight_decay, momentum); the fallback when the key is absent.
double non_negative_option(const Options& options, const std::string& key, double fallback);

struct TrainableParameter {
  std::string name;
  Tensor tensor;  // f32, updated in place
  bool decay;     // weight decay applies to it
};

// Weight decay applies to matrices (linear and LoRA A/B weights, embeddings) and to 1-D
// tensors (norm weights, biases) only when decay_norms_and_biases is set: decaying a norm
// scale towards 0 is rarely wanted, and HF Trainer leaves them out too.
bool decays(const Tensor& tensor, bool decay_norms_and_biases);

// What init() receives: at least one parameter, each a defined f32 tensor (the optimizer
// writes master weights in place and its kernels are f32), names unique (they key the state
// in checkpoints), no tensor twice (it would be stepped twice). ft::Error naming the
// parameter otherwise.
std::vector<TrainableParameter> check_parameters(std::string_view optimizer,
                                                 const std::vector<Parameter>& parameters,
                                                 bool decay_norms_and_biases);

// The parameter's gradient, or an undefined tensor when it has none this step (skipped, as
// PyTorch skips grad None). A gradient of another dtype or shape is an internal error.
Tensor gradient_of(std::string_view optimizer, const TrainableParameter& parameter);

// The learning rate given to step(): a finite number >= 0 (the schedule starts warmup at 0).
void check_learning_rate(std::string_view optimizer, float lr);

}  // namespace ft::plugins::optimizers
