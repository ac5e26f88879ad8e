// A job's data end to end with the byte tokenizer: mixing weights, val_split held out by
// example, and an eval file read with the training data's format and masks.
#include "engine/data/dataset.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "engine/config/job.hpp"
#include "tests/engine/data/data_test_util.hpp"

namespace ft::testing {
namespace {

class Dataset : public DataTest {
 protected:
  void SetUp() override {
    DataTest::SetUp();
    tokenizer_ = byte_tokenizer();
    // Completion records "<file><i>=" -> "<i>": one example each, easy to tell apart.
    for (const auto& [name, count] : {std::pair{"a", 4}, std::pair{"b", 2}}) {
      std::string lines;
      for (int i = 0; i < count; ++i)
        lines += fmt::format("{{\"prompt\": \"{}{}=\", \"completion\": \"{}\"}}\n", name, i, i);
      write(fmt::format("{}.jsonl", name), lines);
    }
  }
  engine::Job job(const std::string& data) const {
    return engine::load_job_from_string(
        fmt::format("[model]\npath = \"{}\"\n[adapter]\nplugin = \"lora\"\n[data]\n{}\n",
                    dir_.string(), data),
        dir_ / "job.toml");
  }
  // The prompts of the training rows, in row order ("a0=", "b1=", ...).
  static std::multiset<std::string> prompts(const engine::TokenizedRows& rows) {
    std::multiset<std::string> out;
    for (const engine::TokenRow& r : rows.rows) {
      std::string text;
      for (std::size_t i = 1; i < r.tokens.size() && r.doc_ids[i] >= 0; ++i)  // after BOS
        if (r.tokens[i] < 256 && text.size() < 3) text += static_cast<char>(r.tokens[i] + 33);
      out.insert(text);
    }
    return out;
  }
  std::optional<engine::Tokenizer> tokenizer_;
};

TEST_F(Dataset, WeightsRepeatAndSubsampleEachFile) {
  const engine::PreparedData d = engine::prepare_data(
      job("train = [\"a.jsonl\", \"b.jsonl\"]\nweights = [0.5, 2]\nseq_len = 16\npacking = false"),
      *tokenizer_);
  ASSERT_EQ(d.report.files.size(), 2u);
  EXPECT_EQ(d.report.files[0].used, 2);  // a seeded half of a's 4
  EXPECT_EQ(d.report.files[1].used, 4);  // b's 2, twice
  const std::multiset<std::string> p = prompts(d.train);
  EXPECT_EQ(p.count("b0="), 2u);
  EXPECT_EQ(p.count("b1="), 2u);
  EXPECT_EQ(p.size(), 6u);
  // The same seed picks the same half.
  EXPECT_EQ(prompts(engine::prepare_data(job("train = [\"a.jsonl\", \"b.jsonl\"]\nweights = [0.5, "
                                             "2]\nseq_len = 16\npacking = false"),
                                         *tokenizer_)
                        .train),
            p);
  EXPECT_NE(error_of([&] {
              engine::prepare_data(job("train = [\"a.jsonl\", \"b.jsonl\"]\nweights = [1]"),
                                   *tokenizer_);
            }).find("data.weights has 1 weight(s) for 2 training file(s)"),
            std::string::npos);
}

// Packing is exact, so prompt/response data packs unless the job says not to; text keeps one
// piece per row. The report says which and why.
TEST_F(Dataset, PromptResponseDataPacksByDefaultAndTextDoesNot) {
  const engine::PreparedData packed =
      engine::prepare_data(job("train = \"a.jsonl\"\nseq_len = 16"), *tokenizer_);
  EXPECT_TRUE(packed.report.packing);
  EXPECT_EQ(packed.report.packing_reason, "the default for completion data");
  EXPECT_LT(packed.train.rows.size(), 4u);
  EXPECT_NE(engine::format_report(packed.report).find("packed (the default for completion data)"),
            std::string::npos);
  const engine::PreparedData unpacked =
      engine::prepare_data(job("train = \"a.jsonl\"\nseq_len = 16\npacking = false"), *tokenizer_);
  EXPECT_FALSE(unpacked.report.packing);
  EXPECT_EQ(unpacked.report.packing_reason, "data.packing");
  EXPECT_EQ(unpacked.train.rows.size(), 4u);

  write("t.txt", "one two three four five six seven eight nine ten eleven twelve");
  const engine::PreparedData text =
      engine::prepare_data(job("train = \"t.txt\"\nseq_len = 16"), *tokenizer_);
  EXPECT_EQ(text.report.format, engine::DataFormat::text);
  EXPECT_FALSE(text.report.packing);
  EXPECT_EQ(text.report.packing_reason, "the default for text data");
}

TEST_F(Dataset, ValSplitHoldsOutWholeExamples) {
  const engine::PreparedData d = engine::prepare_data(
      job("train = [\"a.jsonl\", \"b.jsonl\"]\nval_split = 0.34\npacking = false"), *tokenizer_);
  EXPECT_EQ(d.report.held_out, 2);
  ASSERT_TRUE(d.eval.has_value());
  std::multiset<std::string> all = prompts(d.train);
  for (const std::string& s : prompts(*d.eval)) {
    EXPECT_EQ(all.count(s), 0u) << s;  // on one side only
    all.insert(s);
  }
  EXPECT_EQ(all.size(), 6u);
}

TEST_F(Dataset, AnEvalFileIsMaskedAsTheTrainingData) {
  const engine::PreparedData d = engine::prepare_data(
      job("train = \"a.jsonl\"\neval = \"b.jsonl\"\nseq_len = 16\npacking = false"), *tokenizer_);
  EXPECT_EQ(d.report.format, engine::DataFormat::completion);
  ASSERT_TRUE(d.eval.has_value());
  EXPECT_EQ(d.eval->rows.size(), 2u);
  // "b0=" is the prompt; "0" and EOS are the trained targets.
  EXPECT_EQ(d.eval->target_tokens, 4);
  EXPECT_EQ(d.eval->rows[0].targets[3], byte_id('0'));
  EXPECT_EQ(d.eval->rows[0].targets[4], engine::kByteTokenizerEos);
  EXPECT_EQ(d.eval->rows[0].targets[2], engine::kIgnoreTarget);
}

}  // namespace
}  // namespace ft::testing
