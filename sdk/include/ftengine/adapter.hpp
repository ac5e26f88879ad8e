// The adapter plugin interface (kind "adapter"): how a fine-tuning method attaches to a
// model. LoRA hooks the targeted ft::Linear layers and owns small trainable tensors;
// "full" marks the model's own weights trainable. Grows with the training issue
// (options from the job, PEFT export, merge).
#pragma once

#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"
#include "ftengine/module.hpp"
#include "ftengine/plugin.hpp"

namespace ft {

class Adapter : public PluginObject {
 public:
  ~Adapter() override;

  // Attaches to the model: sets hooks, creates adapter weights, sets requires_grad.
  virtual void attach(Model& model, Backend& backend) = 0;
  // What the optimizer updates.
  virtual std::vector<Parameter> trainable_parameters() const = 0;
};

}  // namespace ft
