// ftengine merge --model DIR --adapter DIR --out DIR: the model with the adapter folded
// into its weights, written as a Hugging Face model directory that needs no adapter.
#include <fmt/format.h>

#include "engine/cli/model_options.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/model_dir.hpp"

namespace ft::cli {

namespace {

int merge_command(const GlobalOptions& global, const po::variables_map& args);

}  // namespace

const CommandSpec kMergeCommand{
    .name = "merge",
    .synopsis = "--model DIR --adapter DIR --out DIR",
    .summary = "fold an adapter into its base model and write the merged model",
    .details =
        "The base model is loaded as f32 and the adapter (chosen by its adapter_config.json:\n"
        "peft_type \"LORA\") merged into its weights (W += scale * B A); --out gets config.json,\n"
        "the tokenizer files and model.safetensors, stored as --dtype. It loads anywhere the\n"
        "base model does, no adapter needed.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          options.add_options()                                                         //
              ("model", po::value<std::string>(), "the base model directory")           //
              ("adapter", po::value<std::string>(), "the PEFT adapter directory")       //
              ("out", po::value<std::string>(), "directory to write the merged model")  //
              ("dtype", po::value<std::string>()->default_value("f32"),
               "dtype of the written weights: f32 or bf16")  //
              ("backend", po::value<std::string>()->default_value("auto"),
               "compute backend plugin: auto, cpu, cuda, rocm")                              //
              ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")  //
              ("model-plugin", po::value<std::string>()->default_value("llama"),
               "model plugin that reads the directory");
        },
    .run = merge_command,
};

namespace {

int merge_command(const GlobalOptions& global, const po::variables_map& args) {
  // --dtype is what is written: merging itself runs on f32 weights.
  const std::string dtype_text = args["dtype"].as<std::string>();
  const DType dtype = parse_dtype(dtype_text);
  if (dtype != DType::f32 && dtype != DType::bf16)
    throw Error(fmt::format("--dtype {}: merged weights are written as f32 or bf16", dtype_text));
  ModelSpec spec = model_spec(args, kMergeCommand);
  spec.dtype = DType::f32;
  spec.adapter_dir = required_argument(args, "adapter", kMergeCommand);
  const std::filesystem::path out = required_argument(args, "out", kMergeCommand);

  LoadedModel loaded = load_model(global, spec);
  loaded.adapter->merge();
  io::write_model_directory(*loaded.model, spec.dir, out, dtype);
  fmt::print("{}: {} merged into {} ({})\n", out.string(), spec.adapter_dir.string(),
             spec.dir.string(), dtype_name(dtype));
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
