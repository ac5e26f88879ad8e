// The GGUF export of stories260K-hf: llama.cpp's tensor names and ggml's dimension order,
// q and k rows in ggml's rope layout, weights exact in f32 and within their rounding in
// f16, bf16 and q8_0, the config as llama.* metadata; read back by engine/tokenizer's GGUF
// reader, and by the gguf Python package (llama.cpp's own reader) when .venv has it.
#include "engine/export/gguf_export.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <tuple>

#include "engine/model_init/model_init.hpp"
#include "engine/tokenizer/gguf.hpp"
#include "ftengine/dtype.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

using engine::GgmlType;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct Exported {
  engine::GgufFile file;
  std::vector<char> bytes;  // the whole file

  static Exported read(const fs::path& path) {
    Exported e{engine::read_gguf(path), {}};
    std::ifstream in(path, std::ios::binary);
    e.bytes.assign(std::istreambuf_iterator<char>(in), {});
    return e;
  }

  const engine::GgufTensorInfo& tensor(const std::string& name) const {
    for (const auto& t : file.tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
  // The tensor's values, decoded from its ggml type.
  std::vector<float> values(const std::string& name) const {
    const engine::GgufTensorInfo& t = tensor(name);
    std::uint64_t n = 1;
    for (const std::uint64_t d : t.shape) n *= d;
    const char* p = bytes.data() + file.data_offset + t.offset;
    std::vector<float> out(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint16_t h;
      switch (t.ggml_type) {
        case 0:
          std::memcpy(&out[i], p + 4 * i, 4);
          break;
        case 1:
          std::memcpy(&h, p + 2 * i, 2), out[i] = f16_to_f32(h);
          break;
        case 30:
          std::memcpy(&h, p + 2 * i, 2), out[i] = bf16_to_f32(h);
          break;
        case 8: {  // q8_0: blocks of an f16 scale and 32 int8
          const char* block = p + 34 * (i / 32);
          std::memcpy(&h, block, 2);
          out[i] = f16_to_f32(h) * static_cast<float>(static_cast<std::int8_t>(block[2 + i % 32]));
          break;
        }
        default:
          throw std::runtime_error("unexpected ggml type");
      }
    }
    return out;
  }
};

Exported export_stories(const fs::path& out, GgmlType type) {
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const auto tokenizer = engine::Tokenizer::from_directory(kStoriesDir);
  engine::export_gguf(*model, kStoriesDir, tokenizer, out, {.type = type, .name = ""});
  return Exported::read(out);
}

std::vector<float> hf(const std::string& name) {
  const io::SafetensorsFile f(kStoriesDir / "model.safetensors");
  return f.load(name, backend(), DType::f32).to_vector();
}

TEST(GgufExport, Stories260KInLlamaCppLayoutWithExactF32Weights) {
  REQUIRE_STORIES();
  TempDir dir;
  const Exported e = export_stories(dir / "s.gguf", GgmlType::f32);
  EXPECT_EQ(e.file.version, 3u);
  EXPECT_EQ(e.file.require("general.architecture").as_string("a"), "llama");
  EXPECT_EQ(e.file.require("llama.block_count").as_int("b"), 5);
  EXPECT_EQ(e.file.require("llama.embedding_length").as_int("e"), 64);
  EXPECT_EQ(e.file.require("llama.attention.head_count").as_int("h"), 8);
  EXPECT_EQ(e.file.require("llama.attention.head_count_kv").as_int("k"), 4);
  EXPECT_EQ(e.file.require("llama.rope.dimension_count").as_int("r"), 8);
  EXPECT_EQ(e.file.require("llama.feed_forward_length").as_int("f"), 172);
  EXPECT_EQ(e.file.require("general.file_type").as_int("t"), 0);
  // 5 layers of 9 tensors, the embeddings and the final norm; tied: no output.weight.
  EXPECT_EQ(e.file.tensors.size(), 47u);
  EXPECT_EQ(e.tensor("token_embd.weight").shape, (std::vector<std::uint64_t>{64, 512}));
  EXPECT_EQ(e.tensor("blk.4.ffn_down.weight").shape, (std::vector<std::uint64_t>{172, 64}));
  EXPECT_EQ(e.tensor("blk.0.attn_k.weight").shape, (std::vector<std::uint64_t>{64, 32}));
  for (const auto& t : e.file.tensors) EXPECT_EQ(t.offset % 32, 0u) << t.name;

  EXPECT_EQ(e.values("token_embd.weight"), hf("model.embed_tokens.weight"));
  EXPECT_EQ(e.values("blk.2.ffn_down.weight"), hf("model.layers.2.mlp.down_proj.weight"));
  EXPECT_EQ(e.values("output_norm.weight"), hf("model.norm.weight"));
  // q (8 heads) and k (4 heads) of head_dim 8: row h·8 + 2j + i holds HF's row h·8 + 4i + j.
  for (const auto& [gguf, name, heads] :
       {std::tuple{"blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight", 8},
        std::tuple{"blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", 4}}) {
    const std::vector<float> got = e.values(gguf), want = hf(name);
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 2; ++i)
          for (int c = 0; c < 64; ++c)
            ASSERT_EQ(got[static_cast<std::size_t>((h * 8 + 2 * j + i) * 64 + c)],
                      want[static_cast<std::size_t>((h * 8 + 4 * i + j) * 64 + c)])
                << gguf << " head " << h << " pair " << j << " half " << i;
  }
}

TEST(GgufExport, HalfAndQ8WeightsAreWithinTheirRoundingAndNormsStayF32) {
  REQUIRE_STORIES();
  TempDir dir;
  const std::vector<float> want = hf("model.layers.3.mlp.up_proj.weight");
  for (const auto& [type, code, relative] :
       {std::tuple{GgmlType::f16, 1u, 1.0 / 2048}, std::tuple{GgmlType::bf16, 30u, 1.0 / 256},
        std::tuple{GgmlType::q8_0, 8u, 0.0}}) {
    SCOPED_TRACE(engine::gguf_type_name(type));
    const Exported e = export_stories(dir / "t.gguf", type);
    EXPECT_EQ(e.tensor("blk.3.ffn_up.weight").ggml_type, code);
    EXPECT_EQ(e.tensor("blk.3.ffn_norm.weight").ggml_type, 0u);
    const std::vector<float> got = e.values("blk.3.ffn_up.weight");
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      // Half an ulp; f16's subnormals below 2^-14 have a fixed step of 2^-24.
      double limit = relative * std::abs(want[i]) + (type == GgmlType::f16 ? 0x1p-25 : 0.0);
      if (type == GgmlType::q8_0) {  // half a step of its block's scale, plus f16 rounding
        float amax = 0;
        for (std::size_t k = i / 32 * 32; k < i / 32 * 32 + 32; ++k)
          amax = std::max(amax, std::abs(want[k]));
        limit = amax / 127.0 * 0.5 + amax / 2048.0;
      }
      ASSERT_LE(std::abs(got[i] - want[i]), limit + 1e-12) << i;
    }
  }
}

TEST(GgufExport, TheTokenizerInsideEncodesAsTheModelsOwn) {
  REQUIRE_STORIES();
  TempDir dir;
  export_stories(dir / "s.gguf", GgmlType::f16);
  const auto from_gguf = engine::Tokenizer::from_gguf(dir / "s.gguf");
  const auto from_hf = engine::Tokenizer::from_directory(kStoriesDir);
  for (const char* text :
       {"Once upon a time, there was a little girl named Lily.",
        "She liked to play outside.\n\"Hi!\" said Tom 123 times", "  leading spaces and ünïcödé"})
    EXPECT_EQ(from_gguf.encode(text), from_hf.encode(text)) << text;
}

// More embedding rows than tokens (a vocabulary padded for speed): llama.cpp wants a token
// per row, so unused "[PAD<id>]" tokens fill the rest, and the tokenizer is unchanged.
TEST(GgufExport, AShortVocabularyIsPaddedToTheEmbeddingRows) {
  REQUIRE_STORIES();
  TempDir dir;
  const auto hf_tokenizer = engine::Tokenizer::from_directory(kStoriesDir);
  engine::GgufWriter writer;
  engine::add_gguf_tokenizer(writer, hf_tokenizer, {}, 600);
  writer.write(dir / "t.gguf");
  const engine::GgufFile g = engine::read_gguf(dir / "t.gguf");
  const auto& tokens = g.require("tokenizer.ggml.tokens").as_array("t");
  ASSERT_EQ(tokens.size(), 600u);
  EXPECT_EQ(tokens[599].as_string("t"), "[PAD599]");
  EXPECT_EQ(g.require("tokenizer.ggml.token_type").as_array("t")[599].as_int("t"), 5);
  const auto padded = engine::Tokenizer::from_gguf(dir / "t.gguf");
  EXPECT_EQ(padded.encode("Once upon a time there was a dog."),
            hf_tokenizer.encode("Once upon a time there was a dog."));
  engine::GgufWriter too_few;
  EXPECT_THROW(engine::add_gguf_tokenizer(too_few, hf_tokenizer, {}, 100), Error);
}

// The gguf Python package (llama.cpp's gguf-py) reads the file and dequantizes its q8_0
// and q4_0 blocks with llama.cpp's own code; the values are the Hugging Face weights, q
// and k permuted as convert_hf_to_gguf.py permutes them, within one quantisation step.
TEST(GgufExport, LlamaCppsReaderTakesTheFileAndItsBlocks) {
  REQUIRE_STORIES();
  const fs::path python = fs::path(FTENGINE_SOURCE_DIR) / ".venv/bin/python";
  if (std::system(
          fmt::format("'{}' -c 'import gguf, safetensors' 2>/dev/null", python.string()).c_str()) !=
      0)
    GTEST_SKIP() << "the gguf and safetensors Python packages are not in " << python.string()
                 << " (scripts/setup.sh installs them)";
  TempDir dir;
  export_stories(dir / "q8_0.gguf", GgmlType::q8_0);
  export_stories(dir / "q4_0.gguf", GgmlType::q4_0);
  const std::string script = R"(
import sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file

hf = load_file(sys.argv[1] + "/model.safetensors")

def permute(w, n_head):  # convert_hf_to_gguf.py's LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

for path, qtype, steps in ((sys.argv[2], "Q8_0", 127.0), (sys.argv[3], "Q4_0", 8.0)):
    r = GGUFReader(path)
    f = lambda k: r.fields[k].contents()
    assert f("general.architecture") == "llama", f("general.architecture")
    assert f("llama.block_count") == 5 and f("llama.attention.head_count_kv") == 4
    assert len(f("tokenizer.ggml.tokens")) == 512 and f("tokenizer.ggml.model") == "llama"
    t = {x.name: x for x in r.tensors}
    assert len(t) == 47, len(t)
    assert list(t["token_embd.weight"].shape) == [64, 512], t["token_embd.weight"].shape
    assert t["output_norm.weight"].tensor_type.name == "F32"
    for name, hf_name, heads in (("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", 8),
                                 ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight", 4),
                                 ("blk.3.ffn_up.weight", "model.layers.3.mlp.up_proj.weight", 0)):
        x = t[name]
        assert x.tensor_type.name == qtype, (name, x.tensor_type.name)
        got = dequantize(x.data, x.tensor_type).reshape(hf[hf_name].shape)
        want = permute(hf[hf_name], heads) if heads else hf[hf_name]
        blocks = want.reshape(-1, 32)
        step = np.abs(blocks).max(axis=1, keepdims=True) / steps
        err = np.abs(got.reshape(-1, 32) - blocks)
        assert (err <= step * 1.01 + 1e-7).all(), (path, name, float((err / step).max()))
print("ok")
)";
  const fs::path py = dir / "check.py";
  std::ofstream(py) << script;
  EXPECT_EQ(std::system(fmt::format("'{}' '{}' '{}' '{}' '{}'", python.string(), py.string(),
                                    kStoriesDir.string(), (dir / "q8_0.gguf").string(),
                                    (dir / "q4_0.gguf").string())
                            .c_str()),
            0);
}

// Llama 3.1/3.2's rope scaling: llama.cpp reads it as rope_freqs.weight, the factor each
// frequency is divided by; here against convert_hf_to_gguf.py's formula, written out.
TEST(GgufExport, Llama3RopeScalingBecomesRopeFreqs) {
  REQUIRE_STORIES();
  TempDir dir;
  ModelFiles files = ModelFiles::read(kStoriesDir);
  files.config["rope_scaling"] = {{"rope_type", "llama3"},
                                  {"factor", 8.0},
                                  {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0},
                                  {"original_max_position_embeddings", 8192}};
  files.write(dir / "m");
  const std::unique_ptr<Model> model = load_model(dir / "m");
  const auto tokenizer = engine::Tokenizer::from_directory(kStoriesDir);
  engine::export_gguf(*model, dir / "m", tokenizer, dir / "r.gguf",
                      {.type = GgmlType::f32, .name = ""});
  const Exported e = Exported::read(dir / "r.gguf");
  const std::vector<float> got = e.values("rope_freqs.weight");
  ASSERT_EQ(got.size(), 4u);  // head_dim 8
  const double pi = 3.14159265358979323846;
  for (std::size_t i = 0; i < 4; ++i) {
    const double freq = 1.0 / std::pow(10000.0, 2.0 * static_cast<double>(i) / 8.0);
    const double wavelen = 2 * pi / freq, high = 8192.0 / 4.0, low = 8192.0 / 1.0;
    double want = 1.0;
    if (wavelen > low) {
      want = 8.0;
    } else if (wavelen >= high) {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = 1.0 / ((1 - smooth) / 8.0 + smooth);
    }
    EXPECT_NEAR(got[i], want, 1e-5 * want) << i;
  }
  EXPECT_GT(got[3], 4.0f);  // the last frequency sits between the two wavelengths
}

// transformers 5 writes rope_theta inside rope_parameters, with the scaling: the export
// writes that base (not 10000, the base when there is none) and the scaling beside it.
TEST(GgufExport, RopeThetaInsideRopeParametersIsTheFreqBase) {
  REQUIRE_STORIES();
  TempDir dir;
  const auto tokenizer = engine::Tokenizer::from_directory(kStoriesDir);
  for (const std::string type : {"default", "llama3"}) {
    SCOPED_TRACE(type);
    ModelFiles files = ModelFiles::read(kStoriesDir);
    files.config.erase("rope_theta");
    files.config["rope_parameters"] = {{"rope_type", type}, {"rope_theta", 500000.0}};
    if (type == "llama3")
      files.config["rope_parameters"].update({{"factor", 8.0},
                                              {"low_freq_factor", 1.0},
                                              {"high_freq_factor", 4.0},
                                              {"original_max_position_embeddings", 8192}});
    files.write(dir / type);
    const std::unique_ptr<Model> model = load_model(dir / type);
    engine::export_gguf(*model, dir / type, tokenizer, dir / (type + ".gguf"),
                        {.type = GgmlType::f32, .name = ""});
    const Exported e = Exported::read(dir / (type + ".gguf"));
    EXPECT_EQ(e.file.require("llama.rope.freq_base").as_float("f"), 500000.0);
    if (type == "default") {
      EXPECT_THROW(e.tensor("rope_freqs.weight"), std::runtime_error);
      continue;
    }
    // Under base 500000 the lowest frequency of head_dim 8 has a wavelength of
    // 2π·500000^(3/4) ≈ 118000, beyond 8192 / low_freq_factor: divided by the whole factor.
    // The highest (wavelength 2π) is left alone.
    const std::vector<float> factors = e.values("rope_freqs.weight");
    ASSERT_EQ(factors.size(), 4u);
    EXPECT_FLOAT_EQ(factors[0], 1.0f);
    EXPECT_FLOAT_EQ(factors[3], 8.0f);
  }
}

// Qwen2 (q/k/v biases) and Qwen3 (q/k norms): llama.cpp runs their rope rotate-half, so
// the export writes q and k as they are, under the qwen2 / qwen3 architecture.
TEST(GgufExport, QwenModelsKeepTheirRowOrderBiasesAndNorms) {
  TempDir dir;
  write_random_model("tiny", dir / "tiny", 3);
  const auto tokenizer = engine::Tokenizer::from_directory(dir / "tiny");
  for (const std::string arch : {"qwen2", "qwen3"}) {
    SCOPED_TRACE(arch);
    ModelFiles files = ModelFiles::read(dir / "tiny");
    files.config["model_type"] = arch;
    for (int i = 0; i < 4; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".self_attn.";
      const auto ramp = [&](std::int64_t n) {
        std::vector<float> v(static_cast<std::size_t>(n));
        for (std::int64_t k = 0; k < n; ++k) v[static_cast<std::size_t>(k)] = 0.01f * (k + i);
        return Tensor::from_vector(v, {n}, backend());
      };
      if (arch == "qwen2") {
        files.set(p + "q_proj.bias", ramp(128));
        files.set(p + "k_proj.bias", ramp(64));
        files.set(p + "v_proj.bias", ramp(64));
      } else {
        files.set(p + "q_norm.weight", ramp(32));
        files.set(p + "k_norm.weight", ramp(32));
      }
    }
    files.write(dir / arch);
    const std::unique_ptr<Model> model = load_model(dir / arch);
    engine::export_gguf(*model, dir / arch, tokenizer, dir / (arch + ".gguf"),
                        {.type = GgmlType::f32, .name = ""});
    const Exported e = Exported::read(dir / (arch + ".gguf"));
    EXPECT_EQ(e.file.require("general.architecture").as_string("a"), arch);
    EXPECT_EQ(e.file.require(arch + ".attention.head_count_kv").as_int("k"), 2);
    EXPECT_EQ(e.values("blk.1.attn_q.weight"),
              files.find("model.layers.1.self_attn.q_proj.weight")->to_vector());
    EXPECT_EQ(e.values("blk.1.attn_k.weight"),
              files.find("model.layers.1.self_attn.k_proj.weight")->to_vector());
    if (arch == "qwen2") {
      EXPECT_EQ(e.values("blk.2.attn_q.bias"),
                files.find("model.layers.2.self_attn.q_proj.bias")->to_vector());
      EXPECT_EQ(e.tensor("blk.2.attn_v.bias").ggml_type, 0u);
    } else {
      EXPECT_EQ(e.values("blk.3.attn_k_norm.weight"),
                files.find("model.layers.3.self_attn.k_norm.weight")->to_vector());
    }
  }
}

// A failure while writing (here, making a tensor's bytes) leaves the file that was there.
TEST(GgufExport, AFailedWriteLeavesTheEarlierFile) {
  TempDir dir;
  std::ofstream(dir / "m.gguf") << "earlier";
  engine::GgufWriter writer;
  writer.add("general.architecture", std::string("llama"));
  writer.add_tensor("a.weight", GgmlType::f32, {4}, [] { return std::vector<std::uint8_t>(16); });
  writer.add_tensor("b.weight", GgmlType::f32, {4},
                    []() -> std::vector<std::uint8_t> { throw Error("disk on fire"); });
  EXPECT_THROW(writer.write(dir / "m.gguf"), Error);
  EXPECT_EQ(read_text(dir / "m.gguf"), "earlier");
  EXPECT_FALSE(fs::exists(dir / "m.gguf.partial"));
}

// A loaded model that reports another rope scaling, as a model plugin that reads yarn would
// (the llama plugin refuses yarn when it loads): everything else it passes on.
class ReportsRopeScaling final : public Model {
 public:
  ReportsRopeScaling(std::unique_ptr<Model> model, ops::RopeScaling scaling)
      : model_(std::move(model)), scaling_(std::move(scaling)) {}
  void load(const ModelLoadOptions& o, Backend& b) override { model_->load(o, b); }
  Tensor forward(const ModelInput& input) override { return model_->forward(input); }
  Tensor lm_head() const override { return model_->lm_head(); }
  std::vector<Parameter> parameters() const override { return model_->parameters(); }
  std::vector<Linear*> linear_layers() override { return model_->linear_layers(); }
  ModelInfo info() const override {
    ModelInfo info = model_->info();
    info.rope_scaling = scaling_;
    return info;
  }
  Tensor logits(const ModelInput& input) override { return model_->logits(input); }
  void set_activation_checkpointing(bool on) override { model_->set_activation_checkpointing(on); }
  std::unique_ptr<DecodeState> begin_decode(std::int64_t n) override {
    return model_->begin_decode(n);
  }
  Tensor decode(DecodeState& state, const std::vector<std::int32_t>& tokens) override {
    return model_->decode(state, tokens);
  }
  std::vector<TensorSpec> tensor_layout() const override { return model_->tensor_layout(); }

 private:
  std::unique_ptr<Model> model_;
  ops::RopeScaling scaling_;
};

TEST(GgufExport, RefusesWhatLlamaCppWouldReadDifferently) {
  REQUIRE_STORIES();
  TempDir dir;
  ops::RopeScaling yarn;
  yarn.type = "yarn";
  yarn.factor = 4.0f;
  const ReportsRopeScaling model(load_model(kStoriesDir), yarn);
  const auto tokenizer = engine::Tokenizer::from_directory(kStoriesDir);
  try {
    engine::export_gguf(model, kStoriesDir, tokenizer, dir / "x.gguf");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling type \"yarn\" is not exported to GGUF"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
  EXPECT_THROW(engine::parse_gguf_type("q4_k"), Error);
}

}  // namespace
}  // namespace ft::testing
