// `ftengine data JOB`: the report the run prints at start, without training, on the
// project's example configs (LLaMA-Factory's files in ../shared/testdata), and bad
// records named by file and line or skipped and counted.
#include <gtest/gtest.h>

#include <fstream>

#include "support/cli.hpp"

namespace ft::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = fs::path(FTENGINE_SHARED_TESTDATA);
const fs::path kStories = kTestdata / "models" / "stories260K-hf";

class DataCommand : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (!fs::exists(kTestdata / "datasets/llamafactory/identity.json") ||
        !fs::exists(kStories / "tokenizer.json"))
      GTEST_SKIP() << "test data absent: " << kTestdata.string();
  }
  bool has(const CliResult& r, const std::string& text) const {
    return r.out.find(text) != std::string::npos;
  }
};

TEST_F(DataCommand, ReportsIdentityJsonAsAlpaca) {
  const CliResult r = run("data configs/alpaca.toml --show 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r, "format: alpaca (data.format)\n")) << r.out;
  EXPECT_TRUE(has(r, "template: alpaca (auto: the model has no chat template or chat tokens, "
                     "and the data is Alpaca); loss on responses only\n"))
      << r.out;
  EXPECT_TRUE(has(r, "identity.json: 91 records, 91 examples\n")) << r.out;
  EXPECT_TRUE(has(r, "records: 91 read, 91 examples, 9 held out for eval\n")) << r.out;
  EXPECT_TRUE(has(r, "examples: 82 to train, 82 kept, 0 dropped\n")) << r.out;
  // Not a terminal: the trained tokens in brackets; the prompt is not trained.
  EXPECT_TRUE(has(r, "### Instruction:\nhi\n\n### Response:\n[[Hello! I am {{name}}, an AI "
                     "assistant developed by {{author}}. How can I assist you today?</s>]]"))
      << r.out;
}

TEST_F(DataCommand, ReportsTheToolCallingConversations) {
  const CliResult r = run("data configs/chat.toml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r, "glaive_toolcall_en_demo.json: 300 records, 300 examples\n")) << r.out;
  EXPECT_TRUE(has(r, "template: zephyr (auto:")) << r.out;
  EXPECT_TRUE(has(r, "; loss on responses only\n")) << r.out;
}

TEST_F(DataCommand, ABadRecordStopsWithItsLineOrIsSkippedAndCounted) {
  std::ofstream(dir_ / "train.jsonl")
      << "{\"prompt\": \"1+1=\", \"completion\": \"2\"}\n"
         "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n"
         "{\"prompt\": \"3+3=\", \"completion\": 6}\n"
         "{\"prompt\": \"4+4=\", \"completion\": \"8\"\n";
  std::ofstream(dir_ / "job.toml") << fmt::format(
      "[model]\npath = \"{}\"\n[adapter]\nplugin = \"lora\"\n[data]\ntrain = \"train.jsonl\"\n",
      kStories.string());
  const std::string job = (dir_ / "job.toml").string();
  const std::string file = (dir_ / "train.jsonl").string();
  CliResult r = run("data " + job);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ":3: "), std::string::npos) << r.err;

  r = run("data " + job + " --set data.skip_bad_records=true");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r, "format: completion (")) << r.out;
  EXPECT_TRUE(has(r, "records: 4 read, 2 examples, 2 bad records skipped\n")) << r.out;
  EXPECT_TRUE(has(r, "  skipped " + file + ":3: ")) << r.out;
  EXPECT_TRUE(has(r, "  skipped " + file + ":4: invalid JSON")) << r.out;
}

}  // namespace
}  // namespace ft::testing
