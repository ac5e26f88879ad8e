#include "plugins/adapters/full/full_adapter.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "ftengine/error.hpp"
#include "ftengine/io/model_dir.hpp"
#include "ftengine/log.hpp"

namespace ft::plugins::full {

namespace fs = std::filesystem;

void FullAdapter::configure(const Options& options) {
  freeze_ = options.strings("freeze", {});
  const std::string key = (options.section().empty() ? "adapter" : options.section()) + ".freeze";
  if (std::find(freeze_.begin(), freeze_.end(), "") != freeze_.end())
    throw Error(
        fmt::format("{}: an empty name would freeze every parameter; list names such as "
                    "[\"embed_tokens\"]",
                    key));
}

void FullAdapter::attach(Model& model, Backend&) {
  if (model_) throw InternalError("full: attach() called twice; create a new adapter instead");
  const std::vector<Parameter> parameters = model.parameters();
  for (const Parameter& p : parameters)
    if (is_floating(p.tensor.dtype()) && p.tensor.dtype() != DType::f32)
      throw Error(
          fmt::format("full: the model was loaded as {} (\"{}\"); full fine-tuning trains "
                      "f32 master weights: set model.dtype = \"f32\"",
                      dtype_name(p.tensor.dtype()), p.name));

  std::vector<bool> used(freeze_.size(), false);
  std::vector<Parameter> trainable;
  for (const Parameter& p : parameters) {
    bool frozen = false;
    for (std::size_t i = 0; i < freeze_.size(); ++i)
      if (p.name.find(freeze_[i]) != std::string::npos) frozen = used[i] = true;
    if (!frozen && is_floating(p.tensor.dtype())) trainable.push_back(p);
  }
  if (trainable.empty())
    throw Error(
        fmt::format("full: adapter.freeze [{}] freezes every parameter: nothing would train",
                    fmt::join(freeze_, ", ")));
  for (std::size_t i = 0; i < freeze_.size(); ++i)
    if (!used[i])
      log::warn("full: adapter.freeze: \"{}\" is in no parameter name of this model", freeze_[i]);

  for (Parameter& p : trainable) p.tensor.set_requires_grad(true);
  trainable_ = std::move(trainable);
  model_ = &model;
  log::debug("full: {} of {} parameters train", trainable_.size(), parameters.size());
}

void FullAdapter::save(const fs::path& dir, const AdapterSaveInfo& info) const {
  if (!model_) throw InternalError("full: save() before attach()");
  io::write_model_directory(*model_, info.base_model_dir, dir, info.dtype);
}

void FullAdapter::load(const fs::path& dir, Model&, Backend&) {
  throw Error(
      fmt::format("{}: full fine-tuning has no adapter to load: its output is a whole "
                  "model directory; use it as the model (--model {})",
                  dir.string(), dir.string()));
}

}  // namespace ft::plugins::full
