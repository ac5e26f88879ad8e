// `ftengine run` end to end: what a run prints and writes, gradient accumulation, checkpoint
// pruning, a diverging run, and refusing to write over a run.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "ftengine/io/safetensors.hpp"
#include "tests/engine/train/train_test_util.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

TEST_F(TrainTest, WritesMetricsCheckpointsAndThePeftAdapter) {
  const CliResult r = train("--set train.eval_every=10 --set train.save_every=10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ftengine: trainable params: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" || trainable%: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step  1/20  loss "), std::string::npos) << r.err;  // not a terminal
  EXPECT_NE(r.err.find("eval at step 20: loss "), std::string::npos) << r.err;

  const fs::path run_dir = dir_ / "run";
  const std::vector<nlohmann::json> all = read_metrics(run_dir);
  const std::vector<nlohmann::json> steps = records_with(all, "loss");
  ASSERT_EQ(steps.size(), 20u);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i]["step"], i + 1);
    for (const char* key : {"loss", "lr", "grad_norm", "tokens", "tokens_per_second", "elapsed_s"})
      EXPECT_TRUE(steps[i][key].is_number()) << key;
    EXPECT_EQ(steps[i].size(), 7u);
  }
  EXPECT_EQ(steps[0]["lr"], 0.0);  // warmup starts at 0, as in Hugging Face
  std::vector<int> eval_steps;
  for (const nlohmann::json& e : records_with(all, "eval_loss")) {
    eval_steps.push_back(e["step"]);
    EXPECT_NEAR(e["eval_perplexity"].get<double>(), std::exp(e["eval_loss"].get<double>()), 1e-9);
  }
  EXPECT_EQ(eval_steps, (std::vector<int>{0, 10, 20}));

  EXPECT_TRUE(fs::is_regular_file(run_dir / "job.toml"));
  EXPECT_TRUE(fs::is_regular_file(run_dir / "checkpoints/step-10/trainer_state.json"));
  EXPECT_TRUE(fs::is_regular_file(run_dir / "checkpoints/step-20/trainer_state.json"));
  const nlohmann::json config = read_json(run_dir / "adapter/adapter_config.json");
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 8);
  EXPECT_EQ(config["base_model_name_or_path"], kStoriesModel.lexically_normal().string());
  EXPECT_TRUE(fs::is_regular_file(run_dir / "adapter/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(run_dir / "merged"));
}

// batch 4 × accum 1, 2 × 2 and 1 × 4 see the same rows per step and divide by the same
// token count, so they compute the same losses, gradients and weights up to float
// rounding. SGD, because AdamW's update m / sqrt(v) turns a rounding difference in a
// gradient near 0 (LoRA A while B is still small) into a whole step of difference.
TEST_F(TrainTest, GradientAccumulationEqualsALargerBatch) {
  const std::pair<int, int> shapes[] = {{4, 1}, {2, 2}, {1, 4}};
  std::vector<std::vector<nlohmann::json>> steps;
  std::vector<std::map<std::string, std::vector<float>>> weights;
  for (const auto& [batch, accum] : shapes) {
    const std::string name = fmt::format("b{}a{}", batch, accum);
    const CliResult r =
        train(fmt::format("-q {} --set train.max_steps=6 --set train.batch_size={} "
                          "--set train.grad_accum={} --set optimizer.plugin=sgd "
                          "--set optimizer.lr=0.5",
                          out(name), batch, accum));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    steps.push_back(records_with(read_metrics(dir_ / name), "loss"));
    const io::SafetensorsFile file(dir_ / name / "adapter/adapter_model.safetensors");
    std::map<std::string, std::vector<float>> w;
    for (const io::SafetensorsTensorInfo& t : file.tensors())
      w[t.name] = file.load(t, backend()).to_vector();
    weights.push_back(std::move(w));
  }
  for (std::size_t run = 1; run < steps.size(); ++run) {
    ASSERT_EQ(steps[run].size(), steps[0].size());
    for (std::size_t i = 0; i < steps[0].size(); ++i) {
      const double a = steps[0][i]["loss"], b = steps[run][i]["loss"];
      EXPECT_NEAR(a, b, 1e-5 * a) << "run " << run << " step " << i + 1;
      const double g = steps[0][i]["grad_norm"], h = steps[run][i]["grad_norm"];
      EXPECT_NEAR(g, h, 1e-5 * g) << "run " << run << " step " << i + 1;
      EXPECT_EQ(steps[0][i]["tokens"], steps[run][i]["tokens"]);
    }
    ASSERT_EQ(weights[run].size(), weights[0].size());
    for (const auto& [name, values] : weights[0])
      EXPECT_LE(max_abs_diff(values, weights[run][name]), 1e-6f) << name << " run " << run;
  }
}

TEST_F(TrainTest, ValSplitHoldsOutTrainingRowsForEvaluation) {
  std::string job = read_text_file(dir_ / "job.toml");
  job.erase(job.find("eval = \"eval.jsonl\"\n"), 20);
  std::ofstream(dir_ / "job.toml") << job;
  const CliResult r = train("--set data.val_split=0.25 --set train.max_steps=4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("eval: data.val_split = 0.25: 10 held-out example(s) ("),
            std::string::npos)
      << r.err;
  const std::vector<nlohmann::json> evals = records_with(read_metrics(dir_ / "run"), "eval_loss");
  ASSERT_EQ(evals.size(), 1u);  // eval_every = 0: after the last step only
  EXPECT_EQ(evals[0]["step"], 4);
}

TEST_F(TrainTest, KeepsOnlyTheNewestCheckpoints) {
  const CliResult r =
      train("-q --set train.max_steps=7 --set train.save_every=2 --set train.keep_checkpoints=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_ / "run/checkpoints"))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step-6", "step-7"}));  // the last step always saves
}

TEST_F(TrainTest, ANonFiniteLossStopsTheRunAndKeepsTheLastCheckpoint) {
  const CliResult r =
      train("--set optimizer.lr=1e30 --set schedule.warmup_steps=0 --set train.save_every=1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string last = lines_of(r.err).back();
  EXPECT_EQ(last.rfind("ftengine: error: training diverged: step 2: ", 0), 0u) << last;
  EXPECT_NE(last.find("Stopped before updating the weights; the last checkpoint, "),
            std::string::npos)
      << last;
  EXPECT_NE(last.find("checkpoints/step-1, is intact: lower optimizer.lr (now 1e+30)"),
            std::string::npos)
      << last;
  EXPECT_NE(last.find("--resume --force"), std::string::npos) << last;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "run/checkpoints/step-1/trainer_state.json"));
  EXPECT_FALSE(fs::exists(dir_ / "run/checkpoints/step-2"));
  EXPECT_FALSE(fs::exists(dir_ / "run/adapter"));
}

TEST_F(TrainTest, RefusesToWriteOverARun) {
  ASSERT_EQ(train("-q --set train.max_steps=2").exit_code, 0);
  const CliResult again = train("-q --set train.max_steps=2");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already holds a run (its newest checkpoint is step-2): continue it "
                           "with `ftengine run "),
            std::string::npos)
      << again.err;

  const CliResult force = train("-q --force");
  EXPECT_EQ(force.exit_code, 2);
  EXPECT_NE(force.err.find("--force only applies with --resume"), std::string::npos) << force.err;
}

TEST_F(TrainTest, RefusesWhatThisBuildCannotDoBeforeTraining) {
  // Data in another format than the job says: the first bad record, by file and line.
  CliResult r = train("-q --set data.format=alpaca");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find((dir_ / "train.jsonl").string() + ":1: no \"instruction\" field"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "run/checkpoints"));
}

}  // namespace
}  // namespace ft::testing
