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
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/plugin.hpp"
#include "ftengine/quant.hpp"
#include "ftengine/tensor.hpp"

namespace ft {

struct ModelLoadOptions {
  std::filesystem::path path;   // a Hugging Face model directory
  DType dtype = DType::f32;     // storage dtype of the weights
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

  // ---- Added with the model issue (#3). ABI: appended, existing entries unchanged. ----

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
};

}  // namespace ft
