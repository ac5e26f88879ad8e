// `ftengine init-model`: a randomly initialised Llama model directory in Hugging Face layout,
// for smoke tests and benchmarks that need a model of a given size but no download.
//
//   std::unique_ptr<ft::Model> llama = registry.create_model("llama");  // not loaded
//   ft::engine::RandomModel m = ft::engine::write_random_model(*llama, "tiny", "models/tiny", 42);
//
// writes config.json (LlamaForCausalLM), generation_config.json, model.safetensors (F32 unless
// asked for BF16 or F16; initialised as transformers' LlamaPreTrainedModel._init_weights does:
// normal(0, 0.02) for linear and embedding weights, ones for the RMSNorm weights, zeros for
// biases), tokenizer.json and tokenizer_config.json. The tokenizer is byte-level BPE with no
// merges (the 256 GPT-2 byte symbols, ids as in GPT-2, plus <|begin_of_text|> and
// <|end_of_text|>), so it encodes any text; larger presets keep it while their vocab_size is
// larger, which transformers allows.
// A seed always gives the same weights (Philox counters per tensor, as dropout uses). Which
// tensors there are, their names and shapes, the model plugin says (Model::describe() on
// the config.json written first, then Model::tensor_layout()), so the engine keeps no copy
// of the family's layout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ftengine/dtype.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

struct ModelPreset {
  std::string name;
  std::string description;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;
  std::int64_t num_heads = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 2048;
};

// tiny, bench-25m, bench-125m: Llama with SwiGLU, rope_theta 10000, rms_norm_eps 1e-5,
// untied embeddings.
const std::vector<ModelPreset>& model_presets();
// Throws ft::Error listing the preset names when `name` is not one.
const ModelPreset& model_preset(std::string_view name);
// The preset's config.json (LlamaForCausalLM; torch_dtype from `dtype`).
std::string preset_config_json(const ModelPreset& preset, DType dtype = DType::f32);
// Writes the preset's config.json into `dir` (which must exist) and returns the tensors
// `model` (a model plugin's object, not loaded) lays out for it.
std::vector<TensorSpec> preset_layout(Model& model, const ModelPreset& preset,
                                      const std::filesystem::path& dir, DType dtype = DType::f32);
// Weights in all the tensors of `layout` (Model::tensor_layout()).
std::int64_t parameter_count(const std::vector<TensorSpec>& layout);

// The byte-level tokenizer: 256 byte symbols, then these two specials.
inline constexpr std::int32_t kByteTokenizerBos = 256;  // <|begin_of_text|>
inline constexpr std::int32_t kByteTokenizerEos = 257;  // <|end_of_text|>
inline constexpr std::int64_t kByteTokenizerVocab = 258;
// tokenizer.json and tokenizer_config.json contents (HF tokenizers / transformers format).
std::string byte_tokenizer_json();
std::string byte_tokenizer_config_json(std::int64_t model_max_length);

struct RandomModel {
  std::filesystem::path dir;
  std::int64_t parameters = 0;
  std::vector<std::filesystem::path> files;
};

// Writes the model directory. out_dir is created; an existing non-empty directory is
// refused (ft::Error), so nothing is overwritten by accident. The weights are drawn in f32
// and stored in `dtype` (f32, bf16 or f16: published checkpoints are mostly bf16); the
// same seed gives the same weights, rounded, in every dtype. `model`: a model plugin's object,
// not loaded, that reads the preset's config.json (describe() is called on it).
RandomModel write_random_model(Model& model, std::string_view preset,
                               const std::filesystem::path& out_dir, std::uint64_t seed,
                               DType dtype = DType::f32);

}  // namespace ft::engine
