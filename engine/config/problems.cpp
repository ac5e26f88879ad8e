#include "engine/config/problems.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace ft::engine::detail {

ProblemList::ProblemList(std::string file_origin, std::vector<std::string> override_arguments)
    : file_origin_(std::move(file_origin)), override_arguments_(std::move(override_arguments)) {}

void ProblemList::note_override(const std::string& key_path, const std::string& argument) {
  // A later --set of a table replaces what an earlier one set below it.
  for (auto it = override_of_key_.begin(); it != override_of_key_.end();) {
    const std::string& k = it->first;
    const bool below = k.size() > key_path.size() && k.compare(0, key_path.size(), key_path) == 0 &&
                       (k[key_path.size()] == '.' || k[key_path.size()] == '[');
    it = below ? override_of_key_.erase(it) : std::next(it);
  }
  override_of_key_[key_path] = argument;
}

const std::string* ProblemList::override_for(std::string_view key_path) const {
  std::string_view path = key_path;
  while (!path.empty()) {
    if (auto it = override_of_key_.find(path); it != override_of_key_.end()) return &it->second;
    const std::size_t cut = path.find_last_of(".[");
    if (cut == std::string_view::npos) break;
    path = path.substr(0, cut);
  }
  return nullptr;
}

Problem ProblemList::locate(std::string key_path, const toml::source_region& where,
                            std::string message) const {
  if (const std::string* argument = override_for(key_path))
    return Problem{*argument, 0, 0, std::move(key_path), std::move(message)};
  return Problem{file_origin_, static_cast<int>(where.begin.line),
                 static_cast<int>(where.begin.column), std::move(key_path), std::move(message)};
}

void ProblemList::add(std::string key_path, const toml::source_region& where, std::string message) {
  problems_.push_back(locate(std::move(key_path), where, std::move(message)));
}

void ProblemList::add_in_file(int line, int column, std::string key_path, std::string message) {
  problems_.push_back(Problem{file_origin_, line, column, std::move(key_path), std::move(message)});
}

void ProblemList::add_in_override(const std::string& argument, std::string key_path,
                                  std::string message) {
  problems_.push_back(Problem{argument, 0, 0, std::move(key_path), std::move(message)});
}

std::string ProblemList::location(std::string_view key_path,
                                  const toml::source_region& where) const {
  Problem p = locate(std::string(key_path), where, {});
  if (p.line == 0) return p.origin;
  return fmt::format("{}:{}:{}", p.origin, p.line, p.column);
}

int ProblemList::rank(const Problem& problem) const {
  if (problem.origin == file_origin_) return 0;
  auto it = std::find(override_arguments_.begin(), override_arguments_.end(), problem.origin);
  return 1 + static_cast<int>(it - override_arguments_.begin());
}

std::vector<Problem> ProblemList::sorted() const {
  std::vector<Problem> out = problems_;
  std::stable_sort(out.begin(), out.end(), [this](const Problem& a, const Problem& b) {
    return std::make_tuple(rank(a), a.line, a.column) < std::make_tuple(rank(b), b.line, b.column);
  });
  return out;
}

std::string_view describe_node_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

}  // namespace ft::engine::detail
