#include "plugins/models/llama/layout.hpp"

#include <fmt/format.h>

#include <string>

namespace ft::plugins::llama {

std::vector<LayoutTensor> layout(const LlamaConfig& c) {
  using R = TensorRole;
  const std::int64_t C = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const std::int64_t D = c.head_dim, Q = c.num_heads * D, KV = c.num_kv_heads * D;
  std::vector<LayoutTensor> out;
  const auto add = [&](R role, std::int64_t layer, std::string name, Shape shape, bool present) {
    out.push_back({{std::move(name), std::move(shape), role, layer}, present});
  };

  add(R::token_embedding, -1, "model.embed_tokens.weight", {V, C}, true);
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    add(R::q_proj, i, p + "self_attn.q_proj.weight", {Q, C}, true);
    add(R::q_bias, i, p + "self_attn.q_proj.bias", {Q}, c.qkv_bias);
    add(R::k_proj, i, p + "self_attn.k_proj.weight", {KV, C}, true);
    add(R::k_bias, i, p + "self_attn.k_proj.bias", {KV}, c.qkv_bias);
    add(R::v_proj, i, p + "self_attn.v_proj.weight", {KV, C}, true);
    add(R::v_bias, i, p + "self_attn.v_proj.bias", {KV}, c.qkv_bias);
    add(R::o_proj, i, p + "self_attn.o_proj.weight", {C, Q}, true);
    add(R::o_bias, i, p + "self_attn.o_proj.bias", {C}, c.o_bias);
    add(R::q_norm, i, p + "self_attn.q_norm.weight", {D}, c.qk_norm);
    add(R::k_norm, i, p + "self_attn.k_norm.weight", {D}, c.qk_norm);
    add(R::gate_proj, i, p + "mlp.gate_proj.weight", {I, C}, true);
    add(R::gate_bias, i, p + "mlp.gate_proj.bias", {I}, c.mlp_bias);
    add(R::up_proj, i, p + "mlp.up_proj.weight", {I, C}, true);
    add(R::up_bias, i, p + "mlp.up_proj.bias", {I}, c.mlp_bias);
    add(R::down_proj, i, p + "mlp.down_proj.weight", {C, I}, true);
    add(R::down_bias, i, p + "mlp.down_proj.bias", {C}, c.mlp_bias);
    add(R::attn_norm, i, p + "input_layernorm.weight", {C}, true);
    add(R::ffn_norm, i, p + "post_attention_layernorm.weight", {C}, true);
  }
  add(R::final_norm, -1, "model.norm.weight", {C}, true);
  // Tied: transformers reads the LM head from the embeddings and ignores a saved copy.
  add(R::lm_head, -1, "lm_head.weight", {V, C}, !c.tie_word_embeddings);
  return out;
}

std::vector<TensorSpec> present_tensors(const LlamaConfig& config) {
  std::vector<TensorSpec> out;
  for (LayoutTensor& t : layout(config))
    if (t.present) out.push_back(std::move(t.spec));
  return out;
}

const TensorSpec* find_tensor(const std::vector<TensorSpec>& tensors, std::int64_t layer,
                              TensorRole role) {
  for (const TensorSpec& t : tensors)
    if (t.layer == layer && t.role == role) return &t;
  return nullptr;
}

}  // namespace ft::plugins::llama
