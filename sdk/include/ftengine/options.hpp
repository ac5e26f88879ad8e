// A plugin's settings from the job file: the keys of its [adapter] or [optimizer] table,
// already checked against the schema by the engine (types, ranges), plus any keys a
// third-party plugin defines for itself.
//
//   const double alpha = options.number("alpha", 16.0);
//   const auto targets = options.strings("target_modules", {"q_proj", "v_proj"});
//
// A key of the wrong type is an ft::Error naming the key, what was expected and found.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace ft {

class Options {
 public:
  using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                             std::vector<double>>;

  Options() = default;
  explicit Options(std::string section) : section_(std::move(section)) {}

  Options& set(const std::string& key, Value value);
  bool has(const std::string& key) const;
  const std::map<std::string, Value>& values() const { return values_; }
  // The table's name in messages: "adapter" -> "adapter.r: expected an integer ...".
  const std::string& section() const { return section_; }

  bool boolean(const std::string& key, bool fallback) const;
  std::int64_t integer(const std::string& key, std::int64_t fallback) const;
  double number(const std::string& key, double fallback) const;  // integers widen
  std::string text(const std::string& key, const std::string& fallback) const;
  // A list of strings; a single string is a list of one.
  std::vector<std::string> strings(const std::string& key,
                                   const std::vector<std::string>& fallback) const;
  std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback) const;

 private:
  std::string section_;
  std::map<std::string, Value> values_;
};

}  // namespace ft
