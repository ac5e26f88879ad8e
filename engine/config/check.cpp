#include "engine/config/check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/config/suggest.hpp"

namespace ft::engine::detail {

namespace {

using schema::Key;
using schema::Section;
using schema::Type;

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  if (auto s = suggest(word, candidates)) return fmt::format("; did you mean \"{}\"?", *s);
  return {};
}

std::vector<std::string_view> key_names(const Section& section) {
  std::vector<std::string_view> names;
  for (const Key& k : section.keys) names.push_back(k.name);
  return names;
}

std::vector<std::string_view> section_names() {
  std::vector<std::string_view> names;
  for (const Section& s : schema::sections()) names.push_back(s.name);
  return names;
}

std::string join_names(const std::vector<std::string_view>& names, std::string_view quote,
                       std::string_view last_sep) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? last_sep : ", ";
    out += fmt::format("{0}{1}{0}", quote, names[i]);
  }
  return out;
}

bool in_range(const Key& key, double v) {
  if (key.min && (key.min->inclusive ? v < key.min->value : v <= key.min->value)) return false;
  if (key.max && (key.max->inclusive ? v > key.max->value : v >= key.max->value)) return false;
  return true;
}

void type_problem(const Key& key, const std::string& path, const toml::node& node,
                  ProblemList& problems) {
  problems.add(path, node.source(),
               fmt::format("expected {}, found {}", schema::describe_expected(key),
                           describe_node_type(node)));
}

// A non-empty string element of a string list, or a problem.
bool check_string_element(const std::string& path, const toml::node& node, ProblemList& problems) {
  if (!node.is_string()) {
    problems.add(path, node.source(),
                 fmt::format("expected a string, found {}", describe_node_type(node)));
    return false;
  }
  if (node.as_string()->get().empty()) {
    problems.add(path, node.source(), "expected a non-empty string, found an empty string");
    return false;
  }
  return true;
}

bool check_number(const Key& key, const std::string& path, const toml::node& node,
                  std::string_view expected, ProblemList& problems) {
  double v = 0;
  if (auto i = node.as_integer()) {
    v = static_cast<double>(i->get());
  } else if (auto f = node.as_floating_point()) {
    v = f->get();
  } else {
    problems.add(path, node.source(),
                 fmt::format("expected {}, found {}", expected, describe_node_type(node)));
    return false;
  }
  if (!std::isfinite(v) || !in_range(key, v)) {
    problems.add(path, node.source(),
                 fmt::format("expected {}, found {}", expected, format_value(node)));
    return false;
  }
  return true;
}

}  // namespace

std::string format_value(const toml::node& node) {
  if (auto s = node.as_string()) return fmt::format("\"{}\"", s->get());
  if (auto i = node.as_integer()) return fmt::format("{}", i->get());
  if (auto f = node.as_floating_point()) {
    std::string text = fmt::format("{}", f->get());
    // Show a float as a float: 1.0, not 1.
    if (std::isfinite(f->get()) && text.find_first_of(".eE") == std::string::npos) text += ".0";
    return text;
  }
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  return std::string(describe_node_type(node));
}

bool check_value(const Key& key, const std::string& path, const toml::node& node,
                 ProblemList& problems) {
  const std::string expected = schema::describe_expected(key);
  switch (key.type) {
    case Type::string: {
      if (!node.is_string()) {
        type_problem(key, path, node, problems);
        return false;
      }
      const std::string& s = node.as_string()->get();
      if (!key.choices.empty() && !key.open_choices &&
          std::find(key.choices.begin(), key.choices.end(), s) == key.choices.end()) {
        problems.add(path, node.source(),
                     fmt::format("expected {}, found {}{}", expected, format_value(node),
                                 did_you_mean(s, key.choices)));
        return false;
      }
      if (s.empty()) {
        problems.add(path, node.source(), "expected a non-empty string, found an empty string");
        return false;
      }
      return true;
    }
    case Type::integer: {
      auto i = node.as_integer();
      if (!i) {
        type_problem(key, path, node, problems);
        return false;
      }
      if (!in_range(key, static_cast<double>(i->get()))) {
        problems.add(path, node.source(), fmt::format("expected {}, found {}", expected, i->get()));
        return false;
      }
      return true;
    }
    case Type::number:
      return check_number(key, path, node, expected, problems);
    case Type::boolean:
      if (!node.is_boolean()) {
        type_problem(key, path, node, problems);
        return false;
      }
      return true;
    case Type::string_list: {
      if (node.is_string()) return check_string_element(path, node, problems);
      auto a = node.as_array();
      if (!a) {
        type_problem(key, path, node, problems);
        return false;
      }
      if (a->empty()) {
        problems.add(path, node.source(),
                     fmt::format("expected {}, found an empty array", expected));
        return false;
      }
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i)
        ok &= check_string_element(fmt::format("{}[{}]", path, i), *a->get(i), problems);
      return ok;
    }
    case Type::string_array: {
      auto a = node.as_array();
      if (!a) {
        type_problem(key, path, node, problems);
        return false;
      }
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i)
        ok &= check_string_element(fmt::format("{}[{}]", path, i), *a->get(i), problems);
      return ok;
    }
    case Type::number_array: {
      auto a = node.as_array();
      if (!a) {
        type_problem(key, path, node, problems);
        return false;
      }
      if (key.length > 0 && a->size() != static_cast<std::size_t>(key.length)) {
        problems.add(path, node.source(),
                     fmt::format("expected {}, found an array of {}", expected, a->size()));
        return false;
      }
      // Each element: "a number in [0, 1)".
      Key element = key;
      element.type = Type::number;
      const std::string element_expected = schema::describe_expected(element);
      bool ok = true;
      for (std::size_t i = 0; i < a->size(); ++i)
        ok &= check_number(key, fmt::format("{}[{}]", path, i), *a->get(i), element_expected,
                           problems);
      return ok;
    }
    case Type::string_table: {
      auto t = node.as_table();
      if (!t) {
        type_problem(key, path, node, problems);
        return false;
      }
      bool ok = true;
      for (const auto& [name, value] : *t)
        if (!value.is_string()) {
          problems.add(fmt::format("{}.{}", path, name.str()), value.source(),
                       fmt::format("expected a string, found {}", describe_node_type(value)));
          ok = false;
        }
      return ok;
    }
  }
  return false;
}

namespace {

// The section's `plugin` when it is a string, else its default (nullopt: none, or not a
// string, which is reported elsewhere).
std::optional<std::string> plugin_of(const Section& section, const toml::table& table) {
  if (const toml::node* p = table.get("plugin")) {
    if (auto s = p->as_string()) return s->get();
    return std::nullopt;
  }
  const Key* key = section.find("plugin");
  if (!key || key->default_value.empty()) return std::nullopt;
  return toml::parse(fmt::format("v = {}", key->default_value))["v"].value<std::string>();
}

void check_section(const Section& section, const toml::table& table, JobPurpose purpose,
                   ProblemList& problems) {
  const std::optional<std::string> plugin = plugin_of(section, table);
  const bool open = plugin && section.is_open_for(*plugin);
  const bool builtin = plugin && !section.builtin_plugins.empty() && !open;
  const std::vector<std::string_view> names = key_names(section);

  for (auto&& [k, node] : table) {
    const std::string path = fmt::format("{}.{}", section.name, k.str());
    const Key* key = section.find(k.str());
    if (!key) {
      if (open) continue;  // passed through to the third-party plugin
      std::string hint = did_you_mean(k.str(), names);
      if (hint.empty())
        hint = fmt::format("; [{}] takes {}", section.name, join_names(names, "", " and "));
      problems.add(path, k.source(), "unknown key" + hint);
      continue;
    }
    if (!check_value(*key, path, node, problems)) continue;
    if (builtin && !key->plugins.empty() &&
        std::find(key->plugins.begin(), key->plugins.end(), *plugin) == key->plugins.end()) {
      problems.add(path, k.source(),
                   fmt::format("only used by {} plugin{} {}, and this job's is \"{}\"",
                               section.name, key->plugins.size() > 1 ? "s" : "",
                               join_names(key->plugins, "\"", " and "), *plugin));
    }
  }

  for (const Key& key : section.keys) {
    const bool required =
        key.required == schema::Required::always ||
        (key.required == schema::Required::to_train && purpose == JobPurpose::train);
    if (!required || table.contains(key.name)) continue;
    const std::string path = fmt::format("{}.{}", section.name, key.name);
    const toml::source_region& where = table.source();
    if (where.begin.line == 0) {
      // No section in the file (perhaps one made by --set, but the file is where to add it).
      problems.add_in_file(
          1, 1, path,
          fmt::format("required key missing (the file has no [{}] section)", section.name));
    } else {
      problems.add(path, where, "required key missing");
    }
  }

  // Keys that exclude each other: report the second one, pointing back at the first.
  for (const Key& key : section.keys) {
    if (key.excludes.empty() || key.name > key.excludes) continue;  // each pair once
    const toml::node* a = table.get(key.name);
    const toml::node* b = table.get(key.excludes);
    if (!a || !b) continue;
    const std::string path_a = fmt::format("{}.{}", section.name, key.name);
    const std::string path_b = fmt::format("{}.{}", section.name, key.excludes);
    // The later one is the problem; an override comes after anything in the file.
    const bool a_first = (!problems.override_for(path_a) && problems.override_for(path_b)) ||
                         (!problems.override_for(path_a) && !problems.override_for(path_b) &&
                          std::tie(a->source().begin.line, a->source().begin.column) <
                              std::tie(b->source().begin.line, b->source().begin.column));
    const auto& [first_path, first, second_path, second] =
        a_first ? std::tie(path_a, *a, path_b, *b) : std::tie(path_b, *b, path_a, *a);
    problems.add(
        second_path, second.source(),
        fmt::format("set either {} or {}, not both ({} is set at {})", first_path, second_path,
                    first_path, problems.location(first_path, first.source())));
  }
}

// Rules across keys that the per-key schema cannot say.
void check_rules(const toml::table& doc, ProblemList& problems) {
  if (auto optimizer = doc.get_as<toml::table>("optimizer")) {
    auto plugin = optimizer->get_as<std::string>("plugin");
    auto nesterov = optimizer->get_as<bool>("nesterov");
    if (plugin && plugin->get() == "sgd" && nesterov && nesterov->get()) {
      const toml::node* momentum = optimizer->get("momentum");
      const bool number = momentum && (momentum->is_integer() || momentum->is_floating_point());
      if (momentum && !number) return;  // its type is reported on its own
      if (!number || !(momentum->value<double>().value_or(0.0) > 0))
        problems.add("optimizer.nesterov", nesterov->source(),
                     fmt::format("Nesterov momentum needs optimizer.momentum > 0, found {}",
                                 number ? format_value(*momentum) : std::string("none")));
    }
  }
}

}  // namespace

void check_document(const toml::table& doc, JobPurpose purpose, ProblemList& problems) {
  const std::vector<std::string_view> sections = section_names();
  for (auto&& [k, node] : doc) {
    const std::string name(k.str());
    const Section* section = schema::find_section(name);
    if (section && node.is_table()) continue;  // checked below, in schema order
    if (section) {
      problems.add(name, node.source(),
                   fmt::format("expected a table (a [{}] section), found {}", name,
                               describe_node_type(node)));
      continue;
    }
    if (node.is_table()) {
      std::string hint = did_you_mean(name, sections);
      if (hint.empty()) hint = fmt::format("; sections are {}", join_names(sections, "", " and "));
      problems.add(name, node.source(), "unknown section" + hint);  // the [header]
      continue;
    }
    // A key above every section: say which section has it, if one does.
    std::string hint;
    for (const Section& s : schema::sections())
      if (s.find(name)) {
        hint = problems.override_for(name)
                   ? fmt::format("; did you mean \"{}.{}\"?", s.name, name)
                   : fmt::format("; did you mean \"{}\" in the [{}] section?", name, s.name);
        break;
      }
    problems.add(name, k.source(), "unknown key outside any section" + hint);
  }

  static const toml::table kEmpty;
  for (const Section& section : schema::sections()) {
    const toml::table* table = doc.get_as<toml::table>(section.name);
    if (doc.contains(section.name) && !table) continue;  // wrong type, reported above
    check_section(section, table ? *table : kEmpty, purpose, problems);
  }
  check_rules(doc, problems);
}

}  // namespace ft::engine::detail
