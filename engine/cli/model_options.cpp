#include "engine/cli/model_options.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::cli {

namespace fs = std::filesystem;

void declare_model_options(po::options_description& options) {
  options.add_options()                                                         //
      ("model", po::value<std::string>(), "Hugging Face model directory (config.json, "
                                          "*.safetensors, tokenizer.json)")     //
      ("adapter", po::value<std::string>(), "PEFT adapter directory to apply")  //
      ("dtype", po::value<std::string>()->default_value("f32"),
       "storage dtype of the weights: f32 or bf16")  //
      ("backend", po::value<std::string>()->default_value("auto"),
       "compute backend plugin: auto, cpu, cuda, rocm")  //
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")  //
      ("model-plugin", po::value<std::string>()->default_value("llama"),
       "model plugin that reads the directory");
}

LoadedModel load_model(const GlobalOptions& global, const po::variables_map& args,
                       const CommandSpec& command) {
  const fs::path dir = required_argument(args, "model", command);
  if (!fs::is_directory(dir))
    throw Error(fmt::format("--model {}: no such directory (a Hugging Face model directory "
                            "with config.json and *.safetensors)",
                            dir.string()));
  if (args.count("adapter"))
    throw Error(fmt::format(
        "--adapter {}: this build cannot apply adapters yet; adapter plugins (LoRA, PEFT "
        "format) arrive with training (issue #4)",
        args["adapter"].as<std::string>()));
  const DType dtype = parse_dtype(args["dtype"].as<std::string>());
  if (dtype != DType::f32 && dtype != DType::bf16)
    throw Error(fmt::format("--dtype {}: weights are stored as f32 or bf16",
                            args["dtype"].as<std::string>()));
  const int threads = args["threads"].as<int>();
  if (threads < 0) throw Error(fmt::format("--threads must be >= 0, found {}", threads));

  auto registry = std::make_unique<engine::PluginRegistry>();
  registry->scan(engine::plugin_search_path(global.plugin_dirs, {}));
  std::unique_ptr<Backend> backend = registry->select_backend(args["backend"].as<std::string>());
  backend->set_threads(threads);

  // The tokenizer first: it is quick to read and its errors are clearer than a model's.
  engine::Tokenizer tokenizer = engine::Tokenizer::from_directory(dir);
  std::unique_ptr<Model> model = registry->create_model(args["model-plugin"].as<std::string>());
  const auto start = std::chrono::steady_clock::now();
  model->load({.path = dir, .dtype = dtype}, *backend);
  const ModelInfo info = model->info();
  log::info("model {} ({}, {} layers, hidden {}, vocab {}) loaded in {:.2f} s", dir.string(),
            info.model_type, info.num_layers, info.hidden_size, info.vocab_size,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return LoadedModel{std::move(registry), std::move(backend), std::move(model),
                     std::move(tokenizer)};
}

}  // namespace ft::cli
