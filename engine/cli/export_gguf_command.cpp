// ftengine export-gguf --model DIR [--adapter DIR] --out FILE: the model (with the adapter
// merged in) as one GGUF file for llama.cpp.
#include <fmt/format.h>

#include "engine/cli/model_options.hpp"
#include "engine/export/gguf_export.hpp"
#include "ftengine/error.hpp"

namespace ft::cli {

namespace {

int export_gguf_command(const GlobalOptions& global, const po::variables_map& args);

}  // namespace

const CommandSpec kExportGgufCommand{
    .name = "export-gguf",
    .synopsis = "--model DIR [--adapter DIR] --out FILE",
    .summary = "write a model (with an adapter merged) as a GGUF file for llama.cpp",
    .details =
        "The model is loaded as f32, the adapter merged into it, and the result written with\n"
        "llama.cpp's tensor names, the config as metadata and the tokenizer and chat template\n"
        "inside. --type sets the weights' type: f32, f16, bf16, q8_0 or q4_0 (norms stay f32).\n"
        "Llama, Mistral, Qwen2 and Qwen3 models.\n",
    .declare =
        [](po::options_description& options, po::options_description&,
           po::positional_options_description&) {
          options.add_options()                                                       //
              ("model", po::value<std::string>(), "the model directory")              //
              ("adapter", po::value<std::string>(), "a PEFT adapter to merge first")  //
              ("out", po::value<std::string>(), "the GGUF file to write")             //
              ("type", po::value<std::string>()->default_value("f16"),
               "weights as f32, f16, bf16, q8_0 or q4_0")  //
              ("name", po::value<std::string>()->default_value(""),
               "general.name (default: the model directory's name)")  //
              ("backend", po::value<std::string>()->default_value("auto"),
               "compute backend plugin: auto, cpu, cuda, rocm")                              //
              ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")  //
              ("model-plugin", po::value<std::string>()->default_value("llama"),
               "model plugin that reads the directory");
        },
    .run = export_gguf_command,
};

namespace {

int export_gguf_command(const GlobalOptions& global, const po::variables_map& args) {
  const engine::GgmlType type = engine::parse_gguf_type(args["type"].as<std::string>());
  ModelSpec spec = model_spec(args, kExportGgufCommand);
  spec.dtype = DType::f32;
  const std::filesystem::path out = required_argument(args, "out", kExportGgufCommand);
  LoadedModel loaded = load_model(global, spec);
  if (loaded.adapter) loaded.adapter->merge();
  engine::export_gguf(*loaded.model, spec.dir, loaded.tokenizer, out,
                      {.type = type, .name = args["name"].as<std::string>()});
  fmt::print("{}: {}{} as GGUF ({})\n", out.string(), spec.dir.string(),
             spec.adapter_dir.empty() ? "" : " + " + spec.adapter_dir.string(),
             engine::gguf_type_name(type));
  return kExitOk;
}

}  // namespace

}  // namespace ft::cli
