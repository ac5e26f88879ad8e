// Evaluation on the real stories260K model: the reference loss, windows checked against a
// log-softmax over the model's own logits, documents from text and JSONL files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "engine/eval/evaluate.hpp"
#include "ftengine/error.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using ft::testing::kStoriesDir;

struct LossReference {
  std::string text;
  std::vector<std::int32_t> ids;
  double loss;
};

LossReference read_loss_reference() {
  const nlohmann::json j = ft::testing::read_json(kStoriesDir / "reference.json")["loss"];
  return {j["text"], j["ids"], j["mean_next_token_cross_entropy"]};
}

// Mean cross-entropy of `ids` cut into windows of `seq_len`, each window run alone
// through Model::logits and scored with a float64 log-softmax: the definition, unbatched.
double windowed_loss_by_hand(Model& model, const std::vector<std::int32_t>& ids,
                             std::int64_t seq_len) {
  NoGrad no_grad;
  double total = 0.0;
  std::int64_t count = 0;
  const std::int64_t n = static_cast<std::int64_t>(ids.size());
  for (std::int64_t start = 0; start + 1 < n; start += seq_len) {
    const std::int64_t len = std::min(seq_len, n - 1 - start);
    const std::vector<std::int32_t> window(ids.begin() + start, ids.begin() + start + len);
    const std::vector<float> logits = model.logits({.tokens = ft::testing::ids_tensor(window),
                                                    .positions = {},
                                                    .doc_ids = {}})
                                          .to_vector();
    const std::int64_t vocab = static_cast<std::int64_t>(logits.size()) / len;
    for (std::int64_t t = 0; t < len; ++t) {
      const float* row = logits.data() + t * vocab;
      double max = row[0], sum = 0.0;
      for (std::int64_t v = 0; v < vocab; ++v) max = std::max<double>(max, row[v]);
      for (std::int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - max);
      total += std::log(sum) + max - row[ids[start + t + 1]];
      ++count;
    }
  }
  return total / static_cast<double>(count);
}

class Eval : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kStoriesDir / "model.safetensors"))
      GTEST_SKIP() << "test data absent: " << kStoriesDir.string();
    model_ = ft::testing::load_model(kStoriesDir);
    tokenizer_ = Tokenizer::from_directory(kStoriesDir);
    dir_ = fs::temp_directory_path() / ("ftengine-eval-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  std::string error_of(const fs::path& file) {
    try {
      read_documents(file, *tokenizer_);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::unique_ptr<Model> model_;
  std::optional<Tokenizer> tokenizer_;
  fs::path dir_;
};

TEST_F(Eval, TextFileLossMatchesTheReference) {
  const LossReference ref = read_loss_reference();
  const std::vector<Document> docs = read_documents(write("story.txt", ref.text), *tokenizer_);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0], ref.ids);  // BOS first, as tokenizer_config.json says
  const EvalResult r = evaluate(*model_, docs, {.seq_len = 512, .batch_size = 4});
  EXPECT_EQ(r.tokens, static_cast<std::int64_t>(ref.ids.size()) - 1);
  EXPECT_EQ(r.windows, 1);
  EXPECT_NEAR(r.loss, ref.loss, 1e-5 * ref.loss);
  EXPECT_NEAR(r.perplexity, std::exp(ref.loss), 1e-5 * std::exp(ref.loss));
}

TEST_F(Eval, ShortWindowsMatchTheDefinitionWhateverTheBatch) {
  const LossReference ref = read_loss_reference();
  const std::vector<Document> docs{ref.ids};
  const double by_hand = windowed_loss_by_hand(*model_, ref.ids, 8);
  EXPECT_GT(by_hand, ref.loss);  // less context, higher loss: the windows really are short
  for (std::int64_t batch : {1, 2, 4, 16}) {
    SCOPED_TRACE(batch);
    const EvalResult r = evaluate(*model_, docs, {.seq_len = 8, .batch_size = batch});
    EXPECT_EQ(r.tokens, 41);
    EXPECT_EQ(r.windows, 6);  // ceil(41 / 8)
    EXPECT_NEAR(r.loss, by_hand, 1e-5 * by_hand);
  }
}

TEST_F(Eval, JsonLinesAreOneDocumentEach) {
  const fs::path file = write("val.jsonl",
                              "{\"text\": \"Tom had a red ball.\"}\n"
                              "\n"
                              "{\"text\": \"Lily and Ben went to the park.\", \"id\": 7}\n");
  const std::vector<Document> docs = read_documents(file, *tokenizer_);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], tokenizer_->encode("Tom had a red ball."));
  EXPECT_EQ(docs[1], tokenizer_->encode("Lily and Ben went to the park."));
  const EvalResult r = evaluate(*model_, docs, {.seq_len = 64, .batch_size = 4});
  EXPECT_EQ(r.documents, 2);
  EXPECT_EQ(r.windows, 2);
  EXPECT_EQ(r.tokens, static_cast<std::int64_t>(docs[0].size() + docs[1].size()) - 2);
  // Windows never cross documents: the pooled loss is the token-weighted mean of each.
  const double a = windowed_loss_by_hand(*model_, docs[0], 64);
  const double b = windowed_loss_by_hand(*model_, docs[1], 64);
  const double na = static_cast<double>(docs[0].size() - 1);
  const double nb = static_cast<double>(docs[1].size() - 1);
  EXPECT_NEAR(r.loss, (a * na + b * nb) / (na + nb), 1e-5);
}

TEST_F(Eval, BadRecordsNameTheirLine) {
  const std::string ok = "{\"text\": \"fine\"}\n";
  EXPECT_EQ(error_of(write("a.jsonl", ok + "{\"text\": \"cut\n")).rfind(
                (dir_ / "a.jsonl").string() + ":2: invalid JSON", 0),
            0u);
  EXPECT_EQ(error_of(write("b.jsonl", ok + ok + "{\"body\": \"x\"}\n")),
            (dir_ / "b.jsonl").string() + ":3: the record has no \"text\" field");
  EXPECT_EQ(error_of(write("c.jsonl", "{\"text\": 42}\n")),
            (dir_ / "c.jsonl").string() + ":1: \"text\" must be a string, found a number");
  EXPECT_EQ(error_of(write("d.jsonl", "[\"text\"]\n")),
            (dir_ / "d.jsonl").string() + ":1: expected a JSON object per line, found an array");
  EXPECT_EQ(error_of(dir_ / "missing.txt"),
            (dir_ / "missing.txt").string() + ": no such data file");
}

TEST_F(Eval, RefusesWhatCannotBeEvaluated) {
  EXPECT_THROW(evaluate(*model_, {{1}}, {.seq_len = 8, .batch_size = 1}), Error);  // 1 token
  EXPECT_THROW(evaluate(*model_, {{1, 2, 3}}, {.seq_len = 0, .batch_size = 1}), Error);
  EXPECT_THROW(evaluate(*model_, {{1, 2, 3}}, {.seq_len = 513, .batch_size = 1}), Error);
}

}  // namespace
}  // namespace ft::engine
