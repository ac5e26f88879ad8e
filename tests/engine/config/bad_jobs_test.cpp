// Each bad job in jobs/ and the exact lines `ftengine validate` prints for it: position,
// key, what was expected, what was found.
#include <gtest/gtest.h>

#include "engine/config/job.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

struct BadJob {
  std::string file;
  std::vector<std::string> overrides;
  std::vector<std::string> expected;
};

std::ostream& operator<<(std::ostream& out, const BadJob& job) { return out << job.file; }

class BadJobs : public ::testing::TestWithParam<BadJob> {};

TEST_P(BadJobs, ReportsExactlyTheseProblems) {
  const BadJob& job = GetParam();
  EXPECT_EQ(test::problem_lines(validate_job(test::job_path(job.file), job.overrides)),
            job.expected);
  // load_job refuses the same job with the same problems.
  try {
    load_job(test::job_path(job.file), job.overrides);
    ADD_FAILURE() << "load_job accepted " << job.file;
  } catch (const JobError& e) {
    EXPECT_EQ(test::problem_lines(e.problems()), job.expected);
  }
}

const BadJob kBadJobs[] = {
    {"unknown_key.toml",
     {},
     {R"(unknown_key.toml:7:1: adapter.rnak: unknown key; did you mean "r"?)"}},
    {"unknown_section.toml",
     {},
     {R"(unknown_section.toml:10:1: optimiser: unknown section; did you mean "optimizer"?)"}},
    {"wrong_type_string.toml",
     {},
     {"wrong_type_string.toml:2:8: model.path: expected a string, found an integer"}},
    {"wrong_types.toml",
     {},
     {"wrong_types.toml:6:5: adapter.r: expected an integer >= 1, found a string",
      "wrong_types.toml:7:14: adapter.use_rslora: expected a boolean (true or false), found a "
      "string",
      "wrong_types.toml:8:29: adapter.target_modules[1]: expected a string, found an integer",
      "wrong_types.toml:12:11: data.packing: expected a boolean (true or false), found an integer",
      "wrong_types.toml:15:13: train.max_steps: expected an integer >= 1, found a float",
      "wrong_types.toml:16:13: train.grad_clip: expected a number >= 0, found a boolean"}},
    {"section_not_table.toml",
     {},
     {"section_not_table.toml:1:9: model: expected a table (a [model] section), found a string"}},
    {"out_of_range_int.toml",
     {},
     {"out_of_range_int.toml:6:14: adapter.block_size: expected an integer in [32, 256], found 512",
      "out_of_range_int.toml:10:11: data.seq_len: expected an integer >= 8, found 4",
      "out_of_range_int.toml:13:14: train.batch_size: expected an integer >= 1, found 0"}},
    {"out_of_range_float.toml",
     {},
     {"out_of_range_float.toml:6:11: adapter.dropout: expected a number in [0, 1), found 1.0",
      "out_of_range_float.toml:7:9: adapter.alpha: expected a number > 0, found -2",
      "out_of_range_float.toml:10:6: optimizer.lr: expected a number > 0, found 0",
      "out_of_range_float.toml:13:16: schedule.warmup_ratio: expected a number in [0, 1], found "
      "1.5"}},
    {"not_finite.toml",
     {},
     {"not_finite.toml:6:9: adapter.alpha: expected a number > 0, found inf",
      "not_finite.toml:9:6: optimizer.lr: expected a number > 0, found nan",
      "not_finite.toml:12:25: data.train[1]: expected a non-empty string, found an empty string"}},
    {"bad_enum.toml",
     {},
     {R"(bad_enum.toml:3:9: model.dtype: expected one of "f32", "bf16", found "fp16"; did you mean "bf16"?)",
      R"(bad_enum.toml:7:14: adapter.quant_type: expected one of "nf4", "fp4", found "int4"; did you mean "nf4"?)",
      R"(bad_enum.toml:10:8: schedule.kind: expected one of "constant", "linear", "cosine", found "cosin"; did you mean "cosine"?)",
      R"(bad_enum.toml:14:10: data.format: expected one of "auto", "text", "alpaca", "chat", "completion", found "sharegpt")"}},
    {"missing_required_key.toml",
     {},
     {"missing_required_key.toml:4:1: adapter.plugin: required key missing"}},
    {"missing_section.toml",
     {},
     {"missing_section.toml:1:1: model.path: required key missing (the file has no [model] "
      "section)"}},
    {"empty.toml",
     {},
     {"empty.toml:1:1: model.path: required key missing (the file has no [model] section)",
      "empty.toml:1:1: adapter.plugin: required key missing (the file has no [adapter] section)",
      "empty.toml:1:1: data.train: required key missing (the file has no [data] section)"}},
    {"syntax_error.toml",
     {},
     {R"(syntax_error.toml:5:5: invalid TOML: error while parsing key-value pair: expected value, saw '\n')"}},
    {"duplicate_key.toml",
     {},
     {"duplicate_key.toml:7:5: invalid TOML: error while parsing key-value pair: cannot redefine "
      "existing integer 'r'"}},
    {"warmup_both.toml",
     {},
     {"warmup_both.toml:9:16: schedule.warmup_ratio: set either schedule.warmup_steps or "
      "schedule.warmup_ratio, not both (schedule.warmup_steps is set at warmup_both.toml:8:16)"}},
    {"betas_length.toml",
     {},
     {"betas_length.toml:8:9: optimizer.betas: expected an array of 2 numbers in [0, 1), found an "
      "array of 3"}},
    {"plugin_key_mismatch.toml",
     {},
     {R"(plugin_key_mismatch.toml:6:1: adapter.r: only used by adapter plugins "lora" and "qlora", and this job's is "full")",
      R"(plugin_key_mismatch.toml:11:1: optimizer.betas: only used by optimizer plugin "adamw", and this job's is "sgd")",
      "plugin_key_mismatch.toml:12:12: optimizer.nesterov: Nesterov momentum needs "
      "optimizer.momentum > 0, found none"}},
    {"top_level_key.toml",
     {},
     {R"(top_level_key.toml:1:1: name: unknown key outside any section; did you mean "name" in the [job] section?)",
      R"(top_level_key.toml:2:1: path: unknown key outside any section; did you mean "path" in the [model] section?)"}},
    {"several_problems.toml",
     {},
     {R"(several_problems.toml:6:9: model.dtype: expected one of "f32", "bf16", found "f16"; did you mean "bf16"?)",
      R"(several_problems.toml:10:1: adapter.rank: unknown key; did you mean "r"?)",
      R"(several_problems.toml:11:1: adapter.quant_type: only used by adapter plugin "qlora", and this job's is "lora")",
      "several_problems.toml:15:6: optimizer.lr: expected a number > 0, found -1",
      R"(several_problems.toml:16:1: optimizer.momentum: only used by optimizer plugin "sgd", and this job's is "adamw")",
      "several_problems.toml:19:9: data.train: expected a string or an array of strings, found an "
      "empty array",
      "several_problems.toml:21:13: data.val_split: set either data.eval or data.val_split, not "
      "both (data.eval is set at several_problems.toml:20:8)",
      "several_problems.toml:24:14: train.batch_size: expected an integer >= 1, found 0",
      R"(several_problems.toml:26:1: trainer: unknown section; did you mean "train"?)"}},
    {"does_not_exist.toml", {}, {"does_not_exist.toml: job file not found"}},
    // --set problems come after the file's, in argument order.
    {"unknown_key.toml",
     {"train.max_stepz=10", "train.max_steps=abc", "backend.plugin=cpu", "optimizer.lr=[1e-4",
      "seed"},
     {R"(unknown_key.toml:7:1: adapter.rnak: unknown key; did you mean "r"?)",
      R"(--set train.max_stepz=10: train.max_stepz: unknown key; did you mean "max_steps"?)",
      "--set train.max_steps=abc: train.max_steps: expected an integer >= 1, found a string",
      "--set optimizer.lr=[1e-4: optimizer.lr: [1e-4 is not a TOML value (error while parsing "
      "array: encountered end-of-file)",
      "--set seed: expected KEY=VALUE, e.g. --set train.max_steps=10"}},
};

INSTANTIATE_TEST_SUITE_P(Jobs, BadJobs, ::testing::ValuesIn(kBadJobs),
                         [](const ::testing::TestParamInfo<BadJob>& info) {
                           std::string name = info.param.file.substr(0, info.param.file.find('.'));
                           if (!info.param.overrides.empty()) name += "_with_overrides";
                           return name;
                         });

TEST(BadJobs, AtLeastEighteenFixtures) {
  std::size_t bad = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::jobs_dir()))
    if (entry.path().extension() == ".toml" && !entry.path().stem().string().starts_with("valid") &&
        entry.path().stem() != "third_party")
      ++bad;
  EXPECT_GE(bad, 18u);
}

TEST(BadJobs, DirectoryIsNotAJob) {
  const std::vector<Problem> problems = validate_job(test::jobs_dir());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string(),
            test::jobs_dir().string() + ": is a directory, not a job file");
}

TEST(BadJobs, JobErrorIsOneLineWithTheCount) {
  try {
    load_job(test::job_path("out_of_range_int.toml"));
    FAIL() << "accepted";
  } catch (const JobError& e) {
    const std::string what = test::replace_all(e.what(), test::jobs_dir().string() + "/", "");
    EXPECT_EQ(what,
              "out_of_range_int.toml:6:14: adapter.block_size: expected an integer in [32, 256], "
              "found 512 (and 2 more problems; `ftengine validate` lists them all)");
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace ft::engine
