// tokenizer.json features on small fixtures written here: both merges encodings and
// merge priority, byte fallback, Metaspace, added/special tokens (lstrip, rstrip,
// leftmost-longest, skip_special), tokenizer_config.json, and errors for bad files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

using json = nlohmann::json;
using Ids = std::vector<std::int32_t>;
const std::string kSpace = "\xE2\x96\x81";  // ▁

// A SentencePiece-style vocabulary: <unk> <s> </s>, <0x00>..<0xFF> (3..258), then
// ▁ a b ▁a ab ▁ab (259..264).
json spm_vocab() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  const std::vector<std::string> pieces = {kSpace, "a", "b", kSpace + "a", "ab", kSpace + "ab"};
  for (std::size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + static_cast<int>(i);
  return vocab;
}

json spm_tokenizer(json merges) {
  return {{"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", kSpace}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}}}}},
          {"pre_tokenizer", nullptr},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"byte_fallback", true},
            {"vocab", spm_vocab()},
            {"merges", merges}}}};
}

Tokenizer load(const test::ScratchDir& dir, const json& tokenizer, const json* config = nullptr) {
  test::write_file(dir / "tokenizer.json", tokenizer.dump());
  if (config) test::write_file(dir / "tokenizer_config.json", config->dump());
  return Tokenizer::from_directory(dir.path());
}

TEST(HfJson, MergesAsStringsAndAsPairsAgree) {
  test::ScratchDir a, b;
  const Tokenizer strings = load(a, spm_tokenizer({kSpace + " a", "a b", kSpace + "a b"}));
  const Tokenizer pairs =
      load(b, spm_tokenizer(json::array({json::array({kSpace, "a"}), json::array({"a", "b"}),
                                         json::array({kSpace + "a", "b"})})));
  for (const std::string text : {"ab", "ba", "a ab b", "abab", "  a"}) {
    EXPECT_EQ(strings.encode(text, false), pairs.encode(text, false)) << text;
  }
  // "ab" -> ▁ a b -> (▁a) b -> ▁ab
  EXPECT_EQ(strings.encode("ab", false), Ids{264});
  EXPECT_EQ(strings.encode("ba", false), (Ids{259, 261, 260}));
  EXPECT_EQ(strings.decode({264, 259, 260}), "ab a");
}

TEST(HfJson, MergeOrderIsPriority) {
  test::ScratchDir dir;
  // "a b" first now: ▁ a b -> ▁ (ab); no "▁ ab" merge, so it stops there.
  const Tokenizer t = load(dir, spm_tokenizer({"a b", kSpace + " a", kSpace + "a b"}));
  EXPECT_EQ(t.encode("ab", false), (Ids{259, 263}));
}

TEST(HfJson, ByteFallbackAndUnknown) {
  test::ScratchDir dir;
  json tokenizer = spm_tokenizer({kSpace + " a"});
  const Tokenizer t = load(dir, tokenizer);
  // "é" = C3 A9 has no piece: byte tokens 3 + 0xC3, 3 + 0xA9.
  EXPECT_EQ(t.encode("aé", false), (Ids{262, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t.decode(t.encode("aé")), "aé");
  EXPECT_EQ(t.decode({3 + 0xC3}), "\xEF\xBF\xBD");

  test::ScratchDir no_fallback;
  tokenizer["model"]["byte_fallback"] = false;
  const Tokenizer u = load(no_fallback, tokenizer);
  // Without byte fallback, unknown characters become <unk>; fuse_unk joins a run of them.
  EXPECT_EQ(u.encode("aéé", false), (Ids{262, 0}));
}

TEST(HfJson, MetaspacePreTokenizer) {
  test::ScratchDir dir;
  json tokenizer = spm_tokenizer({kSpace + " a", "a b", kSpace + "a b"});
  tokenizer["normalizer"] = nullptr;
  tokenizer["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", kSpace}, {"add_prefix_space", true}};
  tokenizer["decoder"] = {
      {"type", "Metaspace"}, {"replacement", kSpace}, {"add_prefix_space", true}};
  const Tokenizer t = load(dir, tokenizer);
  // "▁ab▁b▁" -> pieces "▁ab", "▁b": each merged on its own.
  EXPECT_EQ(t.encode("ab b", false), (Ids{264, 259, 261}));
  // Metaspace does not add a second ▁ to text that starts with a space.
  EXPECT_EQ(t.encode(" ab", false), Ids{264});
  EXPECT_EQ(t.decode({264, 259, 261}), "ab b");
}

// Byte-level: ids 0..255 are the bytes (written in GPT-2's stand-in alphabet), 256 = "hi".
json byte_level_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[std::string(tok::byte_to_unicode(static_cast<unsigned char>(b)))] = b;
  vocab["hi"] = 256;
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  return {{"added_tokens",
           {{{"id", 257}, {"content", "<|end|>"}, {"special", true}, {"rstrip", true}},
            {{"id", 258}, {"content", "<|end|>!"}, {"special", true}},
            {{"id", 259}, {"content", "<tool>"}, {"special", false}, {"lstrip", true}}}},
          {"pre_tokenizer", byte_level},
          {"decoder", byte_level},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"h i"}}}}};
}

TEST(HfJson, AddedAndSpecialTokens) {
  test::ScratchDir dir;
  const Tokenizer t = load(dir, byte_level_tokenizer());
  EXPECT_EQ(t.family(), "gpt2");
  // rstrip: the spaces after <|end|> belong to it.
  EXPECT_EQ(t.encode("hi<|end|>  hi", false), (Ids{256, 257, 256}));
  // Leftmost-longest: "<|end|>!" wins over "<|end|>".
  EXPECT_EQ(t.encode("<|end|>!", false), Ids{258});
  // lstrip: the space before <tool> belongs to it.
  EXPECT_EQ(t.encode("hi <tool>", false), (Ids{256, 259}));
  // Not parsed: the text is encoded as bytes.
  EXPECT_EQ(t.encode("<tool>", false, /*parse_special=*/false).size(), 6u);
  EXPECT_EQ(t.decode({256, 257, 259, 256}), "hi<|end|><tool>hi");
  // skip_special drops special tokens only, not plain added ones.
  EXPECT_EQ(t.decode({256, 257, 259, 256}, true), "hi<tool>hi");
  EXPECT_EQ(t.token_to_id("<tool>"), 259);
  EXPECT_EQ(t.token_to_id("Ġ"), 32);
  EXPECT_TRUE(t.is_special(257));
  EXPECT_FALSE(t.is_special(259));
}

TEST(HfJson, TokenizerConfigBosEos) {
  json config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}},
                 {"eos_token", "</s>"},
                 {"add_bos_token", true},
                 {"add_eos_token", true}};
  test::ScratchDir dir;
  const Tokenizer t = load(dir, spm_tokenizer({kSpace + " a"}), &config);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_EQ(t.encode("a"), (Ids{1, 262, 2}));

  config["add_bos_token"] = false;
  config["add_eos_token"] = false;
  test::ScratchDir dir2;
  EXPECT_EQ(load(dir2, spm_tokenizer({kSpace + " a"}), &config).encode("a"), Ids{262});

  // Without a config, the post-processor template decides.
  json tokenizer = spm_tokenizer({kSpace + " a"});
  tokenizer["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  test::ScratchDir dir3;
  const Tokenizer u = load(dir3, tokenizer);
  EXPECT_EQ(u.encode("a"), (Ids{1, 262}));
  EXPECT_EQ(u.bos_id(), 1);
}

// Runs `load` and expects an ft::Error whose message has every one of `parts`.
template <typename F>
void expect_error(F&& load, std::initializer_list<std::string> parts) {
  try {
    load();
    ADD_FAILURE() << "no error; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
  }
}

TEST(HfJson, Errors) {
  test::ScratchDir dir;
  const auto path = dir / "tokenizer.json";
  auto write_and_load = [&](const std::string& text) {
    test::write_file(path, text);
    return [&] { Tokenizer::from_hf_json(path); };
  };
  expect_error(write_and_load(R"({"model": {"type": "Unigram", "vocab": []}})"),
               {path.string(), "model.type", "Unigram", "BPE"});
  expect_error(write_and_load(R"({"model": {"type": "WordPiece", "vocab": {}}})"), {"WordPiece"});
  expect_error(write_and_load("{\"model\": {\n  \"type\": \"BPE\",, }}"),
               {path.string(), "malformed JSON", "line 2"});
  json bad_merge = spm_tokenizer({kSpace + " a", "a zz"});
  expect_error(write_and_load(bad_merge.dump()), {"model.merges[1]", "\"zz\""});
  json bad_pre = spm_tokenizer({});
  bad_pre["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  expect_error(write_and_load(bad_pre.dump()), {"pre_tokenizer.type", "BertPreTokenizer"});
  json bad_regex = spm_tokenizer({});
  bad_regex["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(ab"}}}, {"behavior", "Isolated"}};
  expect_error(write_and_load(bad_regex.dump()), {"pre_tokenizer.pattern", "offset 3"});
  json bad_type = spm_tokenizer({});
  bad_type["model"]["vocab"]["x"] = "seven";
  expect_error(write_and_load(bad_type.dump()), {"model.vocab", "\"x\""});
  expect_error([&] { Tokenizer::from_directory(dir / "nowhere"); },
               {"nowhere", "no tokenizer.json"});

  test::ScratchDir cfg;
  const json config = {{"bos_token", "<nope>"}};
  expect_error([&] { load(cfg, spm_tokenizer({}), &config); },
               {"tokenizer_config.json", "bos_token", "<nope>"});

  test::ScratchDir ok;
  const Tokenizer t = load(ok, spm_tokenizer({}));
  expect_error([&] { t.decode({5, 9999}); }, {"token id 9999", "0..264"});
}

TEST(Tiktoken, Errors) {
  test::ScratchDir dir;
  const auto path = dir / "tokenizer.model";
  test::write_file(path, "IQ== 0\nnot-base64! 1\n");
  expect_error([&] { Tokenizer::from_tiktoken(path); }, {path.string() + ":2", "base64"});
  test::write_file(path, "IQ== 0\nIg== 2\n");
  expect_error([&] { Tokenizer::from_tiktoken(path); }, {"rank 1 is missing"});
  expect_error([&] { Tokenizer::from_tiktoken(path, "cl100k"); }, {"cl100k", "llama3"});
  expect_error([&] { Tokenizer::from_tiktoken(dir / "absent.model"); },
               {"absent.model", "cannot open"});
}

}  // namespace
}  // namespace ft::engine
