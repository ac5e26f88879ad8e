// The model plugin interface (kind "model").
//
// A model plugin reads a model directory (config.json + safetensors), builds its weights
// on a backend and computes hidden states with ft::ops only, so it runs on any backend.
// This interface grows with the model issue (tokenizer, generation, KV cache).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/plugin.hpp"
#include "ftengine/tensor.hpp"

namespace ft {

struct ModelLoadOptions {
  std::filesystem::path path;   // a Hugging Face model directory
  DType dtype = DType::f32;     // storage dtype of the weights
};

// One micro-batch of token ids. tokens, positions, doc_ids: [batch, seq] i32.
struct ModelInput {
  Tensor tokens;
  Tensor positions;  // undefined: 0..seq-1 in every row
  Tensor doc_ids;    // undefined: one document per row
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
};

}  // namespace ft
