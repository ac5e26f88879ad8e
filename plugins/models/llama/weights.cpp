// Loading the weights: the tensor names and shapes config.json implies, checked against the
// checkpoint before anything is loaded, so a mismatch is one clear error naming the tensor.
#include <fmt/format.h>

#include <map>
#include <set>

#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/log.hpp"
#include "plugins/models/llama/llama_model.hpp"

namespace ft::plugins::llama {

namespace {

// transformers keeps RoPE frequencies as a buffer that old checkpoints saved; they are
// recomputed from config.json, so a saved copy is ignored.
bool ignorable(const std::string& name) {
  constexpr std::string_view suffix = "rotary_emb.inv_freq";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string config_summary(const LlamaConfig& c) {
  return fmt::format(
      "{}: hidden {}, intermediate {}, {} layers, {} heads, {} kv heads, head_dim {}, "
      "vocab {}",
      c.model_type, c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads, c.num_kv_heads,
      c.head_dim, c.vocab_size);
}

}  // namespace

void LlamaModel::load_weights(const std::filesystem::path& dir, DType dtype,
                              const std::optional<Quant4bitOptions>& quantize) {
  const LlamaConfig& c = config_;
  const io::SafetensorsCheckpoint ckpt = io::SafetensorsCheckpoint::open(dir);
  const std::string source = ckpt.source().string();

  // Every tensor the config implies, with its shape.
  std::vector<std::pair<std::string, Shape>> expected;
  const std::int64_t C = c.hidden_size, q_dim = c.num_heads * c.head_dim,
                     kv_dim = c.num_kv_heads * c.head_dim, I = c.intermediate_size;
  const auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in, bool bias) {
    expected.push_back({name + ".weight", {out, in}});
    if (bias) expected.push_back({name + ".bias", {out}});
  };
  expected.push_back({"model.embed_tokens.weight", {c.vocab_size, C}});
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    linear(p + "self_attn.q_proj", q_dim, C, c.qkv_bias);
    linear(p + "self_attn.k_proj", kv_dim, C, c.qkv_bias);
    linear(p + "self_attn.v_proj", kv_dim, C, c.qkv_bias);
    linear(p + "self_attn.o_proj", C, q_dim, c.o_bias);
    if (c.qk_norm) {
      expected.push_back({p + "self_attn.q_norm.weight", {c.head_dim}});
      expected.push_back({p + "self_attn.k_norm.weight", {c.head_dim}});
    }
    linear(p + "mlp.gate_proj", I, C, c.mlp_bias);
    linear(p + "mlp.up_proj", I, C, c.mlp_bias);
    linear(p + "mlp.down_proj", C, I, c.mlp_bias);
    expected.push_back({p + "input_layernorm.weight", {C}});
    expected.push_back({p + "post_attention_layernorm.weight", {C}});
  }
  expected.push_back({"model.norm.weight", {C}});
  if (!c.tie_word_embeddings) expected.push_back({"lm_head.weight", {c.vocab_size, C}});

  std::set<std::string> wanted;
  for (const auto& [name, shape] : expected) wanted.insert(name);
  std::vector<std::string> extra;
  for (const std::string& name : ckpt.names()) {
    if (wanted.count(name) || ignorable(name)) continue;
    if (name == "lm_head.weight" && c.tie_word_embeddings) {
      // transformers ties lm_head to embed_tokens and ignores a saved copy; so do we.
      log::warn(
          "{}: has lm_head.weight although tie_word_embeddings is true: using "
          "model.embed_tokens.weight as the LM head, as transformers does",
          source);
      continue;
    }
    extra.push_back(name);
  }
  if (!extra.empty())
    throw Error(
        fmt::format("{}: unexpected tensor \"{}\"{}: not part of the model config.json "
                    "describes ({})",
                    ckpt.file_of(extra.front()).path().string(), extra.front(),
                    extra.size() > 1 ? fmt::format(" (and {} more)", extra.size() - 1) : "",
                    config_summary(c)));
  for (const auto& [name, shape] : expected) {
    const io::SafetensorsTensorInfo* info = ckpt.find(name);
    if (!info)
      throw Error(fmt::format("{}: missing tensor \"{}\" (shape {}) that config.json implies ({})",
                              source, name, shape_str(shape), config_summary(c)));
    if (info->shape != shape)
      throw Error(fmt::format("{}: tensor \"{}\" has shape {}, but config.json implies {} ({})",
                              ckpt.file_of(name).path().string(), name, shape_str(info->shape),
                              shape_str(shape), config_summary(c)));
    if (!io::dtype_from_safetensors(info->dtype) ||
        !is_floating(*io::dtype_from_safetensors(info->dtype)))
      throw Error(fmt::format("{}: tensor \"{}\" is {}; model weights must be F32, BF16 or F16",
                              ckpt.file_of(name).path().string(), name, info->dtype));
  }

  // All checked: load.
  Backend& be = *backend_;
  const auto load = [&](const std::string& name) { return ckpt.load(name, be, dtype); };
  const auto make_linear = [&](const std::string& name, bool bias) {
    Linear linear(name, load(name + ".weight"), bias ? load(name + ".bias") : Tensor());
    // QLoRA: to 4 bits right away, so only one full-precision weight is alive at a time.
    if (quantize) {
      linear.set_weight_4bit(ops::quantize_4bit(linear.weight(), *quantize));
      be.release_cached_memory();  // not kept for reuse: nothing this size comes again soon
    }
    return linear;
  };
  embed_ = load("model.embed_tokens.weight");
  layers_.resize(static_cast<std::size_t>(c.num_layers));
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    Layer& l = layers_[static_cast<std::size_t>(i)];
    l.prefix = fmt::format("model.layers.{}.", i);
    l.q = make_linear(l.prefix + "self_attn.q_proj", c.qkv_bias);
    l.k = make_linear(l.prefix + "self_attn.k_proj", c.qkv_bias);
    l.v = make_linear(l.prefix + "self_attn.v_proj", c.qkv_bias);
    l.o = make_linear(l.prefix + "self_attn.o_proj", c.o_bias);
    if (c.qk_norm) {
      l.q_norm = load(l.prefix + "self_attn.q_norm.weight");
      l.k_norm = load(l.prefix + "self_attn.k_norm.weight");
    }
    l.gate = make_linear(l.prefix + "mlp.gate_proj", c.mlp_bias);
    l.up = make_linear(l.prefix + "mlp.up_proj", c.mlp_bias);
    l.down = make_linear(l.prefix + "mlp.down_proj", c.mlp_bias);
    l.input_norm = load(l.prefix + "input_layernorm.weight");
    l.post_norm = load(l.prefix + "post_attention_layernorm.weight");
    l.window = c.sliding_window[static_cast<std::size_t>(i)];
  }
  norm_ = load("model.norm.weight");
  if (!c.tie_word_embeddings) lm_head_ = load("lm_head.weight");
}

}  // namespace ft::plugins::llama
