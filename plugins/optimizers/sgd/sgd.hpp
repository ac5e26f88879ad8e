// Optimizer plugin "sgd": stochastic gradient descent as torch.optim.SGD computes it
// (dampening 0), one fused backend kernel (Backend::sgd_step) per parameter.
//
// Options, the job's [optimizer] table:
//   momentum                     >= 0                    default 0 (plain SGD)
//   nesterov                     needs momentum > 0      default false
//   weight_decay                 >= 0, an L2 penalty     default 0
//   decay_norms_and_biases       decay 1-D parameters?   default false (as HF Trainer)
//   lr                           ignored: the schedule passes it to step()
// Keys it does not know are left alone: the engine's schema has already vetted the table.
//
// State per parameter: momentum_buffer (f32, its shape; only when momentum > 0) and step,
// the number of updates it has had. A parameter's first update sets its buffer to the
// gradient (PyTorch's buffer-is-None case) and later ones blend into it. A parameter
// without a gradient is skipped, buffer and step unchanged, as PyTorch skips grad None.
#pragma once

#include <vector>

#include "ftengine/optimizer.hpp"
#include "plugins/optimizers/common/parameters.hpp"
#include "plugins/optimizers/common/step_counts.hpp"

namespace ft::plugins::sgd {

class Sgd final : public Optimizer {
 public:
  void configure(const Options& options) override;
  void init(const std::vector<Parameter>& parameters, Backend& backend) override;
  void step(float lr) override;
  // "momentum_buffer/<name>" for every parameter (momentum > 0), then "step/<name>".
  std::vector<Parameter> state() const override;

 private:
  float momentum_ = 0.0f;
  bool nesterov_ = false;
  float weight_decay_ = 0.0f;
  bool decay_norms_and_biases_ = false;

  Backend* backend_ = nullptr;  // set by init()
  std::vector<optimizers::TrainableParameter> parameters_;
  std::vector<Tensor> momentum_buffers_;  // empty when momentum == 0
  optimizers::StepCounts steps_;
};

}  // namespace ft::plugins::sgd
