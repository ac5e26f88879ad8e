// Generation: the same layers as forward(), with each layer's keys and values kept in a
// preallocated cache (ops::KvCache) so a new token costs one pass over the weights.
#include <fmt/format.h>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "plugins/models/llama/llama_model.hpp"

namespace ft::plugins::llama {

namespace {

class LlamaDecodeState final : public DecodeState {
 public:
  LlamaDecodeState(const LlamaModel* owner, std::int64_t max_tokens)
      : owner(owner), capacity(max_tokens) {}
  std::int64_t length() const override { return decoded; }
  std::int64_t max_tokens() const override { return capacity; }

  const LlamaModel* owner;
  std::int64_t capacity;
  std::int64_t decoded = 0;
  std::vector<ops::KvCache> caches;  // one per layer
};

}  // namespace

std::unique_ptr<DecodeState> LlamaModel::begin_decode(std::int64_t max_tokens) {
  require_loaded("begin_decode");
  if (max_tokens <= 0)
    throw Error(
        fmt::format("llama: begin_decode: max_tokens must be positive, found {}", max_tokens));
  auto state = std::make_unique<LlamaDecodeState>(this, max_tokens);
  for (std::int64_t i = 0; i < config_.num_layers; ++i)
    state->caches.push_back(
        ops::make_kv_cache(config_.num_kv_heads, max_tokens, config_.head_dim, *backend_));
  return state;
}

Tensor LlamaModel::decode(DecodeState& state, const std::vector<std::int32_t>& new_tokens) {
  require_loaded("decode");
  auto* s = dynamic_cast<LlamaDecodeState*>(&state);
  if (!s || s->owner != this)
    throw InternalError("llama: decode() with a state this model's begin_decode() did not make");
  const auto n = static_cast<std::int64_t>(new_tokens.size());
  if (n == 0) throw Error("llama: decode: no new tokens");
  if (s->decoded + n > s->capacity)
    throw Error(
        fmt::format("llama: decode: {} decoded + {} new tokens exceed the {} tokens "
                    "begin_decode() reserved",
                    s->decoded, n, s->capacity));
  for (std::int32_t t : new_tokens)
    if (t < 0 || t >= config_.vocab_size)
      throw Error(fmt::format("llama: decode: token id {} is outside the vocabulary [0, {})", t,
                              config_.vocab_size));

  NoGrad no_grad;
  std::vector<std::int32_t> positions(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) positions[i] = static_cast<std::int32_t>(s->decoded + i);
  const Tensor tokens = Tensor::from_ints(new_tokens, {1, n}, *backend_);
  const Tensor pos = Tensor::from_ints(positions, {1, n}, *backend_);
  Tensor x = ops::embedding(tokens, embed_);
  for (std::size_t i = 0; i < layers_.size(); ++i)
    x = layer_forward(layers_[i], x, pos, Tensor(), &s->caches[i]);
  s->decoded += n;
  // Only the last token's logits are needed: norm and LM head on that row alone.
  const Tensor last = ops::narrow(ops::reshape(x, {n, config_.hidden_size}), n - 1, 1);
  const Tensor h = ops::rmsnorm(last, norm_, config_.rms_norm_eps);
  return ops::reshape(ops::linear(h, lm_head()), {config_.vocab_size});
}

}  // namespace ft::plugins::llama
