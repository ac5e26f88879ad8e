// Out-of-line destructors of the plugin interfaces: their vtables and type_info live in
// libftengine_sdk.so, which is what makes dynamic_cast work across plugin libraries. And
// the defaults of interface functions added within a major version (the Backend's fused
// kernels have theirs in backend_defaults.cpp).
#include <fmt/format.h>

#include "ftengine/adapter.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"
#include "ftengine/model.hpp"
#include "ftengine/module.hpp"
#include "ftengine/optimizer.hpp"
#include "ftengine/plugin.hpp"

namespace ft {

PluginObject::~PluginObject() = default;
Backend::~Backend() = default;
Model::~Model() = default;
Adapter::~Adapter() = default;
Optimizer::~Optimizer() = default;
LinearHook::~LinearHook() = default;
Node::~Node() = default;

std::optional<Quant4bitOptions> Adapter::base_quantization() const { return std::nullopt; }

std::vector<TensorSpec> Model::tensor_layout() const {
  throw Error(
      "this model plugin does not list its tensors (Model::tensor_layout): the GGUF export and "
      "init-model need a model plugin that does, such as llama");
}

void Model::describe(const std::filesystem::path& model_dir) {
  throw Error(
      fmt::format("{}: this model plugin cannot read a config.json without its weights "
                  "(Model::describe): init-model needs a model plugin that can, such as llama",
                  model_dir.string()));
}

void Backend::gemm_4bit(const Gemm4bitArgs&) {
  throw Error(fmt::format(
      "the {} backend has no 4-bit GEMM: QLoRA needs a backend that has one, such as cpu", name()));
}

PrecisionSupport Backend::precision_support() const {
  return {false, "this backend has no bf16 GEMM"};
}

}  // namespace ft
