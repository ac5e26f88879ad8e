// DoRA, weight-decomposed low-rank adaptation (Liu et al. 2024), as an ftengine adapter
// plugin written only against the installed SDK (find_package(ftengine)).
//
// Each targeted linear layer W [out, in] gets LoRA's A [r, in] and B [out, r] and a
// magnitude m [out]:
//
//   W' = m ⊙ (W + s·B·A) / ‖W + s·B·A‖        s = alpha / r; the norm is per output row
//   y  = x·W'ᵀ + b = (m / ‖·‖) ⊙ (x·Wᵀ + s·(x·Aᵀ)·Bᵀ) + b
//
// The norm is treated as a constant in backward (the paper's section 4.3, as PEFT does):
// it is computed under NoGrad, so gradients reach m through m / ‖·‖ and A, B through the
// low-rank path only. m starts at ‖W‖ and B at zero, so a fresh adapter changes nothing.
//
// Saved in PEFT's format: adapter_config.json with "use_dora": true, and in
// adapter_model.safetensors each layer's lora_A.weight, lora_B.weight and
// lora_magnitude_vector (PEFT's key names), so PEFT loads it with PeftModel.from_pretrained.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <ftengine/adapter.hpp>
#include <ftengine/autograd.hpp>
#include <ftengine/error.hpp>
#include <ftengine/io/safetensors.hpp>
#include <ftengine/log.hpp>
#include <ftengine/ops.hpp>
#include <ftengine/plugin.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace dora {

namespace fs = std::filesystem;
using nlohmann::json;

struct Settings {
  std::int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;  // on the low-rank path's input, while training
  std::vector<std::string> targets = {"q_proj", "v_proj"};  // PEFT's default for Llama
  std::uint64_t seed = 0;
  float scale() const { return static_cast<float>(alpha / static_cast<double>(r)); }
};

std::string peft_name(const std::string& layer, const char* what) {
  return fmt::format("base_model.model.{}.{}", layer, what);
}

// "model.layers.3.self_attn.q_proj" is targeted by "q_proj" or "self_attn.q_proj" (PEFT:
// a name in the list matches the module's name or a dotted suffix of it).
bool is_target(const std::string& layer_name, const std::vector<std::string>& targets) {
  for (const std::string& t : targets)
    if (layer_name == t || layer_name.ends_with("." + t)) return true;
  return false;
}

// ‖W + s·B·A‖ per output row, in f32, outside autograd. B = undefined: ‖W‖.
std::vector<float> row_norms(const ft::Linear& layer, const ft::Tensor& a, const ft::Tensor& b,
                             float s) {
  ft::NoGrad no_grad;
  ft::Tensor w = layer.dense_weight();  // a 4-bit base (QLoRA-style) is dequantised
  if (w.dtype() != ft::DType::f32) w = ft::ops::cast(w, ft::DType::f32);
  if (b.defined()) w = ft::ops::add(w, ft::ops::scale(ft::ops::matmul(b, a), s));
  const std::int64_t in = layer.in_features();
  const ft::Tensor ones = ft::Tensor::from_vector(
      std::vector<float>(static_cast<std::size_t>(in), 1.0f), {in, 1}, w.backend());
  std::vector<float> norms = ft::ops::matmul(ft::ops::mul(w, w), ones).to_vector();  // [out, 1]
  for (float& n : norms) n = std::sqrt(n);
  return norms;
}

// Dropout masks: each (micro-batch, adapted layer) pair owns 2^32 consecutive elements of
// the job seed's stream, so masks never share random numbers and repeat on resume.
struct DropoutKey {
  std::shared_ptr<const ft::AdapterForwardState> state;  // updated before every forward
  float p = 0.0f;
  std::uint64_t slot = 0, slots = 1;
};

class DoraHook final : public ft::LinearHook {
 public:
  DoraHook(ft::Tensor a, ft::Tensor b, ft::Tensor magnitude, float scale, DropoutKey dropout)
      : a_(std::move(a)),
        b_(std::move(b)),
        m_(std::move(magnitude)),
        scale_(scale),
        dropout_(std::move(dropout)) {}

  ft::Tensor forward(const ft::Linear& layer, const ft::Tensor& x) override {
    ft::Backend& be = x.backend();
    std::vector<float> inverse = row_norms(layer, a_, b_, scale_);
    for (float& n : inverse) n = 1.0f / std::max(n, 1e-12f);
    const ft::Tensor row_scale =  // m / ‖W + s·B·A‖: [out], differentiable in m only
        ft::ops::mul(m_, ft::Tensor::from_vector(inverse, m_.shape(), be));
    // As PEFT: the base sees x, the low-rank path dropout(x).
    ft::Tensor h = x;
    if (dropout_.p > 0.0f && dropout_.state->training) {
      const std::uint64_t offset = (dropout_.state->micro_batch * dropout_.slots + dropout_.slot)
                                   << 32;
      h = ft::ops::dropout(x, dropout_.p, dropout_.state->seed, offset);
    }
    const ft::Tensor low = ft::ops::scale(ft::ops::linear(h, a_), scale_);  // [..., r]
    ft::Tensor y = ft::ops::add(layer.base_forward(x), ft::ops::linear(low, b_));
    y = ft::ops::mul(y, row_scale);  // [..., out] ⊙ [out]: each output row scaled
    if (layer.bias().defined()) {
      // The line above scaled the bias too: add (1 - m/‖·‖) ⊙ b back, on every row.
      const ft::Tensor keep =
          ft::ops::mul(ft::ops::add(filled(m_.shape(), 1.0f, be), ft::ops::scale(row_scale, -1.0f)),
                       layer.bias());
      y = ft::ops::add(y, ft::ops::mul(filled(y.shape(), 1.0f, be), keep));
    }
    return y;
  }

  // W' = (m / ‖W + s·B·A‖) ⊙ (W + s·B·A), in the dtype of the layer's weight. Once per
  // merge, so on the host.
  ft::Tensor merged_weight(const ft::Linear& layer) const {
    ft::NoGrad no_grad;
    const std::vector<float> norms = row_norms(layer, a_, b_, scale_);
    const std::vector<float> m = m_.to_vector();
    ft::Tensor w = layer.dense_weight();
    if (w.dtype() != ft::DType::f32) w = ft::ops::cast(w, ft::DType::f32);
    std::vector<float> merged =
        ft::ops::add(w, ft::ops::scale(ft::ops::matmul(b_, a_), scale_)).to_vector();
    const auto in = static_cast<std::size_t>(layer.in_features());
    for (std::size_t row = 0; row < norms.size(); ++row)
      for (std::size_t j = 0; j < in; ++j)
        merged[row * in + j] *= m[row] / std::max(norms[row], 1e-12f);
    const ft::Tensor out = ft::Tensor::from_vector(merged, w.shape(), w.backend());
    const ft::DType dtype = layer.weight().dtype();
    return dtype == ft::DType::f32 ? out : ft::ops::cast(out, dtype);
  }

  const ft::Tensor& a() const { return a_; }
  const ft::Tensor& b() const { return b_; }
  const ft::Tensor& magnitude() const { return m_; }

 private:
  static ft::Tensor filled(const ft::Shape& shape, float value, ft::Backend& be) {
    return ft::Tensor::from_vector(
        std::vector<float>(static_cast<std::size_t>(ft::shape_numel(shape)), value), shape, be);
  }

  ft::Tensor a_, b_, m_;
  float scale_;
  DropoutKey dropout_;
};

class DoraAdapter final : public ft::Adapter {
 public:
  void configure(const ft::Options& options) override {
    settings_.r = options.integer("r", settings_.r);
    settings_.alpha = options.number("alpha", settings_.alpha);
    settings_.targets = options.strings("target_modules", settings_.targets);
    settings_.seed = static_cast<std::uint64_t>(options.integer("seed", 0));
    settings_.dropout = options.number("dropout", settings_.dropout);
    if (!(settings_.dropout >= 0.0 && settings_.dropout < 1.0))
      throw ft::Error(
          fmt::format("adapter.dropout: must be in [0, 1), found {}", settings_.dropout));
    if (settings_.r < 1)
      throw ft::Error(fmt::format("adapter.r: the rank must be at least 1, found {}", settings_.r));
    if (!(settings_.alpha > 0))
      throw ft::Error(fmt::format("adapter.alpha: must be positive, found {}", settings_.alpha));
  }

  void attach(ft::Model& model, ft::Backend& backend) override {
    hook_layers(model, [&](std::size_t index, const ft::Linear& layer) {
      // A as PEFT's kaiming_uniform_(a = sqrt(5)): uniform in ±1/sqrt(in); B zero; m = ‖W‖.
      std::mt19937_64 rng(settings_.seed * 1000003u + index);
      const float bound = 1.0f / std::sqrt(static_cast<float>(layer.in_features()));
      std::uniform_real_distribution<float> uniform(-bound, bound);
      std::vector<float> a(static_cast<std::size_t>(settings_.r * layer.in_features()));
      for (float& v : a) v = uniform(rng);
      const std::vector<float> norms = row_norms(layer, ft::Tensor(), ft::Tensor(), 0.0f);
      return Weights{
          ft::Tensor::from_vector(a, {settings_.r, layer.in_features()}, backend),
          ft::Tensor::zeros({layer.out_features(), settings_.r}, ft::DType::f32, backend),
          ft::Tensor::from_vector(norms, {layer.out_features()}, backend)};
    });
    ft::log::info("dora: r = {}, alpha = {} on {} layers", settings_.r, settings_.alpha,
                  adapted_.size());
  }

  std::vector<ft::Parameter> trainable_parameters() const override {
    std::vector<ft::Parameter> out;
    for (const Adapted& a : adapted_) {
      out.push_back({peft_name(a.layer->name(), "lora_A.weight"), a.hook->a()});
      out.push_back({peft_name(a.layer->name(), "lora_B.weight"), a.hook->b()});
      out.push_back({peft_name(a.layer->name(), "lora_magnitude_vector"), a.hook->magnitude()});
    }
    return out;
  }

  void set_forward_state(const ft::AdapterForwardState& state) override { *state_ = state; }

  void save(const fs::path& dir, const ft::AdapterSaveInfo& info) const override {
    std::vector<ft::io::SafetensorsEntry> entries;
    for (const ft::Parameter& p : trainable_parameters())
      entries.push_back(ft::io::SafetensorsEntry::from_tensor(p.name, p.tensor));
    ft::io::write_safetensors(dir / "adapter_model.safetensors", entries, {{"format", "pt"}});
    const json config = {
        {"peft_type", "LORA"},
        {"task_type", "CAUSAL_LM"},
        {"use_dora", true},
        {"r", settings_.r},
        {"lora_alpha", settings_.alpha},
        {"lora_dropout", settings_.dropout},
        {"target_modules", settings_.targets},
        {"bias", "none"},
        {"fan_in_fan_out", false},
        {"use_rslora", false},
        {"init_lora_weights", true},
        {"inference_mode", true},
        {"modules_to_save", nullptr},
        {"base_model_name_or_path", info.base_model_name_or_path.empty()
                                        ? info.base_model_dir.string()
                                        : info.base_model_name_or_path},
    };
    ft::io::write_file_atomic(dir / "adapter_config.json", config.dump(2) + "\n");
  }

  void load(const fs::path& dir, ft::Model& model, ft::Backend& backend) override {
    const fs::path config_path = dir / "adapter_config.json";
    std::ifstream in(config_path);
    const json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object() || config.value("use_dora", false) != true)
      throw ft::Error(
          fmt::format("{}: not a DoRA adapter config (\"use_dora\": true)", config_path.string()));
    if (!config.contains("target_modules") || !config["target_modules"].is_array())
      throw ft::Error(
          fmt::format("{}: target_modules must be a list of module names", config_path.string()));
    settings_.r = config.value("r", settings_.r);
    settings_.alpha = config.value("lora_alpha", settings_.alpha);
    settings_.dropout = config.value("lora_dropout", 0.0);
    settings_.targets = config["target_modules"].get<std::vector<std::string>>();
    const ft::io::SafetensorsFile file(dir / "adapter_model.safetensors");
    hook_layers(model, [&](std::size_t, const ft::Linear& layer) {
      const auto load = [&](const char* what, const ft::Shape& shape) {
        const std::string name = peft_name(layer.name(), what);
        const ft::io::SafetensorsTensorInfo& t = file.at(name);
        if (t.shape != shape)
          throw ft::Error(fmt::format("{}: tensor \"{}\" has shape {}, layer {} needs {}",
                                      file.path().string(), name, ft::shape_str(t.shape),
                                      layer.name(), ft::shape_str(shape)));
        return file.load(name, backend, ft::DType::f32);
      };
      return Weights{load("lora_A.weight", {settings_.r, layer.in_features()}),
                     load("lora_B.weight", {layer.out_features(), settings_.r}),
                     load("lora_magnitude_vector", {layer.out_features()})};
    });
  }

  void merge() override {
    for (Adapted& a : adapted_) {
      a.layer->set_weight(a.hook->merged_weight(*a.layer));
      a.layer->set_hook(nullptr);
    }
    adapted_.clear();
  }

 private:
  struct Weights {
    ft::Tensor a, b, magnitude;
  };
  struct Adapted {
    ft::Linear* layer;
    std::shared_ptr<DoraHook> hook;
  };

  // Every targeted layer gets make(index, layer)'s weights, trainable, under a DoraHook.
  template <typename Make>
  void hook_layers(ft::Model& model, Make make) {
    if (!adapted_.empty()) throw ft::InternalError("dora: already attached to a model");
    const std::vector<ft::Linear*> layers = model.linear_layers();
    std::vector<std::size_t> chosen;
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (is_target(layers[i]->name(), settings_.targets)) chosen.push_back(i);
    for (const std::size_t i : chosen) {
      Weights w = make(i, *layers[i]);
      for (ft::Tensor* t : {&w.a, &w.b, &w.magnitude}) t->set_requires_grad(true);
      const DropoutKey dropout{state_, static_cast<float>(settings_.dropout), adapted_.size(),
                               chosen.size()};
      auto hook = std::make_shared<DoraHook>(w.a, w.b, w.magnitude, settings_.scale(), dropout);
      layers[i]->set_hook(hook);
      adapted_.push_back({layers[i], std::move(hook)});
    }
    if (adapted_.empty())
      throw ft::Error(fmt::format("dora: target_modules {} match no linear layer of the model",
                                  json(settings_.targets).dump()));
  }

  Settings settings_;
  std::vector<Adapted> adapted_;
  std::shared_ptr<ft::AdapterForwardState> state_ = std::make_shared<ft::AdapterForwardState>();
};

}  // namespace dora

FTENGINE_PLUGIN(adapter, "dora", "0.1.0",
                "DoRA (weight-decomposed LoRA), PEFT format with use_dora; an SDK example",
                dora::DoraAdapter)
