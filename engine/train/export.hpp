// The last step of a job: what a finished run leaves in its directory.
//
//   <run>/adapter/   adapter->save(): a PEFT adapter directory (adapter_config.json,
//                    adapter_model.safetensors) for LoRA-like adapters
//   <run>/model/     instead of adapter/ when save() wrote a whole Hugging Face model
//                    directory (it has a config.json): full fine-tuning. The engine tells
//                    by what was written, not by the plugin's name.
//   <run>/merged/    with output.save_merged: the base model with the adapter merged in
//   <run>/<job name>-f16.gguf   with output.gguf: that merged model as GGUF, f16 weights
//                    (engine/export/gguf_export.hpp), for llama.cpp
//
// Each is written into a temporary directory and renamed into place, replacing what an
// earlier export of the same run left.
#pragma once

#include <filesystem>
#include <optional>

#include "engine/config/job.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/adapter.hpp"

namespace ft::engine {

struct ExportedRun {
  std::filesystem::path result;  // <run>/adapter or <run>/model
  std::optional<std::filesystem::path> merged;
  std::optional<std::filesystem::path> gguf;
};

// Merging changes the model: call this last.
ExportedRun export_run(const Job& job, Adapter& adapter, Model& model, const Tokenizer& tokenizer);

}  // namespace ft::engine
