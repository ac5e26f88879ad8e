#include "engine/config/suggest.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

namespace ft::engine {
namespace {

TEST(EditDistance, KnownValues) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("optimiser", "optimizer"), 1u);
  // A swap of two adjacent letters is one edit (Damerau), not two.
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  EXPECT_EQ(edit_distance("rnak", "rank"), 1u);
  EXPECT_EQ(edit_distance("Seq_len", "seq_len"), 1u);  // case-sensitive
}

TEST(Suggest, NearestWithinTwoEdits) {
  constexpr std::array<std::string_view, 4> kinds = {"constant", "linear", "cosine", "cosine_x"};
  EXPECT_EQ(suggest("cosin", kinds), "cosine");
  EXPECT_EQ(suggest("liner", kinds), "linear");
  EXPECT_EQ(suggest("constnat", kinds), "constant");
  EXPECT_EQ(suggest("exponential", kinds), std::nullopt);
}

TEST(Suggest, PrefixAndSubstring) {
  constexpr std::array<std::string_view, 5> keys = {"plugin", "r", "alpha", "use_rslora",
                                                    "target_modules"};
  EXPECT_EQ(suggest("rnak", keys), "r");  // "r" is a prefix of it
  EXPECT_EQ(suggest("rank", keys), "r");
  EXPECT_EQ(suggest("rslora", keys), "use_rslora");  // contained, the longer overlap wins
  EXPECT_EQ(suggest("target", keys), "target_modules");
  // A one-letter key is suggested only as a prefix, not because its letter occurs.
  EXPECT_EQ(suggest("warmup", keys), std::nullopt);
  // Nothing within reach for a short word of another letter.
  EXPECT_EQ(suggest("x", keys), std::nullopt);
  EXPECT_EQ(suggest("", keys), std::nullopt);
}

}  // namespace
}  // namespace ft::engine
