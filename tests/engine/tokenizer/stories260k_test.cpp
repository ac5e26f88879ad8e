// stories260K-hf: a SentencePiece-style BPE tokenizer.json (Prepend/Replace normaliser,
// byte fallback, 512 tokens) with tokenizer_config.json (add_bos_token), and the reference
// encodings in reference.json (with BOS).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

fs::path model_dir() { return test::shared_testdata() / "models/stories260K-hf"; }

TEST(Stories260k, ReferenceEncodings) {
  if (!fs::exists(model_dir() / "reference.json"))
    GTEST_SKIP() << model_dir().string() << " is absent (../shared/testdata)";
  const Tokenizer t = Tokenizer::from_directory(model_dir());
  EXPECT_EQ(t.family(), "sentencepiece-bpe");
  EXPECT_EQ(t.vocab_size(), 512);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  const auto reference = nlohmann::json::parse(test::read_file(model_dir() / "reference.json"));
  int matched = 0, decoded = 0, count = 0;
  for (const auto& entry : reference.at("encode")) {
    const std::string text = entry.at("text").get<std::string>();
    const auto expected = entry.at("ids_with_bos").get<std::vector<std::int32_t>>();
    const std::vector<std::int32_t> ids = t.encode(text);  // add_bos_token = true
    EXPECT_EQ(test::ids_text(ids), test::ids_text(expected)) << "\"" << text << "\"";
    matched += ids == expected;
    // Every space is kept (no whitespace collapsing), so decoding gives the text back.
    const std::string back = t.decode(expected, /*skip_special=*/true);
    EXPECT_EQ(back, text);
    decoded += back == text;
    ++count;
  }
  EXPECT_EQ(count, 8);
  std::printf("[ vectors  ] stories260K-hf reference.json: %d/%d encodings match, %d decode back\n",
              matched, count, decoded);
}

TEST(Stories260k, SpecialTokensAndDecoderDetails) {
  if (!fs::exists(model_dir() / "tokenizer.json"))
    GTEST_SKIP() << model_dir().string() << " is absent (../shared/testdata)";
  const Tokenizer t = Tokenizer::from_directory(model_dir());
  EXPECT_EQ(t.encode("", /*add_special=*/false), std::vector<std::int32_t>{});
  EXPECT_EQ(t.encode(""), std::vector<std::int32_t>{1});
  // "<s>" in the text is the BOS token, and the text after it is normalised on its own
  // ("▁Once"), as in HF.
  EXPECT_EQ(t.encode("<s>Once", false), t.encode("Once"));
  EXPECT_EQ(t.token_to_id("<s>"), 1);
  EXPECT_EQ(t.token_to_id("<0x0A>"), 13);
  EXPECT_EQ(t.token_to_id("no such token"), std::nullopt);
  // Not skipping specials: HF gives "<s> Once upon a time" (Strip only removes a space
  // at the very start).
  const std::vector<std::int32_t> ids = t.encode("Once upon a time");
  EXPECT_EQ(t.decode(ids), "<s> Once upon a time");
  EXPECT_EQ(t.decode(ids, true), "Once upon a time");
  EXPECT_TRUE(t.is_special(1));
  EXPECT_FALSE(t.is_special(403));
  // Byte fallback: "日" is three <0xNN> tokens; alone, the first two are not valid UTF-8.
  const std::vector<std::int32_t> nichi = t.encode("日", false);
  ASSERT_EQ(nichi, (std::vector<std::int32_t>{410, 233, 154, 168}));
  EXPECT_EQ(t.token_text(233), "\xE6");
  EXPECT_EQ(t.decode({233, 154}), "\xEF\xBF\xBD\xEF\xBF\xBD");  // one U+FFFD per byte, as HF
}

}  // namespace
}  // namespace ft::engine
