// One plugin file in, its descriptor or the reason it cannot be used out (used by
// PluginRegistry; not part of the engine's public interface).
//
// open_plugin() checks the file in the order that gives the most useful message: an ELF
// header (a text file named like a plugin), dlopen (a missing dependency such as
// libcudart), the descriptor export, the ABI version (read before any other field, since a
// plugin of another major version may lay out the rest differently), then the remaining
// fields. A library that was loaded is never unloaded, whatever the outcome: its static
// constructors have run, and objects it made may live until the process ends.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/plugins/registry.hpp"
#include "ftengine/plugin.hpp"

namespace ft::engine::detail {

struct OpenedPlugin {
  // Set when the plugin passed every check; points into the library, which stays loaded.
  const PluginDescriptor* descriptor = nullptr;
  // Filled as far as the descriptor could be read (kind and name also for a plugin whose
  // kind is unknown), so that a later duplicate or unknown-name message can name it.
  PluginInfo info;
  // Why the plugin cannot be used; empty when descriptor is set.
  std::string reason;
};

// Never throws for a bad plugin: every failure becomes `reason`.
OpenedPlugin open_plugin(const std::filesystem::path& path);

// "backend", "model", "adapter", "optimizer".
bool is_known_kind(std::string_view kind);

// The text glibc's dlerror() gives for a failed dlopen of `path`, turned into a skip reason:
// "missing dependency libfoo.so: <text>" when a library it needs was not found, else
// "failed to load: <text>".
std::string describe_load_failure(const std::filesystem::path& path, std::string_view dlerror_text);

}  // namespace ft::engine::detail
