#include "engine/data/jsonl.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

bool is_json_lines(const fs::path& file) {
  const std::string ext = file.extension().string();
  return ext == ".jsonl" || ext == ".json" || ext == ".ndjson";
}

std::string a_json_type(const nlohmann::json& value) {
  const std::string name = value.type_name();
  return (name == "array" || name == "object" ? "an " : "a ") + name;
}

void for_each_json_line(
    const fs::path& file,
    const std::function<void(const nlohmann::json& record, const std::string& at)>& visit) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("{}: cannot open the data file", file.string()));
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = fmt::format("{}:{}", file.string(), number);
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      // A pretty-printed JSON array (Alpaca's .json files) fails on its first line.
      const bool array_file = number == 1 && line.find_first_not_of(" \t") != std::string::npos &&
                              line[line.find_first_not_of(" \t")] == '[';
      throw Error(fmt::format("{}: invalid JSON ({}); expected one object per line{}", at, e.what(),
                              array_file ? " (JSON Lines), and this looks like a JSON array" : ""));
    }
    if (!record.is_object())
      throw Error(
          fmt::format("{}: expected a JSON object per line, found {}", at, a_json_type(record)));
    visit(record, at);
  }
}

const std::string& string_field(const nlohmann::json& record, const std::string& field,
                                const std::string& at) {
  const auto it = record.find(field);
  if (it == record.end()) throw Error(fmt::format("{}: the record has no \"{}\" field", at, field));
  if (!it->is_string())
    throw Error(fmt::format("{}: \"{}\" must be a string, found {}", at, field, a_json_type(*it)));
  return it->get_ref<const std::string&>();
}

std::string read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the data file", file.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace ft::engine
