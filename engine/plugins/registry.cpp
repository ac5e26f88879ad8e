#include "engine/plugins/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <system_error>
#include <utility>

#include "engine/config/suggest.hpp"
#include "engine/plugins/library.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFilePrefix = "libftengine-";
constexpr std::string_view kFileSuffix = ".so";

bool is_plugin_file_name(std::string_view name) {
  return name.size() > kFilePrefix.size() + kFileSuffix.size() && name.starts_with(kFilePrefix) &&
         name.ends_with(kFileSuffix);
}

// The files of `dir` named libftengine-*.so, sorted by name so that output and precedence
// do not depend on the order the file system lists them in.
std::vector<fs::path> plugin_files_in(const fs::path& dir) {
  std::error_code error;
  if (!fs::exists(dir, error)) {
    log::debug("plugins: {} does not exist, skipped", dir.string());
    return {};
  }
  if (!fs::is_directory(dir, error)) {
    log::debug("plugins: {} is not a directory, skipped", dir.string());
    return {};
  }
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    // is_regular_file follows symbolic links: a link to a plugin is a plugin.
    if (is_plugin_file_name(entry.path().filename().string()) && entry.is_regular_file(error))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// kind and name from the file naming convention libftengine-<kind>-<name>.so, for files
// whose descriptor could not be read.
std::pair<std::string, std::string> kind_and_name_from_file_name(const fs::path& path) {
  std::string stem = path.filename().string();
  stem = stem.substr(kFilePrefix.size(), stem.size() - kFilePrefix.size() - kFileSuffix.size());
  const std::size_t dash = stem.find('-');
  if (dash == std::string::npos) return {stem, ""};
  return {stem.substr(0, dash), stem.substr(dash + 1)};
}

std::string_view interface_of(std::string_view kind) {
  if (kind == "backend") return "ft::Backend";
  if (kind == "model") return "ft::Model";
  if (kind == "adapter") return "ft::Adapter";
  return "ft::Optimizer";
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code error;
  return fs::equivalent(a, b, error) && !error;
}

}  // namespace

struct PluginRegistry::Impl {
  std::vector<PluginInfo> plugins;
  std::vector<const PluginDescriptor*> descriptors;  // parallel to plugins
  std::vector<SkippedPlugin> skipped;
  // What each skipped file would have been, as far as known (parallel to skipped).
  std::vector<std::pair<std::string, std::string>> skipped_ids;
  std::vector<fs::path> searched;  // every directory given to scan(), in order

  void skip(const fs::path& path, std::string reason, std::pair<std::string, std::string> id) {
    log::debug("plugins: skipped {}: {}", path.string(), reason);
    skipped.push_back({path, std::move(reason)});
    skipped_ids.push_back(std::move(id));
  }

  void add(const fs::path& path) {
    for (const PluginInfo& plugin : plugins) {
      if (same_file(plugin.path, path)) {
        log::debug("plugins: {} is already loaded (as {})", path.string(), plugin.path.string());
        return;
      }
    }
    detail::OpenedPlugin opened = detail::open_plugin(path);
    std::pair<std::string, std::string> id = opened.info.name.empty()
                                                 ? kind_and_name_from_file_name(path)
                                                 : std::pair{opened.info.kind, opened.info.name};
    if (!opened.descriptor) {
      skip(path, std::move(opened.reason), std::move(id));
      return;
    }
    if (const PluginInfo* first = find(opened.info.kind, opened.info.name)) {
      skip(path,
           fmt::format("duplicate of {}/{} already loaded from {}", first->kind, first->name,
                       first->path.string()),
           std::move(id));
      return;
    }
    log::debug("plugins: loaded {}/{} {} (ABI {}.{}) from {}", opened.info.kind, opened.info.name,
               opened.info.version, opened.info.abi_major, opened.info.abi_minor, path.string());
    plugins.push_back(std::move(opened.info));
    descriptors.push_back(opened.descriptor);
  }

  const PluginInfo* find(std::string_view kind, std::string_view name) const {
    for (const PluginInfo& plugin : plugins)
      if (plugin.kind == kind && plugin.name == name) return &plugin;
    return nullptr;
  }

  std::string search_path_text() const {
    if (searched.empty()) return "no plugin directories were searched";
    std::vector<std::string> dirs;
    for (const fs::path& dir : searched) dirs.push_back(dir.string());
    return fmt::format("search path: {}", fmt::join(dirs, ", "));
  }

  // Skipped files that would have been kind/name (or of that kind, when name is empty) and
  // whose kind/name is not loaded from elsewhere: "path: reason", each.
  std::vector<std::string> skipped_notes(std::string_view kind, std::string_view name) const {
    std::vector<std::string> notes;
    for (std::size_t i = 0; i < skipped.size(); ++i) {
      const auto& [skipped_kind, skipped_name] = skipped_ids[i];
      if (skipped_kind != kind || (!name.empty() && skipped_name != name)) continue;
      if (find(skipped_kind, skipped_name)) continue;
      notes.push_back(
          fmt::format("{} was skipped: {}", skipped[i].path.string(), skipped[i].reason));
    }
    return notes;
  }

  std::size_t index_of(std::string_view kind, std::string_view name) const {
    for (std::size_t i = 0; i < plugins.size(); ++i)
      if (plugins[i].kind == kind && plugins[i].name == name) return i;

    std::vector<std::string_view> names;
    for (const PluginInfo& plugin : plugins)
      if (plugin.kind == kind) names.push_back(plugin.name);
    std::sort(names.begin(), names.end());
    std::string message =
        fmt::format("no {} plugin named \"{}\"; found: {} ({})", kind, name,
                    names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")),
                    search_path_text());
    for (const std::string& note : skipped_notes(kind, name)) message += "; " + note;
    if (std::optional<std::string> guess = suggest(name, names))
      message += fmt::format("; did you mean \"{}\"?", *guess);
    throw Error(message);
  }

  std::string label(std::size_t index) const {
    return fmt::format("plugin {}/{} ({})", plugins[index].kind, plugins[index].name,
                       plugins[index].path.string());
  }

  // A new object from plugin `index`, as the interface of its kind. Whatever the plugin
  // throws comes out as an ft::Error naming it.
  template <typename Interface>
  std::unique_ptr<Interface> create(std::size_t index) {
    std::unique_ptr<PluginObject> object;
    try {
      object = descriptors[index]->create();
    } catch (const std::exception& e) {
      throw Error(fmt::format("{}: {}", label(index), e.what()));
    } catch (...) {
      throw Error(
          fmt::format("{}: create() threw something that is not an exception", label(index)));
    }
    if (!object) throw Error(fmt::format("{}: create() returned no object", label(index)));
    auto* typed = dynamic_cast<Interface*>(object.get());
    if (!typed)
      throw Error(fmt::format("{} made an object that is not an {}, as its kind \"{}\" requires",
                              label(index), interface_of(plugins[index].kind),
                              plugins[index].kind));
    object.release();
    return std::unique_ptr<Interface>(typed);
  }

  template <typename Interface>
  std::unique_ptr<Interface> create(std::string_view kind, std::string_view name) {
    return create<Interface>(index_of(kind, name));
  }

  DeviceInfo probe(std::size_t index, Backend& backend) const {
    try {
      return backend.probe();
    } catch (const std::exception& e) {
      throw Error(fmt::format("{}: probe() failed: {}", label(index), e.what()));
    } catch (...) {
      throw Error(
          fmt::format("{}: probe() threw something that is not an exception", label(index)));
    }
  }
};

PluginRegistry::PluginRegistry() : impl_(std::make_unique<Impl>()) {}
PluginRegistry::~PluginRegistry() = default;

void PluginRegistry::scan(const std::vector<fs::path>& dirs) {
  for (const fs::path& dir : dirs) {
    impl_->searched.push_back(dir);
    std::vector<fs::path> files;
    try {
      files = plugin_files_in(dir);
    } catch (const std::exception& e) {
      impl_->skip(dir, fmt::format("cannot list the directory: {}", e.what()), {});
      continue;
    }
    for (const fs::path& file : files) {
      try {
        impl_->add(file);
      } catch (const std::exception& e) {
        impl_->skip(file, fmt::format("unexpected error while loading: {}", e.what()),
                    kind_and_name_from_file_name(file));
      } catch (...) {
        impl_->skip(file, "unexpected error while loading (not an exception)",
                    kind_and_name_from_file_name(file));
      }
    }
  }
}

const std::vector<PluginInfo>& PluginRegistry::plugins() const { return impl_->plugins; }

const std::vector<SkippedPlugin>& PluginRegistry::skipped() const { return impl_->skipped; }

const PluginInfo* PluginRegistry::find(std::string_view kind, std::string_view name) const {
  return impl_->find(kind, name);
}

std::unique_ptr<Backend> PluginRegistry::create_backend(std::string_view name) {
  return impl_->create<Backend>("backend", name);
}

std::unique_ptr<Model> PluginRegistry::create_model(std::string_view name) {
  return impl_->create<Model>("model", name);
}

std::unique_ptr<Adapter> PluginRegistry::create_adapter(std::string_view name) {
  return impl_->create<Adapter>("adapter", name);
}

std::unique_ptr<Optimizer> PluginRegistry::create_optimizer(std::string_view name) {
  return impl_->create<Optimizer>("optimizer", name);
}

std::unique_ptr<Backend> PluginRegistry::select_backend(std::string_view name) {
  if (name != "auto") {
    const std::size_t index = impl_->index_of("backend", name);
    std::unique_ptr<Backend> backend = impl_->create<Backend>(index);
    const DeviceInfo device = impl_->probe(index, *backend);
    if (!device.available)
      throw Error(fmt::format(
          "backend \"{}\" is not available here: {} ({}); set backend = \"auto\" to use the "
          "best one that is",
          name, device.reason.empty() ? "it gives no reason" : device.reason,
          impl_->plugins[index].path.string()));
    log::info("backend: {} ({})", name, device.device_name);
    return backend;
  }

  // Every backend plugin, in discovery order; the available one with the highest priority
  // wins, the first found on a tie.
  struct Candidate {
    std::string name;
    std::unique_ptr<Backend> backend;
    DeviceInfo device;
    std::string reason;  // empty when available
  };
  std::vector<Candidate> candidates;
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < impl_->plugins.size(); ++i) {
    if (impl_->plugins[i].kind != "backend") continue;
    Candidate candidate{impl_->plugins[i].name, nullptr, {}, {}};
    try {
      candidate.backend = impl_->create<Backend>(i);
      candidate.device = impl_->probe(i, *candidate.backend);
      if (!candidate.device.available)
        candidate.reason = candidate.device.reason.empty() ? "not available (no reason given)"
                                                           : candidate.device.reason;
    } catch (const Error& e) {
      candidate.reason = e.what();
    }
    candidates.push_back(std::move(candidate));
    const Candidate& added = candidates.back();
    if (added.reason.empty() &&
        (!best || added.device.priority > candidates[*best].device.priority))
      best = candidates.size() - 1;
  }

  // Backend files that could not be loaded at all (libcudart missing, wrong ABI).
  const std::vector<std::string> unloadable = impl_->skipped_notes("backend", "");

  if (!best) {
    std::vector<std::string> reasons;
    for (const Candidate& candidate : candidates)
      reasons.push_back(fmt::format("{}: {}", candidate.name, candidate.reason));
    reasons.insert(reasons.end(), unloadable.begin(), unloadable.end());
    if (reasons.empty())
      throw Error(fmt::format(
          "no backend plugins found ({}); add the directory of libftengine-backend-cpu.so with "
          "--plugin-dir or FTENGINE_PLUGIN_PATH",
          impl_->search_path_text()));
    throw Error(fmt::format("no backend is available here: {} ({})", fmt::join(reasons, "; "),
                            impl_->search_path_text()));
  }

  const Candidate& chosen = candidates[*best];
  std::string message =
      fmt::format("backend: auto picked {} ({})", chosen.name, chosen.device.device_name);
  for (const Candidate& candidate : candidates) {
    if (&candidate == &chosen) continue;
    message += candidate.reason.empty()
                   ? fmt::format("; skipped {} ({}): lower priority ({} < {})", candidate.name,
                                 candidate.device.device_name, candidate.device.priority,
                                 chosen.device.priority)
                   : fmt::format("; skipped {}: {}", candidate.name, candidate.reason);
  }
  for (const std::string& note : unloadable) message += "; " + note;
  log::info("{}", message);
  return std::move(candidates[*best].backend);
}

}  // namespace ft::engine
