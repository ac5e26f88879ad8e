#include "engine/generate/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"

namespace ft::engine {

Sampler::Sampler(const SamplingOptions& options) : options_(options) {
  if (!(options.temperature >= 0.0f))
    throw Error("temperature must be >= 0 (0 is greedy), found " + std::to_string(options.temperature));
  if (options.top_k < 0) throw Error("top-k must be >= 0 (0 keeps every token)");
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
    throw Error("top-p must be in (0, 1], found " + std::to_string(options.top_p));
}

std::vector<std::pair<std::int32_t, double>> Sampler::candidates(std::span<const float> logits) const {
  if (options_.temperature == 0.0f || logits.empty()) return {};
  // Sorted by logit, highest first (ties: lower id first, so the order is total).
  std::vector<std::int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t keep_k = options_.top_k > 0 ? std::min<std::size_t>(options_.top_k, order.size())
                                                 : order.size();
  auto higher = [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + keep_k, order.end(), higher);
  order.resize(keep_k);

  // softmax(logits / T) over the kept tokens, in double.
  const double max_logit = logits[order[0]];
  std::vector<std::pair<std::int32_t, double>> probs;
  double total = 0;
  for (std::int32_t id : order) {
    const double p = std::exp((logits[id] - max_logit) / options_.temperature);
    probs.emplace_back(id, p);
    total += p;
  }
  for (auto& [id, p] : probs) p /= total;

  // Nucleus: the smallest prefix whose mass reaches top_p (always at least one token).
  if (options_.top_p < 1.0f) {
    double mass = 0;
    std::size_t keep = 0;
    while (keep < probs.size() && mass < options_.top_p) mass += probs[keep++].second;
    probs.resize(keep);
    for (auto& [id, p] : probs) p /= mass;
  }
  return probs;
}

std::int32_t Sampler::next(std::span<const float> logits) {
  if (logits.empty()) throw InternalError("sampler: empty logits");
  if (options_.temperature == 0.0f) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const auto probs = candidates(logits);
  const double u = philox_uniform(options_.seed, draws_++);
  double cumulative = 0;
  for (const auto& [id, p] : probs) {
    cumulative += p;
    if (u < cumulative) return id;
  }
  return probs.back().first;  // rounding left u just above the total
}

}  // namespace ft::engine
