// The order training rows are visited in: every epoch a fresh shuffle, drawn from Philox
// keyed by (seed, epoch), so a run, its resume and a run on another machine all see the
// same rows in the same order.
//
//   RowSampler sampler(rows.size(), job.train.seed);
//   std::vector<std::int64_t> step_rows = sampler.take(batch_size * grad_accum);
//   checkpoint.cursor = sampler.cursor();          // where the next take() starts
//
// Rows run on from one epoch into the next without a partial batch, so every step has the
// same number of rows.
//
// With length groups (data.group_by_length, as transformers' group_by_length), each
// epoch's shuffle is cut into groups of `group_rows` rows and each group is sorted longest
// first (ties in shuffle order): neighbouring rows, and so the micro-batches cut from them,
// are close in length, so trimmed micro-batches carry little padding. The order is still a
// function of the seed, the epoch and the rows alone, so a resume sees the same.
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

struct LengthGroups {
  std::vector<std::int64_t> lengths;  // one per row (filled_length); empty: no grouping
  std::int64_t group_rows = 0;
};

// A permutation of 0..rows-1 (Fisher-Yates), the same for the same (rows, seed, epoch), then
// grouped by length when `groups` has lengths.
std::vector<std::int64_t> epoch_order(std::int64_t rows, std::uint64_t seed, std::int64_t epoch,
                                      const LengthGroups& groups = {});

class RowSampler {
 public:
  // ft::Error when rows < 1, the cursor lies outside an epoch, or groups has not one length
  // per row and a group size of at least 1.
  RowSampler(std::int64_t rows, std::uint64_t seed, DataCursor cursor = {},
             LengthGroups groups = {});

  // The next `count` row indices, moving the cursor past them.
  std::vector<std::int64_t> take(std::int64_t count);
  const DataCursor& cursor() const { return cursor_; }

 private:
  std::int64_t rows_;
  std::uint64_t seed_;
  DataCursor cursor_;
  LengthGroups groups_;
  std::vector<std::int64_t> order_;  // cursor_.epoch's order
};

}  // namespace ft::engine
