#include "engine/plugins/library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <utility>

namespace ft::engine::detail {

namespace {

// Loaded plugin libraries, for the life of the process. Deliberately never destroyed: a
// static vector's destructor would dlclose them at exit, before or after other statics
// that may still hold objects the plugins made (unloading is where plugin systems crash).
// A deque, so that adding one never copies the others (a copy would dlopen them again).
std::deque<boost::dll::shared_library>& pinned_libraries() {
  static auto& libraries = *new std::deque<boost::dll::shared_library>();
  return libraries;
}

// "" when the file starts with the ELF magic, else why it is not a shared library.
std::string check_elf_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("cannot read the file: {}", std::strerror(errno));
  std::array<char, 4> magic{};
  in.read(magic.data(), magic.size());
  constexpr std::array<char, 4> kElfMagic{'\x7f', 'E', 'L', 'F'};
  if (in.gcount() != static_cast<std::streamsize>(magic.size()) || magic != kElfMagic)
    return "not a shared library (no ELF header)";
  return {};
}

std::string text_or(const char* text, std::string_view fallback) {
  return text ? std::string(text) : std::string(fallback);
}

}  // namespace

bool is_known_kind(std::string_view kind) {
  return std::find(kPluginKinds.begin(), kPluginKinds.end(), kind) != kPluginKinds.end();
}

std::string describe_load_failure(const std::filesystem::path& path,
                                  std::string_view dlerror_text) {
  // glibc says "<file>: cannot open shared object file: <errno text>". We only dlopen files
  // that exist, so a <file> other than the plugin itself is a DT_NEEDED entry that the
  // dynamic linker could not find (libcudart.so.12 on a machine without CUDA).
  constexpr std::string_view kCannotOpen = ": cannot open shared object file";
  const std::size_t at = dlerror_text.find(kCannotOpen);
  if (at != std::string_view::npos) {
    const std::string_view file = dlerror_text.substr(0, at);
    if (!file.empty() && file != path.string() && file != path.filename().string())
      return fmt::format("missing dependency {}: {}", file, dlerror_text);
  }
  return fmt::format("failed to load: {}", dlerror_text);
}

OpenedPlugin open_plugin(const std::filesystem::path& path) {
  OpenedPlugin opened;
  opened.info.path = path;

  opened.reason = check_elf_header(path);
  if (!opened.reason.empty()) return opened;

  // rtld_now: an unresolved symbol (a plugin built against another SDK) shows up here, as
  // a skip reason, instead of as a crash on the first call. rtld_local: plugins resolve the
  // SDK through their own DT_NEEDED on libftengine_sdk.so and need nothing of each other.
  boost::dll::shared_library loaded;
  boost::dll::fs::error_code error;
  dlerror();  // clear any stale message, so the one read below is this load's
  loaded.load(boost::dll::fs::path(path.string()),
              boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error || !loaded.is_loaded()) {
    // Boost keeps dlerror()'s text only in the message of the exception it would throw;
    // nothing between the failed dlopen and here calls into libdl, so it is still there.
    opened.reason = describe_load_failure(path, text_or(dlerror(), error.message()));
    return opened;
  }
  const boost::dll::shared_library& library = pinned_libraries().emplace_back(std::move(loaded));

  if (!library.has(kPluginDescriptorSymbol)) {
    opened.reason = "not an ftengine plugin (no ftengine_plugin_descriptor export)";
    return opened;
  }

  // The descriptor function is plugin code: nothing it throws may escape the scan.
  const PluginDescriptor* descriptor = nullptr;
  try {
    descriptor = library.get_alias<const PluginDescriptor*()>(kPluginDescriptorSymbol)();
  } catch (const std::exception& e) {
    opened.reason = fmt::format("its descriptor function failed: {}", e.what());
    return opened;
  } catch (...) {
    opened.reason = "its descriptor function failed (threw something that is not an exception)";
    return opened;
  }
  if (descriptor == nullptr) {
    opened.reason = "its descriptor function returned no descriptor";
    return opened;
  }

  // The ABI version first: with another major version, no other field can be trusted.
  opened.info.abi_major = descriptor->abi_major;
  opened.info.abi_minor = descriptor->abi_minor;
  if (descriptor->abi_major != kAbiMajor || descriptor->abi_minor > kAbiMinor) {
    opened.reason = fmt::format(
        "built for plugin ABI {}.{}, this ftengine speaks {}.{}: rebuild the plugin against "
        "ftengine SDK {}.{}",
        descriptor->abi_major, descriptor->abi_minor, kAbiMajor, kAbiMinor, kAbiMajor, kAbiMinor);
    return opened;
  }

  opened.info.kind = text_or(descriptor->kind, "");
  opened.info.name = text_or(descriptor->name, "");
  opened.info.version = text_or(descriptor->version, "");
  opened.info.description = text_or(descriptor->description, "");
  if (opened.info.kind.empty() || opened.info.name.empty() || descriptor->create == nullptr) {
    opened.reason =
        fmt::format("invalid descriptor: {} is missing (write the descriptor with FTENGINE_PLUGIN)",
                    opened.info.kind.empty()   ? "the kind"
                    : opened.info.name.empty() ? "the name"
                                               : "the create function");
    return opened;
  }
  if (!is_known_kind(opened.info.kind)) {
    opened.reason = fmt::format(
        "unknown plugin kind \"{}\" (this ftengine loads backend, model, adapter and "
        "optimizer plugins)",
        opened.info.kind);
    return opened;
  }
  // A kind whose interface gained pure virtual functions, or whose shared types changed
  // layout, needs plugins built for that version.
  const std::uint32_t needed_minor = minimum_abi_minor(opened.info.kind);
  if (descriptor->abi_minor < needed_minor) {
    opened.reason = fmt::format(
        "built for plugin ABI {}.{}, but {} plugins need {}.{} or newer (the {} interface "
        "changed since in ways older plugins cannot follow): rebuild the plugin against "
        "ftengine SDK {}.{}",
        descriptor->abi_major, descriptor->abi_minor, opened.info.kind, kAbiMajor, needed_minor,
        opened.info.kind, kAbiMajor, kAbiMinor);
    return opened;
  }

  opened.descriptor = descriptor;
  return opened;
}

}  // namespace ft::engine::detail
