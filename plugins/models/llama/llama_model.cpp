#include "plugins/models/llama/llama_model.hpp"

#include <fmt/format.h>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::plugins::llama {

void LlamaModel::require_loaded(const char* what) const {
  if (!backend_) throw InternalError(fmt::format("llama: {}() before load()", what));
}

void LlamaModel::require_config(const char* what) const {
  if (layout_.empty())
    throw InternalError(fmt::format("llama: {}() before load() or describe()", what));
}

void LlamaModel::describe(const std::filesystem::path& model_dir) {
  // The config is what the loaded weights were checked against; it must not change under them.
  if (backend_)
    throw InternalError("llama: describe() after load(); describe a new model object instead");
  config_ = read_config(model_dir / "config.json");
  layout_ = present_tensors(config_);
}

std::vector<TensorSpec> LlamaModel::tensor_layout() const {
  require_config("tensor_layout");
  return layout_;
}

void LlamaModel::load(const ModelLoadOptions& options, Backend& backend) {
  if (backend_)
    throw InternalError("llama: load() called twice on one model; create a new model instead");
  if (!is_floating(options.dtype))
    throw Error(fmt::format("llama: the model dtype must be f32, bf16 or f16, not {}",
                            dtype_name(options.dtype)));
  std::error_code ec;
  if (!std::filesystem::is_directory(options.path, ec))
    throw Error(
        fmt::format("{}: not a model directory (expected config.json and *.safetensors "
                    "in a directory)",
                    options.path.string()));
  config_ = read_config(options.path / "config.json");
  layout_ = present_tensors(config_);
  backend_ = &backend;
  inv_freq_ = Tensor::from_vector(
      ops::rope_inv_freq(config_.head_dim, config_.rope_theta, config_.rope_scaling),
      {config_.head_dim / 2}, backend);
  try {
    load_weights(options.path, options.dtype, options.quantize_linear);
  } catch (...) {
    backend_ = nullptr;
    layers_.clear();
    embed_ = norm_ = lm_head_ = Tensor();
    throw;
  }
  log::debug("llama: {} from {}: {} layers, hidden {}, {} heads ({} kv), vocab {}, {}",
             config_.model_type, options.path.string(), config_.num_layers, config_.hidden_size,
             config_.num_heads, config_.num_kv_heads, config_.vocab_size,
             dtype_name(options.dtype));
}

namespace {

// [batch, seq] i32 tokens, checked.
void check_tokens(const Tensor& tokens, const char* what) {
  if (!tokens.defined() || tokens.dtype() != DType::i32 || tokens.ndim() != 2)
    throw Error(fmt::format("llama: {}: tokens must be [batch, seq] i32, found {}", what,
                            tokens.defined() ? fmt::format("{} {}", dtype_name(tokens.dtype()),
                                                           shape_str(tokens.shape()))
                                             : std::string("nothing")));
}

}  // namespace

Tensor LlamaModel::layer_forward(const Layer& layer, const Tensor& x, const Tensor& positions,
                                 const Tensor& doc_ids, ops::KvCache* cache) const {
  const LlamaConfig& c = config_;
  const std::int64_t batch = x.dim(0), seq = x.dim(1);
  Tensor h = ops::rmsnorm(x, layer.input_norm, c.rms_norm_eps);
  Tensor q = ops::reshape(layer.q(h), {batch, seq, c.num_heads, c.head_dim});
  Tensor k = ops::reshape(layer.k(h), {batch, seq, c.num_kv_heads, c.head_dim});
  Tensor v = ops::reshape(layer.v(h), {batch, seq, c.num_kv_heads, c.head_dim});
  if (c.qk_norm) {
    q = ops::rmsnorm(q, layer.q_norm, c.rms_norm_eps);
    k = ops::rmsnorm(k, layer.k_norm, c.rms_norm_eps);
  }
  q = ops::rope(q, positions, inv_freq_);
  k = ops::rope(k, positions, inv_freq_);
  ops::AttentionOptions options;
  options.doc_ids = doc_ids;
  options.window = layer.window;
  Tensor a =
      cache ? ops::attention_decode(q, k, v, *cache, options) : ops::attention(q, k, v, options);
  a = ops::reshape(a, {batch, seq, c.num_heads * c.head_dim});
  Tensor y = ops::add(x, layer.o(a));
  h = ops::rmsnorm(y, layer.post_norm, c.rms_norm_eps);
  return ops::add(y, layer.down(ops::swiglu(layer.gate(h), layer.up(h))));
}

Tensor LlamaModel::forward(const ModelInput& input) {
  require_loaded("forward");
  check_tokens(input.tokens, "forward");
  const std::int64_t batch = input.tokens.dim(0), seq = input.tokens.dim(1);
  Tensor positions = input.positions;
  if (!positions.defined()) {
    std::vector<std::int32_t> host(static_cast<std::size_t>(batch * seq));
    for (std::int64_t i = 0; i < batch * seq; ++i) host[i] = static_cast<std::int32_t>(i % seq);
    positions = Tensor::from_ints(host, {batch, seq}, *backend_);
  }
  const Tensor doc_ids = input.doc_ids;
  Tensor x = ops::embedding(input.tokens, embed_);
  for (const Layer& layer : layers_) {
    if (checkpointing_ && grad_enabled()) {
      // Keeps only the layer's input; backward replays the layer (parameters and adapter
      // weights it reads receive their gradients through the replay).
      x = checkpoint(
          [this, &layer, positions, doc_ids](const std::vector<Tensor>& in) {
            return layer_forward(layer, in[0], positions, doc_ids, nullptr);
          },
          {x});
    } else {
      x = layer_forward(layer, x, positions, doc_ids, nullptr);
    }
  }
  return ops::rmsnorm(x, norm_, config_.rms_norm_eps);
}

Tensor LlamaModel::logits(const ModelInput& input) {
  return ops::linear(forward(input), lm_head());
}

Tensor LlamaModel::lm_head() const {
  require_loaded("lm_head");
  return config_.tie_word_embeddings ? embed_ : lm_head_;
}

std::vector<Parameter> LlamaModel::parameters() const {
  require_loaded("parameters");
  std::vector<Parameter> out;
  out.reserve(layout_.size());
  for (const TensorSpec& t : layout_) out.push_back({t.name, tensor_of(t)});
  return out;
}

Tensor LlamaModel::tensor_of(const TensorSpec& t) const {
  using R = TensorRole;
  const auto layer = [&]() -> const Layer& {
    return layers_.at(static_cast<std::size_t>(t.layer));
  };
  switch (t.role) {
    case R::token_embedding:
      return embed_;
    case R::attn_norm:
      return layer().input_norm;
    case R::q_proj:
      return layer().q.weight();
    case R::k_proj:
      return layer().k.weight();
    case R::v_proj:
      return layer().v.weight();
    case R::o_proj:
      return layer().o.weight();
    case R::q_bias:
      return layer().q.bias();
    case R::k_bias:
      return layer().k.bias();
    case R::v_bias:
      return layer().v.bias();
    case R::o_bias:
      return layer().o.bias();
    case R::q_norm:
      return layer().q_norm;
    case R::k_norm:
      return layer().k_norm;
    case R::ffn_norm:
      return layer().post_norm;
    case R::gate_proj:
      return layer().gate.weight();
    case R::up_proj:
      return layer().up.weight();
    case R::down_proj:
      return layer().down.weight();
    case R::gate_bias:
      return layer().gate.bias();
    case R::up_bias:
      return layer().up.bias();
    case R::down_bias:
      return layer().down.bias();
    case R::final_norm:
      return norm_;
    case R::lm_head:
      return lm_head_;
  }
  throw InternalError(
      fmt::format("llama: tensor \"{}\" has a role the model does not know", t.name));
}

std::vector<Linear*> LlamaModel::linear_layers() {
  require_loaded("linear_layers");
  std::vector<Linear*> out;
  for (Layer& l : layers_)
    for (Linear* lin : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) out.push_back(lin);
  return out;
}

ModelInfo LlamaModel::info() const {
  require_config("info");
  ModelInfo info;
  info.model_type = config_.model_type;
  info.vocab_size = config_.vocab_size;
  info.hidden_size = config_.hidden_size;
  info.num_layers = config_.num_layers;
  info.max_position_embeddings = config_.max_position_embeddings;
  info.bos_token_id = config_.bos_token_id;
  info.eos_token_ids = config_.eos_token_ids;
  info.tie_word_embeddings = config_.tie_word_embeddings;
  info.intermediate_size = config_.intermediate_size;
  info.num_heads = config_.num_heads;
  info.num_kv_heads = config_.num_kv_heads;
  info.head_dim = config_.head_dim;
  info.rms_norm_eps = config_.rms_norm_eps;
  info.rope_theta = config_.rope_theta;
  info.rope_scaling = config_.rope_scaling;
  info.qkv_bias = config_.qkv_bias;
  info.o_bias = config_.o_bias;
  info.mlp_bias = config_.mlp_bias;
  info.qk_norm = config_.qk_norm;
  info.sliding_window = config_.sliding_window;
  return info;
}

}  // namespace ft::plugins::llama
