// Checkpoint directories: written whole or not at all, listed and pruned by step, and read
// back into the live tensors they came from.
#include "engine/train/checkpoint.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using ft::testing::backend;
using ft::testing::error_of;
using ft::testing::TempDir;

std::vector<Parameter> tensors(float base) {
  return {
      {"a.weight", Tensor::from_vector({base, base + 1, base + 2, base + 3}, {2, 2}, backend())},
      {"b.weight", Tensor::from_vector({base * 10}, {1}, backend())}};
}

TrainerState state_at(std::int64_t step) {
  TrainerState s;
  s.step = step;
  s.total_steps = 100;
  s.cursor = {2, 17};
  s.micro_batch = 4 * static_cast<std::uint64_t>(step);
  s.seed = 42;
  s.train_rows = 33;
  s.tokens = 1234;
  s.elapsed_s = 5.5;
  s.job_hash = "fnv1a64:0123456789abcdef";
  return s;
}

TEST(Checkpoint, RoundTripsStateAndTensors) {
  TempDir run;
  write_checkpoint(run.path(), state_at(10), tensors(1.0f), {{"m", tensors(5.0f)[0].tensor}},
                   "[job]\nname = 'x'\n");
  const std::vector<Checkpoint> all = list_checkpoints(run.path());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].step, 10);
  EXPECT_EQ(all[0].dir, run.path() / "checkpoints" / "step-10");
  for (const char* file : {kTrainableFile, kOptimizerFile, kTrainerStateFile, kCheckpointJobFile})
    EXPECT_TRUE(fs::is_regular_file(all[0].dir / file)) << file;

  const TrainerState s = read_trainer_state(all[0].dir);
  EXPECT_EQ(s.step, 10);
  EXPECT_EQ(s.total_steps, 100);
  EXPECT_EQ(s.cursor, (DataCursor{2, 17}));
  EXPECT_EQ(s.micro_batch, 40u);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.train_rows, 33);
  EXPECT_EQ(s.tokens, 1234);
  EXPECT_DOUBLE_EQ(s.elapsed_s, 5.5);
  EXPECT_EQ(s.job_hash, "fnv1a64:0123456789abcdef");

  const std::vector<Parameter> live = tensors(0.0f);
  load_checkpoint_tensors(all[0].dir / kTrainableFile, live);
  EXPECT_EQ(live[0].tensor.to_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(live[1].tensor.to_vector(), (std::vector<float>{10}));
}

TEST(Checkpoint, ListsOnlyCompleteCheckpointsAndPrunesTheOldest) {
  TempDir run;
  for (std::int64_t step : {3, 12, 6, 9})
    write_checkpoint(run.path(), state_at(step), tensors(1), {}, "");
  fs::create_directories(run / "checkpoints/.tmp-step-15");  // an interrupted write
  fs::create_directories(run / "checkpoints/step-20");       // no trainer_state.json
  std::vector<std::int64_t> steps;
  for (const Checkpoint& c : list_checkpoints(run.path())) steps.push_back(c.step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{3, 6, 9, 12}));

  prune_checkpoints(run.path(), 2);
  steps.clear();
  for (const Checkpoint& c : list_checkpoints(run.path())) steps.push_back(c.step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{9, 12}));
  EXPECT_FALSE(fs::exists(run / "checkpoints/.tmp-step-15"));
  EXPECT_FALSE(fs::exists(run / "checkpoints/step-3"));
}

TEST(Checkpoint, RewritingAStepReplacesIt) {
  TempDir run;
  write_checkpoint(run.path(), state_at(4), tensors(1), {}, "");
  write_checkpoint(run.path(), state_at(4), tensors(7), {}, "");
  const std::vector<Parameter> live = tensors(0);
  load_checkpoint_tensors(run / "checkpoints/step-4" / kTrainableFile, live);
  EXPECT_EQ(live[1].tensor.to_vector(), (std::vector<float>{70}));
  EXPECT_FALSE(fs::exists(run / "checkpoints/.tmp-step-4"));
}

TEST(Checkpoint, RefusesTensorsThatDoNotFit) {
  TempDir run;
  write_checkpoint(run.path(), state_at(1), tensors(1), {}, "");
  const fs::path file = run / "checkpoints/step-1" / kTrainableFile;

  std::vector<Parameter> renamed = tensors(0);
  renamed[1].name = "c.weight";
  EXPECT_NE(
      error_of([&] { load_checkpoint_tensors(file, renamed); }).find("no tensor \"c.weight\""),
      std::string::npos);

  std::vector<Parameter> reshaped = tensors(0);
  reshaped[0].tensor = Tensor::zeros({4}, DType::f32, backend());
  EXPECT_NE(error_of([&] {
              load_checkpoint_tensors(file, reshaped);
            }).find("tensor \"a.weight\" is F32 [2, 2], this run's is F32 [4]"),
            std::string::npos);

  std::vector<Parameter> fewer = {tensors(0)[0]};
  EXPECT_NE(error_of([&] {
              load_checkpoint_tensors(file, fewer);
            }).find("holds 2 tensors, this run has 1"),
            std::string::npos);
}

TEST(Checkpoint, AMalformedStateIsAnErrorNamingTheFile) {
  TempDir run;
  fs::create_directories(run / "checkpoints/step-2");
  std::ofstream(run / "checkpoints/step-2" / kTrainerStateFile) << "{\"format\": 1}";
  const std::string message = error_of([&] { read_trainer_state(run / "checkpoints/step-2"); });
  EXPECT_NE(message.find("trainer_state.json: not a trainer state this build reads"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace ft::engine
