#include "ftengine/log.hpp"

#include <atomic>
#include <cstdio>

namespace ft::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};

const char* prefix(Level level) {
  switch (level) {
    case Level::debug: return "debug: ";
    case Level::warn: return "warning: ";
    case Level::error: return "error: ";
    default: return "";
  }
}
}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }

void write(Level level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  // One fwrite per line so lines from several threads do not interleave.
  std::string line = fmt::format("ftengine: {}{}\n", prefix(level), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace ft::log
