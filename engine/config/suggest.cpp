#include "engine/config/suggest.hpp"

#include <algorithm>
#include <vector>

namespace ft::engine {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  // d[i][j]: distance between a[0, i) and b[0, j), rows kept whole for the swap case.
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::optional<std::string> suggest(std::string_view word,
                                   std::span<const std::string_view> candidates) {
  if (word.empty()) return std::nullopt;
  // Within distance 2, but never as far as the word is long ("x" is not a typo of "r").
  const std::string_view* nearest = nullptr;
  std::size_t nearest_distance = 3;
  for (const std::string_view& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < nearest_distance && d < word.size()) {
      nearest = &c;
      nearest_distance = d;
    }
  }
  if (nearest) return std::string(*nearest);

  // A prefix of the other ("rank" for "r"), or a substring of 3 letters or more
  // ("rslora" in "use_rslora"); the longest shared part wins.
  const std::string_view* best = nullptr;
  std::size_t best_overlap = 0;
  for (const std::string_view& c : candidates) {
    const std::string_view shorter = c.size() < word.size() ? c : word;
    const std::string_view longer = c.size() < word.size() ? word : c;
    const bool prefix = longer.substr(0, shorter.size()) == shorter;
    const bool inside = shorter.size() >= 3 && longer.find(shorter) != std::string_view::npos;
    if ((prefix || inside) && shorter.size() > best_overlap) {
      best = &c;
      best_overlap = shorter.size();
    }
  }
  if (best) return std::string(*best);
  return std::nullopt;
}

}  // namespace ft::engine
