// Tokenizer::encode_parts: text in parts (a chat template's pieces) encodes as the whole
// text does where the pre-tokenizer splits at the boundaries anyway, and never with a
// token across a boundary where it does not.
#include <gtest/gtest.h>

#include "engine/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;

Ids joined(const std::vector<Ids>& parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string concatenation(const std::vector<std::string_view>& parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

// The template pieces of a Llama 3 chat turn: boundaries at special tokens and "\n\n".
TEST(EncodeParts, Llama3TemplatePiecesEncodeAsTheWholeText) {
  const fs::path model = test::shared_testdata() / "tokenizers/llama3-tiktoken/tokenizer.model";
  if (!fs::exists(model)) GTEST_SKIP() << model.string() << " is absent (../shared/testdata)";
  const Tokenizer t = Tokenizer::from_tiktoken(model);
  const std::vector<std::string_view> parts = {
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n", "What is 2+2?",
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "It is 4.<|eot_id|>"};
  const std::vector<Ids> encoded = t.encode_parts(parts);
  ASSERT_EQ(encoded.size(), parts.size());
  EXPECT_EQ(joined(encoded), t.encode(concatenation(parts), /*add_special=*/false));
  EXPECT_EQ(encoded[3].back(), *t.token_to_id("<|eot_id|>"));
  EXPECT_EQ(t.decode(encoded[1]), "What is 2+2?");
  EXPECT_EQ(t.decode(encoded[3]), "It is 4.<|eot_id|>");
}

TEST(EncodeParts, SentencePieceContinuesWithoutAnotherSpaceMark) {
  const fs::path dir = test::shared_testdata() / "models/stories260K-hf";
  if (!fs::exists(dir / "tokenizer.json")) GTEST_SKIP() << dir.string() << " is absent";
  const Tokenizer t = Tokenizer::from_directory(dir);
  // A boundary at a space: the same tokens as the whole text ("▁a" starts a piece).
  const std::vector<std::string_view> at_space = {"Once upon", " a time"};
  EXPECT_EQ(joined(t.encode_parts(at_space)), t.encode(concatenation(at_space), false));
  // After an added token the text starts afresh, "▁" in front, as encode() does.
  const std::vector<std::string_view> after_bos = {"<s>", "Hello"};
  EXPECT_EQ(joined(t.encode_parts(after_bos)), t.encode("<s>Hello", false));
  // Inside a word: no token spans the boundary, and the second part gets no "▁".
  const std::vector<Ids> mid_word = t.encode_parts({"Onc", "e"});
  EXPECT_EQ(mid_word[0], t.encode("Onc", false));
  EXPECT_EQ(t.decode(mid_word[0]) + t.decode(mid_word[1]), "Once");
  EXPECT_NE(joined(mid_word), t.encode("Once", false));  // "Once" is one merged token
}

TEST(EncodeParts, ByteLevelKeepsTheSpaceWithTheWordAfterIt) {
  const fs::path dir = test::shared_testdata() / "tokenizers/gpt2";
  if (!fs::exists(dir / "gpt2_vocab.json")) GTEST_SKIP() << dir.string() << " is absent";
  const Tokenizer t = Tokenizer::from_gguf(test::shared_testdata() /
                                           "tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  const std::vector<std::string_view> parts = {"### Response:\n", "The answer", " is 42."};
  EXPECT_EQ(joined(t.encode_parts(parts)), t.encode(concatenation(parts), false));
  EXPECT_TRUE(t.encode_parts({}).empty());
  EXPECT_EQ(t.encode_parts({"", "x"})[0], Ids{});
}

}  // namespace
}  // namespace ft::engine
