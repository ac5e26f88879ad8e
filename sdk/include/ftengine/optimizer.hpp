// The optimizer plugin interface (kind "optimizer"). Steps run as backend kernels
// (fused AdamW, SGD), on f32 master weights; state is saved with checkpoints.
//
//   configure(job's [optimizer]) -> init(parameters) -> step(lr)* ; state() for checkpoints
#pragma once

#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/options.hpp"
#include "ftengine/plugin.hpp"

namespace ft {

class Optimizer : public PluginObject {
 public:
  ~Optimizer() override;

  virtual void init(const std::vector<Parameter>& parameters, Backend& backend) = 0;
  // One update of every parameter from its .grad at learning rate lr.
  virtual void step(float lr) = 0;

  // The job's [optimizer] table (lr is passed to step(), the schedule owns it); once,
  // before init(). ft::Error for a value it cannot use.
  virtual void configure(const Options& options) = 0;
  // Everything step() will read besides parameters and gradients, as named live tensors
  // (moments, momentum buffers, the step count as a one-element tensor), valid after init().
  // Checkpoints save them; resuming copies the saved values back into these same tensors,
  // after which step() continues exactly as if the run had never stopped.
  virtual std::vector<Parameter> state() const = 0;
};

}  // namespace ft
