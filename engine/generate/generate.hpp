// Text generation with a loaded model: encode the prompt, prefill the KV cache, then one
// token at a time until EOS, the token budget or the model's context is reached.
//
//   GenerationResult r = generate(*model, tokenizer, "Once upon a time",
//                                 {.max_new_tokens = 64, .sampling = {.temperature = 0}},
//                                 [](std::string_view text) { std::fputs(...); });
//
// Text is handed to on_text as soon as it is complete UTF-8 (StreamDecoder), so a caller
// can stream it. EOS tokens end generation and are not part of the text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generate/sampler.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

struct GenerationOptions {
  std::int64_t max_new_tokens = 128;
  SamplingOptions sampling;
  bool stop_at_eos = true;
};

enum class StopReason : std::uint8_t {
  eos,             // the model produced an end-of-sequence token
  max_new_tokens,  // the budget ran out
  context,         // the model's max_position_embeddings was reached first
};
std::string_view to_string(StopReason reason);

struct GenerationResult {
  std::vector<std::int32_t> prompt_tokens;  // as encoded (BOS included when the model wants it)
  std::vector<std::int32_t> new_tokens;     // generated, without the EOS that stopped it
  std::string text;                         // decoded new_tokens, as streamed
  StopReason stop = StopReason::max_new_tokens;
  double prefill_seconds = 0.0;  // the prompt through the model, first logits out
  double decode_seconds = 0.0;   // every later decode step (tokens after the first)
};

// The ids that end generation: the model's eos_token_ids (config.json and
// generation_config.json) and the tokenizer's EOS.
std::vector<std::int32_t> stop_token_ids(const Model& model, const Tokenizer& tokenizer);

// Throws ft::Error for an empty prompt (after encoding) or one that fills the model's context.
GenerationResult generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                          const GenerationOptions& options,
                          const std::function<void(std::string_view)>& on_text = {});

}  // namespace ft::engine
