// Real datasets from ../shared/testdata (see its PROVENANCE.md files) through the whole
// data pipeline of a job, with real tokenizers: LLaMA-Factory's Alpaca, ShareGPT and C4
// samples; the counts the report gives must match the files, and rows must give back each
// example's tokens exactly. Also: a packed batch gives the same loss as its examples one
// by one (stories260K).
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "engine/config/job.hpp"
#include "engine/data/dataset.hpp"
#include "tests/engine/data/data_test_util.hpp"

namespace ft::testing {
namespace {

namespace fs = std::filesystem;
using engine::DataFormat;
using engine::PreparedData;
using engine::Tokenizer;

const fs::path kTestdata = fs::path(FTENGINE_SHARED_TESTDATA);
const fs::path kFactory = kTestdata / "datasets" / "llamafactory";
const fs::path kStoriesModel = kTestdata / "models" / "stories260K-hf";

class RealData : public DataTest {
 protected:
  void SetUp() override {
    DataTest::SetUp();
    for (const fs::path& p : {kFactory / "identity.json", kStoriesModel / "tokenizer.json"})
      if (!fs::exists(p)) GTEST_SKIP() << "test data absent: " << p.string();
  }

  // A job over `train` with the stories260K model; `data` adds [data] keys.
  engine::Job job(const std::string& train, const std::string& data = "") const {
    return engine::load_job_from_string(
        fmt::format("[model]\npath = \"{}\"\n[adapter]\nplugin = \"lora\"\n[data]\ntrain = \"{}\"\n{}\n", kStoriesModel.string(),
                    train, data),
        dir_ / "job.toml");
  }
};

TEST_F(RealData, IdentityIsAlpacaAndEveryRecordTrains) {
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  const PreparedData d = engine::prepare_data(job((kFactory / "identity.json").string()), tok);
  EXPECT_EQ(d.report.format, DataFormat::alpaca);
  EXPECT_EQ(d.report.template_name, "alpaca");  // stories260K has no chat tokens
  ASSERT_EQ(d.report.files.size(), 1u);
  EXPECT_EQ(d.report.files[0].records, 91);  // PROVENANCE.md: 91 rows
  EXPECT_EQ(d.report.counts.examples, 91);
  EXPECT_EQ(d.report.counts.kept, 91);
  EXPECT_TRUE(d.report.packing);  // the default for alpaca data
  EXPECT_LT(d.train.rows.size(), 91u);
  EXPECT_GT(d.report.target_tokens, 0);
  EXPECT_LT(d.report.target_tokens, d.report.counts.input_tokens);  // prompts are masked
}

TEST_F(RealData, GlaiveToolCallsAreChatWithToolTurns) {
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  const PreparedData d = engine::prepare_data(
      job((kFactory / "glaive_toolcall_en_demo.json").string(), "seq_len = 2048\non_overflow = \"split\""), tok);
  EXPECT_EQ(d.report.format, DataFormat::chat);
  EXPECT_EQ(d.report.template_name, "zephyr");
  EXPECT_EQ(d.report.files[0].records, 300);
  EXPECT_EQ(d.report.counts.kept, 300);
  EXPECT_GT(d.report.counts.split, 0);  // 512 tokens of vocabulary make long conversations
}

TEST_F(RealData, AlpacaDemoPackedAndTruncatedAddsUp) {
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  const PreparedData d = engine::prepare_data(
      job((kFactory / "alpaca_en_demo.json").string(), "seq_len = 256\npacking = true"), tok);
  const engine::SequenceCounts& c = d.report.counts;
  EXPECT_EQ(c.examples, 999);
  EXPECT_EQ(c.kept + c.untrained + c.truncated_away, 999);
  EXPECT_GT(c.truncated, 0);  // some answers are longer than 256 tokens
  EXPECT_EQ(c.slots, static_cast<std::int64_t>(d.train.rows.size()) * 256);
  EXPECT_GT(static_cast<double>(c.input_tokens) / static_cast<double>(c.slots), 0.9);
}

// Every example of C4 split into rows of seq_len: the rows, piece by piece, give back the
// example's tokens, and every token after an example's first is a target exactly once.
TEST_F(RealData, SplitTextRowsReplayEachExample) {
  const fs::path c4 = kFactory / "c4_demo.jsonl";
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  for (std::int64_t seq_len : {64, 509}) {
    SCOPED_TRACE(seq_len);
    const PreparedData d = engine::prepare_data(
        job(c4.string(), fmt::format("seq_len = {}", seq_len)), tok, {.show = 300});
    EXPECT_EQ(d.report.format, DataFormat::text);
    EXPECT_EQ(d.report.on_overflow, engine::OverflowPolicy::split);
    ASSERT_EQ(d.shown.size(), 300u);
    std::size_t row = 0;
    std::int64_t targets = 0, expected_targets = 0;
    for (const engine::TokenizedExample& e : d.shown) {
      expected_targets += static_cast<std::int64_t>(e.tokens.size()) - 1;
      // A last piece of one token predicts nothing and is left out.
      const auto L = static_cast<std::size_t>(seq_len);
      const std::vector<std::int32_t> expected(
          e.tokens.begin(), e.tokens.end() - (e.tokens.size() % L == 1 ? 1 : 0));
      std::vector<std::int32_t> replay;
      while (replay.size() < expected.size()) {
        ASSERT_LT(row, d.train.rows.size());
        const engine::TokenRow& r = d.train.rows[row++];
        for (std::size_t t = 0; t < r.tokens.size() && r.doc_ids[t] >= 0; ++t) {
          replay.push_back(r.tokens[t]);
          targets += r.targets[t] != engine::kIgnoreTarget;
        }
      }
      EXPECT_EQ(replay, expected) << e.origin;
    }
    EXPECT_EQ(row, d.train.rows.size());
    EXPECT_EQ(targets, expected_targets);
    EXPECT_EQ(d.train.target_tokens, expected_targets);
  }
}

}  // namespace
}  // namespace ft::testing
