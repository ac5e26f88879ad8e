// Building blocks a model exposes so adapters and optimizers can work on it.
//
// A model owns named parameters and its linear layers. Each ft::Linear can carry an
// adapter hook: when set, the model's forward calls the hook instead of the plain
// x·Wᵀ + b, which is how LoRA, QLoRA or a third-party adapter slot in beside a frozen
// layer without the model knowing about them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/ops.hpp"
#include "ftengine/tensor.hpp"

namespace ft {

struct Parameter {
  std::string name;  // Hugging Face name: "model.layers.3.self_attn.q_proj.weight"
  Tensor tensor;
};

class Linear;

// Replaces a Linear's forward. base_forward() gives the layer's own result.
class LinearHook {
 public:
  virtual ~LinearHook();
  virtual Tensor forward(const Linear& layer, const Tensor& x) = 0;
};

// Its state lives out of line (one pointer), so what a Linear holds can grow without
// changing its size: models and adapters in other plugins hold Linears by value.
class Linear {
 public:
  Linear();
  Linear(std::string name, Tensor weight, Tensor bias = Tensor());
  Linear(const Linear& other);
  Linear& operator=(const Linear& other);
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;
  ~Linear();

  Tensor operator()(const Tensor& x) const;
  Tensor base_forward(const Tensor& x) const;  // x·Wᵀ + b (on the 4-bit W if set), no hook

  const std::string& name() const;  // "model.layers.3.self_attn.q_proj"
  const Tensor& weight() const;
  const Tensor& bias() const;
  // A new dense weight (and no 4-bit one any more).
  void set_weight(Tensor weight);
  // QLoRA: the frozen weight from now on in 4 bits. The dense weight's data is released;
  // weight() keeps its shape and dtype (for counting and for the dtype of a merge).
  void set_weight_4bit(ops::Weight4bit weight);
  const std::optional<ops::Weight4bit>& weight_4bit() const;
  // The weight as a dense tensor: weight(), or the 4-bit one dequantised to f32.
  Tensor dense_weight() const;
  std::int64_t in_features() const;
  std::int64_t out_features() const;
  void set_hook(std::shared_ptr<LinearHook> hook);
  const std::shared_ptr<LinearHook>& hook() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ft
