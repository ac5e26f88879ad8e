// What a checkpoint and a resuming job must agree on.
#include "engine/train/job_fingerprint.hpp"

#include <gtest/gtest.h>

namespace ft::engine {
namespace {

toml::table job(std::string_view extra = "") {
  std::string text = R"(
[job]
name = "a"
[optimizer]
lr = 0.001
betas = [0.9, 0.999]
[adapter]
alpha = 16
[train]
max_steps = 20
eval_every = 5
[backend]
threads = 2
[output]
dir = "/runs/a"
)";
  text += extra;
  return toml::parse(text);
}

TEST(JobFingerprint, IgnoresWhereAndHowTheRunComputesAndWrites) {
  toml::table other = job();
  other["job"].as_table()->insert_or_assign("name", "b");
  other["train"].as_table()->insert_or_assign("eval_every", 7);
  other["backend"].as_table()->insert_or_assign("threads", 16);
  other["output"].as_table()->insert_or_assign("dir", "/elsewhere");
  EXPECT_EQ(job_hash(job()), job_hash(other));
  EXPECT_TRUE(job_differences(job(), other).empty());
}

TEST(JobFingerprint, NamesEachKeyThatChangesTheNumbers) {
  toml::table other = job();
  other["optimizer"].as_table()->insert_or_assign("lr", 0.002);
  other["train"].as_table()->insert_or_assign("max_steps", 40);
  other["optimizer"].as_table()->insert_or_assign("betas", toml::array{0.9, 0.95});
  EXPECT_NE(job_hash(job()), job_hash(other));
  EXPECT_EQ(
      job_differences(job(), other),
      (std::vector<std::string>{"optimizer.betas: [0.9, 0.999] -> [0.9, 0.95]",
                                "optimizer.lr: 0.001 -> 0.002", "train.max_steps: 20 -> 40"}));
}

TEST(JobFingerprint, AnIntegerAndAnEqualFloatAreOneValue) {
  toml::table other = job();
  other["adapter"].as_table()->insert_or_assign("alpha", 16.0);
  EXPECT_EQ(job_hash(job()), job_hash(other));
}

TEST(JobFingerprint, AKeyOnOneSideOnlyIsADifference) {
  const toml::table other = job("[data]\nval_split = 0.1\n");
  EXPECT_EQ(job_differences(job(), other),
            std::vector<std::string>{"data.val_split: (unset) -> 0.1"});
  EXPECT_EQ(job_hash(job()).rfind("fnv1a64:", 0), 0u);
}

}  // namespace
}  // namespace ft::engine
