// Holding rows out for evaluation: sizes, counts, determinism per seed, no bias.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/data/text_dataset.hpp"
#include "unit/data/data_test_util.hpp"

namespace ft::engine {
namespace {

class SplitRows : public ft::testing::DataTest {
 protected:
  // `n` documents of 2 letters, one row each: BOS x y EOS with seq_len 4. Row i holds doc i.
  TokenizedRows rows(int n) const {
    std::vector<TextDocument> docs;
    for (int i = 0; i < n; ++i)
      docs.push_back({std::string(2, static_cast<char>('a' + i % 26)), "test"});
    return pack_documents(docs, byte_tokenizer(), 4);
  }
  static std::vector<std::int32_t> first_docs(const TokenizedRows& r) {
    std::vector<std::int32_t> ids;
    for (const TokenRow& row : r.rows) ids.push_back(row.doc_ids[0]);
    return ids;
  }
};

TEST_F(SplitRows, HoldsOutTheRoundedFractionAndRecounts) {
  const TokenizedRows all = rows(20);
  ASSERT_EQ(all.rows.size(), 20u);
  const RowSplit s = split_rows(all, 0.2, 7);
  EXPECT_EQ(s.held_out.rows.size(), 4u);
  EXPECT_EQ(s.train.rows.size(), 16u);
  EXPECT_EQ(s.train.seq_len, 4);
  EXPECT_EQ(s.held_out.seq_len, 4);
  EXPECT_EQ(s.train.documents, 16);
  EXPECT_EQ(s.held_out.documents, 4);
  EXPECT_EQ(s.train.tokens, 16 * 4);
  EXPECT_EQ(s.held_out.target_tokens, 4 * 3);
  EXPECT_EQ(s.train.tokens + s.held_out.tokens, all.tokens);
  EXPECT_EQ(s.train.target_tokens + s.held_out.target_tokens, all.target_tokens);

  // Each row lands on exactly one side, both sides in stream order.
  std::vector<std::int32_t> train = first_docs(s.train), held = first_docs(s.held_out);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
  std::vector<std::int32_t> both;
  std::merge(train.begin(), train.end(), held.begin(), held.end(), std::back_inserter(both));
  EXPECT_EQ(both, first_docs(all));
  // The rows themselves move intact.
  EXPECT_EQ(s.held_out.rows[0].tokens, all.rows[held[0]].tokens);
}

TEST_F(SplitRows, SmallFractionsHoldOutOneRowAndZeroNone) {
  EXPECT_EQ(split_rows(rows(10), 0.01, 1).held_out.rows.size(), 1u);
  const RowSplit none = split_rows(rows(10), 0.0, 1);
  EXPECT_EQ(none.held_out.rows.size(), 0u);
  EXPECT_EQ(none.held_out.tokens, 0);
  EXPECT_EQ(none.train.rows.size(), 10u);
  EXPECT_EQ(split_rows(rows(10), 0.25, 1).held_out.rows.size(), 3u);  // 2.5 rounds up
}

TEST_F(SplitRows, TheSameSeedGivesTheSameSplitAndAnotherSeedAnother) {
  const TokenizedRows all = rows(40);
  const auto held = [&](std::uint64_t seed) {
    return first_docs(split_rows(all, 0.25, seed).held_out);
  };
  EXPECT_EQ(held(42), held(42));
  EXPECT_NE(held(42), held(43));
  EXPECT_NE(held(0), held(1));
}

TEST_F(SplitRows, EveryRowIsEquallyLikelyToBeHeldOut) {
  // Holding out 1 of 10 rows over 2000 seeds: each row about 200 times. A biased or broken
  // shuffle (always the first or last row, a modulo error) is far outside 150..250.
  const TokenizedRows all = rows(10);
  std::vector<int> count(10, 0);
  for (std::uint64_t seed = 0; seed < 2000; ++seed)
    ++count[static_cast<std::size_t>(split_rows(all, 0.1, seed).held_out.rows[0].doc_ids[0])];
  for (int c : count) {
    EXPECT_GT(c, 150);
    EXPECT_LT(c, 250);
  }
}

TEST_F(SplitRows, RefusesSplitsThatLeaveASideEmpty) {
  EXPECT_EQ(error_of([&] { split_rows(rows(4), 1.0, 0); }),
            "the held-out fraction must be in [0, 1), found 1");
  EXPECT_EQ(error_of([&] { split_rows(rows(4), -0.1, 0); }),
            "the held-out fraction must be in [0, 1), found -0.1");
  EXPECT_NE(error_of([&] { split_rows(rows(4), std::numeric_limits<double>::quiet_NaN(), 0); }),
            "(no error)");
  EXPECT_EQ(error_of([&] { split_rows(rows(1), 0.5, 0); }),
            "cannot hold out 1 of 1 row(s) (fraction 0.5) and still train: use more data, a "
            "smaller fraction or a shorter seq_len");
  EXPECT_EQ(
      error_of([&] { split_rows(rows(2), 0.9, 0); }).rfind("cannot hold out 2 of 2 row(s)", 0), 0u);
}

}  // namespace
}  // namespace ft::engine
