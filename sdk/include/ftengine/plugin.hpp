// How a shared library becomes an ftengine plugin.
//
// A plugin exports one Boost.DLL alias, `ftengine_plugin_descriptor`, pointing at a
// function that returns a PluginDescriptor. The engine reads the ABI version first and
// refuses a plugin built for another major version, or for a newer minor version than
// its own, before touching anything else. Write, once per library:
//
//   FTENGINE_PLUGIN(backend, "cpu", "0.1.0", "oneDNN GEMM + OpenMP kernels", CpuBackend)
//
// KIND is a bare word (backend, model, adapter, optimizer), turned into a string as
// written, so it cannot come from another macro. CpuBackend derives from the kind's
// interface (ft::Backend, ft::Model, ft::Adapter, ft::Optimizer) and is
// default-constructible.
//
// The ABI rule. A plugin is C++ built against these headers: the engine and the plugin
// must agree on the layout of every class and struct that crosses the boundary and on the
// vtables of the interfaces (Backend, Model, Adapter, Optimizer) the plugin implements.
//   - A new major version may change anything. Plugins of another major are refused.
//   - Within a major version, a minor version may only add: a virtual function at the end
//     of an interface, a field at the end of an argument struct the engine fills in (a
//     plugin built before reads fewer fields), a new struct, class or free function.
//     Nothing is removed, reordered or changes type; no class a plugin holds by value
//     (ft::Tensor, ft::Linear, ft::Options are handles to out-of-line state) changes size.
//   - A virtual added to an interface, with or without a default, is a slot an older
//     plugin's vtable does not have: minimum_abi_minor(kind) then rises to that minor, so
//     older plugins of that kind are refused with a message instead of being called
//     through a slot they lack. A plugin built for a newer minor than the engine's is
//     refused too.
#pragma once

#include <array>
#include <boost/dll/alias.hpp>
#include <cstdint>
#include <memory>
#include <string_view>

namespace ft {

inline constexpr std::uint32_t kAbiMajor = 2;
inline constexpr std::uint32_t kAbiMinor = 1;

// The kinds of plugin, as the descriptor and the file name (libftengine-<kind>-<name>.so)
// spell them. A kind is added here, with its interface header (a `comm` kind for
// collectives is next).
inline constexpr std::array<std::string_view, 4> kPluginKinds = {"backend", "model", "adapter",
                                                                 "optimizer"};

// The oldest minor version each kind's plugins may be built for (see the rule above).
// 2.1 added Backend::precision_support (and GEMM operand precision fields).
inline constexpr std::uint32_t minimum_abi_minor(std::string_view kind) {
  return kind == "backend" ? 1 : 0;
}

// Base of every object a plugin makes. Its vtable lives in libftengine_sdk.so, so the
// engine can dynamic_cast what a plugin returns to the interface of its kind.
class PluginObject {
 public:
  virtual ~PluginObject();
};

// Plain data, read by the loader. abi_major and abi_minor come first and never move.
struct PluginDescriptor {
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* kind;         // "backend", "model", "adapter", "optimizer"
  const char* name;         // what the job file says: plugin = "cpu"
  const char* version;      // the plugin's own version, semver
  const char* description;  // one line
  std::unique_ptr<PluginObject> (*create)();
};

inline constexpr const char* kPluginDescriptorSymbol = "ftengine_plugin_descriptor";

}  // namespace ft

#define FTENGINE_PLUGIN(KIND, NAME, VERSION, DESCRIPTION, CLASS)       \
  namespace {                                                          \
  std::unique_ptr<::ft::PluginObject> ftengine_plugin_create() {       \
    return std::make_unique<CLASS>();                                  \
  }                                                                    \
  const ::ft::PluginDescriptor* ftengine_plugin_describe() {           \
    static const ::ft::PluginDescriptor descriptor{                    \
        ::ft::kAbiMajor, ::ft::kAbiMinor,        #KIND, NAME, VERSION, \
        DESCRIPTION,     &ftengine_plugin_create};                     \
    return &descriptor;                                                \
  }                                                                    \
  }                                                                    \
  BOOST_DLL_ALIAS(ftengine_plugin_describe, ftengine_plugin_descriptor)
