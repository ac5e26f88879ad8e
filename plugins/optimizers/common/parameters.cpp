#include "plugins/optimizers/common/parameters.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"

namespace ft::plugins::optimizers {

std::string option_name(const Options& options, const std::string& key) {
  return (options.section().empty() ? std::string("optimizer") : options.section()) + "." + key;
}

void option_error(const Options& options, const std::string& key, const std::string& message) {
  throw Error(option_name(options, key) + ": " + message);
}

double non_negative_option(const Options& options, const std::string& key, double fallback) {
  const double value = options.number(key, fallback);
  if (!(value >= 0) || !std::isfinite(value))  // !(>=) also catches NaN
    option_error(options, key, fmt::format("must be a number >= 0, found {}", value));
  return value;
}

bool decays(const Tensor& tensor, bool decay_norms_and_biases) {
  return tensor.ndim() >= 2 || decay_norms_and_biases;
}

std::vector<TrainableParameter> check_parameters(std::string_view optimizer,
                                                 const std::vector<Parameter>& parameters,
                                                 bool decay_norms_and_biases) {
  if (parameters.empty())
    throw Error(fmt::format("{}: no parameters to optimize (is every weight frozen?)", optimizer));
  std::vector<TrainableParameter> out;
  std::set<std::string> seen;
  std::map<const TensorImpl*, std::string> tensors;  // a tensor listed twice would step twice
  for (const Parameter& p : parameters) {
    if (!p.tensor.defined())
      throw Error(fmt::format("{}: parameter '{}' has no tensor", optimizer, p.name));
    if (p.tensor.dtype() != DType::f32)
      throw Error(
          fmt::format("{}: parameter '{}' is {}, but the optimizer updates f32 master weights only "
                      "(train it as f32, or freeze it)",
                      optimizer, p.name, dtype_name(p.tensor.dtype())));
    if (!seen.insert(p.name).second)
      throw Error(
          fmt::format("{}: parameter name '{}' appears twice; names key the optimizer state",
                      optimizer, p.name));
    const auto [it, fresh] = tensors.emplace(p.tensor.impl().get(), p.name);
    if (!fresh)
      throw Error(fmt::format(
          "{}: parameters '{}' and '{}' are the same tensor (tied weights?); list it once",
          optimizer, it->second, p.name));
    out.push_back({p.name, p.tensor, decays(p.tensor, decay_norms_and_biases)});
  }
  return out;
}

Tensor gradient_of(std::string_view optimizer, const TrainableParameter& parameter) {
  Tensor grad = parameter.tensor.grad();
  if (!grad.defined()) return grad;
  if (grad.dtype() != DType::f32 || grad.shape() != parameter.tensor.shape())
    throw InternalError(
        fmt::format("{}: the gradient of '{}' is {} {}, expected f32 {} like the parameter",
                    optimizer, parameter.name, dtype_name(grad.dtype()), shape_str(grad.shape()),
                    shape_str(parameter.tensor.shape())));
  return grad;
}

void check_learning_rate(std::string_view optimizer, float lr) {
  if (!(lr >= 0) || !std::isfinite(lr))
    throw Error(
        fmt::format("{}: the learning rate must be a finite number >= 0, found {}", optimizer, lr));
}

}  // namespace ft::plugins::optimizers
