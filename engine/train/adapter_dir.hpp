// Applying a saved adapter directory (PEFT format) to a model, for `eval --adapter`,
// `generate --adapter` and `merge`. The adapter plugin is chosen by the directory's
// adapter_config.json, as PEFT chooses its tuner class:
//
//   peft_type "LORA"                  -> plugin "lora"
//   peft_type "LORA", use_dora true   -> plugin "dora"
//
//   std::unique_ptr<Adapter> a = load_adapter_directory(registry, dir, *model, *backend);
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "engine/plugins/registry.hpp"
#include "ftengine/adapter.hpp"

namespace ft::engine {

// ft::Error naming the file for a missing or unreadable config, or a peft_type no plugin
// reads; a model directory (config.json, no adapter_config.json) gets a hint to use it as
// the model.
std::string adapter_plugin_for(const std::filesystem::path& dir);

// The adapter, loaded and attached (in inference mode: no dropout until told otherwise).
std::unique_ptr<Adapter> load_adapter_directory(PluginRegistry& registry,
                                                const std::filesystem::path& dir, Model& model,
                                                Backend& backend);

}  // namespace ft::engine
