#include "plugins/adapters/lora/lora_config.hpp"

#include <fmt/format.h>

#include <fstream>

#include "ftengine/error.hpp"

namespace ft::plugins::lora {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string key_of(const Options& options, const char* key) {
  return options.section().empty() ? key : options.section() + "." + key;
}

void check_settings(const LoraSettings& s, const std::string& where_r,
                    const std::string& where_alpha, const std::string& where_dropout) {
  if (s.r < 1)
    throw Error(fmt::format("{}: the LoRA rank must be at least 1, found {}", where_r, s.r));
  if (!(s.alpha > 0) || !std::isfinite(s.alpha))
    throw Error(fmt::format("{}: must be a positive number, found {}", where_alpha, s.alpha));
  if (!(s.dropout >= 0 && s.dropout < 1))
    throw Error(fmt::format("{}: must be in [0, 1), found {}", where_dropout, s.dropout));
}

// A whole number as an integer (PEFT's lora_alpha is an int), anything else as is.
json number_json(double value) {
  const double rounded = std::round(value);
  if (rounded == value && std::abs(value) < 1e15) return static_cast<std::int64_t>(rounded);
  return value;
}

}  // namespace

LoraSettings settings_from_options(const Options& options) {
  LoraSettings s;
  s.r = options.integer("r", s.r);
  s.alpha = options.number("alpha", s.alpha);
  s.dropout = options.number("dropout", s.dropout);
  s.use_rslora = options.boolean("use_rslora", s.use_rslora);
  s.seed = static_cast<std::uint64_t>(options.integer("seed", 0));
  // One string and a list of one mean different things (a pattern, a name), as in PEFT.
  const auto it = options.values().find("target_modules");
  if (it != options.values().end()) {
    if (const std::string* text = std::get_if<std::string>(&it->second))
      s.targets = TargetModules::from_string(*text);
    else
      s.targets = TargetModules::from_names(options.strings("target_modules", {}));
  }
  check_settings(s, key_of(options, "r"), key_of(options, "alpha"), key_of(options, "dropout"));
  return s;
}

json peft_config(const LoraSettings& s, const std::vector<std::string>& adapted_layer_names,
                 const std::string& base_model_name_or_path) {
  json config = json::object();
  config["peft_type"] = "LORA";
  config["task_type"] = "CAUSAL_LM";
  config["base_model_name_or_path"] =
      base_model_name_or_path.empty() ? json(nullptr) : json(base_model_name_or_path);
  config["revision"] = nullptr;
  config["r"] = s.r;
  config["lora_alpha"] = number_json(s.alpha);
  config["lora_dropout"] = s.dropout;
  config["target_modules"] = s.targets.to_json(adapted_layer_names);
  config["use_rslora"] = s.use_rslora;
  config["bias"] = "none";
  config["fan_in_fan_out"] = false;
  config["inference_mode"] = true;
  config["modules_to_save"] = nullptr;
  config["init_lora_weights"] = true;
  config["layers_to_transform"] = nullptr;
  config["layers_pattern"] = nullptr;
  config["rank_pattern"] = json::object();
  config["alpha_pattern"] = json::object();
  config["use_dora"] = false;
  if (s.quant)
    config["ftengine_quantization"] = {{"quant_type", quant_type_name(s.quant->type)},
                                       {"double_quant", s.quant->double_quant},
                                       {"block_size", s.quant->block_size}};
  return config;
}

Quant4bitOptions quant_from_options(const Options& options) {
  Quant4bitOptions q;
  const std::string type = options.text("quant_type", "nf4");
  if (type != "nf4" && type != "fp4")
    throw Error(fmt::format("{}: expected \"nf4\" or \"fp4\", found \"{}\"",
                            key_of(options, "quant_type"), type));
  q.type = type == "fp4" ? QuantType::fp4 : QuantType::nf4;
  q.double_quant = options.boolean("double_quant", true);
  q.block_size = options.integer("block_size", 64);
  const std::int64_t b = q.block_size;
  if (b < 32 || b > 256 || (b & (b - 1)) != 0)
    throw Error(fmt::format("{}: expected 32, 64, 128 or 256, found {}",
                            key_of(options, "block_size"), b));
  return q;
}

LoraSettings read_peft_config(const fs::path& path) {
  const std::string file = path.string();
  std::ifstream in(path);
  if (!in)
    throw Error(
        fmt::format("{}: not found; a PEFT adapter directory holds adapter_config.json "
                    "and adapter_model.safetensors",
                    file));
  json config;
  try {
    config = json::parse(in);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file, e.what()));
  }
  if (!config.is_object()) throw Error(fmt::format("{}: expected a JSON object", file));

  const auto field = [&](const char* key) -> const json* {
    const auto it = config.find(key);
    return it == config.end() || it->is_null() ? nullptr : &*it;
  };
  const auto unsupported = [&](const char* key, const json& value, const char* why) {
    throw Error(fmt::format("{}: {} = {} is not supported: {}", file, key, value.dump(), why));
  };

  const json* peft_type = field("peft_type");
  if (!peft_type || *peft_type != "LORA")
    unsupported("peft_type", peft_type ? *peft_type : json(nullptr),
                "this adapter plugin reads LoRA adapters (peft_type \"LORA\")");
  if (const json* v = field("use_dora"); v && *v != false)
    unsupported("use_dora", *v, "DoRA's magnitude vectors are not implemented; use a LoRA adapter");
  if (const json* v = field("bias"); v && *v != "none")
    unsupported("bias", *v, "only adapters without trained biases (bias = \"none\") are read");
  if (const json* v = field("lora_bias"); v && *v != false)
    unsupported("lora_bias", *v, "only adapters without trained biases are read");
  if (const json* v = field("fan_in_fan_out"); v && *v != false)
    unsupported(
        "fan_in_fan_out", *v,
        "it is for GPT-2-style Conv1D weights; Llama-family layers are plain linear layers");
  if (const json* v = field("rank_pattern"); v && !v->empty())
    unsupported("rank_pattern", *v, "every adapted layer must have the same rank r");
  if (const json* v = field("alpha_pattern"); v && !v->empty())
    unsupported("alpha_pattern", *v, "every adapted layer must have the same lora_alpha");
  if (const json* v = field("modules_to_save"); v && !v->empty())
    unsupported("modules_to_save", *v,
                "the adapter may hold only LoRA weights, not trained copies of whole modules");
  if (const json* v = field("layers_to_transform"); v && !v->empty())
    unsupported("layers_to_transform", *v, "target_modules must select the layers on its own");

  LoraSettings s;
  const auto require = [&](const char* key, bool ok, const char* expected) -> const json& {
    const json* v = field(key);
    if (!v) throw Error(fmt::format("{}: missing \"{}\" ({})", file, key, expected));
    if (!ok)
      throw Error(fmt::format("{}: {} must be {}, found {}", file, key, expected, v->dump()));
    return *v;
  };
  const json* r = field("r");
  s.r = require("r", r && r->is_number_integer(), "a whole number").get<std::int64_t>();
  const json* alpha = field("lora_alpha");
  s.alpha = require("lora_alpha", alpha && alpha->is_number(), "a number").get<double>();
  if (const json* v = field("lora_dropout")) {
    if (!v->is_number())
      throw Error(fmt::format("{}: lora_dropout must be a number, found {}", file, v->dump()));
    s.dropout = v->get<double>();
  }
  if (const json* v = field("use_rslora")) {
    if (!v->is_boolean())
      throw Error(fmt::format("{}: use_rslora must be true or false, found {}", file, v->dump()));
    s.use_rslora = v->get<bool>();
  }
  const json* targets = field("target_modules");
  s.targets = TargetModules::from_json(
      require("target_modules", targets != nullptr, "a list of layer names or a string"),
      fmt::format("{}: target_modules", file));
  check_settings(s, file + ": r", file + ": lora_alpha", file + ": lora_dropout");
  return s;
}

}  // namespace ft::plugins::lora
