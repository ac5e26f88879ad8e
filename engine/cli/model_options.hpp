// What `generate`, `eval` and `merge` share: the options that say which model (and
// adapter) to load and where, and loading them with the tokenizer.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "engine/cli/cli.hpp"
#include "engine/plugins/registry.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/adapter.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"

namespace ft::cli {

// A model ready to run. Members are destroyed in reverse order: the adapter before the
// model it hooks, the model before the backend whose memory it holds, the registry (which
// keeps the plugin libraries) last.
struct LoadedModel {
  std::unique_ptr<engine::PluginRegistry> registry;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  engine::Tokenizer tokenizer;
  std::unique_ptr<Adapter> adapter;  // null without --adapter
};

// What to load, as the options say.
struct ModelSpec {
  std::filesystem::path dir;
  std::filesystem::path adapter_dir;  // empty: none
  DType dtype = DType::f32;           // storage dtype of the weights
  std::string backend = "auto";
  int threads = 0;
  int device = 0;
  std::string model_plugin = "llama";
};

// --model DIR, --adapter DIR, --dtype, --backend NAME, --threads N, --device N,
// --model-plugin NAME.
void declare_model_options(po::options_description& options);

// The options above as a spec; ft::Error (exit 2) for a bad value.
ModelSpec model_spec(const po::variables_map& args, const CommandSpec& command);

// Loads what the spec names; throws ft::Error (exit 2) for a missing or bad model or
// adapter. The adapter is applied in inference mode, not merged.
LoadedModel load_model(const GlobalOptions& global, const ModelSpec& spec);

inline LoadedModel load_model(const GlobalOptions& global, const po::variables_map& args,
                              const CommandSpec& command) {
  return load_model(global, model_spec(args, command));
}

}  // namespace ft::cli
