#include "plugins/adapters/lora/target_modules.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <regex>
#include <set>

#include "ftengine/error.hpp"

namespace ft::plugins::lora {

namespace {

constexpr const char* kAllLinear = "all-linear";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// PEFT's check_target_module_exists for a list: the name itself or a dotted suffix.
bool name_matches(const std::string& layer_name, const std::string& target) {
  return layer_name == target || ends_with(layer_name, "." + target);
}

// PEFT leaves the output layer out of "all-linear": it is the vocabulary projection, not
// part of a block. Our models do not list it as a linear layer, but a third-party one might.
bool is_lm_head(const std::string& layer_name) { return short_name(layer_name) == "lm_head"; }

// "q_proj, k_proj, ..." in model order, each once.
std::string short_names_of(const std::vector<std::string>& layer_names) {
  std::vector<std::string> seen;
  for (const std::string& name : layer_names) {
    const std::string s = short_name(name);
    if (std::find(seen.begin(), seen.end(), s) == seen.end()) seen.push_back(s);
  }
  return fmt::format("{}", fmt::join(seen, ", "));
}

}  // namespace

std::string short_name(const std::string& layer_name) {
  const std::size_t dot = layer_name.rfind('.');
  return dot == std::string::npos ? layer_name : layer_name.substr(dot + 1);
}

TargetModules::TargetModules()
    : names_{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} {}

TargetModules TargetModules::from_names(std::vector<std::string> names) {
  // No layer is named "all-linear": a list of just that means the shorthand (the job file
  // reader hands one string over as a list of one).
  if (names.size() == 1 && names[0] == kAllLinear) return from_string(kAllLinear);
  TargetModules t;
  t.kind_ = Kind::names;
  t.names_ = std::move(names);
  return t;
}

TargetModules TargetModules::from_string(std::string text) {
  TargetModules t;
  t.names_.clear();
  if (text == kAllLinear) {
    t.kind_ = Kind::all_linear;
  } else {
    t.kind_ = Kind::pattern;
    t.pattern_ = std::move(text);
  }
  return t;
}

TargetModules TargetModules::from_json(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) return from_string(value.get<std::string>());
  if (value.is_array()) {
    std::vector<std::string> names;
    for (const nlohmann::json& v : value) {
      if (!v.is_string())
        throw Error(
            fmt::format("{}: expected a list of layer names, found {}", where, value.dump()));
      names.push_back(v.get<std::string>());
    }
    return from_names(std::move(names));
  }
  throw Error(
      fmt::format("{}: expected a list of layer names or a string, found {}", where, value.dump()));
}

std::vector<std::size_t> TargetModules::resolve(const std::vector<std::string>& layer_names,
                                                const std::string& where) const {
  std::vector<std::size_t> chosen;
  switch (kind_) {
    case Kind::names: {
      if (names_.empty())
        throw Error(
            fmt::format("{}: names no layer; give layer names such as [\"q_proj\", "
                        "\"v_proj\"], or \"all-linear\"",
                        where));
      for (const std::string& target : names_) {
        if (std::none_of(layer_names.begin(), layer_names.end(),
                         [&](const std::string& n) { return name_matches(n, target); }))
          throw Error(
              fmt::format("{}: \"{}\" matches no linear layer of the model; its linear "
                          "layers are named {}",
                          where, target, short_names_of(layer_names)));
      }
      for (std::size_t i = 0; i < layer_names.size(); ++i)
        if (std::any_of(names_.begin(), names_.end(),
                        [&](const std::string& t) { return name_matches(layer_names[i], t); }))
          chosen.push_back(i);
      break;
    }
    case Kind::all_linear: {
      for (std::size_t i = 0; i < layer_names.size(); ++i)
        if (!is_lm_head(layer_names[i])) chosen.push_back(i);
      if (chosen.empty())
        throw Error(
            fmt::format("{}: \"all-linear\": the model has no linear layer besides the "
                        "LM head",
                        where));
      break;
    }
    case Kind::pattern: {
      std::regex re;
      try {
        re = std::regex(pattern_, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw Error(fmt::format("{}: \"{}\" is not a valid regular expression ({})", where,
                                pattern_, e.what()));
      }
      for (std::size_t i = 0; i < layer_names.size(); ++i)
        if (std::regex_match(layer_names[i], re)) chosen.push_back(i);
      if (chosen.empty())
        throw Error(fmt::format(
            "{}: the regular expression \"{}\" matches no linear layer name in full (names look "
            "like \"{}\"); to adapt layers by their short names give a list, such as [\"{}\"]",
            where, pattern_, layer_names.empty() ? std::string() : layer_names.front(),
            layer_names.empty() ? std::string("q_proj") : short_name(layer_names.front())));
      break;
    }
  }
  return chosen;
}

nlohmann::json TargetModules::to_json(const std::vector<std::string>& adapted_layer_names) const {
  if (kind_ == Kind::pattern) return pattern_;
  // Names are kept as given (each matched a layer, so short names stay short names);
  // "all-linear" becomes the short names it chose, as PEFT saves it.
  std::set<std::string> sorted(names_.begin(), names_.end());
  if (kind_ == Kind::all_linear)
    for (const std::string& name : adapted_layer_names) sorted.insert(short_name(name));
  return nlohmann::json(std::vector<std::string>(sorted.begin(), sorted.end()));
}

}  // namespace ft::plugins::lora
