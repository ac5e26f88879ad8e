// Picks the next token from a row of logits: greedy, or sampled with temperature,
// top-k and top-p (nucleus), as llama.cpp and Hugging Face generate() define them.
//
//   Sampler sampler({.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .seed = 7});
//   std::int32_t next = sampler.next(logits);
//
// Sampling draws from the same counter-based Philox stream as dropout, keyed by the seed,
// so a seed gives the same text on every machine.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ft::engine {

struct SamplingOptions {
  float temperature = 0.8f;  // 0: greedy (argmax, lowest id on ties)
  int top_k = 40;            // keep the k most likely tokens; 0 keeps all
  float top_p = 0.95f;       // keep the smallest set whose probability reaches p; 1 keeps all
  std::uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws ft::Error for a negative temperature or top_k, or top_p outside (0, 1].
  explicit Sampler(const SamplingOptions& options);

  std::int32_t next(std::span<const float> logits);

  // The probabilities next() would draw from (after temperature, top-k and top-p), for
  // tests and for explaining a choice. Empty for greedy.
  std::vector<std::pair<std::int32_t, double>> candidates(std::span<const float> logits) const;

 private:
  SamplingOptions options_;
  std::uint64_t draws_ = 0;
};

}  // namespace ft::engine
