#include "engine/train/adapter_dir.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace fs = std::filesystem;
using nlohmann::json;

std::string adapter_plugin_for(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw Error(fmt::format(
        "{}: no such adapter directory (a PEFT adapter directory with adapter_config.json "
        "and adapter_model.safetensors)",
        dir.string()));
  const fs::path config_path = dir / "adapter_config.json";
  if (!fs::exists(config_path)) {
    if (fs::exists(dir / "config.json"))
      throw Error(
          fmt::format("{}: a model directory (config.json), not an adapter: full "
                      "fine-tuning writes a whole model; use it as the model (--model {})",
                      dir.string(), dir.string()));
    throw Error(
        fmt::format("{}: not found; a PEFT adapter directory holds adapter_config.json "
                    "and adapter_model.safetensors",
                    config_path.string()));
  }
  std::ifstream in(config_path);
  const json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error(fmt::format("{}: not a JSON object", config_path.string()));
  const auto peft_type = config.find("peft_type");
  if (peft_type == config.end() || !peft_type->is_string())
    throw Error(
        fmt::format("{}: no \"peft_type\"; expected a PEFT adapter config such as "
                    "{{\"peft_type\": \"LORA\", ...}}",
                    config_path.string()));
  if (*peft_type == "LORA") {
    const auto dora = config.find("use_dora");
    return dora != config.end() && dora->is_boolean() && dora->get<bool>() ? "dora" : "lora";
  }
  throw Error(
      fmt::format("{}: peft_type \"{}\" is not supported: ftengine applies LoRA adapters "
                  "(peft_type \"LORA\")",
                  config_path.string(), peft_type->get<std::string>()));
}

std::unique_ptr<Adapter> load_adapter_directory(PluginRegistry& registry, const fs::path& dir,
                                                Model& model, Backend& backend) {
  std::unique_ptr<Adapter> adapter = registry.create_adapter(adapter_plugin_for(dir));
  adapter->load(dir, model, backend);
  adapter->set_forward_state({.training = false});
  return adapter;
}

}  // namespace ft::engine
