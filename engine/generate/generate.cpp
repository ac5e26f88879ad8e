#include "engine/generate/generate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::eos: return "eos";
    case StopReason::max_new_tokens: return "max_new_tokens";
    case StopReason::context: return "context";
  }
  return "?";
}

std::vector<std::int32_t> stop_token_ids(const Model& model, const Tokenizer& tokenizer) {
  std::vector<std::int32_t> ids = model.info().eos_token_ids;
  if (const auto eos = tokenizer.eos_id()) ids.push_back(*eos);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

GenerationResult generate(Model& model, const Tokenizer& tokenizer, std::string_view prompt,
                          const GenerationOptions& options,
                          const std::function<void(std::string_view)>& on_text) {
  if (options.max_new_tokens < 0)
    throw Error(fmt::format("max-new-tokens must be >= 0, found {}", options.max_new_tokens));
  Sampler sampler(options.sampling);  // validates the sampling options first

  GenerationResult result;
  result.prompt_tokens = tokenizer.encode(prompt);
  const std::int64_t prompt_length = static_cast<std::int64_t>(result.prompt_tokens.size());
  if (prompt_length == 0)
    throw Error("the prompt is empty and the tokenizer adds no BOS token: give some text");
  const ModelInfo info = model.info();
  const std::int64_t context = info.max_position_embeddings;
  if (context > 0 && prompt_length >= context)
    throw Error(fmt::format(
        "the prompt is {} tokens, which fills the model's context of {} "
        "(max_position_embeddings): shorten it",
        prompt_length, context));

  // Room for the prompt and every new token, capped by the context; the last new token is
  // sampled but never fed back, so it needs no cache slot.
  std::int64_t budget = options.max_new_tokens;
  bool context_bound = false;
  if (context > 0 && prompt_length + budget > context) {
    budget = context - prompt_length;
    context_bound = true;
  }
  if (budget == 0) return result;

  const std::vector<std::int32_t> stops = options.stop_at_eos
                                              ? stop_token_ids(model, tokenizer)
                                              : std::vector<std::int32_t>{};
  StreamDecoder stream(tokenizer, /*skip_special=*/true);
  auto emit = [&](const std::string& text) {
    if (text.empty()) return;
    result.text += text;
    if (on_text) on_text(text);
  };

  std::unique_ptr<DecodeState> state = model.begin_decode(prompt_length + budget);
  Clock::time_point start = Clock::now();
  Tensor logits = model.decode(*state, result.prompt_tokens);
  result.prefill_seconds = seconds_since(start);
  start = Clock::now();
  result.stop = context_bound ? StopReason::context : StopReason::max_new_tokens;
  for (std::int64_t i = 0; i < budget; ++i) {
    const std::vector<float> row = logits.to_vector();
    const std::int32_t next = sampler.next(row);
    if (std::binary_search(stops.begin(), stops.end(), next)) {
      result.stop = StopReason::eos;
      break;
    }
    result.new_tokens.push_back(next);
    emit(stream.push(next));
    if (i + 1 < budget) logits = model.decode(*state, {next});
  }
  emit(stream.finish());
  result.decode_seconds = seconds_since(start);
  return result;
}

}  // namespace ft::engine
