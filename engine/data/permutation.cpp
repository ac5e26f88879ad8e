#include "engine/data/permutation.hpp"

#include <numeric>
#include <utility>

#include "ftengine/philox.hpp"

namespace ft::engine {

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, PermutationUse use,
                                             std::uint32_t instance) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const Philox4x32 r = philox4x32_10(
        {{static_cast<std::uint32_t>(i), instance, static_cast<std::uint32_t>(use), 0u}},
        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    const std::uint64_t bits = (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
    const auto j = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace ft::engine
