#include "engine/config/overrides.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "engine/config/schema.hpp"

namespace ft::engine::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_bare_key(std::string_view part) {
  if (part.empty()) return false;
  for (char c : part)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

// Not TOML, but plainly meant as text: no spaces, and not the start of a quoted string,
// array or inline table that went wrong.
bool is_bare_word(std::string_view value) {
  if (value.empty() || value.front() == '"' || value.front() == '\'' || value.front() == '[' ||
      value.front() == '{')
    return false;
  for (char c : value)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return false;
  return true;
}

// The schema key at `path`, if it is one ("section.key").
const schema::Key* schema_key(const std::vector<std::string>& path) {
  if (path.size() != 2) return nullptr;
  const schema::Section* section = schema::find_section(path[0]);
  return section ? section->find(path[1]) : nullptr;
}

// Parses VALUE as TOML; nullopt and `error` set when it is not one value.
std::optional<toml::table> parse_value(std::string_view value, std::string& error) {
  try {
    toml::table t = toml::parse(fmt::format("v = {}\n", value));
    if (t.size() == 1 && t.contains("v")) return t;
    error = "more than one value";
  } catch (const toml::parse_error& e) {
    error = std::string(e.description());
    if (!error.empty()) error[0] = static_cast<char>(std::tolower(error[0]));
  }
  return std::nullopt;
}

}  // namespace

void apply_overrides(toml::table& doc, const std::vector<std::string>& arguments,
                     ProblemList& problems) {
  for (const std::string& raw : arguments) {
    const std::string argument = "--set " + raw;
    const std::size_t eq = raw.find('=');
    if (eq == std::string::npos) {
      problems.add_in_override(argument, "", "expected KEY=VALUE, e.g. --set train.max_steps=10");
      continue;
    }
    const std::string key_text(trim(std::string_view(raw).substr(0, eq)));
    const std::string_view value = trim(std::string_view(raw).substr(eq + 1));

    std::vector<std::string> path;
    bool key_ok = !key_text.empty();
    for (std::size_t start = 0; key_ok;) {
      const std::size_t dot = key_text.find('.', start);
      path.emplace_back(key_text.substr(start, dot == std::string::npos ? dot : dot - start));
      key_ok = is_bare_key(path.back());
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (!key_ok) {
      problems.add_in_override(
          argument, key_text,
          "expected a dotted key such as train.max_steps (letters, digits, _ and -)");
      continue;
    }
    if (value.empty()) {
      problems.add_in_override(argument, key_text,
                               "expected a value after '=' (write \"\" for an empty string)");
      continue;
    }

    // The value, as the single entry "v" of a table.
    toml::table holder;
    const schema::Key* key = schema_key(path);
    const bool wants_text =
        key && (key->type == schema::Type::string || key->type == schema::Type::string_list);
    if (wants_text && value.front() != '"' && value.front() != '\'' && value.front() != '[') {
      holder.insert("v", std::string(value));
    } else {
      std::string error;
      if (auto parsed = parse_value(value, error)) {
        holder = std::move(*parsed);
      } else if (is_bare_word(value)) {
        holder.insert("v", std::string(value));
      } else {
        std::string message = fmt::format("{} is not a TOML value ({})", value, error);
        if (value.find_first_of(" \t") != std::string_view::npos &&
            std::string_view("[{\"'").find(value.front()) == std::string_view::npos)
          message += fmt::format("; to pass text, quote it: --set '{}=\"{}\"'", key_text, value);
        problems.add_in_override(argument, key_text, message);
        continue;
      }
    }

    // Walk down, making tables where there are none (a non-table in the way is replaced:
    // the schema check then reports the key).
    toml::table* table = &doc;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
      toml::node* next = table->get(path[i]);
      if (!next || !next->is_table()) {
        table->insert_or_assign(path[i], toml::table{});
        next = table->get(path[i]);
        // A table made here is reported at this argument ("trian: unknown section").
        std::string made = path[0];
        for (std::size_t j = 1; j <= i; ++j) made += "." + path[j];
        problems.note_override(made, argument);
      }
      table = next->as_table();
    }
    holder.get("v")->visit([&](auto& n) { table->insert_or_assign(path.back(), std::move(n)); });
    problems.note_override(key_text, argument);
  }
}

}  // namespace ft::engine::detail
