// llama.cpp's tokenizer test vectors (HF tokenizers ground truth, add_special_tokens=False)
// for every vocabulary testdata has: llama-spm and gpt-2 from their GGUF files, gpt-2 again
// from its vocab.json/merges.txt as a tokenizer.json, llama-bpe with Llama 3's tiktoken
// file. Every vector must match; decoding must give the text back where the tokenizer is
// lossless (all of these are, for valid UTF-8).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "engine/export/gguf_export.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using test::read_vectors;
using test::shared_testdata;

fs::path vocab_dir() { return shared_testdata() / "tokenizers/llama.cpp-vocab"; }

// Encodes every vector, expects the ids and (when `round_trip`) decode(ids) == text.
void check_vectors(const Tokenizer& t, const std::string& name, bool round_trip) {
  const auto vectors = read_vectors(vocab_dir() / (name + ".inp"), vocab_dir() / (name + ".out"));
  ASSERT_EQ(vectors.size(), 46u) << name;
  int matched = 0, decoded = 0;
  for (const test::Vector& v : vectors) {
    const std::vector<std::int32_t> ids = t.encode(v.text, /*add_special=*/false);
    EXPECT_EQ(test::ids_text(ids), test::ids_text(v.ids)) << name << ": \"" << v.text << "\"";
    matched += ids == v.ids;
    if (round_trip) {
      const std::string text = t.decode(v.ids);
      EXPECT_EQ(text, v.text) << name << ": decode";
      decoded += text == v.text;
    }
  }
  std::printf("[ vectors  ] %s (%s): %d/%zu encodings match, %d decode back\n", name.c_str(),
              t.family().c_str(), matched, vectors.size(), decoded);
}

#define REQUIRE_FILE(path) \
  if (!fs::exists(path)) GTEST_SKIP() << (path).string() << " is absent (../shared/testdata)"

TEST(LlamaCppVectors, LlamaSpmFromGguf) {
  const fs::path gguf = vocab_dir() / "ggml-vocab-llama-spm.gguf";
  REQUIRE_FILE(gguf);
  const Tokenizer t = Tokenizer::from_gguf(gguf);
  EXPECT_EQ(t.family(), "sentencepiece-bpe");
  EXPECT_EQ(t.vocab_size(), 32000);
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  check_vectors(t, "ggml-vocab-llama-spm.gguf", true);
  // add_bos_token = true: BOS, then "▁Hello▁world" (ids from the .out file).
  EXPECT_EQ(t.encode("Hello world"), (std::vector<std::int32_t>{1, 15043, 3186}));
  EXPECT_EQ(t.decode({1, 15043, 3186}, /*skip_special=*/true), "Hello world");
}

TEST(LlamaCppVectors, Gpt2FromGguf) {
  const fs::path gguf = vocab_dir() / "ggml-vocab-gpt-2.gguf";
  REQUIRE_FILE(gguf);
  const Tokenizer t = Tokenizer::from_gguf(gguf);
  EXPECT_EQ(t.family(), "gpt2");
  EXPECT_EQ(t.vocab_size(), 50257);
  EXPECT_EQ(t.eos_id(), 50256);
  check_vectors(t, "ggml-vocab-gpt-2.gguf", true);
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(t.token_to_id("Ġworld"), 995);
  EXPECT_EQ(t.encode("a<|endoftext|>b", false), (std::vector<std::int32_t>{64, 50256, 65}));
}

TEST(LlamaCppVectors, Llama3FromTiktoken) {
  const fs::path model = shared_testdata() / "tokenizers/llama3-tiktoken/tokenizer.model";
  REQUIRE_FILE(model);
  const Tokenizer t = Tokenizer::from_tiktoken(model, "llama3");
  EXPECT_EQ(t.family(), "llama3");
  EXPECT_EQ(t.vocab_size(), 128256);
  EXPECT_EQ(t.bos_id(), 128000);
  EXPECT_EQ(t.eos_id(), 128001);
  check_vectors(t, "ggml-vocab-llama-bpe.gguf", true);
  // Specials are defined in code (meta-llama/llama3 tokenizer.py) and matched in text.
  EXPECT_EQ(t.token_to_id("<|eot_id|>"), 128009);
  EXPECT_EQ(t.token_to_id("<|start_header_id|>"), 128006);
  EXPECT_EQ(t.token_to_id("<|reserved_special_token_250|>"), 128255);
  EXPECT_EQ(t.encode("Hello world"), (std::vector<std::int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(t.encode("Hello<|eot_id|>", false), (std::vector<std::int32_t>{9906, 128009}));
  EXPECT_NE(t.encode("Hello<|eot_id|>", false, /*parse_special=*/false).back(), 128009);
  EXPECT_EQ(t.decode({128000, 9906, 128009}), "<|begin_of_text|>Hello<|eot_id|>");
  EXPECT_EQ(t.decode({128000, 9906, 128009}, /*skip_special=*/true), "Hello");
}

TEST(LlamaCppVectors, Qwen2) {
  const fs::path gguf = vocab_dir() / "ggml-vocab-qwen2.gguf";
  if (!fs::exists(gguf))
    GTEST_SKIP() << "no Qwen2 vocabulary in testdata (ggml-vocab-qwen2.gguf was not obtained, "
                    "see llama.cpp-vocab/PROVENANCE.md); its vectors wait for one";
  check_vectors(Tokenizer::from_gguf(gguf), "ggml-vocab-qwen2.gguf", true);
}

// One tokenizer shared by several threads gives what it gives alone (the word cache is
// shared between them).
TEST(Tokenizer, SharedAcrossThreads) {
  const fs::path model = shared_testdata() / "tokenizers/llama3-tiktoken/tokenizer.model";
  REQUIRE_FILE(model);
  const auto vectors = read_vectors(vocab_dir() / "ggml-vocab-llama-bpe.gguf.inp",
                                    vocab_dir() / "ggml-vocab-llama-bpe.gguf.out");
  const Tokenizer t = Tokenizer::from_tiktoken(model);
  std::vector<std::vector<bool>> ok(4, std::vector<bool>(vectors.size()));
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < ok.size(); ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 20; ++round)
        for (std::size_t i = 0; i < vectors.size(); ++i)
          ok[k][i] = t.encode(vectors[i].text, false) == vectors[i].ids;
    });
  for (auto& thread : threads) thread.join();
  for (const auto& results : ok)
    for (bool b : results) EXPECT_TRUE(b);
}

// Arbitrary bytes (invalid UTF-8 included) encode without error; byte-level tokenizers
// keep every byte, so the tokens' bytes are the input again.
TEST(Tokenizer, ArbitraryBytes) {
  const fs::path gguf = vocab_dir() / "ggml-vocab-gpt-2.gguf";
  const fs::path spm = vocab_dir() / "ggml-vocab-llama-spm.gguf";
  REQUIRE_FILE(gguf);
  REQUIRE_FILE(spm);
  const Tokenizer gpt2 = Tokenizer::from_gguf(gguf);
  const Tokenizer llama = Tokenizer::from_gguf(spm);
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string text(rng() % 40, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    std::string bytes;
    for (std::int32_t id : gpt2.encode(text, false)) bytes += gpt2.token_text(id);
    EXPECT_EQ(bytes, text);
    const std::vector<std::int32_t> ids = llama.encode(text, false);
    EXPECT_EQ(ids.empty(), text.empty());
    (void)llama.decode(ids);
  }
}

// GPT-2's tokenizer.json as HF's `tokenizers` writes it, from vocab.json + merges.txt.
std::string gpt2_tokenizer_json(bool merges_as_pairs) {
  const fs::path dir = shared_testdata() / "tokenizers/gpt2";
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream lines(test::read_file(dir / "gpt2_merges.txt"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.starts_with("#version")) continue;
    const std::size_t space = line.find(' ');
    if (merges_as_pairs)
      merges.push_back({line.substr(0, space), line.substr(space + 1)});
    else
      merges.push_back(line);
  }
  nlohmann::json byte_level = {{"type", "ByteLevel"},
                               {"add_prefix_space", false},
                               {"trim_offsets", true},
                               {"use_regex", true}};
  nlohmann::json root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 50256},
         {"content", "<|endoftext|>"},
         {"single_word", false},
         {"lstrip", false},
         {"rstrip", false},
         {"normalized", true},
         {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", nlohmann::json::parse(test::read_file(dir / "gpt2_vocab.json"))},
        {"merges", merges}}}};
  return root.dump();
}

class Gpt2HfJson : public ::testing::TestWithParam<bool> {};

TEST_P(Gpt2HfJson, MatchesVectors) {
  REQUIRE_FILE(shared_testdata() / "tokenizers/gpt2/gpt2_vocab.json");
  REQUIRE_FILE(vocab_dir() / "ggml-vocab-gpt-2.gguf.out");
  test::ScratchDir dir;
  test::write_file(dir / "tokenizer.json", gpt2_tokenizer_json(GetParam()));
  const Tokenizer t = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(t.family(), "gpt2");
  EXPECT_EQ(t.vocab_size(), 50257);
  EXPECT_EQ(t.bos_id(), std::nullopt);  // no tokenizer_config.json, no template
  check_vectors(t, "ggml-vocab-gpt-2.gguf", true);
}

INSTANTIATE_TEST_SUITE_P(MergesEncodings, Gpt2HfJson, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Pairs" : "Strings"; });

// The GGUF export's tokenizer metadata (tokenizer.ggml.*), read back as llama.cpp reads it,
// tokenizes llama.cpp's vectors as the source did: SentencePiece scores from the llama-spm
// GGUF, GPT-2 merges from its tokenizer.json, Llama 3 merges from its tiktoken ranks.
Tokenizer through_gguf_export(const Tokenizer& source, const fs::path& file) {
  GgufWriter writer;
  add_gguf_tokenizer(writer, source, {});
  writer.write(file);
  return Tokenizer::from_gguf(file);
}

TEST(LlamaCppVectors, LlamaSpmThroughTheGgufExport) {
  const fs::path gguf = vocab_dir() / "ggml-vocab-llama-spm.gguf";
  REQUIRE_FILE(gguf);
  test::ScratchDir dir;
  const Tokenizer t = through_gguf_export(Tokenizer::from_gguf(gguf), dir / "spm.gguf");
  EXPECT_EQ(t.family(), "sentencepiece-bpe");
  EXPECT_EQ(t.encode("Hello world"), (std::vector<std::int32_t>{1, 15043, 3186}));
  check_vectors(t, "ggml-vocab-llama-spm.gguf", true);
}

TEST(LlamaCppVectors, Gpt2ThroughTheGgufExport) {
  REQUIRE_FILE(shared_testdata() / "tokenizers/gpt2/gpt2_vocab.json");
  REQUIRE_FILE(vocab_dir() / "ggml-vocab-gpt-2.gguf.out");
  test::ScratchDir dir;
  test::write_file(dir / "tokenizer.json", gpt2_tokenizer_json(false));
  const Tokenizer t = through_gguf_export(Tokenizer::from_directory(dir.path()), dir / "gpt2.gguf");
  EXPECT_EQ(t.family(), "gpt2");
  check_vectors(t, "ggml-vocab-gpt-2.gguf", true);
}

TEST(LlamaCppVectors, LlamaBpeThroughTheGgufExport) {
  const fs::path model = shared_testdata() / "tokenizers/llama3-tiktoken/tokenizer.model";
  REQUIRE_FILE(model);
  test::ScratchDir dir;
  const Tokenizer t = through_gguf_export(Tokenizer::from_tiktoken(model), dir / "llama3.gguf");
  EXPECT_EQ(t.family(), "llama3");
  check_vectors(t, "ggml-vocab-llama-bpe.gguf", true);
}

}  // namespace
}  // namespace ft::engine
