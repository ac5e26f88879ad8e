// One LoRA-adapted linear layer (Hu et al. 2021):
//
//   y = x·Wᵀ + b + scale · (dropout(x)·Aᵀ)·Bᵀ      A: [r, in], B: [out, r], both f32
//
// W (and b) stay frozen in whatever dtype the model holds them; only A and B train. B
// starts at zero, so an adapter fresh from attach() leaves the model's output unchanged.
// QLoRA: the layer holds W in 4 bits (Linear::weight_4bit) and its base_forward runs on that.
#pragma once

#include <cstdint>
#include <memory>

#include "ftengine/adapter.hpp"
#include "ftengine/module.hpp"
#include "ftengine/tensor.hpp"

namespace ft::plugins::lora {

// A's initial values, as PEFT's kaiming_uniform_(a = sqrt(5)): uniform in ±1/sqrt(in).
// Element e is drawn from Philox keyed by `seed`, counter (e / 4, layer_index,
// kInitStream), word e % 4, so a seed gives the same A on every machine and backend, and
// each layer its own A. layer_index: the layer's position in Model::linear_layers().
inline constexpr std::uint32_t kInitStream = 0x4C6F5241u;  // "LoRA"
Tensor kaiming_uniform_a(std::int64_t r, std::int64_t in_features, std::uint64_t seed,
                         std::uint32_t layer_index, Backend& backend);

class LoraHook final : public LinearHook {
 public:
  // slot: this layer's position among the `slots` adapted layers, so that each (micro-batch,
  // layer) pair draws its dropout mask from its own part of the random stream.
  LoraHook(Tensor a, Tensor b, float scale, float dropout, std::uint64_t slot, std::uint64_t slots,
           std::shared_ptr<const AdapterForwardState> state);

  Tensor forward(const Linear& layer, const Tensor& x) override;


  const Tensor& a() const { return a_; }
  const Tensor& b() const { return b_; }
  float scale() const { return scale_; }
  // W + scale·B·A, computed in f32 and stored in the dtype of the layer's weight: a new
  // tensor. A 4-bit W is dequantised first.
  Tensor merged_weight(const Linear& layer) const;

 private:
  Tensor a_, b_;
  float scale_;
  float dropout_;
  std::uint64_t slot_, slots_;
  std::shared_ptr<const AdapterForwardState> state_;
};

}  // namespace ft::plugins::lora
