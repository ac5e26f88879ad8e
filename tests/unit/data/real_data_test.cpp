// Real datasets from ../shared/testdata (see its PROVENANCE.md files): LLaMA-Factory's
// c4_demo.jsonl (300 web-text records) and the TinyStories sample, packed with the
// stories260K-hf SentencePiece tokenizer. The counts must add up and the rows must give
// back the stream exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "engine/data/text_dataset.hpp"
#include "unit/data/data_test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = fs::path(FTENGINE_SHARED_TESTDATA);
const fs::path kC4 = kTestdata / "datasets" / "llamafactory" / "c4_demo.jsonl";
const fs::path kStory = kTestdata / "datasets" / "text" / "tinystories_sample.txt";
const fs::path kStoriesModel = kTestdata / "models" / "stories260K-hf";

class RealData : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const fs::path& p : {kC4, kStory, kStoriesModel / "tokenizer.json"})
      if (!fs::exists(p)) GTEST_SKIP() << "test data absent: " << p.string();
  }
};

// Checks every row against the stream built independently from the documents.
void expect_rows_replay_the_stream(const std::vector<TextDocument>& docs, const Tokenizer& tok,
                                   const TokenizedRows& r) {
  std::vector<std::int32_t> stream, doc_of;
  for (std::size_t d = 0; d < docs.size(); ++d) {
    std::vector<std::int32_t> ids = tok.encode(docs[d].text);
    ids.push_back(*tok.eos_id());
    stream.insert(stream.end(), ids.begin(), ids.end());
    doc_of.insert(doc_of.end(), ids.size(), static_cast<std::int32_t>(d));
  }
  ASSERT_EQ(r.tokens, static_cast<std::int64_t>(stream.size()));
  ASSERT_EQ(r.target_tokens, r.tokens - static_cast<std::int64_t>(docs.size()));
  const std::size_t L = static_cast<std::size_t>(r.seq_len);
  ASSERT_EQ(r.rows.size(), (stream.size() + L - 1) / L);
  std::int64_t targets = 0, position_errors = 0, mismatches = 0;
  for (std::size_t i = 0; i < r.rows.size() * L; ++i) {
    const TokenRow& row = r.rows[i / L];
    const std::size_t t = i % L;
    if (i >= stream.size()) {  // padding
      mismatches += row.tokens[t] != 0 || row.targets[t] != kIgnoreTarget || row.doc_ids[t] != -1;
      continue;
    }
    mismatches += row.tokens[t] != stream[i] || row.doc_ids[t] != doc_of[i];
    const bool last_of_doc = i + 1 == stream.size() || doc_of[i + 1] != doc_of[i];
    mismatches += row.targets[t] != (last_of_doc ? kIgnoreTarget : stream[i + 1]);
    targets += row.targets[t] != kIgnoreTarget;
    // Position: distance to the later of the document's start and the row's start.
    std::size_t start = i - t;
    for (std::size_t k = i; k > i - t; --k)
      if (doc_of[k - 1] != doc_of[i]) {
        start = k;
        break;
      }
    position_errors += row.positions[t] != static_cast<std::int32_t>(i - start);
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(position_errors, 0);
  EXPECT_EQ(targets, r.target_tokens);
}

TEST_F(RealData, C4RecordsPackWithTheStoriesTokenizer) {
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  const std::vector<TextDocument> docs = read_text_documents({kC4});
  ASSERT_EQ(docs.size(), 300u);  // PROVENANCE.md: 300 rows
  EXPECT_EQ(docs[299].origin, kC4.string() + ":300");
  for (std::int64_t seq_len : {2, 257, 512}) {
    SCOPED_TRACE(seq_len);
    const TokenizedRows r = pack_documents(docs, tok, seq_len);
    EXPECT_EQ(r.documents, 300);
    expect_rows_replay_the_stream(docs, tok, r);
  }
}

TEST_F(RealData, ATextFileIsOneDocumentAndSplitsBackIntoIt) {
  const Tokenizer tok = Tokenizer::from_directory(kStoriesModel);
  const std::vector<TextDocument> docs = read_text_documents({kStory, kC4});
  ASSERT_EQ(docs.size(), 301u);
  EXPECT_EQ(docs[0].origin, kStory.string());
  EXPECT_EQ(docs[0].text.size(), 3794u);  // PROVENANCE.md: 3794 bytes
  const TokenizedRows r = pack_documents(docs, tok, 128);
  expect_rows_replay_the_stream(docs, tok, r);

  const RowSplit s = split_rows(r, 0.1, 3);
  EXPECT_EQ(s.held_out.rows.size(),
            static_cast<std::size_t>(std::llround(0.1 * static_cast<double>(r.rows.size()))));
  EXPECT_EQ(s.train.tokens + s.held_out.tokens, r.tokens);
  EXPECT_EQ(s.train.target_tokens + s.held_out.target_tokens, r.target_tokens);
}

}  // namespace
}  // namespace ft::engine
