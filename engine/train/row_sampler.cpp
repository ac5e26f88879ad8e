#include "engine/train/row_sampler.hpp"

#include <fmt/format.h>

#include <numeric>
#include <utility>

#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"

namespace ft::engine {

namespace {

// Counter word 2 tells this stream from the others keyed by the same seed (dropout,
// initialisation), so shuffling never reuses their random numbers.
constexpr std::uint32_t kShuffleStream = 0x5348'5546;  // "SHUF"

}  // namespace

std::vector<std::int64_t> epoch_order(std::int64_t rows, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t i = rows - 1; i > 0; --i) {
    const Philox4x32 r = philox4x32_10(
        {{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(epoch), kShuffleStream, 0u}},
        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    // 64 random bits modulo i + 1: the bias is below 2^-30 for any row count we can hold.
    const std::uint64_t bits = (static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1];
    const auto j = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
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
