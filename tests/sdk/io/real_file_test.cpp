// The reader against files written by other tools: the stories260K model converted to
// Hugging Face safetensors (checked against llama2.c's own checkpoint of the same weights)
// and its reference logits.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ftengine/io/safetensors.hpp"
#include "support/backends.hpp"
#include "tests/sdk/io/test_util.hpp"

namespace ft::io {
namespace {

namespace fs = std::filesystem;
using ft::testing::cpu;

const fs::path kHfDir = fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K-hf";
const fs::path kLlama2cBin =
    fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K" / "stories260K.bin";

#define REQUIRE_FILE(path) \
  if (!fs::exists(path)) GTEST_SKIP() << "test data absent: " << (path).string()

// Floats of llama2.c's v0 checkpoint at a byte offset (see testdata/README.md).
std::vector<float> llama2c_floats(std::size_t offset, std::size_t count) {
  std::ifstream in(kLlama2cBin, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<float> out(count);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(count * 4));
  return out;
}

TEST(SafetensorsRealFile, Stories260KMatchesTheLlama2cCheckpoint) {
  REQUIRE_FILE(kHfDir / "model.safetensors");
  REQUIRE_FILE(kLlama2cBin);
  const SafetensorsFile f(kHfDir / "model.safetensors");
  EXPECT_EQ(f.tensors().size(), 2u + 5u * 9u);  // embed, final norm, 9 per layer; lm_head tied
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const SafetensorsTensorInfo& embed = f.at("model.embed_tokens.weight");
  EXPECT_EQ(embed.dtype, "F32");
  EXPECT_EQ(embed.shape, (Shape{512, 64}));
  EXPECT_EQ(f.at("model.layers.0.self_attn.k_proj.weight").shape, (Shape{32, 64}));

  // Tensors llama2.c stores unpermuted, compared bit for bit: token embedding (offset 28),
  // rms_att_weight of layer 0 (131100), w2 = down_proj of layer 0 (599580).
  const std::vector<float> e = f.load("model.embed_tokens.weight", cpu()).to_vector();
  EXPECT_EQ(e, llama2c_floats(28, 512 * 64));
  EXPECT_EQ(f.load("model.layers.0.input_layernorm.weight", cpu()).to_vector(),
            llama2c_floats(131100, 64));
  EXPECT_EQ(f.load("model.layers.0.mlp.down_proj.weight", cpu()).to_vector(),
            llama2c_floats(599580, 64 * 172));
  EXPECT_EQ(f.load("model.norm.weight", cpu()).to_vector(), llama2c_floats(1039900, 64));
}

TEST(SafetensorsRealFile, ReferenceLogitsHoldTheReferenceIds) {
  REQUIRE_FILE(kHfDir / "reference_logits.safetensors");
  REQUIRE_FILE(kHfDir / "reference.json");
  const SafetensorsFile f(kHfDir / "reference_logits.safetensors");
  EXPECT_EQ(f.at("input_ids").dtype, "I32");
  EXPECT_EQ(f.at("logits").shape, (Shape{42, 512}));
  EXPECT_EQ(f.metadata().count("note"), 1u);
  std::ifstream in(kHfDir / "reference.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  EXPECT_EQ(f.load("input_ids", cpu()).to_ints(),
            ref["loss"]["ids"].get<std::vector<std::int32_t>>());
}

TEST(SafetensorsRealFile, RewritingGivesTheSameTensors) {
  REQUIRE_FILE(kHfDir / "model.safetensors");
  ft::testing::TempDir dir;
  const SafetensorsCheckpoint original = SafetensorsCheckpoint::open(kHfDir);
  EXPECT_EQ(original.source(), kHfDir / "model.safetensors");
  std::vector<SafetensorsEntry> entries;
  for (const std::string& name : original.names())
    entries.push_back(SafetensorsEntry::from_tensor(name, original.load(name, cpu())));
  write_sharded_safetensors(dir.path(), entries, 400'000, {{"format", "pt"}});
  const SafetensorsCheckpoint copy = SafetensorsCheckpoint::open(dir.path());
  EXPECT_GT(copy.files().size(), 1u);
  ASSERT_EQ(copy.names(), original.names());
  for (const std::string& name : original.names()) {
    const SafetensorsTensorInfo& a = *original.find(name);
    const SafetensorsTensorInfo& b = *copy.find(name);
    EXPECT_EQ(a.shape, b.shape) << name;
    EXPECT_EQ(std::memcmp(original.file_of(name).data(a), copy.file_of(name).data(b), a.nbytes()),
              0)
        << name;
  }
}

}  // namespace
}  // namespace ft::io
