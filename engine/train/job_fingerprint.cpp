#include "engine/train/job_fingerprint.hpp"

#include <fmt/format.h>

#include <map>
#include <set>
#include <string_view>

namespace ft::engine {

namespace {

constexpr std::string_view kFreeSections[] = {"backend", "engine", "output"};
constexpr std::string_view kFreeKeys[] = {"job.name", "train.eval_every", "train.save_every",
                                          "train.keep_checkpoints", "train.checkpointing"};

bool is_free(std::string_view section, std::string_view key) {
  for (std::string_view s : kFreeSections)
    if (s == section) return true;
  const std::string dotted = fmt::format("{}.{}", section, key);
  for (std::string_view k : kFreeKeys)
    if (k == dotted) return true;
  return false;
}

// A value as short text; an integer and a float of the same value read the same
// (alpha = 16 and alpha = 16.0 are one job).
std::string value_text(const toml::node& node) {
  if (const auto* i = node.as_integer()) return fmt::format("{}", static_cast<double>(i->get()));
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* s = node.as_string()) return fmt::format("\"{}\"", s->get());
  if (const auto* a = node.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + value_text(*a->get(i));
    return out + "]";
  }
  if (const auto* t = node.as_table()) {
    std::string out = "{";
    for (const auto& [key, value] : *t)
      out += fmt::format("{}{} = {}", out.size() > 1 ? ", " : "", key.str(), value_text(value));
    return out + "}";
  }
  return "?";
}

// section.key -> value as TOML text.
std::map<std::string, std::string> flatten(const toml::table& resolved) {
  std::map<std::string, std::string> out;
  for (const auto& [section, node] : resume_relevant_keys(resolved)) {
    const toml::table* table = node.as_table();
    if (!table) continue;
    for (const auto& [key, value] : *table)
      out[fmt::format("{}.{}", section.str(), key.str())] = value_text(value);
  }
  return out;
}

}  // namespace

toml::table resume_relevant_keys(const toml::table& resolved) {
  toml::table out;
  for (const auto& [section, node] : resolved) {
    const toml::table* table = node.as_table();
    if (!table) continue;
    toml::table kept;
    for (const auto& [key, value] : *table)
      if (!is_free(section.str(), key.str())) kept.insert(key, value);
    if (!kept.empty()) out.insert(section, std::move(kept));
  }
  return out;
}

std::string job_hash(const toml::table& resolved) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (const auto& [key, value] : flatten(resolved))
    for (const char c : key + "=" + value + "\n") {
      hash ^= static_cast<unsigned char>(c);
      hash *= 0x100000001b3ull;
    }
  return fmt::format("fnv1a64:{:016x}", hash);
}

std::vector<std::string> job_differences(const toml::table& before, const toml::table& now) {
  const std::map<std::string, std::string> a = flatten(before), b = flatten(now);
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    const auto ia = a.find(key), ib = b.find(key);
    const std::string was = ia == a.end() ? "(unset)" : ia->second;
    const std::string is = ib == b.end() ? "(unset)" : ib->second;
    if (was != is) out.push_back(fmt::format("{}: {} -> {}", key, was, is));
  }
  return out;
}

}  // namespace ft::engine
