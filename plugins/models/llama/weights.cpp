// Loading the weights: the tensors config.json implies (layout.hpp), checked against the
// checkpoint before anything is loaded, so a mismatch is one clear error naming the tensor.
#include <fmt/format.h>

#include <set>
#include <string_view>

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

  // Every tensor the config implies (layout_); and the LM head when the config ties it,
  // which checkpoints may still carry.
  std::set<std::string> wanted;
  for (const TensorSpec& t : layout_) wanted.insert(t.name);
  std::string tied_lm_head;
  for (const LayoutTensor& t : layout(c))
    if (t.spec.role == TensorRole::lm_head && !t.present) tied_lm_head = t.spec.name;
  std::vector<std::string> extra;
  for (const std::string& name : ckpt.names()) {
    if (wanted.count(name) || ignorable(name)) continue;
    if (name == tied_lm_head) {
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
  for (const TensorSpec& t : layout_) {
    const std::string& name = t.name;
    const Shape& shape = t.shape;
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
  // The tensor of `role` in `layer` (-1: outside the layers), undefined when the config has
  // none; all present ones were checked above.
  const auto tensor = [&](std::int64_t layer, TensorRole role) {
    const TensorSpec* t = find_tensor(layout_, layer, role);
    return t ? load(t->name) : Tensor();
  };
  const auto make_linear = [&](std::int64_t layer, TensorRole weight, TensorRole bias) {
    const std::string& weight_name = find_tensor(layout_, layer, weight)->name;
    constexpr std::string_view suffix = ".weight";  // the layer is named as PEFT names it
    Linear linear(weight_name.substr(0, weight_name.size() - suffix.size()), load(weight_name),
                  tensor(layer, bias));
    // QLoRA: to 4 bits right away, so only one full-precision weight is alive at a time.
    if (quantize) {
      linear.set_weight_4bit(ops::quantize_4bit(linear.weight(), *quantize));
      be.release_cached_memory();  // not kept for reuse: nothing this size comes again soon
    }
    return linear;
  };
  using R = TensorRole;
  embed_ = tensor(-1, R::token_embedding);
  layers_.resize(static_cast<std::size_t>(c.num_layers));
  for (std::int64_t i = 0; i < c.num_layers; ++i) {
    Layer& l = layers_[static_cast<std::size_t>(i)];
    l.prefix = fmt::format("model.layers.{}.", i);
    l.q = make_linear(i, R::q_proj, R::q_bias);
    l.k = make_linear(i, R::k_proj, R::k_bias);
    l.v = make_linear(i, R::v_proj, R::v_bias);
    l.o = make_linear(i, R::o_proj, R::o_bias);
    l.q_norm = tensor(i, R::q_norm);
    l.k_norm = tensor(i, R::k_norm);
    l.gate = make_linear(i, R::gate_proj, R::gate_bias);
    l.up = make_linear(i, R::up_proj, R::up_bias);
    l.down = make_linear(i, R::down_proj, R::down_bias);
    l.input_norm = tensor(i, R::attn_norm);
    l.post_norm = tensor(i, R::ffn_norm);
    l.window = c.sliding_window[static_cast<std::size_t>(i)];
  }
  norm_ = tensor(-1, R::final_norm);
  lm_head_ = tensor(-1, R::lm_head);
}

}  // namespace ft::plugins::llama
