#include "engine/train/row_sampler.hpp"

#include <fmt/format.h>


#include "engine/data/permutation.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

std::vector<std::int64_t> epoch_order(std::int64_t rows, std::uint64_t seed, std::int64_t epoch) {
  return seeded_permutation(rows, seed, PermutationUse::shuffle_rows,
                            static_cast<std::uint32_t>(epoch));
}

RowSampler::RowSampler(std::int64_t rows, std::uint64_t seed, DataCursor cursor)
    : rows_(rows), seed_(seed), cursor_(cursor) {
  if (rows < 1) throw Error("no training rows to sample from");
  if (cursor.epoch < 0 || cursor.index < 0 || cursor.index >= rows)
    throw Error(fmt::format("data cursor (epoch {}, row {}) is outside an epoch of {} rows",
                            cursor.epoch, cursor.index, rows));
  order_ = epoch_order(rows_, seed_, cursor_.epoch);
}

std::vector<std::int64_t> RowSampler::take(std::int64_t count) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t n = 0; n < count; ++n) {
    out.push_back(order_[static_cast<std::size_t>(cursor_.index)]);
    if (++cursor_.index == rows_) {
      cursor_ = {cursor_.epoch + 1, 0};
      order_ = epoch_order(rows_, seed_, cursor_.epoch);
    }
  }
  return out;
}

}  // namespace ft::engine
