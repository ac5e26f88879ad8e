// The start of a job: find the plugins, pick the backend, load the model
// and its tokenizer, attach the adapter and give its trainable tensors to the optimizer.
//
//   TrainingSetup s = set_up_training(job, load_plugins(job, cli_plugin_dirs));
//   s.model->forward(...); s.optimizer->step(lr); s.adapter->save(...);
//
// load_plugins is quick (no model is read), so a job naming a missing plugin or backend
// stops there; the caller can check other things before the heavy part.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/job.hpp"
#include "engine/plugins/registry.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/train/flat_parameters.hpp"
#include "ftengine/adapter.hpp"
#include "ftengine/optimizer.hpp"
#include "ftengine/options.hpp"

namespace ft::engine {

// Members are destroyed in reverse order: optimizer state and adapter before the model,
// the model before the backend whose memory it holds, the plugin libraries last.
struct TrainingSetup {
  std::unique_ptr<PluginRegistry> registry;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  Tokenizer tokenizer;
  std::unique_ptr<Adapter> adapter;
  std::unique_ptr<Optimizer> optimizer;
  std::vector<Parameter> trainable;  // adapter->trainable_parameters(), in its order
  FlatParameters flat;               // the trainable tensors and their gradients, gathered
};

// The plugin registry (scanned) and the job's backend.
struct Plugins {
  std::unique_ptr<PluginRegistry> registry;
  std::unique_ptr<Backend> backend;
};
Plugins load_plugins(const Job& job, const std::vector<std::filesystem::path>& cli_plugin_dirs);

TrainingSetup set_up_training(const Job& job, Plugins plugins);

// A section of the resolved job as plugin options, every key but "plugin": the keys the
// job set or defaulted for that plugin, and a third-party plugin's own keys. ft::Error for
// a value Options cannot hold (a nested table, an array of mixed types).
Options options_from_section(const toml::table& resolved, std::string_view section);

// Parameters as PEFT's print_trainable_parameters counts them: every model parameter and
// every adapter tensor that is not one, each tensor once.
struct ParameterCounts {
  std::int64_t trainable = 0;
  std::int64_t all = 0;
};
ParameterCounts count_parameters(const std::vector<Parameter>& model_parameters,
                                 const std::vector<Parameter>& trainable);
// "trainable params: 12,288 || all params: 816,768 || trainable%: 1.5045"
std::string trainable_parameters_line(const ParameterCounts& counts);

}  // namespace ft::engine
