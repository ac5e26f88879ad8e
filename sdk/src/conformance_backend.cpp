// ft::conformance::load_backend: a backend plugin loaded outside the engine, for checks.
#include <fmt/format.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <string_view>

#include "ftengine/conformance.hpp"
#include "ftengine/error.hpp"
#include "ftengine/plugin.hpp"

namespace ft::conformance {

namespace fs = std::filesystem;

struct LoadedBackend::Impl {
  boost::dll::shared_library library;  // declared first: destroyed after the object
  std::unique_ptr<PluginObject> object;
  Backend* backend = nullptr;
};

LoadedBackend::LoadedBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadedBackend::LoadedBackend(LoadedBackend&&) noexcept = default;
LoadedBackend& LoadedBackend::operator=(LoadedBackend&&) noexcept = default;
LoadedBackend::~LoadedBackend() = default;
Backend& LoadedBackend::operator*() const { return *impl_->backend; }
Backend* LoadedBackend::operator->() const { return impl_->backend; }

namespace {

// <dir of libftengine_sdk.so>/ftengine/plugins/libftengine-backend-<name>.so
fs::path installed_plugin(const std::string& name) {
  boost::dll::fs::error_code error;
  const boost::dll::fs::path sdk = boost::dll::this_line_location(error);
  if (error)
    throw Error(fmt::format("load_backend: cannot locate the SDK library: {}", error.message()));
  return fs::path(sdk.string()).parent_path() / "ftengine" / "plugins" /
         fmt::format("libftengine-backend-{}.so", name);
}

}  // namespace

LoadedBackend load_backend(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos;
  const fs::path path = is_path ? fs::path(name_or_path) : installed_plugin(name_or_path);
  if (!fs::is_regular_file(path))
    throw Error(fmt::format("load_backend(\"{}\"): {} not found", name_or_path, path.string()));
  auto impl = std::make_unique<LoadedBackend::Impl>();
  boost::dll::fs::error_code error;
  impl->library.load(boost::dll::fs::path(path.string()),
                     boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error || !impl->library.is_loaded())
    throw Error(fmt::format("load_backend: {}: cannot load: {}", path.string(), error.message()));
  if (!impl->library.has(kPluginDescriptorSymbol))
    throw Error(fmt::format("load_backend: {}: not an ftengine plugin", path.string()));
  const PluginDescriptor* d =
      impl->library.get_alias<const PluginDescriptor*()>(kPluginDescriptorSymbol)();
  if (d == nullptr || d->abi_major != kAbiMajor || d->abi_minor > kAbiMinor)
    throw Error(fmt::format("load_backend: {}: built for ABI {}.{}, this SDK is {}.{}",
                            path.string(), d ? d->abi_major : 0, d ? d->abi_minor : 0, kAbiMajor,
                            kAbiMinor));
  if (std::string_view(d->kind) != "backend")
    throw Error(fmt::format("load_backend: {}: a plugin of kind {}, not a backend", path.string(),
                            d->kind));
  impl->object = d->create();
  impl->backend = dynamic_cast<Backend*>(impl->object.get());
  if (impl->backend == nullptr)
    throw Error(fmt::format("load_backend: {}: create() gave no ft::Backend", path.string()));
  return LoadedBackend(std::move(impl));
}

}  // namespace ft::conformance
