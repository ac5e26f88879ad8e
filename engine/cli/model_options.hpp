// What `generate` and `eval` share: the options that say which model to load and where,
// and loading it with its tokenizer.
#pragma once

#include <memory>

#include "engine/cli/cli.hpp"
#include "engine/plugins/registry.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"

namespace ft::cli {

// A model ready to run. Members are destroyed in reverse order: the model before the
// backend whose memory it holds, the registry (which keeps the plugin libraries) last.
struct LoadedModel {
  std::unique_ptr<engine::PluginRegistry> registry;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  engine::Tokenizer tokenizer;
};

// --model DIR, --adapter DIR, --dtype, --backend NAME, --threads N, --model-plugin NAME.
void declare_model_options(po::options_description& options);

// Loads what the options name; throws ft::Error (exit 2) for a missing or bad model.
LoadedModel load_model(const GlobalOptions& global, const po::variables_map& args,
                       const CommandSpec& command);

}  // namespace ft::cli
