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
// ABI rule: within a major version the interfaces only grow at their end (new virtual
// functions last, new struct fields last); anything else bumps kAbiMajor.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/dll/alias.hpp>

namespace ft {

inline constexpr std::uint32_t kAbiMajor = 1;
inline constexpr std::uint32_t kAbiMinor = 3;

// The oldest minor version each kind's plugins may be built for: a kind whose interface
// gained pure virtual functions cannot use plugins built before them.
//   1.1: Model gained info(), logits(), set_activation_checkpointing(), begin_decode(),
//        decode(); Backend gained host_accessible() (with a default, so 1.0 still loads).
//   1.2: Adapter gained configure(), set_forward_state(), save(), load(), merge();
//        Optimizer gained configure() and state().
//   1.3: Backend gained gemm_4bit() (with a default that refuses, so older ones load);
//        ft::Linear gained a 4-bit weight (its layout changed, so model and adapter
//        plugins must be rebuilt); Adapter gained base_quantization(), ModelLoadOptions
//        quantize_linear.
inline constexpr std::uint32_t minimum_abi_minor(std::string_view kind) {
  if (kind == "model" || kind == "adapter") return 3;
  if (kind == "optimizer") return 2;
  return 0;
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

#define FTENGINE_PLUGIN(KIND, NAME, VERSION, DESCRIPTION, CLASS)                            \
  namespace {                                                                               \
  std::unique_ptr<::ft::PluginObject> ftengine_plugin_create() {                            \
    return std::make_unique<CLASS>();                                                       \
  }                                                                                         \
  const ::ft::PluginDescriptor* ftengine_plugin_describe() {                                \
    static const ::ft::PluginDescriptor descriptor{::ft::kAbiMajor, ::ft::kAbiMinor, #KIND, \
                                                   NAME, VERSION, DESCRIPTION,              \
                                                   &ftengine_plugin_create};                \
    return &descriptor;                                                                     \
  }                                                                                         \
  }                                                                                         \
  BOOST_DLL_ALIAS(ftengine_plugin_describe, ftengine_plugin_descriptor)
