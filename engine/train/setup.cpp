#include "engine/train/setup.hpp"

#include <fmt/format.h>

#include <chrono>
#include <set>

#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

// 1234567 -> "1,234,567"
std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

Options::Value option_value(const toml::node& node, const std::string& key) {
  if (const auto* v = node.as_boolean()) return v->get();
  if (const auto* v = node.as_integer()) return v->get();
  if (const auto* v = node.as_floating_point()) return v->get();
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* a = node.as_array()) {
    if (a->empty() || a->is_homogeneous<std::string>()) {  // [] reads as no names
      std::vector<std::string> strings;
      for (const toml::node& e : *a) strings.push_back(e.as_string()->get());
      return strings;
    }
    std::vector<double> numbers;
    for (const toml::node& e : *a) {
      if (const auto* i = e.as_integer())
        numbers.push_back(static_cast<double>(i->get()));
      else if (const auto* f = e.as_floating_point())
        numbers.push_back(f->get());
      else
        break;
    }
    if (numbers.size() == a->size()) return numbers;
  }
  throw Error(
      fmt::format("{}: a plugin option must be a boolean, a number, a string, or an "
                  "array of strings or of numbers",
                  key));
}

}  // namespace

Options options_from_section(const toml::table& resolved, std::string_view section) {
  Options options{std::string(section)};
  const toml::table* table = resolved[section].as_table();
  if (!table) return options;
  for (const auto& [key, node] : *table) {
    if (key.str() == "plugin") continue;
    const std::string name(key.str());
    options.set(name, option_value(node, fmt::format("{}.{}", section, name)));
  }
  return options;
}

ParameterCounts count_parameters(const std::vector<Parameter>& model_parameters,
                                 const std::vector<Parameter>& trainable) {
  ParameterCounts counts;
  std::set<const TensorImpl*> seen;
  for (const Parameter& p : model_parameters)
    if (seen.insert(p.tensor.impl().get()).second) counts.all += p.tensor.numel();
  for (const Parameter& p : trainable) {
    counts.trainable += p.tensor.numel();
    if (seen.insert(p.tensor.impl().get()).second) counts.all += p.tensor.numel();
  }
  return counts;
}

std::string trainable_parameters_line(const ParameterCounts& c) {
  const double percent =
      c.all > 0 ? 100.0 * static_cast<double>(c.trainable) / static_cast<double>(c.all) : 0.0;
  return fmt::format("trainable params: {} || all params: {} || trainable%: {:.4f}",
                     with_commas(c.trainable), with_commas(c.all), percent);
}

Plugins load_plugins(const Job& job, const std::vector<fs::path>& cli_plugin_dirs) {
  auto registry = std::make_unique<PluginRegistry>();
  registry->scan(plugin_search_path(cli_plugin_dirs, job.engine.plugin_dirs));
  // select_backend logs its choice (and, for "auto", why others were passed over).
  std::unique_ptr<Backend> backend = registry->select_backend(job.backend.plugin);
  backend->configure(options_from_section(job.resolved, "backend"));
  return {std::move(registry), std::move(backend)};
}

TrainingSetup set_up_training(const Job& job, Plugins plugins) {
  std::unique_ptr<PluginRegistry> registry = std::move(plugins.registry);
  std::unique_ptr<Backend> backend = std::move(plugins.backend);

  // The tokenizer first: it is quick to read and its errors are clearer than a model's.
  Tokenizer tokenizer = Tokenizer::from_directory(job.model.path);
  // The adapter before the model: it may want the base quantised as it loads (QLoRA).
  std::unique_ptr<Adapter> adapter = registry->create_adapter(job.adapter.plugin);
  Options adapter_options = options_from_section(job.resolved, "adapter");
  adapter_options.set("seed", job.train.seed);
  adapter->configure(adapter_options);

  std::unique_ptr<Model> model = registry->create_model(job.model.plugin);
  const auto start = std::chrono::steady_clock::now();
  model->load({.path = job.model.path,
               .dtype = job.model.dtype,
               .quantize_linear = adapter->base_quantization()},
              *backend);
  model->set_activation_checkpointing(job.train.checkpointing);
  const ModelInfo info = model->info();
  log::info("model {} ({}, {} layers, hidden {}, vocab {}, {}) loaded in {:.2f} s",
            job.model.path.string(), info.model_type, info.num_layers, info.hidden_size,
            info.vocab_size, dtype_name(job.model.dtype),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  adapter->attach(*model, *backend);
  std::vector<Parameter> trainable = adapter->trainable_parameters();
  if (trainable.empty())
    throw Error(
        fmt::format("adapter \"{}\" has nothing to train on this model", job.adapter.plugin));
  log::info("{}", trainable_parameters_line(count_parameters(model->parameters(), trainable)));

  FlatParameters flat(trainable, *backend);
  std::unique_ptr<Optimizer> optimizer = registry->create_optimizer(job.optimizer.plugin);
  optimizer->configure(options_from_section(job.resolved, "optimizer"));
  optimizer->init(trainable, *backend);

  return TrainingSetup{std::move(registry),  std::move(backend), std::move(model),
                       std::move(tokenizer), std::move(adapter), std::move(optimizer),
                       std::move(trainable), std::move(flat)};
}

}  // namespace ft::engine
