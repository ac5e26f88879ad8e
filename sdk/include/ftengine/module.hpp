// Building blocks a model exposes so adapters and optimizers can work on it.
//
// A model owns named parameters and its linear layers. Each ft::Linear can carry an
// adapter hook: when set, the model's forward calls the hook instead of the plain
// x·Wᵀ + b, which is how LoRA, QLoRA or a third-party adapter slot in beside a frozen
// layer without the model knowing about them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ftengine/tensor.hpp"

namespace ft {

struct Parameter {
  std::string name;   // Hugging Face name: "model.layers.3.self_attn.q_proj.weight"
  Tensor tensor;
};

class Linear;

// Replaces a Linear's forward. base_forward() gives the layer's own result.
class LinearHook {
 public:
  virtual ~LinearHook();
  virtual Tensor forward(const Linear& layer, const Tensor& x) = 0;
};

class Linear {
 public:
  Linear() = default;
  Linear(std::string name, Tensor weight, Tensor bias = Tensor());

  Tensor operator()(const Tensor& x) const;
  Tensor base_forward(const Tensor& x) const;  // x·Wᵀ + b, ignoring the hook

  const std::string& name() const { return name_; }   // "model.layers.3.self_attn.q_proj"
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  void set_weight(Tensor weight) { weight_ = std::move(weight); }
  std::int64_t in_features() const;
  std::int64_t out_features() const;
  void set_hook(std::shared_ptr<LinearHook> hook) { hook_ = std::move(hook); }
  const std::shared_ptr<LinearHook>& hook() const { return hook_; }

 private:
  std::string name_;
  Tensor weight_;
  Tensor bias_;
  std::shared_ptr<LinearHook> hook_;
};

}  // namespace ft
