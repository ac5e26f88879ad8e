// ftengine init-model --preset NAME --out DIR: a randomly initialised model directory.
#include <fmt/format.h>

#include "engine/cli/cli.hpp"
#include "engine/model_init/model_init.hpp"
#include "engine/plugins/registry.hpp"
#include "ftengine/error.hpp"

namespace ft::cli {

namespace {

int init_model_command(const GlobalOptions&, const po::variables_map& args);

}  // namespace

const CommandSpec kInitModelCommand{
    .name = "init-model",
    .synopsis = "--preset NAME --out DIR",
    .summary = "write a randomly initialised Llama model directory (quickstart, benchmarks)",
    .details =
        "Writes config.json, generation_config.json, model.safetensors, tokenizer.json and\n"
        "tokenizer_config.json in Hugging Face layout. The same --seed gives the same\n"
        "weights (rounded to --dtype). An existing non-empty --out directory is refused.\n"
        "Which tensors the model has, the model plugin says from the config.json.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          options.add_options()                                                                //
              ("preset", po::value<std::string>(), "tiny, bench-25m, bench-125m or bench-1b")  //
              ("out", po::value<std::string>(), "directory to create")                         //
              ("seed", po::value<std::uint64_t>()->default_value(0), "initialisation seed")    //
              ("dtype", po::value<std::string>()->default_value("f32"),
               "weights stored as f32, bf16 or f16")  //
              ("model-plugin", po::value<std::string>()->default_value("llama"),
               "model plugin that lays out the tensors of the config");
        },
    .run = init_model_command,
};

namespace {

int init_model_command(const GlobalOptions& global, const po::variables_map& args) {
  const std::string preset = required_argument(args, "preset", kInitModelCommand);
  const std::string out = required_argument(args, "out", kInitModelCommand);
  const std::string dtype_text = args["dtype"].as<std::string>();
  if (dtype_text != "f32" && dtype_text != "bf16" && dtype_text != "f16")
    throw Error(
        fmt::format("init-model: --dtype {}: use f32, bf16 or f16 (see ftengine "
                    "init-model --help)",
                    dtype_text));
  const DType dtype = parse_dtype(dtype_text);
  (void)engine::model_preset(preset);  // a misspelt preset is refused before plugins load
  engine::PluginRegistry registry;
  registry.scan(engine::plugin_search_path(global.plugin_dirs, {}));
  const std::unique_ptr<Model> layout =
      registry.create_model(args["model-plugin"].as<std::string>());
  const engine::RandomModel model =
      engine::write_random_model(*layout, preset, out, args["seed"].as<std::uint64_t>(), dtype);
  fmt::print("{}: {} model, {} parameters ({:.1f}M), {}, seed {}\n", model.dir.string(), preset,
             model.parameters, static_cast<double>(model.parameters) / 1e6, dtype_text,
             args["seed"].as<std::uint64_t>());
  for (const auto& file : model.files) fmt::print("  {}\n", file.filename().string());
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
