// The Llama family's tensors, in one table: for a config, every tensor a checkpoint of the
// family can hold (Hugging Face name, shape, role, layer) and whether this config has it
// (q/k/v biases: Qwen2 or attention_bias; q/k norms: Qwen3; lm_head: unless tied).
// Loading, parameters(), tensor_layout() and so the engine's GGUF export and init-model all
// read it, so a new variant is one more row here, as in llama.cpp's llama-arch.cpp.
//
//   for (const LayoutTensor& t : layout(config))
//     if (t.present) expect(t.spec.name, t.spec.shape);
#pragma once

#include <cstdint>
#include <vector>

#include "ftengine/model.hpp"
#include "plugins/models/llama/config.hpp"

namespace ft::plugins::llama {

struct LayoutTensor {
  TensorSpec spec;
  bool present = true;  // false: a tensor of the family this config does not have
};

// In checkpoint order: the embeddings, then per layer attention (q, k, v, o, each with its
// bias; q/k norms), the MLP (gate, up, down with biases) and the two norms; the final norm,
// the LM head.
std::vector<LayoutTensor> layout(const LlamaConfig& config);

// The present tensors of layout(config), in the same order.
std::vector<TensorSpec> present_tensors(const LlamaConfig& config);

// The tensor with this role in `layer` (-1: outside the layers), or null when absent.
const TensorSpec* find_tensor(const std::vector<TensorSpec>& tensors, std::int64_t layer,
                              TensorRole role);

}  // namespace ft::plugins::llama
