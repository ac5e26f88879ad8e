// Stopping and resuming: a run interrupted by SIGINT at step 10 and resumed gives the same
// per-step numbers and the same adapter bytes as one that ran straight through; SIGTERM
// saves and exits 143; a changed job is refused unless --force.
//
// The signals are raised by the trainer itself (FTENGINE_TEST_SIGNAL_AT_STEP), through the
// real handler, so the test does not race a `kill` against a fast run.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/engine/train/train_test_util.hpp"

namespace ft::testing {
namespace {

// Dropout and accumulation on, so the resumed run must restore the micro-batch counter and
// the data cursor, not only the weights; checkpoints every 4 steps, so step 10 is saved by
// the signal path.
constexpr const char* kResumable =
    "--set adapter.dropout=0.1 --set train.batch_size=2 --set train.grad_accum=2 "
    "--set train.save_every=4 --set train.eval_every=5";

// Every number of a step record but the timings, which differ run to run.
nlohmann::json numbers_of(nlohmann::json record) {
  record.erase("tokens_per_second");
  record.erase("elapsed_s");
  return record;
}

TEST_F(TrainTest, ResumeAfterSigintContinuesBitForBit) {
  const CliResult straight = train(fmt::format("-q {} {}", kResumable, out("straight")));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;

  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "10");
    const CliResult stopped = train(fmt::format("{} {}", kResumable, out("resumed")));
    ASSERT_EQ(stopped.exit_code, 130) << stopped.err;
    EXPECT_NE(stopped.err.find("interrupted (SIGINT) at step 10 of 20: saved "), std::string::npos)
        << stopped.err;
    EXPECT_NE(stopped.err.find(" --resume"), std::string::npos) << stopped.err;
  }
  EXPECT_TRUE(fs::is_regular_file(dir_ / "resumed/checkpoints/step-10/trainer_state.json"));
  EXPECT_FALSE(fs::exists(dir_ / "resumed/adapter"));
  EXPECT_EQ(records_with(read_metrics(dir_ / "resumed"), "loss").size(), 10u);

  const CliResult resumed = train(fmt::format("{} {} --resume", kResumable, out("resumed")));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from "), std::string::npos) << resumed.err;

  const std::vector<nlohmann::json> a = read_metrics(dir_ / "straight");
  const std::vector<nlohmann::json> b = read_metrics(dir_ / "resumed");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(numbers_of(a[i]), numbers_of(b[i])) << i;
  for (const char* file :
       {"adapter/adapter_model.safetensors", "adapter/adapter_config.json",
        "checkpoints/step-20/trainable.safetensors", "checkpoints/step-20/optimizer.safetensors"})
    EXPECT_TRUE(file_bytes(dir_ / "straight" / file) == file_bytes(dir_ / "resumed" / file))
        << file;
}

TEST_F(TrainTest, SigtermSavesAndExits143) {
  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "3:TERM");
    const CliResult stopped = train("--set train.max_steps=6");
    EXPECT_EQ(stopped.exit_code, 143) << stopped.err;
    EXPECT_NE(stopped.err.find("terminated (SIGTERM) at step 3 of 6"), std::string::npos)
        << stopped.err;
  }
  const CliResult resumed = train("-q --set train.max_steps=6 --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(records_with(read_metrics(dir_ / "run"), "loss").size(), 6u);
  EXPECT_TRUE(fs::is_regular_file(dir_ / "run/adapter/adapter_model.safetensors"));
}

TEST_F(TrainTest, AChangedJobIsRefusedUnlessForced) {
  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "2");
    ASSERT_EQ(train("-q --set train.max_steps=4").exit_code, 130);
  }
  const CliResult refused = train("--set train.max_steps=4 --set optimizer.lr=0.02 --resume");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--resume: the job differs from the one"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("(optimizer.lr: 0.01 -> 0.02)"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("add --force to continue with the changed job"), std::string::npos)
      << refused.err;

  // What only changes where and how often the run reports is no change.
  const CliResult forced = train(
      "--set train.max_steps=4 --set optimizer.lr=0.02 --set train.eval_every=1 --resume "
      "--force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.err.find("warning: --force: resuming "), std::string::npos) << forced.err;
  EXPECT_NE(forced.err.find("(optimizer.lr: 0.01 -> 0.02)"), std::string::npos) << forced.err;
}

// Instruction data takes the defaults that shape its micro-batches — packed rows, each
// micro-batch cut to its longest row — and still resumes bit for bit.
TEST_F(TrainTest, InstructionDataWithTheDefaultsResumesBitForBit) {
  const fs::path identity =
      fs::path(FTENGINE_SHARED_TESTDATA) / "datasets" / "llamafactory" / "identity.json";
  if (!fs::exists(identity)) GTEST_SKIP() << "test data absent: " << identity.string();
  // A held-out file of its first 8 records keeps the evaluations short.
  const nlohmann::json records = nlohmann::json::parse(read_text_file(identity));
  std::ofstream(dir_ / "held_out.json")
      << nlohmann::json(std::vector<nlohmann::json>(records.begin(), records.begin() + 8)).dump();
  const std::string job = fmt::format(
      "{} --set data.train={} --set data.eval={} --set data.seq_len=128 --set train.max_steps=8",
      kResumable, identity.string(), (dir_ / "held_out.json").string());
  const CliResult straight = train(fmt::format("{} {}", job, out("straight")));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  EXPECT_NE(straight.err.find("packed (the default for alpaca data)"), std::string::npos)
      << straight.err;
  {
    ScopedEnv signal("FTENGINE_TEST_SIGNAL_AT_STEP", "5");
    ASSERT_EQ(train(fmt::format("-q {} {}", job, out("resumed"))).exit_code, 130);
  }
  ASSERT_EQ(train(fmt::format("-q {} {} --resume", job, out("resumed"))).exit_code, 0);
  const std::vector<nlohmann::json> a = read_metrics(dir_ / "straight");
  const std::vector<nlohmann::json> b = read_metrics(dir_ / "resumed");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(numbers_of(a[i]), numbers_of(b[i])) << i;
  EXPECT_TRUE(file_bytes(dir_ / "straight/adapter/adapter_model.safetensors") ==
              file_bytes(dir_ / "resumed/adapter/adapter_model.safetensors"));
}

TEST_F(TrainTest, ResumeWithoutACheckpointSaysSo) {
  const CliResult r = train("-q --resume");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--resume: no checkpoint in "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ft::testing
