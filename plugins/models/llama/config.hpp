// The Llama family's config.json, as transformers reads it for LlamaConfig, MistralConfig,
// Qwen2Config and Qwen3Config: what differs between them is a few flags (biases, q/k norm,
// sliding window), so one model class covers all four.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "ftengine/ops.hpp"

namespace ft::plugins::llama {

struct LlamaConfig {
  std::string model_type;  // "llama", "mistral", "qwen2", "qwen3"
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  ops::RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // q_proj, k_proj, v_proj have biases (Qwen2; attention_bias)
  bool o_bias = false;    // o_proj has a bias (attention_bias in Llama and Qwen3)
  bool mlp_bias = false;  // gate/up/down have biases (Llama's mlp_bias)
  bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (Qwen3)
  std::vector<std::int64_t> sliding_window;  // per layer; 0 = full attention
  std::int32_t bos_token_id = -1;
  std::vector<std::int32_t> eos_token_ids;
};

// Reads and checks `path` (a config.json). Every error names the file and the key.
LlamaConfig read_config(const std::filesystem::path& path);
// The same from parsed JSON; `file` names it in messages.
LlamaConfig parse_config(const nlohmann::json& json, const std::string& file);

}  // namespace ft::plugins::llama
