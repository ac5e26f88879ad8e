#include "engine/generate/sampler.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "ftengine/error.hpp"

namespace ft::engine {
namespace {

TEST(Sampler, GreedyTakesTheArgmaxAndTheLowestIdOnTies) {
  Sampler greedy({.temperature = 0.0f});
  EXPECT_EQ(greedy.next(std::vector<float>{0.1f, 2.0f, -1.0f, 2.0f}), 1);
  EXPECT_TRUE(greedy.candidates(std::vector<float>{1, 2}).empty());
}

TEST(Sampler, TemperatureSoftmaxProbabilities) {
  // logits (0, ln 2, ln 5): probabilities 1/8, 2/8, 5/8 at T = 1; at T = 0.5 they square.
  const std::vector<float> logits{0.0f, std::log(2.0f), std::log(5.0f)};
  auto c = Sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f}).candidates(logits);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].first, 2);
  EXPECT_NEAR(c[0].second, 5.0 / 8, 1e-6);
  EXPECT_NEAR(c[1].second, 2.0 / 8, 1e-6);
  EXPECT_NEAR(c[2].second, 1.0 / 8, 1e-6);
  c = Sampler({.temperature = 0.5f, .top_k = 0, .top_p = 1.0f}).candidates(logits);
  EXPECT_NEAR(c[0].second, 25.0 / 30, 1e-6);
  EXPECT_NEAR(c[2].second, 1.0 / 30, 1e-6);
}

TEST(Sampler, TopKAndTopPCutTheTail) {
  const std::vector<float> logits{0.0f, std::log(2.0f), std::log(5.0f)};
  auto c = Sampler({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f}).candidates(logits);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0].second, 5.0 / 7, 1e-6);
  // 5/8 < 0.7 so the nucleus needs the second token too: {5/8, 2/8} renormalised.
  c = Sampler({.temperature = 1.0f, .top_k = 0, .top_p = 0.7f}).candidates(logits);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[1].second, 2.0 / 7, 1e-6);
  c = Sampler({.temperature = 1.0f, .top_k = 0, .top_p = 0.5f}).candidates(logits);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].first, 2);
}

TEST(Sampler, DrawsFollowTheProbabilitiesAndRepeatPerSeed) {
  const std::vector<float> logits{0.0f, std::log(2.0f), std::log(5.0f)};
  Sampler a({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 11});
  Sampler b({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 11});
  Sampler other({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 12});
  int counts[3] = {0, 0, 0};
  bool differs = false;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const std::int32_t x = a.next(logits);
    EXPECT_EQ(x, b.next(logits));
    differs |= x != other.next(logits);
    ++counts[x];
  }
  EXPECT_TRUE(differs);
  EXPECT_NEAR(counts[0] / double(n), 1.0 / 8, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 2.0 / 8, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 5.0 / 8, 0.01);
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler({.temperature = -1.0f}), Error);
  EXPECT_THROW(Sampler({.temperature = 1.0f, .top_k = -2}), Error);
  EXPECT_THROW(Sampler({.temperature = 1.0f, .top_k = 0, .top_p = 0.0f}), Error);
  EXPECT_THROW(Sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.5f}), Error);
}

}  // namespace
}  // namespace ft::engine
