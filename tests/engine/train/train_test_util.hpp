// Shared by the end-to-end trainer tests: a scratch directory with a job that fine-tunes
// stories260K-hf (../shared/testdata) on passages of Botchan (a novel: new to a model
// trained on TinyStories, so fine-tuning has something to learn), the real `ftengine`
// binary to run it, and readers for what a run writes.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cli.hpp"

namespace ft::testing {

namespace fs = std::filesystem;

inline const fs::path kStoriesModel =
    fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K-hf";
inline const fs::path kNovelText =
    fs::path(FTENGINE_SHARED_TESTDATA) / "datasets" / "text" / "botchan.txt";

// LoRA on stories260K: 20 steps of 4 rows of 64 tokens, eval on held-out passages.
// Tests change it with --set.
inline constexpr const char* kStoriesJob = R"(
[job]
name = "stories"

[model]
path = "{model}"

[adapter]
plugin = "lora"

[optimizer]
lr = 0.01

[schedule]
warmup_steps = 2

[data]
train = "train.jsonl"
eval = "eval.jsonl"
seq_len = 64

[train]
batch_size = 4
max_steps = 20
seed = 7
# The numbers these tests compare must not depend on whether the machine has bf16
# instructions (auto takes bf16 there); the bf16 tests ask for it.
precision = "f32"

[backend]
plugin = "cpu"

[output]
dir = "run"
)";

class TrainTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (!fs::exists(kStoriesModel / "model.safetensors") || !fs::exists(kNovelText))
      GTEST_SKIP() << "test data absent: " << kStoriesModel.string() << ", " << kNovelText.string();
    // After the Gutenberg header, passages of 8 lines: 40 to train on (about 20 kB), the
    // next 10 to evaluate on.
    std::ifstream in(kNovelText);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::ofstream train(dir_ / "train.jsonl"), eval(dir_ / "eval.jsonl");
    for (int passage = 0; passage < 50; ++passage) {
      std::string text;
      for (int i = 0; i < 8; ++i)
        text += lines[static_cast<std::size_t>(20 + passage * 8 + i)] + "\n";
      (passage < 40 ? train : eval) << nlohmann::json{{"text", text}}.dump() << '\n';
    }
    std::string job = kStoriesJob;
    job.replace(job.find("{model}"), 7, kStoriesModel.string());
    std::ofstream(dir_ / "job.toml") << job;
  }

  // `ftengine run <job> ARGS`.
  CliResult train(const std::string& args = "") const {
    return run(fmt::format("run '{}' {}", (dir_ / "job.toml").string(), args));
  }
  // --set output.dir=<scratch>/NAME
  std::string out(const std::string& name) const {
    return fmt::format("--set output.dir={}", (dir_ / name).string());
  }
};

// Sets an environment variable for the commands a test runs, until it ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

inline std::vector<nlohmann::json> read_metrics(const fs::path& run_dir) {
  std::vector<nlohmann::json> records;
  for (const std::string& line : lines_of(read_text_file(run_dir / "metrics.jsonl")))
    records.push_back(nlohmann::json::parse(line));
  return records;
}

// The step records (with "loss"), or the eval records (with "eval_loss").
inline std::vector<nlohmann::json> records_with(const std::vector<nlohmann::json>& all,
                                                const char* key) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : all)
    if (r.contains(key)) out.push_back(r);
  return out;
}

inline std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace ft::testing
