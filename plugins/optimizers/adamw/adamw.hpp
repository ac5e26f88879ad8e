// Optimizer plugin "adamw": decoupled AdamW (Loshchilov & Hutter) as torch.optim.AdamW
// computes it, one fused backend kernel (Backend::adamw_step) per parameter.
//
// Options, the job's [optimizer] table:
//   betas = [b1, b2]             each in [0, 1)          default [0.9, 0.999]
//   eps                          > 0                     default 1e-8
//   weight_decay                 >= 0                    default 0
//   decay_norms_and_biases       decay 1-D parameters?   default false (as HF Trainer)
//   lr                           ignored: the schedule passes it to step()
// Keys it does not know are left alone: the engine's schema has already vetted the table.
//
// State per parameter, zeros at init(): exp_avg and exp_avg_sq (f32, its shape), and step,
// the number of updates it has had. A parameter without a gradient is skipped, moments and
// step unchanged, as PyTorch skips grad None, so its bias corrections count its own updates
// only (a LoRA layer unfrozen late starts at step 1).
#pragma once

#include <vector>

#include "ftengine/optimizer.hpp"
#include "plugins/optimizers/common/parameters.hpp"
#include "plugins/optimizers/common/step_counts.hpp"

namespace ft::plugins::adamw {

class AdamW final : public Optimizer {
 public:
  void configure(const Options& options) override;
  void init(const std::vector<Parameter>& parameters, Backend& backend) override;
  void step(float lr) override;
  // "exp_avg/<name>", "exp_avg_sq/<name>" for every parameter, then "step/<name>".
  std::vector<Parameter> state() const override;

 private:
  float beta1_ = 0.9f;
  float beta2_ = 0.999f;
  float eps_ = 1e-8f;
  float weight_decay_ = 0.0f;
  bool decay_norms_and_biases_ = false;

  Backend* backend_ = nullptr;  // set by init()
  std::vector<optimizers::TrainableParameter> parameters_;
  std::vector<Tensor> exp_avg_;     // m, one per parameter
  std::vector<Tensor> exp_avg_sq_;  // v
  optimizers::StepCounts steps_;
};

}  // namespace ft::plugins::adamw
