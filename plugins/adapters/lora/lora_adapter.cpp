#include "plugins/adapters/lora/lora_adapter.hpp"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/log.hpp"

namespace ft::plugins::lora {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_of(const std::vector<Linear*>& layers) {
  std::vector<std::string> names;
  for (const Linear* l : layers) names.push_back(l->name());
  return names;
}

// The message prefix for target_modules from the job (configure's section, "adapter").
std::string job_key(const Options& options, const char* key) {
  return (options.section().empty() ? std::string("adapter") : options.section()) + "." + key;
}

}  // namespace

std::string peft_tensor_name(const std::string& layer_name, const char* which) {
  return fmt::format("base_model.model.{}.{}.weight", layer_name, which);
}

void LoraAdapter::configure(const Options& options) {
  settings_ = settings_from_options(options);
  if (quantize_base_) settings_.quant = quant_from_options(options);
  targets_key_ = job_key(options, "target_modules");
}

void LoraAdapter::require_detached(const char* what) const {
  if (!adapted_.empty())
    throw InternalError(
        fmt::format("lora: {}() on an adapter that is already attached to a "
                    "model; create a new adapter instead",
                    what));
}

template <typename MakeAB>
void LoraAdapter::hook_layers(const std::vector<Linear*>& layers,
                              const std::vector<std::size_t>& chosen, MakeAB make_ab) {
  for (const std::size_t i : chosen)
    if (layers[i]->hook())
      throw Error(
          fmt::format("lora: layer {} already has an adapter attached; attach one "
                      "adapter per model",
                      layers[i]->name()));
  // Every A and B first, so that a failure leaves the model without hooks.
  std::vector<std::pair<Tensor, Tensor>> weights;
  for (const std::size_t i : chosen) weights.push_back(make_ab(i, *layers[i]));
  const float scale = settings_.scale();
  const auto dropout = static_cast<float>(settings_.dropout);
  for (std::size_t slot = 0; slot < chosen.size(); ++slot) {
    Linear* layer = layers[chosen[slot]];
    auto& [a, b] = weights[slot];
    a.set_requires_grad(true).set_name(peft_tensor_name(layer->name(), "lora_A"));
    b.set_requires_grad(true).set_name(peft_tensor_name(layer->name(), "lora_B"));
    auto hook = std::make_shared<LoraHook>(std::move(a), std::move(b), scale, dropout, slot,
                                           chosen.size(), state_);
    layer->set_hook(hook);
    adapted_.push_back({layer, std::move(hook)});
  }
}

void LoraAdapter::attach(Model& model, Backend& backend) {
  require_detached("attach");
  const std::vector<Linear*> layers = model.linear_layers();
  const std::vector<std::size_t> chosen = settings_.targets.resolve(names_of(layers), targets_key_);
  const LoraSettings& s = settings_;
  hook_layers(layers, chosen, [&](std::size_t index, const Linear& layer) {
    return std::pair{kaiming_uniform_a(s.r, layer.in_features(), s.seed,
                                       static_cast<std::uint32_t>(index), backend),
                     Tensor::zeros({layer.out_features(), s.r}, DType::f32, backend)};
  });
  log::debug("lora: r = {}, alpha = {}, scale = {}, on {} of {} linear layers", s.r, s.alpha,
             s.scale(), chosen.size(), layers.size());
  model_ = &model;
  if (quantize_base_) {
    quantize_bases(model);
  } else {
    std::size_t bytes = 0;
    for (const Adapted& a : adapted_) bytes += a.layer->weight().nbytes();
    log::info("lora: base weights of {} layers: {:.2f} MiB as stored ({})", adapted_.size(),
              static_cast<double>(bytes) / (1 << 20),
              adapted_.empty() ? "-" : dtype_name(adapted_.front().layer->weight().dtype()));
  }
}

void LoraAdapter::quantize_bases(Model& model) {
  const Quant4bitOptions q = settings_.quant.value_or(Quant4bitOptions{});
  settings_.quant = q;
  std::size_t stored = 0, dense = 0;
  std::int64_t weights = 0, layers = 0;
  for (Linear* layer : model.linear_layers()) {
    // Model::load quantised them when asked (base_quantization()); a model loaded without
    // that gets its adapted layers quantised here.
    const bool adapted = layer->hook() != nullptr;
    if (!layer->weight_4bit() && adapted)
      layer->set_weight_4bit(ops::quantize_4bit(layer->weight(), q));
    if (!layer->weight_4bit()) continue;
    stored += layer->weight_4bit()->bytes();
    dense += layer->weight().nbytes();
    weights += layer->weight().numel();
    ++layers;
  }
  // What QLoRA is for: the bytes of the frozen base, as stored now and as they were.
  log::info(
      "qlora: base weights of {} layers in {}{}, block {}: {:.2f} MiB as stored ({:.3f} bits "
      "per weight), {:.2f} MiB in {}",
      layers, quant_type_name(q.type), q.double_quant ? " (double-quantised)" : "", q.block_size,
      static_cast<double>(stored) / (1 << 20),
      8.0 * static_cast<double>(stored) / static_cast<double>(std::max<std::int64_t>(1, weights)),
      static_cast<double>(dense) / (1 << 20),
      adapted_.empty() ? "-" : dtype_name(adapted_.front().layer->weight().dtype()));
}

std::optional<Quant4bitOptions> LoraAdapter::base_quantization() const {
  return quantize_base_ ? settings_.quant : std::nullopt;
}

std::vector<Parameter> LoraAdapter::trainable_parameters() const {
  std::vector<Parameter> out;
  for (const Adapted& a : adapted_) {
    out.push_back({peft_tensor_name(a.layer->name(), "lora_A"), a.hook->a()});
    out.push_back({peft_tensor_name(a.layer->name(), "lora_B"), a.hook->b()});
  }
  return out;
}

void LoraAdapter::set_forward_state(const AdapterForwardState& state) { *state_ = state; }

void LoraAdapter::save(const fs::path& dir, const AdapterSaveInfo& info) const {
  if (adapted_.empty())
    throw InternalError("lora: save() with nothing attached: attach() or load() first");
  fs::create_directories(dir);
  std::vector<io::SafetensorsEntry> entries;
  std::vector<std::string> layer_names;
  for (const Parameter& p : trainable_parameters())
    entries.push_back(io::SafetensorsEntry::from_tensor(p.name, p.tensor));
  for (const Adapted& a : adapted_) layer_names.push_back(a.layer->name());
  io::write_safetensors(dir / "adapter_model.safetensors", entries, {{"format", "pt"}});
  const std::string base = info.base_model_name_or_path.empty() ? info.base_model_dir.string()
                                                                : info.base_model_name_or_path;
  io::write_file_atomic(dir / "adapter_config.json",
                        peft_config(settings_, layer_names, base).dump(2) + "\n");
}

void LoraAdapter::load(const fs::path& dir, Model& model, Backend& backend) {
  require_detached("load");
  const fs::path config_path = dir / "adapter_config.json";
  const LoraSettings s = read_peft_config(config_path);
  const std::vector<Linear*> layers = model.linear_layers();
  const std::vector<std::string> layer_names = names_of(layers);
  const std::vector<std::size_t> chosen =
      s.targets.resolve(layer_names, config_path.string() + ": target_modules");

  const fs::path weights_path = dir / "adapter_model.safetensors";
  std::error_code ec;
  if (!fs::is_regular_file(weights_path, ec)) {
    if (fs::exists(dir / "adapter_model.bin", ec))
      throw Error(
          fmt::format("{}: not found, only adapter_model.bin, a pickle file, which "
                      "ftengine does not read (unpickling runs code); save the adapter "
                      "with PEFT's save_pretrained(safe_serialization=True)",
                      weights_path.string()));
    throw Error(
        fmt::format("{}: not found; a PEFT adapter directory holds adapter_config.json "
                    "and adapter_model.safetensors",
                    weights_path.string()));
  }
  const io::SafetensorsFile file(weights_path);
  const std::string file_name = weights_path.string();

  // Every tensor the config implies: A [r, in] and B [out, r] per chosen layer.
  std::map<std::string, std::pair<Shape, const Linear*>> expected;
  std::vector<std::string> chosen_names;
  for (const std::size_t i : chosen) {
    chosen_names.push_back(layer_names[i]);
    const Linear* l = layers[i];
    expected[peft_tensor_name(l->name(), "lora_A")] = {{s.r, l->in_features()}, l};
    expected[peft_tensor_name(l->name(), "lora_B")] = {{l->out_features(), s.r}, l};
  }
  for (const io::SafetensorsTensorInfo& t : file.tensors())
    if (!expected.count(t.name))
      throw Error(
          fmt::format("{}: unexpected tensor \"{}\": not the lora_A or lora_B weight of "
                      "a layer that adapter_config.json's target_modules ({}) selects",
                      file_name, t.name, s.targets.to_json(chosen_names).dump()));
  for (const auto& [name, want] : expected) {
    const auto& [shape, layer] = want;
    const io::SafetensorsTensorInfo* t = file.find(name);
    if (!t)
      throw Error(
          fmt::format("{}: missing tensor \"{}\" (shape {}) for layer {}, which "
                      "adapter_config.json's target_modules selects",
                      file_name, name, shape_str(shape), layer->name()));
    if (t->shape != shape)
      throw Error(
          fmt::format("{}: tensor \"{}\" has shape {}, but layer {} ([{}, {}] weight) "
                      "with r = {} needs {}",
                      file_name, name, shape_str(t->shape), layer->name(), layer->out_features(),
                      layer->in_features(), s.r, shape_str(shape)));
  }

  settings_ = s;
  hook_layers(layers, chosen, [&](std::size_t, const Linear& layer) {
    return std::pair{file.load(peft_tensor_name(layer.name(), "lora_A"), backend, DType::f32),
                     file.load(peft_tensor_name(layer.name(), "lora_B"), backend, DType::f32)};
  });
  log::debug("lora: loaded {} (r = {}, scale = {}) onto {} layers", dir.string(), s.r, s.scale(),
             chosen.size());
  model_ = &model;
  if (quantize_base_) quantize_bases(model);
}

void LoraAdapter::merge() {
  if (adapted_.empty())
    throw InternalError("lora: merge() with nothing attached: load() or attach() first");
  // One layer at a time, so at most one extra weight is alive. set_weight() gives the layer
  // a new tensor: the old one may be a view of the base model's file (copy-on-write
  // mapping) or shared with someone else, and is left as it was.
  for (Adapted& a : adapted_) {
    a.layer->set_weight(a.hook->merged_weight(*a.layer));
    a.layer->set_hook(nullptr);
  }
  adapted_.clear();
  // QLoRA: layers the adapter did not adapt are still 4-bit; dense again, so the merged
  // model can be written out (in the dtype the model was loaded in).
  if (model_ != nullptr)
    for (Linear* layer : model_->linear_layers())
      if (layer->weight_4bit()) {
        const DType dtype = layer->weight().dtype();
        const Tensor dense = layer->dense_weight();
        layer->set_weight(dtype == DType::f32 ? dense : ops::cast(dense, dtype));
      }
}

}  // namespace ft::plugins::lora
