// The Llama family (Llama 2/3, Mistral, Qwen2, Qwen3, SmolLM, TinyLlama) as one model,
// written with ft::ops only:
//
//   x = embed(tokens)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ (+b), h·Wkᵀ (+b), h·Wvᵀ (+b)
//               [Qwen3: q, k = rmsnorm per head];  q, k = rope(q), rope(k)
//               x = x + o_proj(attention(q, k, v))          (causal, GQA, docs, window)
//               h = rmsnorm(x);  x = x + down(silu(gate(h)) * up(h))
//   hidden = rmsnorm(x);  logits = hidden·lm_headᵀ  (lm_head = embed when tied)
//
// Weights keep their Hugging Face names; every projection of every layer is an ft::Linear so
// adapters can hook it (the LM head is not: the loss reads lm_head() directly). Weights are
// stored as ModelLoadOptions::dtype (f32, bf16 or f16), zero-copy out of the safetensors
// mapping when the backend and dtype allow. decode() serves one sequence (batch 1).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ftengine/model.hpp"
#include "ftengine/ops.hpp"
#include "plugins/models/llama/config.hpp"
#include "plugins/models/llama/layout.hpp"

namespace ft::plugins::llama {

class LlamaModel final : public Model {
 public:
  LlamaModel() = default;
  ~LlamaModel() override = default;

  void load(const ModelLoadOptions& options, Backend& backend) override;
  Tensor forward(const ModelInput& input) override;
  Tensor lm_head() const override;
  std::vector<Parameter> parameters() const override;
  std::vector<Linear*> linear_layers() override;
  ModelInfo info() const override;
  Tensor logits(const ModelInput& input) override;
  void set_activation_checkpointing(bool enabled) override { checkpointing_ = enabled; }
  std::unique_ptr<DecodeState> begin_decode(std::int64_t max_tokens) override;
  Tensor decode(DecodeState& state, const std::vector<std::int32_t>& new_tokens) override;
  std::vector<TensorSpec> tensor_layout() const override;
  void describe(const std::filesystem::path& model_dir) override;

  const LlamaConfig& config() const { return config_; }

 private:
  struct Layer {
    std::string prefix;  // "model.layers.3."
    Tensor input_norm, post_norm;
    Tensor q_norm, k_norm;  // Qwen3 only
    Linear q, k, v, o, gate, up, down;
    std::int64_t window = 0;
  };

  // One decoder layer. x: [batch, seq, hidden]; positions, doc_ids: [batch, seq] i32.
  // With `cache`, attention runs over the cached tokens too (decode).
  Tensor layer_forward(const Layer& layer, const Tensor& x, const Tensor& positions,
                       const Tensor& doc_ids, ops::KvCache* cache) const;
  void require_loaded(const char* what) const;
  void require_config(const char* what) const;
  // The loaded tensor `spec` (an entry of the layout) names.
  Tensor tensor_of(const TensorSpec& spec) const;
  void load_weights(const std::filesystem::path& dir, DType dtype,
                    const std::optional<Quant4bitOptions>& quantize);

  Backend* backend_ = nullptr;
  LlamaConfig config_;
  std::vector<TensorSpec> layout_;  // present_tensors(config_); empty until config_ is read
  Tensor inv_freq_;                 // [head_dim / 2], on the backend once
  Tensor embed_, norm_, lm_head_;
  std::vector<Layer> layers_;
  bool checkpointing_ = false;
};

}  // namespace ft::plugins::llama
