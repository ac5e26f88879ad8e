#include "engine/train/row_sampler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engine/data/permutation.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

std::vector<std::int64_t> epoch_order(std::int64_t rows, std::uint64_t seed, std::int64_t epoch,
                                      const LengthGroups& groups) {
  std::vector<std::int64_t> order = seeded_permutation(rows, seed, PermutationUse::shuffle_rows,
                                                       static_cast<std::uint32_t>(epoch));
  if (groups.lengths.empty()) return order;
  const auto longer = [&](std::int64_t a, std::int64_t b) {
    return groups.lengths[static_cast<std::size_t>(a)] >
           groups.lengths[static_cast<std::size_t>(b)];
  };
  for (std::size_t first = 0; first < order.size();
       first += static_cast<std::size_t>(groups.group_rows)) {
    const std::size_t last =
        std::min(order.size(), first + static_cast<std::size_t>(groups.group_rows));
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(first),
                     order.begin() + static_cast<std::ptrdiff_t>(last), longer);
  }
  return order;
}

RowSampler::RowSampler(std::int64_t rows, std::uint64_t seed, DataCursor cursor,
                       LengthGroups groups)
    : rows_(rows), seed_(seed), cursor_(cursor), groups_(std::move(groups)) {
  if (rows < 1) throw Error("no training rows to sample from");
  if (cursor.epoch < 0 || cursor.index < 0 || cursor.index >= rows)
    throw Error(fmt::format("data cursor (epoch {}, row {}) is outside an epoch of {} rows",
                            cursor.epoch, cursor.index, rows));
  if (!groups_.lengths.empty() &&
      (static_cast<std::int64_t>(groups_.lengths.size()) != rows || groups_.group_rows < 1))
    throw Error(fmt::format("length groups: {} lengths in groups of {} for {} rows",
                            groups_.lengths.size(), groups_.group_rows, rows));
  order_ = epoch_order(rows_, seed_, cursor_.epoch, groups_);
}

std::vector<std::int64_t> RowSampler::take(std::int64_t count) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) {
    out.push_back(order_[static_cast<std::size_t>(cursor_.index)]);
    if (++cursor_.index == rows_) {
      cursor_ = {cursor_.epoch + 1, 0};
      order_ = epoch_order(rows_, seed_, cursor_.epoch, groups_);
    }
  }
  return out;
}

}  // namespace ft::engine
