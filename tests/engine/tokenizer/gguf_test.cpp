// The GGUF reader: the real vocabulary files, a file written here with every value type
// and a tensor directory, and malformed files.
#include "engine/tokenizer/gguf.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/error.hpp"
#include "support/errors.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using ft::testing::error_of;

// Builds GGUF bytes by hand (little-endian, as the format is).
struct GgufBytes {
  std::string bytes;
  template <typename T>
  GgufBytes& raw(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  GgufBytes& str(const std::string& s) {
    raw<std::uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  GgufBytes& key(const std::string& k, GgufType type) {
    str(k);
    return raw<std::uint32_t>(static_cast<std::uint32_t>(type));
  }
  GgufBytes& header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
    bytes += "GGUF";
    raw(version);
    raw(tensors);
    return raw(kvs);
  }
};

TEST(Gguf, ReadsLlamaCppVocabulary) {
  const fs::path path =
      test::shared_testdata() / "tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << path.string() << " is absent (../shared/testdata)";
  const GgufFile f = read_gguf(path);
  EXPECT_EQ(f.version, 3u);
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_EQ(f.require("tokenizer.ggml.model").as_string("model"), "llama");
  const auto& tokens = f.require("tokenizer.ggml.tokens").as_array("tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[1].as_string("tokens"), "<s>");
  EXPECT_EQ(f.require("tokenizer.ggml.scores").element_type, GgufType::f32);
  EXPECT_EQ(f.require("tokenizer.ggml.bos_token_id").as_int("bos"), 1);
  EXPECT_EQ(f.find("no.such.key"), nullptr);
}

TEST(Gguf, EveryValueTypeAndTensorInfos) {
  GgufBytes g;
  g.header(1, 8);
  g.key("u8", GgufType::u8).raw<std::uint8_t>(200);
  g.key("i16", GgufType::i16).raw<std::int16_t>(-300);
  g.key("u64", GgufType::u64).raw<std::uint64_t>(1ull << 40);
  g.key("f64", GgufType::f64).raw<double>(0.25);
  g.key("flag", GgufType::boolean).raw<std::uint8_t>(1);
  g.key("name", GgufType::string).str("stories");
  g.key("nested", GgufType::array).raw<std::uint32_t>(9).raw<std::uint64_t>(2);
  g.raw<std::uint32_t>(5).raw<std::uint64_t>(2).raw<std::int32_t>(-1).raw<std::int32_t>(7);
  g.raw<std::uint32_t>(8).raw<std::uint64_t>(1).str("x");
  g.key("general.alignment", GgufType::u32).raw<std::uint32_t>(64);
  g.str("tok_embeddings.weight")
      .raw<std::uint32_t>(2)
      .raw<std::uint64_t>(64)
      .raw<std::uint64_t>(512);
  g.raw<std::uint32_t>(0).raw<std::uint64_t>(0);
  test::ScratchDir dir;
  test::write_file(dir / "m.gguf", g.bytes);

  const GgufFile f = read_gguf(dir / "m.gguf");
  EXPECT_EQ(f.require("u8").as_int("u8"), 200);
  EXPECT_EQ(f.require("i16").as_int("i16"), -300);
  EXPECT_EQ(f.require("u64").as_int("u64"), std::int64_t{1} << 40);
  EXPECT_EQ(f.require("f64").as_float("f64"), 0.25);
  EXPECT_TRUE(f.require("flag").as_bool("flag"));
  EXPECT_EQ(f.require("name").as_string("name"), "stories");
  const auto& nested = f.require("nested").as_array("nested");
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[0].as_array("n")[0].as_int("n"), -1);
  EXPECT_EQ(nested[1].as_array("n")[0].as_string("n"), "x");
  EXPECT_EQ(f.metadata[0].first, "u8");  // file order is kept
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].name, "tok_embeddings.weight");
  EXPECT_EQ(f.tensors[0].shape, (std::vector<std::uint64_t>{64, 512}));
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.data_offset % 64, 0u);
  EXPECT_GE(f.data_offset, g.bytes.size());
  EXPECT_NE(
      error_of([&] { f.require("name").as_int("name"); }).find("expected an integer, found string"),
      std::string::npos);
}

TEST(Gguf, MalformedFiles) {
  test::ScratchDir dir;
  const fs::path path = dir / "bad.gguf";
  test::write_file(path, "GGML....");
  EXPECT_NE(error_of([&] { read_gguf(path); }).find("does not start with \"GGUF\""),
            std::string::npos);

  GgufBytes v1;
  v1.header(0, 0, 1);
  test::write_file(path, v1.bytes);
  EXPECT_NE(error_of([&] { read_gguf(path); }).find("version 1 is not supported"),
            std::string::npos);

  GgufBytes truncated;
  truncated.header(0, 1).key("name", GgufType::string).raw<std::uint64_t>(1000).bytes += "short";
  test::write_file(path, truncated.bytes);
  const std::string message = error_of([&] { read_gguf(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("name: string of 1000 bytes runs past the end"), std::string::npos)
      << message;

  GgufBytes huge_array;
  huge_array.header(0, 1)
      .key("a", GgufType::array)
      .raw<std::uint32_t>(4)
      .raw<std::uint64_t>(1ull << 60);
  test::write_file(path, huge_array.bytes);
  EXPECT_NE(error_of([&] { read_gguf(path); }).find("runs past the end"), std::string::npos);

  GgufBytes bad_type;
  bad_type.header(0, 1).key("a", static_cast<GgufType>(42));
  test::write_file(path, bad_type.bytes);
  EXPECT_NE(error_of([&] { read_gguf(path); }).find("unknown value type 42"), std::string::npos);
}

TEST(Gguf, UnsupportedTokenizers) {
  test::ScratchDir dir;
  const fs::path path = dir / "t.gguf";
  GgufBytes bert;
  bert.header(0, 1).key("tokenizer.ggml.model", GgufType::string).str("bert");
  test::write_file(path, bert.bytes);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(path); }).find("\"bert\" is not supported"),
            std::string::npos);

  GgufBytes falcon;
  falcon.header(0, 5);
  falcon.key("tokenizer.ggml.model", GgufType::string).str("gpt2");
  falcon.key("tokenizer.ggml.pre", GgufType::string).str("falcon");
  falcon.key("tokenizer.ggml.tokens", GgufType::array)
      .raw<std::uint32_t>(8)
      .raw<std::uint64_t>(2)
      .str("a")
      .str("b");
  falcon.key("tokenizer.ggml.merges", GgufType::array).raw<std::uint32_t>(8).raw<std::uint64_t>(0);
  falcon.key("tokenizer.ggml.token_type", GgufType::array)
      .raw<std::uint32_t>(5)
      .raw<std::uint64_t>(2)
      .raw<std::int32_t>(1)
      .raw<std::int32_t>(1);
  test::write_file(path, falcon.bytes);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(path); }).find("tokenizer.ggml.pre \"falcon\""),
            std::string::npos);

  GgufBytes none;
  none.header(0, 0);
  test::write_file(path, none.bytes);
  EXPECT_NE(error_of([&] { Tokenizer::from_gguf(path); }).find("no key tokenizer.ggml.model"),
            std::string::npos);
}

}  // namespace
}  // namespace ft::engine
