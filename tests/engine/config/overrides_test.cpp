// --set KEY=VALUE: what it changes, how VALUE is read, and how it is checked.
#include <gtest/gtest.h>

#include "engine/config/job.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

const std::string kJob =
    "[model]\npath = \"models/m\"\n[adapter]\nplugin = \"lora\"\n[data]\ntrain = \"t.jsonl\"\n"
    "[train]\nmax_steps = 100\n";

Job load(const std::vector<std::string>& overrides) {
  return load_job_from_string(kJob, "/jobs/x.toml", overrides);
}

std::vector<std::string> problems(const std::vector<std::string>& overrides,
                                  const std::string& text = kJob) {
  return test::problem_lines(validate_job_string(text, "x.toml", overrides));
}

TEST(Overrides, ChangeTheResolvedValue) {
  EXPECT_EQ(load({}).train.max_steps, 100);
  EXPECT_EQ(load({"train.max_steps=10"}).train.max_steps, 10);
  EXPECT_EQ(load({"optimizer.lr=1e-3"}).optimizer.lr, 1e-3);
  EXPECT_EQ(load({"adapter.use_rslora=true"}).adapter.use_rslora, true);
  EXPECT_EQ(load({"optimizer.betas=[0.8, 0.9]"}).optimizer.betas,
            (std::array<double, 2>{0.8, 0.9}));
  EXPECT_EQ(load({"adapter.target_modules=[\"q_proj\", \"v_proj\"]"}).adapter.target_modules,
            (std::vector<std::string>{"q_proj", "v_proj"}));
  // Spaces around KEY and VALUE do not matter.
  EXPECT_EQ(load({" train.max_steps = 7 "}).train.max_steps, 7);
  // The resolved job records the override.
  EXPECT_EQ(load({"train.max_steps=10"}).resolved["train"]["max_steps"].value<std::int64_t>(), 10);
}

TEST(Overrides, TheLaterOneWins) {
  EXPECT_EQ(load({"train.max_steps=10", "train.max_steps=20"}).train.max_steps, 20);
}

TEST(Overrides, BareWordsAreStrings) {
  EXPECT_EQ(load({"backend.plugin=cpu"}).backend.plugin, "cpu");
  EXPECT_EQ(load({"backend.plugin=\"cuda\""}).backend.plugin, "cuda");
  // A string key takes unquoted text as text, even when it would read as TOML.
  EXPECT_EQ(load({"job.name=2024"}).name, "2024");
  EXPECT_EQ(load({"job.name=true"}).name, "true");
  EXPECT_EQ(load({"job.name=my run"}).name, "my run");
  EXPECT_EQ(load({"data.template=chatml"}).data.chat_template, "chatml");
}

TEST(Overrides, CreateSectionsAndFixTheFile) {
  EXPECT_EQ(load({"schedule.kind=linear"}).schedule.kind, ScheduleKind::linear);
  // A value the file gets wrong, replaced from the command line, is not a problem.
  const std::string bad = kJob + "batch_size = 0\n";
  EXPECT_EQ(problems({}), std::vector<std::string>{});
  EXPECT_EQ(
      problems({}, bad),
      std::vector<std::string>{"x.toml:9:14: train.batch_size: expected an integer >= 1, found 0"});
  EXPECT_EQ(problems({"train.batch_size=2"}, bad), std::vector<std::string>{});
}

TEST(Overrides, PathsAreTakenFromTheCurrentDirectory) {
  const Job job = load({"model.path=other/m", "data.train=[\"a.jsonl\", \"/b.jsonl\"]"});
  EXPECT_EQ(job.model.path, fs::current_path() / "other/m");
  EXPECT_EQ(job.data.train, (std::vector<fs::path>{fs::current_path() / "a.jsonl", "/b.jsonl"}));
  // while the file's own paths are taken from its directory
  EXPECT_EQ(load({}).model.path, fs::path("/jobs/models/m"));
}

TEST(Overrides, OpenASectionForAThirdPartyPlugin) {
  const Job job = load({"adapter.plugin=dora", "adapter.magnitude_lr=1e-4"});
  EXPECT_EQ(job.adapter.plugin, "dora");
  EXPECT_EQ(job.adapter.extra["magnitude_lr"].value<double>(), 1e-4);
  EXPECT_EQ(problems({"adapter.magnitude_lr=1e-4"}),
            std::vector<std::string>{
                "--set adapter.magnitude_lr=1e-4: adapter.magnitude_lr: unknown key; [adapter] "
                "takes plugin, r, alpha, dropout, target_modules, use_rslora, quant_type, "
                "double_quant, block_size and freeze"});
}

TEST(Overrides, AreTypeChecked) {
  EXPECT_EQ(problems({"train.max_steps=abc"}),
            std::vector<std::string>{
                "--set train.max_steps=abc: train.max_steps: expected an integer >= 1, found a "
                "string"});
  EXPECT_EQ(problems({"train.max_steps=0"}),
            std::vector<std::string>{
                "--set train.max_steps=0: train.max_steps: expected an integer >= 1, found 0"});
  EXPECT_EQ(problems({"optimizer.betas=[0.9]"}),
            std::vector<std::string>{"--set optimizer.betas=[0.9]: optimizer.betas: expected an "
                                     "array of 2 numbers in [0, 1), found an array of 1"});
  EXPECT_EQ(problems({"optimizer.betas=[0.9, 2]"}),
            std::vector<std::string>{"--set optimizer.betas=[0.9, 2]: optimizer.betas[1]: "
                                     "expected a number in [0, 1), found 2"});
  EXPECT_EQ(problems({"data.packing=yes"}),
            std::vector<std::string>{"--set data.packing=yes: data.packing: expected a boolean "
                                     "(true or false), found a string"});
  EXPECT_EQ(problems({"schedule.kind=cosin"}),
            std::vector<std::string>{
                "--set schedule.kind=cosin: schedule.kind: expected one of \"constant\", "
                "\"linear\", \"cosine\", found \"cosin\"; did you mean \"cosine\"?"});
}

TEST(Overrides, BadKeysSaySo) {
  EXPECT_EQ(problems({"train.max_stepz=10"}),
            std::vector<std::string>{"--set train.max_stepz=10: train.max_stepz: unknown key; did "
                                     "you mean \"max_steps\"?"});
  EXPECT_EQ(problems({"trian.max_steps=10"}),
            std::vector<std::string>{"--set trian.max_steps=10: trian: unknown section; did you "
                                     "mean \"train\"?"});
  EXPECT_EQ(problems({"max_steps=10"}),
            std::vector<std::string>{"--set max_steps=10: max_steps: unknown key outside any "
                                     "section; did you mean \"train.max_steps\"?"});
  EXPECT_EQ(
      problems({"train..max_steps=1"}),
      std::vector<std::string>{"--set train..max_steps=1: train..max_steps: expected a "
                               "dotted key such as train.max_steps (letters, digits, _ and -)"});
  EXPECT_EQ(problems({"=1"}),
            std::vector<std::string>{"--set =1: expected a dotted key such as train.max_steps "
                                     "(letters, digits, _ and -)"});
  EXPECT_EQ(problems({"train.max_steps"}),
            std::vector<std::string>{
                "--set train.max_steps: expected KEY=VALUE, e.g. --set train.max_steps=10"});
}

TEST(Overrides, BadValuesSaySo) {
  EXPECT_EQ(problems({"train.max_steps="}),
            std::vector<std::string>{"--set train.max_steps=: train.max_steps: expected a value "
                                     "after '=' (write \"\" for an empty string)"});
  EXPECT_EQ(problems({"optimizer.betas=[0.9, 0.95"}),
            std::vector<std::string>{"--set optimizer.betas=[0.9, 0.95: optimizer.betas: [0.9, "
                                     "0.95 is not a TOML value (error while parsing array: "
                                     "encountered end-of-file)"});
  // A quoted empty string is a value, and an empty string is not a valid path.
  EXPECT_EQ(problems({"model.path=\"\""}),
            std::vector<std::string>{"--set model.path=\"\": model.path: expected a non-empty "
                                     "string, found an empty string"});
}

TEST(Overrides, AMissingSectionIsAddedInTheFile) {
  const std::string text = "[model]\npath = \"m\"\n[data]\ntrain = \"t.jsonl\"\n";
  EXPECT_EQ(problems({"adapter.r=8"}, text),
            std::vector<std::string>{
                "x.toml:1:1: adapter.plugin: required key missing (the file has no [adapter] "
                "section)"});
  EXPECT_EQ(problems({"adapter.plugin=lora"}, text), std::vector<std::string>{});
}

TEST(Overrides, ConflictsPointAtBothPlaces) {
  const std::string text = kJob + "[schedule]\nwarmup_steps = 10\n";
  EXPECT_EQ(problems({"schedule.warmup_ratio=0.1"}, text),
            std::vector<std::string>{
                "--set schedule.warmup_ratio=0.1: schedule.warmup_ratio: set either "
                "schedule.warmup_steps or schedule.warmup_ratio, not both (schedule.warmup_steps "
                "is set at x.toml:10:16)"});
}

TEST(Overrides, ProblemsFollowTheFileInArgumentOrder) {
  const std::string text = kJob + "batch_size = 0\n";
  EXPECT_EQ(problems({"train.seed=-1", "train.grad_accum=0"}, text),
            (std::vector<std::string>{
                "x.toml:9:14: train.batch_size: expected an integer >= 1, found 0",
                "--set train.seed=-1: train.seed: expected an integer >= 0, found -1",
                "--set train.grad_accum=0: train.grad_accum: expected an integer >= 1, found 0"}));
}

}  // namespace
}  // namespace ft::engine
