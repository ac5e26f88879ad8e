// A loaded model (adapter merged or not) as one GGUF file for llama.cpp: its weights under
// llama.cpp's tensor names, its config as `<arch>.*` metadata, its tokenizer as
// `tokenizer.ggml.*`, its chat template.
//
//   export_gguf(model, "models/tinyllama", tokenizer, "tinyllama-f16.gguf", {.type = f16});
//
// Architectures: Llama and Mistral (written as "llama": q_proj and k_proj rows permuted
// from Hugging Face's rotate-half layout to ggml's interleaved one, as llama.cpp's
// convert_hf_to_gguf.py does), Qwen2 ("qwen2") and Qwen3 ("qwen3"), whose rope llama.cpp
// runs in the rotate-half layout, so no permutation. Weight types: f32, f16, bf16, q8_0
// (blocks of 32: an f16 scale and 32 int8) and q4_0 (an f16 scale and 32 4-bit codes);
// 1-D tensors (norms, biases) stay f32,
// as llama.cpp writes them. ft::Error, before anything is written, for what llama.cpp
// could not load the same (an unsupported architecture, rope scaling or tokenizer).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/export/gguf_writer.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

struct GgufExportOptions {
  GgmlType type = GgmlType::f16;  // of the 2-D weights (rows not a multiple of 32: f16)
  std::string name;               // general.name; empty: the model directory's name
};

// `model_dir`: the directory the model was loaded from (config.json, tokenizer_config.json).
void export_gguf(const Model& model, const std::filesystem::path& model_dir,
                 const Tokenizer& tokenizer, const std::filesystem::path& out,
                 const GgufExportOptions& options = {});

// The tokenizer as llama.cpp reads it (tokenizer.ggml.*), and the chat template of
// `model_dir`/tokenizer_config.json when there is one (empty dir: none). llama.cpp wants a
// token per embedding row: a vocabulary shorter than `rows` is padded with unused
// "[PAD<id>]" tokens, as convert_hf_to_gguf.py pads it (rows 0: the tokenizer's size).
void add_gguf_tokenizer(GgufWriter& writer, const Tokenizer& tokenizer,
                        const std::filesystem::path& model_dir, std::int64_t rows = 0);

// "f32", "f16", "bf16", "q8_0", "q4_0"; ft::Error naming the choices otherwise.
GgmlType parse_gguf_type(const std::string& name);
const char* gguf_type_name(GgmlType type);

// ggml's interleaved rope layout from Hugging Face's rotate-half one: within each head of
// `head_dim` rows, row h·d + 2j + i takes row h·d + i·d/2 + j (i in {0, 1}), every row
// `row_length` values long: what convert_hf_to_gguf.py's LlamaModel.permute does to a
// [heads · head_dim, row_length] weight (or, row_length 1, a bias).
std::vector<float> permute_for_ggml_rope(const std::vector<float>& rows, std::int64_t heads,
                                         std::int64_t head_dim, std::int64_t row_length);

}  // namespace ft::engine
