// The optimizer plugin interface (kind "optimizer"). Steps run as backend kernels
// (fused AdamW, SGD), on f32 master weights; state is saved with checkpoints.
// Grows with the training issue (options, state save and restore).
#pragma once

#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/plugin.hpp"

namespace ft {

class Optimizer : public PluginObject {
 public:
  ~Optimizer() override;

  virtual void init(const std::vector<Parameter>& parameters, Backend& backend) = 0;
  // One update of every parameter from its .grad at learning rate lr.
  virtual void step(float lr) = 0;
};

}  // namespace ft
