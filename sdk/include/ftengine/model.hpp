// The model plugin interface (kind "model").
//
// A model plugin reads a model directory (config.json + safetensors), builds its weights
// on a backend and computes hidden states with ft::ops only, so it runs on any backend.
//
//   model->load({.path = dir, .dtype = ft::DType::bf16}, backend);
//   ft::Tensor hidden = model->forward({.tokens = ids});               // training
//   ft::Tensor loss = ft::ops::cross_entropy(hidden, model->lm_head(), targets);
//
//   auto state = model->begin_decode(prompt.size() + 64);             // generation
//   ft::Tensor logits = model->decode(*state, prompt);                 // [vocab]
//   logits = model->decode(*state, {next_token});
//
// What a model is, without running it: info() (its config.json) and tensor_layout() (every
// tensor by Hugging Face name, shape and role), after load() or, without the weights, after
// describe(). Exporters and init-model take those facts from here instead of reading
// config.json a second time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/ops.hpp"
#include "ftengine/plugin.hpp"
#include "ftengine/quant.hpp"
#include "ftengine/tensor.hpp"

namespace ft {

struct ModelLoadOptions {
  std::filesystem::path path;  // a Hugging Face model directory
  DType dtype = DType::f32;    // storage dtype of the weights
  // QLoRA: every linear layer of the decoder (never the embeddings or the LM head) held in
  // 4 bits, each quantised as it loads so the full-precision model is never whole in memory.
  std::optional<Quant4bitOptions> quantize_linear;
};

// One micro-batch of token ids. tokens, positions, doc_ids: [batch, seq] i32.
struct ModelInput {
  Tensor tokens;
  Tensor positions;  // undefined: 0..seq-1 in every row
  Tensor doc_ids;    // undefined: one document per row
};

// What a caller needs to know about a loaded model (from its config.json).
struct ModelInfo {
  std::string model_type;  // "llama", "mistral", "qwen2", "qwen3"
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t max_position_embeddings = 0;
  std::int32_t bos_token_id = -1;           // -1: none
  std::vector<std::int32_t> eos_token_ids;  // generation stops at any of them
  bool tie_word_embeddings = false;
  // The architecture, as exporters write it out (GGUF metadata).
  std::int64_t intermediate_size = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;  // rope_theta, or rope_parameters.rope_theta (transformers 5)
  ops::RopeScaling rope_scaling;
  bool qkv_bias = false;                     // q, k and v projections have biases
  bool o_bias = false;                       // the attention output projection has a bias
  bool mlp_bias = false;                     // gate, up and down projections have biases
  bool qk_norm = false;                      // per-head RMSNorm of q and k before RoPE
  std::vector<std::int64_t> sliding_window;  // per layer; 0 = full attention
};

// What a tensor is for, whatever the model calls it: how an exporter picks a format's name
// for it (llama.cpp's "blk.3.attn_q.weight") and init-model its initial values. Values only
// grow at the end (ABI).
enum class TensorRole : std::int32_t {
  token_embedding,  // [vocab, hidden]
  attn_norm,        // RMSNorm before attention
  q_proj,
  k_proj,
  v_proj,
  o_proj,
  q_bias,
  k_bias,
  v_bias,
  o_bias,
  q_norm,    // per-head RMSNorm of q: [head_dim]
  k_norm,    // per-head RMSNorm of k: [head_dim]
  ffn_norm,  // RMSNorm before the MLP
  gate_proj,
  up_proj,
  down_proj,
  gate_bias,
  up_bias,
  down_bias,
  final_norm,  // after the last layer
  lm_head,     // [vocab, hidden]; absent when tied to the embeddings
};

// One tensor of a model's checkpoint.
struct TensorSpec {
  std::string name;  // Hugging Face name: "model.layers.3.self_attn.q_proj.weight"
  Shape shape;
  TensorRole role = TensorRole::token_embedding;
  std::int64_t layer = -1;  // the decoder layer; -1: outside the layers
};

// A model's state between decode() calls (its key/value cache). Made by begin_decode(),
// used only with the model that made it.
class DecodeState {
 public:
  virtual ~DecodeState() = default;
  virtual std::int64_t length() const = 0;      // tokens decoded so far
  virtual std::int64_t max_tokens() const = 0;  // the capacity begin_decode() reserved
};

class Model : public PluginObject {
 public:
  ~Model() override;

  virtual void load(const ModelLoadOptions& options, Backend& backend) = 0;
  // Final hidden states after the last norm: [batch, seq, hidden].
  virtual Tensor forward(const ModelInput& input) = 0;
  // [vocab, hidden]: the LM head (the embedding table when tied).
  virtual Tensor lm_head() const = 0;
  virtual std::vector<Parameter> parameters() const = 0;
  // Every linear layer, by Hugging Face name, for adapters to attach to.
  virtual std::vector<Linear*> linear_layers() = 0;

  virtual ModelInfo info() const = 0;
  // Logits for every position: [batch, seq, vocab] f32 (forward() then the LM head). For
  // evaluation and tests; training uses ops::cross_entropy, which never materialises them.
  virtual Tensor logits(const ModelInput& input) = 0;
  // Recompute each layer's activations in backward instead of keeping them (ft::checkpoint).
  virtual void set_activation_checkpointing(bool enabled) = 0;
  // A key/value cache for up to max_tokens tokens (prompt and generated), preallocated.
  virtual std::unique_ptr<DecodeState> begin_decode(std::int64_t max_tokens) = 0;
  // Feeds new_tokens (the prompt, then one token at a time) after those already decoded and
  // returns the logits of the last one: [vocab] f32. Runs without recording gradients.
  virtual Tensor decode(DecodeState& state, const std::vector<std::int32_t>& new_tokens) = 0;

  // Every tensor the model has, in checkpoint order: the names and shapes of parameters(),
  // with what each is for. After load() or describe(). The default refuses (ft::Error), for
  // plugins written before it.
  virtual std::vector<TensorSpec> tensor_layout() const;
  // Reads model_dir/config.json only, with load()'s checks and errors, so that info() and
  // tensor_layout() answer without weights (init-model lays out a random model this way).
  // load() may follow on the same object; forward() and the rest need it. The default
  // refuses (ft::Error), for plugins written before it.
  virtual void describe(const std::filesystem::path& model_dir);
};

}  // namespace ft
