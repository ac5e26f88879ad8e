// Which linear layers LoRA adapts, read as PEFT reads LoraConfig.target_modules:
//
//   ["q_proj", "v_proj"]   layers whose name is, or ends with "." and, one of the names
//   "all-linear"           every linear layer but the LM head
//   any other string       a regular expression that must match the whole layer name
//
// Layer names are ft::Linear::name(), e.g. "model.layers.3.self_attn.q_proj".
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ft::plugins::lora {

class TargetModules {
 public:
  enum class Kind { names, all_linear, pattern };

  // The default: every projection of a Llama-family layer (the engine's schema default).
  TargetModules();
  // ["all-linear"] is taken as "all-linear".
  static TargetModules from_names(std::vector<std::string> names);
  // "all-linear", or else a regular expression.
  static TargetModules from_string(std::string text);
  // adapter_config.json's value: a list of names or a string. `where` starts messages.
  static TargetModules from_json(const nlohmann::json& value, const std::string& where);

  Kind kind() const { return kind_; }

  // Indices into layer_names of the layers to adapt, in order. ft::Error, starting with
  // `where`, when a name or the pattern matches no layer, or the pattern is not valid.
  std::vector<std::size_t> resolve(const std::vector<std::string>& layer_names,
                                   const std::string& where) const;

  // adapter_config.json's target_modules, a value that resolves to the same layers again:
  // the names, sorted; for "all-linear" the sorted short names of the layers it chose
  // (adapted_layer_names), as PEFT saves it; a pattern as itself (short names would widen
  // it to every layer of those kinds).
  nlohmann::json to_json(const std::vector<std::string>& adapted_layer_names) const;

 private:
  Kind kind_ = Kind::names;
  std::vector<std::string> names_;
  std::string pattern_;
};

// The last component of a layer name: "model.layers.0.mlp.up_proj" -> "up_proj".
std::string short_name(const std::string& layer_name);

}  // namespace ft::plugins::lora
