// Writing a Hugging Face model directory from a loaded model: what full fine-tuning saves
// and what a merged LoRA model is written as, loadable by transformers, vLLM and
// llama.cpp's convert_hf_to_gguf.py as the base model was.
//
//   ft::io::write_model_directory(*model, job.model.path, run_dir / "merged", ft::DType::bf16);
//
// The weights are model.parameters() under their Hugging Face names; everything else
// (config.json, generation_config.json, the tokenizer files) comes from the base model's
// directory, with config.json's "torch_dtype" set to the dtype written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ftengine/dtype.hpp"

namespace ft {
class Model;
}

namespace ft::io {

// transformers' save_pretrained default, max_shard_size = "5GB" (decimal).
inline constexpr std::uint64_t kModelShardBytes = 5'000'000'000;

// The files copied from the base directory when present, besides config.json.
const std::vector<std::string>& model_directory_companion_files();

// Writes `model` into `out_dir` (created when missing; must not already hold model weights,
// and must not be `base_model_dir`): config.json from the base with "torch_dtype" (and
// "dtype", newer transformers' name, when present) set to `dtype`, the companion files
// copied unchanged, and model.safetensors (or shards of at most max_shard_bytes plus
// model.safetensors.index.json) holding every parameter stored as `dtype` (f32, bf16 or
// f16), metadata {"format": "pt"}. Every file is written atomically.
void write_model_directory(const Model& model, const std::filesystem::path& base_model_dir,
                           const std::filesystem::path& out_dir, DType dtype,
                           std::uint64_t max_shard_bytes = kModelShardBytes);

}  // namespace ft::io
