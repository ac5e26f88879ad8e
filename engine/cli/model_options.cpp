#include "engine/cli/model_options.hpp"

#include <fmt/format.h>

#include <chrono>

#include "engine/train/adapter_dir.hpp"
#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::cli {

namespace fs = std::filesystem;

void declare_model_options(po::options_description& options) {
  options.add_options()  //
      ("model", po::value<std::string>(),
       "Hugging Face model directory (config.json, "
       "*.safetensors, tokenizer.json)")  //
      ("adapter", po::value<std::string>(),
       "PEFT adapter directory to apply (adapter_config.json, adapter_model.safetensors)")  //
      ("dtype", po::value<std::string>()->default_value("f32"),
       "storage dtype of the weights: f32 or bf16")  //
      ("backend", po::value<std::string>()->default_value("auto"),
       "compute backend plugin: auto, cpu, cuda, rocm")                              //
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")  //
      ("device", po::value<int>()->default_value(0), "device index (GPU backends)")  //
      ("model-plugin", po::value<std::string>()->default_value("llama"),
       "model plugin that reads the directory");
}

ModelSpec model_spec(const po::variables_map& args, const CommandSpec& command) {
  ModelSpec spec;
  spec.dir = required_argument(args, "model", command);
  if (args.count("adapter")) spec.adapter_dir = args["adapter"].as<std::string>();
  if (args.count("dtype")) {  // commands that load f32 always do not have it
    const std::string dtype = args["dtype"].as<std::string>();
    spec.dtype = parse_dtype(dtype);
    if (spec.dtype != DType::f32 && spec.dtype != DType::bf16)
      throw Error(fmt::format("--dtype {}: weights are stored as f32 or bf16", dtype));
  }
  spec.backend = args["backend"].as<std::string>();
  spec.threads = args["threads"].as<int>();
  if (spec.threads < 0) throw Error(fmt::format("--threads must be >= 0, found {}", spec.threads));
  if (args.count("device")) spec.device = args["device"].as<int>();
  if (spec.device < 0) throw Error(fmt::format("--device must be >= 0, found {}", spec.device));
  spec.model_plugin = args["model-plugin"].as<std::string>();
  return spec;
}

LoadedModel load_model(const GlobalOptions& global, const ModelSpec& spec) {
  if (!fs::is_directory(spec.dir))
    throw Error(
        fmt::format("--model {}: no such directory (a Hugging Face model directory "
                    "with config.json and *.safetensors)",
                    spec.dir.string()));
  // Before anything heavy: which plugin reads the adapter (its config's errors are quick).
  if (!spec.adapter_dir.empty()) (void)engine::adapter_plugin_for(spec.adapter_dir);

  auto registry = std::make_unique<engine::PluginRegistry>();
  registry->scan(engine::plugin_search_path(global.plugin_dirs, {}));
  std::unique_ptr<Backend> backend = registry->select_backend(spec.backend);
  Options backend_options("backend");
  backend_options.set("threads", static_cast<std::int64_t>(spec.threads));
  backend_options.set("device", static_cast<std::int64_t>(spec.device));
  backend->configure(backend_options);

  // The tokenizer first: it is quick to read and its errors are clearer than a model's.
  engine::Tokenizer tokenizer = engine::Tokenizer::from_directory(spec.dir);
  std::unique_ptr<Model> model = registry->create_model(spec.model_plugin);
  const auto start = std::chrono::steady_clock::now();
  model->load({.path = spec.dir, .dtype = spec.dtype, .quantize_linear = std::nullopt}, *backend);
  const ModelInfo info = model->info();
  log::info("model {} ({}, {} layers, hidden {}, vocab {}) loaded in {:.2f} s", spec.dir.string(),
            info.model_type, info.num_layers, info.hidden_size, info.vocab_size,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  std::unique_ptr<Adapter> adapter;
  if (!spec.adapter_dir.empty()) {
    adapter = engine::load_adapter_directory(*registry, spec.adapter_dir, *model, *backend);
    log::info("adapter {} applied", spec.adapter_dir.string());
  }
  return LoadedModel{std::move(registry), std::move(backend), std::move(model),
                     std::move(tokenizer), std::move(adapter)};
}

}  // namespace ft::cli
