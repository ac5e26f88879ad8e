// StreamDecoder: text comes out only as complete UTF-8, and all of it together equals
// decode(); also the UTF-8 helpers it rests on.
#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;

// Pushes ids one by one; every chunk must be valid UTF-8; returns the chunks.
std::vector<std::string> stream(const Tokenizer& t, const Ids& ids, bool skip_special) {
  StreamDecoder decoder(t, skip_special);
  std::vector<std::string> chunks;
  for (std::int32_t id : ids) {
    chunks.push_back(decoder.push(id));
    EXPECT_TRUE(tok::utf8_valid(chunks.back())) << "chunk after id " << id;
  }
  chunks.push_back(decoder.finish());
  return chunks;
}

std::string joined(const std::vector<std::string>& chunks) {
  std::string s;
  for (const auto& c : chunks) s += c;
  return s;
}

TEST(StreamDecoder, ByteFallbackCharacterComesOutWhole) {
  const fs::path dir = test::shared_testdata() / "models/stories260K-hf";
  if (!fs::exists(dir / "tokenizer.json")) GTEST_SKIP() << dir.string() << " is absent";
  const Tokenizer t = Tokenizer::from_directory(dir);
  // "日本語" with BOS: <s> ▁ then three bytes per character.
  const Ids ids = t.encode("Once 日本語");
  const std::vector<std::string> chunks = stream(t, ids, /*skip_special=*/true);
  EXPECT_EQ(joined(chunks), "Once 日本語");
  EXPECT_EQ(joined(chunks), t.decode(ids, true));
  // The first text has its leading space stripped, as decode() does.
  EXPECT_EQ(chunks[1].substr(0, 1), "O");
  // The last nine tokens are the bytes of three characters: each comes out with its third.
  const std::size_t n = chunks.size() - 1;  // the finish() chunk is last
  EXPECT_EQ(chunks[n - 9], "");
  EXPECT_EQ(chunks[n - 8], "");
  EXPECT_EQ(chunks[n - 7], "日");
  EXPECT_EQ(chunks[n - 1], "語");
  EXPECT_EQ(chunks[n], "");

  // Not skipping specials, nothing is stripped after "<s>", as in decode().
  EXPECT_EQ(joined(stream(t, ids, false)), t.decode(ids, false));
}

TEST(StreamDecoder, UnfinishedCharacterAtTheEnd) {
  const fs::path dir = test::shared_testdata() / "models/stories260K-hf";
  if (!fs::exists(dir / "tokenizer.json")) GTEST_SKIP() << dir.string() << " is absent";
  const Tokenizer t = Tokenizer::from_directory(dir);
  StreamDecoder decoder(t);
  EXPECT_EQ(decoder.push(3 + 0xE6), "");  // first byte of 日
  EXPECT_EQ(decoder.push(3 + 0x97), "");
  EXPECT_EQ(decoder.finish(), "\xEF\xBF\xBD");  // cut off: one U+FFFD
  // An impossible byte comes out at once as U+FFFD rather than holding up the stream.
  StreamDecoder d2(t);
  EXPECT_EQ(d2.push(3 + 0xFF), "\xEF\xBF\xBD");
}

// Every llama.cpp test string through every byte-level and SentencePiece tokenizer:
// streamed text equals decode().
TEST(StreamDecoder, EqualsDecodeOnAllVectors) {
  const fs::path vocab = test::shared_testdata() / "tokenizers/llama.cpp-vocab";
  const fs::path tiktoken = test::shared_testdata() / "tokenizers/llama3-tiktoken/tokenizer.model";
  if (!fs::exists(vocab / "ggml-vocab-gpt-2.gguf") || !fs::exists(tiktoken))
    GTEST_SKIP() << "llama.cpp-vocab or llama3-tiktoken is absent (../shared/testdata)";
  const std::vector<Tokenizer> tokenizers = {
      Tokenizer::from_gguf(vocab / "ggml-vocab-gpt-2.gguf"),
      Tokenizer::from_gguf(vocab / "ggml-vocab-llama-spm.gguf"),
      Tokenizer::from_tiktoken(tiktoken)};
  const auto vectors =
      test::read_vectors(vocab / "ggml-vocab-gpt-2.gguf.inp", vocab / "ggml-vocab-gpt-2.gguf.out");
  int split_characters = 0;
  for (const Tokenizer& t : tokenizers) {
    for (const test::Vector& v : vectors) {
      const Ids ids = t.encode(v.text);
      const std::vector<std::string> chunks = stream(t, ids, true);
      EXPECT_EQ(joined(chunks), t.decode(ids, true)) << t.family() << ": " << v.text;
      EXPECT_EQ(joined(chunks), v.text) << t.family();
      for (std::size_t i = 0; i + 1 < ids.size(); ++i)
        split_characters += !tok::utf8_valid(t.token_text(ids[i]));
    }
  }
  // The vectors do split characters over tokens (emoji, Khmer, CJK).
  EXPECT_GT(split_characters, 10);
}

TEST(Utf8, Helpers) {
  EXPECT_TRUE(tok::utf8_valid("h\xC3\xA9llo \xF0\x9F\xA6\x99"));
  EXPECT_FALSE(tok::utf8_valid("\xC0\xAF"));                       // overlong
  EXPECT_FALSE(tok::utf8_valid("\xED\xA0\x80"));                   // surrogate
  EXPECT_FALSE(tok::utf8_valid("\xF4\x90\x80\x80"));               // above U+10FFFF
  EXPECT_EQ(tok::utf8_lossy("a\xF0\x9F\xA6z"), "a\xEF\xBF\xBDz");  // one per maximal subpart
  EXPECT_EQ(tok::utf8_lossy("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tok::utf8_complete_prefix("ab\xF0\x9F\xA6"), 2u);
  EXPECT_EQ(tok::utf8_complete_prefix("ab\xF0\x9F\xA6\x99"), 6u);
  EXPECT_EQ(tok::utf8_complete_prefix("ab\x80"), 3u);  // invalid, nothing to wait for
}

}  // namespace
}  // namespace ft::engine
