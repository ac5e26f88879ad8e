// From tokenised examples to rows: targets follow the loss mask, overflow policies, and
// packing that keeps every example apart (doc ids, positions from 0).
#include "engine/data/sequences.hpp"

#include <gtest/gtest.h>

#include "tests/engine/data/data_test_util.hpp"

namespace ft::testing {
namespace {

using engine::kIgnoreTarget;
using engine::OverflowPolicy;
using engine::SequenceCounts;
using engine::TokenizedExample;

// Tokens 10, 11, ... with the given trained flags.
TokenizedExample example(std::vector<std::uint8_t> trained, const std::string& origin = "f:1") {
  TokenizedExample e;
  for (std::size_t i = 0; i < trained.size(); ++i) e.tokens.push_back(static_cast<std::int32_t>(10 + i));
  e.trained = std::move(trained);
  e.origin = origin;
  return e;
}

constexpr std::int32_t X = kIgnoreTarget;

TEST(Sequences, TargetsAreTheNextTokenWhereItIsTrained) {
  SequenceCounts counts;
  const auto rows = engine::build_rows({example({0, 0, 1, 1})}, {.seq_len = 6}, counts);
  ASSERT_EQ(rows.rows.size(), 1u);
  const engine::TokenRow& r = rows.rows[0];
  EXPECT_EQ(r.tokens, (std::vector<std::int32_t>{10, 11, 12, 13, 0, 0}));
  EXPECT_EQ(r.targets, (std::vector<std::int32_t>{X, 12, 13, X, X, X}));
  EXPECT_EQ(r.positions, (std::vector<std::int32_t>{0, 1, 2, 3, 0, 0}));
  EXPECT_EQ(r.doc_ids, (std::vector<std::int32_t>{0, 0, 0, 0, -1, -1}));
  EXPECT_EQ(rows.target_tokens, 2);
  EXPECT_EQ(counts.input_tokens, 4);
  EXPECT_EQ(counts.slots, 6);
}

TEST(Sequences, AnExampleWithNothingToTrainIsDroppedAndCounted) {
  SequenceCounts counts;
  const auto rows =
      engine::build_rows({example({0, 0, 0}), example({0, 1})}, {.seq_len = 4}, counts);
  EXPECT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(counts.examples, 2);
  EXPECT_EQ(counts.kept, 1);
  EXPECT_EQ(counts.untrained, 1);
}

TEST(Sequences, TruncateKeepsTheHeadAndItsLastTarget) {
  SequenceCounts counts;
  const auto rows = engine::build_rows({example({0, 1, 1, 1, 1, 1}), example({0, 0, 0, 0, 0, 1})},
                                       {.seq_len = 4, .on_overflow = OverflowPolicy::truncate},
                                       counts);
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.rows[0].targets, (std::vector<std::int32_t>{11, 12, 13, 14}));
  EXPECT_EQ(counts.truncated, 1);
  EXPECT_EQ(counts.truncated_away, 1);  // its response was past seq_len
}

TEST(Sequences, SplitLosesNoTargetAndRestartsPositions) {
  SequenceCounts counts;
  const auto rows = engine::build_rows({example({0, 1, 1, 1, 1, 1, 1})},
                                       {.seq_len = 3, .on_overflow = OverflowPolicy::split},
                                       counts);
  // Pieces [10 11 12] [13 14 15] [16]; the last predicts nothing and is left out.
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(rows.rows[0].targets, (std::vector<std::int32_t>{11, 12, 13}));
  EXPECT_EQ(rows.rows[1].tokens, (std::vector<std::int32_t>{13, 14, 15}));
  EXPECT_EQ(rows.rows[1].targets, (std::vector<std::int32_t>{14, 15, 16}));
  EXPECT_EQ(rows.rows[1].positions, (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(rows.target_tokens, 6);  // every token after the first
  EXPECT_EQ(counts.split, 1);
  EXPECT_EQ(counts.split_pieces, 2);
  EXPECT_EQ(counts.untrained_pieces, 1);
}

TEST(Sequences, SplitLeavesOutPiecesWithNothingToTrain) {
  SequenceCounts counts;
  const auto rows = engine::build_rows({example({0, 0, 0, 0, 1, 1})},
                                       {.seq_len = 2, .on_overflow = OverflowPolicy::split},
                                       counts);
  // Pieces [10 11] (no target), [12 13] (13 -> 14), [14 15] (14 -> 15).
  EXPECT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(counts.split_pieces, 2);
  EXPECT_EQ(counts.untrained_pieces, 1);
}

TEST(Sequences, DropAndErrorPolicies) {
  SequenceCounts counts;
  const auto rows = engine::build_rows({example({0, 1, 1, 1, 1}), example({0, 1})},
                                       {.seq_len = 3, .on_overflow = OverflowPolicy::drop},
                                       counts);
  EXPECT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(counts.too_long_dropped, 1);
  SequenceCounts ignored;
  try {
    engine::build_rows({example({0, 1, 1, 1, 1}, "data/train.jsonl:7")},
                       {.seq_len = 3, .on_overflow = OverflowPolicy::error}, ignored);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "data/train.jsonl:7: the example is 5 tokens, longer than data.seq_len = 3 "
              "(data.on_overflow = \"error\"); raise seq_len, or set on_overflow to "
              "\"truncate\", \"split\" or \"drop\"");
  }
}

TEST(Sequences, PackingFillsRowsBestFitAndKeepsExamplesApart) {
  SequenceCounts counts;
  const auto rows = engine::build_rows(
      {example({0, 1, 1}), example({0, 1, 1, 1, 1}), example({0, 1}), example({0, 1, 1, 1})},
      {.seq_len = 6, .packing = true}, counts);
  // Longest first: 5 -> row 0; 4 -> row 1; 3 -> row 1 has 2 free, row 0 has 1: new row 2;
  // 2 -> row 1 (2 free, the best fit).
  ASSERT_EQ(rows.rows.size(), 3u);
  EXPECT_EQ(rows.rows[1].tokens, (std::vector<std::int32_t>{10, 11, 12, 13, 10, 11}));
  EXPECT_EQ(rows.rows[1].positions, (std::vector<std::int32_t>{0, 1, 2, 3, 0, 1}));
  EXPECT_EQ(rows.rows[1].doc_ids, (std::vector<std::int32_t>{3, 3, 3, 3, 2, 2}));
  EXPECT_EQ(rows.rows[1].targets, (std::vector<std::int32_t>{11, 12, 13, X, 11, X}));
  EXPECT_EQ(counts.input_tokens, 14);
  EXPECT_EQ(counts.slots, 18);
  EXPECT_EQ(rows.target_tokens, 10);
}

}  // namespace
}  // namespace ft::testing
