// Writing and reading back: byte-exact against huggingface/safetensors' own serialization
// tests, every dtype, shards, zero-copy versus converting loads, atomic replacement, and the
// refusal of pickle checkpoints.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "ftengine/io/safetensors.hpp"
#include "support/backends.hpp"
#include "tests/sdk/io/test_util.hpp"

namespace ft::io {
namespace {

using ft::testing::cpu;
using ft::testing::error_of;
using ft::testing::read_bytes;
using ft::testing::TempDir;
using ft::testing::write_bytes;
namespace fs = std::filesystem;

std::string bytes_of(const std::vector<int>& v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

// tensor.rs test_serialization: {"attn.0": F32 [1, 2, 3] = 0..5}, a 64-byte header, no padding.
TEST(SafetensorsWrite, MatchesReferenceSerialization) {
  TempDir dir;
  const std::vector<float> values{0, 1, 2, 3, 4, 5};
  write_safetensors(dir / "a.safetensors",
                    {SafetensorsEntry::from_host("attn.0", "F32", {1, 2, 3}, values.data())});
  const std::string expected =
      bytes_of({64, 0,  0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,
                34, 58, 123, 34,  100, 116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,
                44, 34, 115, 104, 97,  112, 101, 34,  58,  91,  49,  44,  50,  44,  51,  93,
                44, 34, 100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,  58,
                91, 48, 44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,
                0,  0,  0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64});
  EXPECT_EQ(read_bytes(dir / "a.safetensors"), expected);
}

// tensor.rs test_serialization_forced_alignement: a 65-byte header padded with 7 spaces.
TEST(SafetensorsWrite, PadsHeaderToEightBytesLikeReference) {
  TempDir dir;
  const std::vector<float> values{0, 1, 2, 3, 4, 5};
  write_safetensors(dir / "a.safetensors",
                    {SafetensorsEntry::from_host("attn0", "F32", {1, 1, 2, 3}, values.data())});
  const std::string file = read_bytes(dir / "a.safetensors");
  ASSERT_EQ(file.size(), 8u + 72u + 24u);
  EXPECT_EQ(file.substr(0, 8), ft::testing::le64(72));
  EXPECT_EQ(file.substr(8, 72),
            "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
}

// tensor.rs test_empty: no tensors, with and without metadata.
TEST(SafetensorsWrite, EmptyFilesMatchReference) {
  TempDir dir;
  write_safetensors(dir / "empty.safetensors", {});
  EXPECT_EQ(read_bytes(dir / "empty.safetensors"), ft::testing::le64(8) + "{}      ");
  write_safetensors(dir / "meta.safetensors", {}, {{"framework", "pt"}});
  EXPECT_EQ(read_bytes(dir / "meta.safetensors"),
            ft::testing::le64(40) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
  const SafetensorsFile f(dir / "meta.safetensors");
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.metadata().at("framework"), "pt");
}

TEST(SafetensorsReadWrite, RoundTripsEveryDtype) {
  TempDir dir;
  Backend& be = cpu();
  const Tensor f32 =
      Tensor::from_vector({1.5f, -2.25f, 3.0e-20f, 65504.0f, -0.0f, 7.0f}, {2, 3}, be);
  const Tensor bf16 = Tensor::from_vector({1.0f, -3.140625f, 1.0e30f}, {3}, be, DType::bf16);
  const Tensor f16 =
      Tensor::from_vector({0.5f, -65504.0f, 6.1035156e-05f, 1.0f}, {2, 2}, be, DType::f16);
  const Tensor i32 = Tensor::from_ints({-7, 0, 2147483647}, {3}, be);
  const std::vector<std::uint8_t> u8_values{0, 1, 255, 128};
  const Tensor u8 = Tensor::from_host(u8_values.data(), {4}, DType::u8, be);
  // Dtypes ftengine cannot compute in still round-trip as bytes.
  const std::vector<double> f64{1.0 / 3.0, -2.0};
  const std::vector<std::int64_t> i64{-1, 1LL << 40};
  const std::vector<std::uint8_t> flags{1, 0, 1};
  const Tensor scalar = Tensor::from_vector({42.0f}, {}, be);
  const Tensor empty = Tensor::from_vector({}, {0, 3}, be);

  write_safetensors(
      dir / "all.safetensors",
      {SafetensorsEntry::from_tensor("f32", f32), SafetensorsEntry::from_tensor("bf16", bf16),
       SafetensorsEntry::from_tensor("f16", f16), SafetensorsEntry::from_tensor("i32", i32),
       SafetensorsEntry::from_tensor("u8", u8),
       SafetensorsEntry::from_host("f64", "F64", {2}, f64.data()),
       SafetensorsEntry::from_host("i64", "I64", {2}, i64.data()),
       SafetensorsEntry::from_host("flags", "BOOL", {3}, flags.data()),
       SafetensorsEntry::from_tensor("scalar", scalar),
       SafetensorsEntry::from_tensor("empty", empty)},
      {{"format", "pt"}, {"note", "round trip"}});

  const SafetensorsFile f(dir / "all.safetensors");
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata().at("note"), "round trip");
  // Written in the given order, offsets contiguous.
  std::vector<std::string> names;
  std::uint64_t pos = 0;
  for (const SafetensorsTensorInfo& t : f.tensors()) {
    names.push_back(t.name);
    EXPECT_EQ(t.begin, pos) << t.name;
    pos = t.end;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"f32", "bf16", "f16", "i32", "u8", "f64", "i64",
                                             "flags", "scalar", "empty"}));
  EXPECT_EQ(f.at("f32").dtype, "F32");
  EXPECT_EQ(f.at("bf16").dtype, "BF16");
  EXPECT_EQ(f.at("f16").dtype, "F16");
  EXPECT_EQ(f.at("i32").dtype, "I32");
  EXPECT_EQ(f.at("u8").dtype, "U8");
  EXPECT_EQ(f.at("f64").dtype, "F64");
  EXPECT_EQ(f.at("flags").dtype, "BOOL");

  const std::vector<std::pair<std::string, Tensor>> written{
      {"f32", f32}, {"bf16", bf16},     {"f16", f16},    {"i32", i32},
      {"u8", u8},   {"scalar", scalar}, {"empty", empty}};
  for (const auto& [name, t] : written) {
    const Tensor back = f.load(name, be);
    EXPECT_EQ(back.dtype(), t.dtype()) << name;
    EXPECT_EQ(back.shape(), t.shape()) << name;
    std::vector<char> a(t.nbytes()), b(back.nbytes());
    t.copy_to_host(a.data());
    back.copy_to_host(b.data());
    EXPECT_EQ(a, b) << name;
    EXPECT_EQ(back.name(), name);
  }
  EXPECT_EQ(std::memcmp(f.data(f.at("f64")), f64.data(), 16), 0);
  EXPECT_EQ(std::memcmp(f.data(f.at("i64")), i64.data(), 16), 0);
  EXPECT_EQ(std::memcmp(f.data(f.at("flags")), flags.data(), 3), 0);
  EXPECT_EQ(f.load("scalar", be).item(), 42.0f);
}

TEST(SafetensorsRead, ZeroCopyPointsIntoTheMapping) {
  TempDir dir;
  Backend& be = cpu();
  const std::vector<float> values{1.0f, 2.0f, 3.0f, 4.0f};
  write_safetensors(dir / "w.safetensors",
                    {SafetensorsEntry::from_host("w", "F32", {2, 2}, values.data())});
  Tensor w;
  {
    const SafetensorsFile f(dir / "w.safetensors");
    w = f.load("w", be);
    const auto* p = static_cast<const std::byte*>(w.data());
    EXPECT_GE(p, f.mapping_data());
    EXPECT_LT(p, f.mapping_data() + f.mapping_size());
    EXPECT_EQ(p, f.data(f.at("w")));
    EXPECT_TRUE(w.impl()->storage->external());
  }
  // The tensor keeps the mapping alive after the file object is gone.
  EXPECT_EQ(w.to_vector(), values);
  // Copy-on-write: an in-place update (an optimizer step) never reaches the file.
  w.f32()[0] = 100.0f;
  EXPECT_EQ(w.to_vector()[0], 100.0f);
  EXPECT_EQ(SafetensorsFile(dir / "w.safetensors").load("w", be).to_vector(), values);
}

TEST(SafetensorsRead, ConvertsWithRoundToNearestEven) {
  TempDir dir;
  Backend& be = cpu();
  // 1 + 2^-8 lies halfway between bf16 1.0 and 1.0078125: ties go to the even one (1.0);
  // 1 + 3 * 2^-8 lies halfway between 1.0078125 and 1.015625: even is 1.015625.
  const std::vector<float> values{1.00390625f, 1.01171875f, -2.5f, 1.0e-3f, 70000.0f, 3.0e-8f};
  write_safetensors(dir / "w.safetensors",
                    {SafetensorsEntry::from_host("w", "F32", {6}, values.data())});
  const SafetensorsFile f(dir / "w.safetensors");

  const Tensor bf16 = f.load("w", be, DType::bf16);
  ASSERT_EQ(bf16.dtype(), DType::bf16);
  const auto* p = static_cast<const std::byte*>(bf16.data());
  EXPECT_TRUE(p < f.mapping_data() || p >= f.mapping_data() + f.mapping_size());
  std::vector<std::uint16_t> got(6);
  bf16.copy_to_host(got.data());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], f32_to_bf16(values[i])) << i;
  EXPECT_EQ(bf16_to_f32(got[0]), 1.0f);
  EXPECT_EQ(bf16_to_f32(got[1]), 1.015625f);

  const Tensor f16 = f.load("w", be, DType::f16);
  f16.copy_to_host(got.data());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], f32_to_f16(values[i])) << i;
  EXPECT_EQ(f16_to_f32(got[4]), INFINITY);  // beyond f16's range

  // BF16 file -> f32 is exact; -> f16 goes through f32.
  write_safetensors(dir / "b.safetensors", {SafetensorsEntry::from_tensor("b", bf16)});
  const SafetensorsFile b(dir / "b.safetensors");
  const std::vector<float> widened = b.load("b", be, DType::f32).to_vector();
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(widened[i], bf16_to_f32(f32_to_bf16(values[i])));
  b.load("b", be, DType::f16).copy_to_host(got.data());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(got[i], f32_to_f16(bf16_to_f32(f32_to_bf16(values[i]))));
}

TEST(SafetensorsRead, BackendWithoutHostAccessGetsACopy) {
  TempDir dir;
  ft::testing::CountingBackend device(cpu());  // host_accessible() is false
  const std::vector<float> values{1.0f, 2.0f};
  write_safetensors(dir / "w.safetensors",
                    {SafetensorsEntry::from_host("w", "F32", {2}, values.data())});
  const SafetensorsFile f(dir / "w.safetensors");
  const Tensor w = f.load("w", device);
  const auto* p = static_cast<const std::byte*>(w.data());
  EXPECT_TRUE(p < f.mapping_data() || p >= f.mapping_data() + f.mapping_size());
  EXPECT_FALSE(w.impl()->storage->external());
  EXPECT_EQ(w.to_vector(), values);
}

TEST(SafetensorsRead, IntegerDtypesLoadOnlyAsThemselves) {
  TempDir dir;
  const std::vector<std::int32_t> ids{1, 2, 3};
  const std::vector<double> f64{1.0};
  write_safetensors(dir / "t.safetensors",
                    {SafetensorsEntry::from_host("ids", "I32", {3}, ids.data()),
                     SafetensorsEntry::from_host("x", "F64", {1}, f64.data())});
  const fs::path path = dir / "t.safetensors";
  const SafetensorsFile f(path);
  EXPECT_EQ(f.load("ids", cpu()).to_ints(), ids);
  EXPECT_EQ(error_of([&] { f.load("ids", cpu(), DType::f32); }),
            path.string() +
                ": tensor \"ids\": cannot load I32 as f32 (only F32, BF16 and F16 "
                "convert among themselves)");
  EXPECT_EQ(error_of([&] { f.load("x", cpu()); }),
            path.string() +
                ": tensor \"x\": dtype F64 is not supported (ftengine loads F32, "
                "BF16, F16, I32 and U8)");
  EXPECT_EQ(error_of([&] { f.load("nope", cpu()); }), path.string() + ": no tensor \"nope\"");
}

TEST(SafetensorsWrite, IsAtomicAndKeepsOldMappingsValid) {
  TempDir dir;
  Backend& be = cpu();
  const std::vector<float> old_values{1.0f, 2.0f}, new_values{3.0f, 4.0f};
  const fs::path path = dir / "w.safetensors";
  write_safetensors(path, {SafetensorsEntry::from_host("w", "F32", {2}, old_values.data())});
  const Tensor old_w = SafetensorsFile(path).load("w", be);
  write_safetensors(path, {SafetensorsEntry::from_host("w", "F32", {2}, new_values.data())});
  // The rename replaced the directory entry; the old inode lives on under the mapping.
  EXPECT_EQ(old_w.to_vector(), old_values);
  EXPECT_EQ(SafetensorsFile(path).load("w", be).to_vector(), new_values);
  // No temporary file is left behind.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path())) files.push_back(e.path().filename());
  EXPECT_EQ(files, std::vector<std::string>{"w.safetensors"});
  // A failed write leaves nothing either.
  EXPECT_NE(error_of([&] {
              write_safetensors(path, {SafetensorsEntry::from_host("w", "F32", {2}, nullptr)});
            }),
            "");
  EXPECT_EQ(SafetensorsFile(path).load("w", be).to_vector(), new_values);
}

TEST(SafetensorsWrite, RefusesBadEntries) {
  TempDir dir;
  const fs::path path = dir / "x.safetensors";
  const float v = 1.0f;
  EXPECT_EQ(error_of([&] {
              write_safetensors(path, {SafetensorsEntry::from_host("a", "F32", {1}, &v),
                                       SafetensorsEntry::from_host("a", "F32", {1}, &v)});
            }),
            path.string() + ": cannot write tensor \"a\": the name appears twice");
  EXPECT_EQ(
      error_of([&] {
        write_safetensors(path, {SafetensorsEntry::from_host("__metadata__", "F32", {1}, &v)});
      }),
      path.string() + ": cannot write tensor \"__metadata__\": the name is reserved for metadata");
  EXPECT_EQ(error_of([&] {
              write_safetensors(path, {SafetensorsEntry::from_host("a", "F31", {1}, &v)});
            }),
            path.string() + ": cannot write tensor \"a\": unknown dtype \"F31\"");
  EXPECT_FALSE(fs::exists(path));
}

TEST(SafetensorsSharded, RoundTripsThroughTheIndex) {
  TempDir dir;
  Backend& be = cpu();
  std::vector<Tensor> tensors;
  std::vector<SafetensorsEntry> entries;
  for (int i = 0; i < 5; ++i) {
    std::vector<float> v(100);
    for (int j = 0; j < 100; ++j) v[j] = static_cast<float>(i * 1000 + j);
    tensors.push_back(Tensor::from_vector(v, {10, 10}, be));
    entries.push_back(SafetensorsEntry::from_tensor("layer." + std::to_string(i), tensors.back()));
  }
  // 400 bytes per tensor, at most 1000 per shard: 2 + 2 + 1.
  const std::vector<fs::path> written =
      write_sharded_safetensors(dir.path(), entries, 1000, {{"format", "pt"}});
  ASSERT_EQ(written.size(), 4u);
  EXPECT_EQ(written[0].filename(), "model-00001-of-00003.safetensors");
  EXPECT_EQ(written[2].filename(), "model-00003-of-00003.safetensors");
  EXPECT_EQ(written[3].filename(), "model.safetensors.index.json");

  const nlohmann::json index = nlohmann::json::parse(read_bytes(written[3]));
  EXPECT_EQ(index["metadata"]["total_size"], 2000);
  EXPECT_EQ(index["weight_map"]["layer.0"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["layer.2"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["layer.4"], "model-00003-of-00003.safetensors");

  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(dir.path());
  EXPECT_EQ(ckpt.source(), written[3]);
  EXPECT_EQ(ckpt.files().size(), 3u);
  EXPECT_EQ(ckpt.names(),
            (std::vector<std::string>{"layer.0", "layer.1", "layer.2", "layer.3", "layer.4"}));
  for (int i = 0; i < 5; ++i) {
    const std::string name = "layer." + std::to_string(i);
    EXPECT_EQ(ckpt.load(name, be).to_vector(), tensors[i].to_vector()) << name;
    EXPECT_EQ(ckpt.file_of(name).metadata().at("format"), "pt");
  }

  // Everything fits in one shard: model.safetensors, and the stale index is removed.
  const std::vector<fs::path> single = write_sharded_safetensors(dir.path(), entries, 1 << 20);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].filename(), "model.safetensors");
  EXPECT_FALSE(fs::exists(written[3]));
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.path()).source(), single[0]);
}

TEST(SafetensorsSharded, IndexErrorsNameTheTensorAndShard) {
  TempDir dir;
  const float v = 1.0f;
  write_safetensors(dir / "a.safetensors", {SafetensorsEntry::from_host("x", "F32", {1}, &v),
                                            SafetensorsEntry::from_host("y", "F32", {1}, &v)});
  const fs::path index = dir / "model.safetensors.index.json";
  write_bytes(index, R"({"weight_map": {"x": "a.safetensors", "z": "b.safetensors"}})");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            index.string() + ": tensor \"z\" is in shard " + (dir / "b.safetensors").string() +
                ", which does not exist");
  write_bytes(index, R"({"weight_map": {"x": "a.safetensors", "w": "a.safetensors"}})");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            index.string() + ": tensor \"w\" is listed in shard " +
                (dir / "a.safetensors").string() + ", which does not hold it");
  write_bytes(index, R"({"weight_map": {"x": "a.safetensors"}})");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            index.string() + ": shard " + (dir / "a.safetensors").string() +
                " holds tensor \"y\", which the index does not list");
  write_bytes(index, R"({"weight_map": {"x": "../a.safetensors"}})");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            index.string() +
                ": weight_map[\"x\"] names \"../a.safetensors\": a shard must be a "
                "file next to the index");
}

const std::string kConvertHint =
    "Convert the model to safetensors first, e.g. python -c \"from transformers import "
    "AutoModelForCausalLM as M; M.from_pretrained('";

TEST(SafetensorsCheckpoint, RefusesPickleCheckpoints) {
  TempDir dir;
  write_bytes(dir / "config.json", "{}");
  write_bytes(dir / "pytorch_model.bin", std::string("PK\x03\x04", 4) + std::string(60, '\0'));
  const std::string expected =
      (dir / "pytorch_model.bin").string() +
      ": PyTorch pickle checkpoints are not loaded, because unpickling can run arbitrary code. " +
      kConvertHint + dir.path().string() + "').save_pretrained('OUT', safe_serialization=True)\"";
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }), expected);
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir / "pytorch_model.bin"); }), expected);

  // A .pt or .pth named directly, and a torch.save file under a safetensors name.
  write_bytes(dir / "weights.pth", "\x80\x02}q\x00.");
  EXPECT_NE(error_of([&] {
              SafetensorsCheckpoint::open(dir / "weights.pth");
            }).find("unpickling can run arbitrary code"),
            std::string::npos);
  write_bytes(dir / "fake.safetensors", std::string("PK\x03\x04", 4) + std::string(60, '\0'));
  EXPECT_EQ(error_of([&] { SafetensorsFile(dir / "fake.safetensors"); }),
            (dir / "fake.safetensors").string() +
                ": PyTorch pickle checkpoints are not loaded, because unpickling can run "
                "arbitrary code. " +
                kConvertHint + dir.path().string() +
                "').save_pretrained('OUT', safe_serialization=True)\"");
}

TEST(SafetensorsCheckpoint, FindsTheWeightsOfADirectory) {
  TempDir dir;
  const float v = 1.0f;
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            dir.path().string() +
                ": no model weights: expected model.safetensors or model.safetensors.index.json");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir / "missing"); }),
            (dir / "missing").string() + ": no such file or directory");
  // One .safetensors file under another name is used.
  write_safetensors(dir / "weights.safetensors",
                    {SafetensorsEntry::from_host("x", "F32", {1}, &v)});
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.path()).source(), dir / "weights.safetensors");
  write_safetensors(dir / "other.safetensors", {SafetensorsEntry::from_host("y", "F32", {1}, &v)});
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint::open(dir.path()); }),
            dir.path().string() +
                ": several .safetensors files (other.safetensors, weights.safetensors) and no "
                "model.safetensors.index.json saying which tensor is where");
}

}  // namespace
}  // namespace ft::io
