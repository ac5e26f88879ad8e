// Finds, loads and instantiates plugins.
//
// scan() looks at every file named libftengine-*.so in the given directories, in order,
// and either registers it (its descriptor passed the ABI handshake) or records why it
// was skipped: not a shared library, failed to load (a missing dependency such as
// libcudart), no descriptor export, wrong ABI, duplicate kind/name. A broken file never
// stops the scan. Loaded libraries stay loaded until the process ends, because objects
// they made may outlive any scope we could pick.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ftengine/adapter.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"
#include "ftengine/optimizer.hpp"

namespace ft::engine {

struct PluginInfo {
  std::string kind;
  std::string name;
  std::string version;
  std::string description;
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
  std::filesystem::path path;
};

struct SkippedPlugin {
  std::filesystem::path path;
  std::string reason;
};

// The directories to scan, in order: --plugin-dir flags, FTENGINE_PLUGIN_PATH
// (colon-separated), [engine] plugin_dirs of the job, then lib/ftengine/plugins next to
// the running executable (build and install trees). Never the current directory unless
// named ("." in FTENGINE_PLUGIN_PATH); empty entries are dropped. Relative paths are taken
// from the current directory, so resolve job_dirs against the job file's directory first.
// Returns absolute paths, each directory once (compared by canonical path).
std::vector<std::filesystem::path> plugin_search_path(
    const std::vector<std::filesystem::path>& cli_dirs,
    const std::vector<std::filesystem::path>& job_dirs);

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  void scan(const std::vector<std::filesystem::path>& dirs);

  const std::vector<PluginInfo>& plugins() const;
  const std::vector<SkippedPlugin>& skipped() const;
  const PluginInfo* find(std::string_view kind, std::string_view name) const;

  // New instances. An unknown name is an ft::Error that lists the names of that kind that
  // were found (and the skipped files, if any had that name).
  std::unique_ptr<Backend> create_backend(std::string_view name);
  std::unique_ptr<Model> create_model(std::string_view name);
  std::unique_ptr<Adapter> create_adapter(std::string_view name);
  std::unique_ptr<Optimizer> create_optimizer(std::string_view name);

  // name = "auto": probes every backend plugin and takes the available one with the
  // highest DeviceInfo::priority (CUDA, then ROCm, then CPU), logging the choice and why
  // others were passed over. Otherwise the named backend, which must report available.
  std::unique_ptr<Backend> select_backend(std::string_view name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ft::engine
