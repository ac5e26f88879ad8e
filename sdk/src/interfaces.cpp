// Out-of-line destructors of the plugin interfaces: their vtables and type_info live in
// libftengine_sdk.so, which is what makes dynamic_cast work across plugin libraries.
#include "ftengine/adapter.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/backend.hpp"
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

}  // namespace ft
