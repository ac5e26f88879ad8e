// LoRA's settings: from the job's [adapter] table (configure), and to and from PEFT's
// adapter_config.json (save, load), so PEFT and llama.cpp's convert_lora_to_gguf.py read
// what we write and we read what PEFT writes, refusing what we cannot reproduce.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/options.hpp"
#include "ftengine/quant.hpp"
#include "plugins/adapters/lora/target_modules.hpp"

namespace ft::plugins::lora {

struct LoraSettings {
  std::int64_t r = 8;
  double alpha = 16.0;
  double dropout = 0.0;  // on the adapter's input, while training
  TargetModules targets;
  bool use_rslora = false;
  std::uint64_t seed = 0;  // initialisation of A
  // QLoRA: the adapted layers' base weights are held in 4 bits (plugin "qlora").
  std::optional<Quant4bitOptions> quant;

  // The factor on B·A: alpha / r, or alpha / sqrt(r) with rank-stabilised LoRA
  // (Kalajdzievski 2023), which keeps updates from shrinking as r grows.
  float scale() const {
    const double r_d = static_cast<double>(r);
    return static_cast<float>(use_rslora ? alpha / std::sqrt(r_d) : alpha / r_d);
  }
};

// r, alpha, dropout, target_modules, use_rslora, seed; ft::Error naming the key for a value
// LoRA cannot use. target_modules as one string is "all-linear" or a regular expression.
LoraSettings settings_from_options(const Options& options);

// QLoRA's quant_type ("nf4", "fp4"), double_quant (default true) and block_size (default
// 64; 32 to 256, a power of two); ft::Error naming the key for a bad value.
Quant4bitOptions quant_from_options(const Options& options);

// adapter_config.json as PEFT writes it for these settings and the adapted layers. A
// QLoRA adapter also records its base's quantisation under "ftengine_quantization", a key
// PEFT does not know and skips (with a warning) when it loads the config; the adapter
// itself is plain LoRA and applies to the unquantised base too.
nlohmann::json peft_config(const LoraSettings& settings,
                           const std::vector<std::string>& adapted_layer_names,
                           const std::string& base_model_name_or_path);

// Reads adapter_config.json. ft::Error naming the file and field for anything missing,
// malformed, or a PEFT feature this plugin does not implement (another peft_type, DoRA,
// trained biases, Conv1D layout, per-layer ranks or alphas, modules_to_save, layer subsets).
LoraSettings read_peft_config(const std::filesystem::path& path);

}  // namespace ft::plugins::lora
