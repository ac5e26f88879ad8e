// The order of training rows (a seeded shuffle per epoch that a cursor can resume), and
// evaluation windows cut as `ftengine eval` cuts them.
#include "engine/train/row_sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "engine/data/permutation.hpp"
#include "engine/train/training_data.hpp"

namespace ft::engine {
namespace {

TEST(EpochOrder, IsAPermutationFixedBySeedAndEpoch) {
  const std::vector<std::int64_t> a = epoch_order(50, 42, 0);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(a, identity);
  EXPECT_EQ(a, epoch_order(50, 42, 0));
  EXPECT_NE(a, epoch_order(50, 42, 1));
  EXPECT_NE(a, epoch_order(50, 43, 0));
}

// The row order is part of every checkpoint's meaning: a resume replays it. Pinned, so a
// change to the shuffle (which would make old checkpoints resume onto other rows) shows.
TEST(EpochOrder, IsTheSameAsInEveryEarlierVersion) {
  EXPECT_EQ(epoch_order(10, 7, 0), (std::vector<std::int64_t>{0, 8, 3, 6, 4, 1, 5, 9, 2, 7}));
}

// Each use of a seed (row shuffle, held-out examples, file mixing) draws its own numbers.
TEST(SeededPermutation, DiffersByUseAndInstance) {
  const auto perm = [](PermutationUse use, std::uint32_t instance) {
    return seeded_permutation(40, 3, use, instance);
  };
  EXPECT_EQ(perm(PermutationUse::shuffle_rows, 2), epoch_order(40, 3, 2));
  EXPECT_NE(perm(PermutationUse::hold_out, 0), perm(PermutationUse::shuffle_rows, 0));
  EXPECT_NE(perm(PermutationUse::mix_file, 0), perm(PermutationUse::hold_out, 0));
  EXPECT_NE(perm(PermutationUse::mix_file, 0), perm(PermutationUse::mix_file, 1));
  std::vector<std::int64_t> sorted = perm(PermutationUse::mix_file, 1);
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 40; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(seeded_permutation(0, 3, PermutationUse::hold_out, 0).empty());
}

TEST(RowSampler, RunsAcrossEpochsAndResumesFromItsCursor) {
  RowSampler straight(5, 7);
  const std::vector<std::int64_t> all = straight.take(12);  // 2 epochs and 2 rows
  std::vector<std::int64_t> expected = epoch_order(5, 7, 0);
  for (std::int64_t e : epoch_order(5, 7, 1)) expected.push_back(e);
  for (std::int64_t i = 0; i < 2; ++i)
    expected.push_back(epoch_order(5, 7, 2)[static_cast<std::size_t>(i)]);
  EXPECT_EQ(all, expected);
  EXPECT_EQ(straight.cursor(), (DataCursor{2, 2}));

  RowSampler first(5, 7);
  std::vector<std::int64_t> pieces = first.take(4);
  RowSampler resumed(5, 7, first.cursor());  // as after a checkpoint
  for (std::int64_t r : resumed.take(8)) pieces.push_back(r);
  EXPECT_EQ(pieces, all);
}

TEST(RowSampler, RefusesACursorOutsideTheEpoch) {
  EXPECT_THROW(RowSampler(5, 7, DataCursor{0, 5}), Error);
  EXPECT_THROW(RowSampler(0, 7), Error);
  EXPECT_THROW(RowSampler(5, 7, {}, LengthGroups{{1, 2, 3}, 2}), Error);  // 3 lengths, 5 rows
  EXPECT_THROW(RowSampler(3, 7, {}, LengthGroups{{1, 2, 3}, 0}), Error);
}

// group_by_length: each group of the shuffle holds the same rows, sorted longest first.
TEST(RowSampler, LengthGroupsSortEachGroupOfTheShuffleLongestFirst) {
  const std::int64_t rows = 23, group = 5;
  LengthGroups groups{{}, group};
  for (std::int64_t r = 0; r < rows; ++r) groups.lengths.push_back((r * 37) % 11 + 1);
  for (std::int64_t epoch : {0, 1}) {
    const std::vector<std::int64_t> shuffled = epoch_order(rows, 9, epoch);
    const std::vector<std::int64_t> grouped = epoch_order(rows, 9, epoch, groups);
    ASSERT_EQ(grouped.size(), shuffled.size());
    EXPECT_NE(grouped, shuffled);
    for (std::size_t first = 0; first < grouped.size(); first += group) {
      const std::size_t last = std::min(grouped.size(), first + group);
      std::vector<std::int64_t> a(shuffled.begin() + first, shuffled.begin() + last);
      std::vector<std::int64_t> b(grouped.begin() + first, grouped.begin() + last);
      for (std::size_t i = 1; i < b.size(); ++i)
        EXPECT_GE(groups.lengths[b[i - 1]], groups.lengths[b[i]]) << first + i;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      EXPECT_EQ(a, b) << "group at " << first;
    }
  }
  EXPECT_NE(epoch_order(rows, 9, 0, groups), epoch_order(rows, 9, 1, groups));

  // And it resumes from its cursor like the plain order.
  RowSampler straight(rows, 9, {}, groups);
  const std::vector<std::int64_t> all = straight.take(30);
  RowSampler first(rows, 9, {}, groups);
  std::vector<std::int64_t> pieces = first.take(11);
  RowSampler resumed(rows, 9, first.cursor(), groups);
  for (std::int64_t r : resumed.take(19)) pieces.push_back(r);
  EXPECT_EQ(pieces, all);
}

TEST(WindowDocuments, CutsWindowsAsEvaluateDoes) {
  // 5 tokens, L = 2: windows [0, 2) and [2, 4) predict 1..4; a 1-token document gives none.
  const TokenizedRows rows = window_documents({{10, 11, 12, 13, 14}, {20}, {30, 31}}, 2);
  ASSERT_EQ(rows.rows.size(), 3u);
  EXPECT_EQ(rows.rows[0].tokens, (std::vector<std::int32_t>{10, 11}));
  EXPECT_EQ(rows.rows[0].targets, (std::vector<std::int32_t>{11, 12}));
  EXPECT_EQ(rows.rows[1].tokens, (std::vector<std::int32_t>{12, 13}));
  EXPECT_EQ(rows.rows[1].targets, (std::vector<std::int32_t>{13, 14}));
  EXPECT_EQ(rows.rows[1].positions, (std::vector<std::int32_t>{0, 1}));
  // The last document's one window is padded.
  EXPECT_EQ(rows.rows[2].tokens, (std::vector<std::int32_t>{30, 0}));
  EXPECT_EQ(rows.rows[2].targets, (std::vector<std::int32_t>{31, kIgnoreTarget}));
  EXPECT_EQ(rows.rows[2].doc_ids, (std::vector<std::int32_t>{2, -1}));
  EXPECT_EQ(rows.target_tokens, 5);
  EXPECT_EQ(rows.documents, 2);
}

}  // namespace
}  // namespace ft::engine
