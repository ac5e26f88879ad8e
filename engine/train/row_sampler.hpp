// The order training rows are visited in: every epoch a fresh shuffle, drawn from Philox
// keyed by (seed, epoch), so a run, its resume and a run on another machine all see the
// same rows in the same order.
//
//   RowSampler sampler(rows.size(), job.train.seed);
//   std::vector<std::int64_t> step_rows = sampler.take(batch_size * grad_accum);
//   checkpoint.cursor = sampler.cursor();          // where the next take() starts
//
// Rows run on from one epoch into the next without a partial batch, so every step has the
// same shape.
#pragma once

#include <cstdint>
#include <vector>

namespace ft::engine {

// The position of the next row: row `index` of epoch `epoch`'s order.
struct DataCursor {
  std::int64_t epoch = 0;
  std::int64_t index = 0;
  friend bool operator==(const DataCursor&, const DataCursor&) = default;
};

// A permutation of 0..rows-1 (Fisher-Yates), the same for the same (rows, seed, epoch).
std::vector<std::int64_t> epoch_order(std::int64_t rows, std::uint64_t seed, std::int64_t epoch);

class RowSampler {
 public:
  // ft::Error when rows < 1 or the cursor lies outside an epoch.
  RowSampler(std::int64_t rows, std::uint64_t seed, DataCursor cursor = {});

  // The next `count` row indices, moving the cursor past them.
  std::vector<std::int64_t> take(std::int64_t count);
  const DataCursor& cursor() const { return cursor_; }

 private:
  std::int64_t rows_;
  std::uint64_t seed_;
  DataCursor cursor_;
  std::vector<std::int64_t> order_;  // cursor_.epoch's order
};

}  // namespace ft::engine
