#include "ftengine/options.hpp"

#include <fmt/format.h>

#include "ftengine/error.hpp"

namespace ft {

namespace {

const char* type_phrase(const Options::Value& value) {
  switch (value.index()) {
    case 0: return "a boolean";
    case 1: return "an integer";
    case 2: return "a number";
    case 3: return "a string";
    case 4: return "a list of strings";
    default: return "a list of numbers";
  }
}

[[noreturn]] void wrong_type(const Options& options, const std::string& key,
                             const char* expected, const Options::Value& found) {
  const std::string name = options.section().empty() ? key : options.section() + "." + key;
  throw Error(fmt::format("{}: expected {}, found {}", name, expected, type_phrase(found)));
}

}  // namespace

Options& Options::set(const std::string& key, Value value) {
  values_[key] = std::move(value);
  return *this;
}

bool Options::has(const std::string& key) const { return values_.count(key) != 0; }

bool Options::boolean(const std::string& key, bool fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const bool* v = std::get_if<bool>(&it->second)) return *v;
  wrong_type(*this, key, "a boolean", it->second);
}

std::int64_t Options::integer(const std::string& key, std::int64_t fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const std::int64_t* v = std::get_if<std::int64_t>(&it->second)) return *v;
  wrong_type(*this, key, "an integer", it->second);
}

double Options::number(const std::string& key, double fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const double* v = std::get_if<double>(&it->second)) return *v;
  if (const std::int64_t* v = std::get_if<std::int64_t>(&it->second))
    return static_cast<double>(*v);
  wrong_type(*this, key, "a number", it->second);
}

std::string Options::text(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const std::string* v = std::get_if<std::string>(&it->second)) return *v;
  wrong_type(*this, key, "a string", it->second);
}

std::vector<std::string> Options::strings(const std::string& key,
                                          const std::vector<std::string>& fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<std::vector<std::string>>(&it->second)) return *v;
  if (const std::string* v = std::get_if<std::string>(&it->second)) return {*v};
  wrong_type(*this, key, "a list of strings", it->second);
}

std::vector<double> Options::numbers(const std::string& key,
                                     const std::vector<double>& fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<std::vector<double>>(&it->second)) return *v;
  wrong_type(*this, key, "a list of numbers", it->second);
}

}  // namespace ft
