// `init-model` directories: they load back through the plugin with the parameter count the
// preset implies, in the layout and tokenizer format Hugging Face tools expect.
#include "engine/model_init/model_init.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

// The parameters of a preset as the llama plugin lays it out, from its config.json alone.
std::int64_t preset_parameters(std::string_view preset) {
  TempDir dir;
  return engine::parameter_count(
      engine::preset_layout(*Plugins::get().model(), engine::model_preset(preset), dir.path()));
}

std::int64_t loaded_parameters(const fs::path& dir) {
  const std::unique_ptr<Model> model = load_model(dir);
  std::int64_t count = 0;
  for (const Parameter& p : model->parameters()) count += p.tensor.numel();
  return count;
}

TEST(InitModel, TinyLoadsWithTheHandCountedParameters) {
  TempDir dir;
  const engine::RandomModel m = write_random_model("tiny", dir / "tiny", 1);
  // vocab 258, hidden 128, 4 layers, 4 heads of 32, 2 kv heads (k, v: 64 x 128), MLP 352:
  //   embeddings and LM head  2 * 258 * 128                        =  66048
  //   per layer  q, o 2 * 128 * 128 + k, v 2 * 64 * 128             =  49152
  //              gate, up, down 3 * 352 * 128                       = 135168
  //              two norms 2 * 128                                  =    256
  //   4 layers * 184576 + final norm 128                            = 738432
  const std::int64_t expected = 66048 + 738432;
  EXPECT_EQ(expected, 804480);
  EXPECT_EQ(m.parameters, expected);
  EXPECT_EQ(preset_parameters("tiny"), expected);
  EXPECT_EQ(loaded_parameters(dir / "tiny"), expected);

  for (const char* file : {"config.json", "generation_config.json", "model.safetensors",
                           "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(dir / "tiny" / file)) << file;
  const nlohmann::json config = read_json(dir / "tiny" / "config.json");
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["vocab_size"], 258);
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["tie_word_embeddings"], false);
  EXPECT_EQ(config["rms_norm_eps"], 1e-5);
  EXPECT_EQ(config["bos_token_id"], 256);
  EXPECT_EQ(config["eos_token_id"], 257);

  const std::unique_ptr<Model> model = load_model(dir / "tiny");
  EXPECT_EQ(model->info().eos_token_ids, std::vector<std::int32_t>{engine::kByteTokenizerEos});
  ModelInput input;
  input.tokens = ids_tensor({256, 104, 105});
  const std::vector<float> logits = model->logits(input).to_vector();
  EXPECT_EQ(logits.size(), 3u * 258u);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

TEST(InitModel, WeightsFollowTheHuggingFaceInitAndTheSeed) {
  TempDir dir;
  write_random_model("tiny", dir / "a", 1);
  write_random_model("tiny", dir / "b", 1);
  write_random_model("tiny", dir / "c", 2);
  EXPECT_EQ(read_bytes(dir / "a" / "model.safetensors"),
            read_bytes(dir / "b" / "model.safetensors"));
  EXPECT_NE(read_bytes(dir / "a" / "model.safetensors"),
            read_bytes(dir / "c" / "model.safetensors"));

  const io::SafetensorsFile f(dir / "a" / "model.safetensors");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (float x : f.load("model.norm.weight", backend()).to_vector()) ASSERT_EQ(x, 1.0f);
  // normal(0, 0.02): the mean and standard deviation of 258 * 128 draws.
  const std::vector<float> e = f.load("model.embed_tokens.weight", backend()).to_vector();
  double sum = 0, sq = 0;
  for (float x : e) sum += x, sq += double(x) * x;
  const double mean = sum / e.size(), sd = std::sqrt(sq / e.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 4 * 0.02 / std::sqrt(double(e.size())));
  EXPECT_NEAR(sd, 0.02, 0.0005);
  // Different tensors are different streams.
  const std::vector<float> q =
      f.load("model.layers.0.self_attn.q_proj.weight", backend()).to_vector();
  const std::vector<float> k =
      f.load("model.layers.0.self_attn.k_proj.weight", backend()).to_vector();
  EXPECT_NE(std::vector<float>(q.begin(), q.begin() + 16),
            std::vector<float>(k.begin(), k.begin() + 16));
}

// --dtype bf16 / f16: the f32 draws of the same seed, rounded, as published checkpoints
// store them; config.json says so, and the model loads.
TEST(InitModel, HalfPrecisionWeightsAreTheF32OnesRounded) {
  TempDir dir;
  write_random_model("tiny", dir / "f32", 5);
  write_random_model("tiny", dir / "bf16", 5, DType::bf16);
  write_random_model("tiny", dir / "f16", 5, DType::f16);
  EXPECT_EQ(read_json(dir / "bf16" / "config.json")["torch_dtype"], "bfloat16");
  EXPECT_EQ(read_json(dir / "f16" / "config.json")["torch_dtype"], "float16");
  const io::SafetensorsFile f32(dir / "f32" / "model.safetensors");
  const io::SafetensorsFile bf16(dir / "bf16" / "model.safetensors");
  const io::SafetensorsFile f16(dir / "f16" / "model.safetensors");
  for (const io::SafetensorsTensorInfo& t : f32.tensors()) {
    SCOPED_TRACE(t.name);
    EXPECT_EQ(bf16.find(t.name)->dtype, "BF16");
    EXPECT_EQ(f16.find(t.name)->dtype, "F16");
    const std::vector<float> exact = f32.load(t.name, backend()).to_vector();
    const std::vector<float> b = bf16.load(t.name, backend()).to_vector();
    const std::vector<float> h = f16.load(t.name, backend()).to_vector();
    ASSERT_EQ(b.size(), exact.size());
    for (std::size_t i = 0; i < exact.size(); ++i) {
      ASSERT_EQ(b[i], bf16_to_f32(f32_to_bf16(exact[i])));
      ASSERT_EQ(h[i], f16_to_f32(f32_to_f16(exact[i])));
    }
  }
  EXPECT_EQ(loaded_parameters(dir / "bf16"), 804480);
  EXPECT_EQ(error_of([&] { write_random_model("tiny", dir / "i", 5, DType::i32); }),
            "init-model: dtype i32 is not a weight dtype; use f32, bf16 or f16");
}

TEST(InitModel, RefusesUnknownPresetsAndNonEmptyDirectories) {
  TempDir dir;
  EXPECT_EQ(error_of([&] { write_random_model("huge", dir / "x", 1); }),
            "unknown model preset \"huge\"; presets: tiny, bench-25m, bench-125m, bench-1b");
  write_bytes(dir / "keep.txt", "mine");
  EXPECT_EQ(error_of([&] { write_random_model("tiny", dir.path(), 1); }),
            dir.path().string() +
                ": directory is not empty; init-model writes into a new or "
                "empty directory so it overwrites nothing");
}

TEST(InitModel, BenchPresetsLoadWithTheirParameterCounts) {
  // bench-25m: vocab 8192, hidden 512, 6 layers, 8 heads of 64, 4 kv heads (256), MLP 1408.
  const std::int64_t bench25 =
      2 * 8192 * 512 + 6 * (2 * 512 * 512 + 2 * 256 * 512 + 3 * 1408 * 512 + 2 * 512) + 512;
  EXPECT_EQ(bench25, 26089984);
  // bench-125m: vocab 32000, hidden 768, 12 layers, 12 heads of 64, 4 kv heads, MLP 2048.
  const std::int64_t bench125 =
      2 * 32000 * 768 + 12 * (2 * 768 * 768 + 2 * 256 * 768 + 3 * 2048 * 768 + 2 * 768) + 768;
  EXPECT_EQ(bench125, 124668672);
  EXPECT_EQ(preset_parameters("bench-25m"), bench25);
  EXPECT_EQ(preset_parameters("bench-125m"), bench125);
  // bench-1b, TinyLlama-1.1B's shape: vocab 32000, hidden 2048, 22 layers, 32 heads of 64,
  // 4 kv heads, MLP 5632.
  const std::int64_t bench1b =
      2 * 32000 * 2048 + 22 * (2 * 2048 * 2048 + 2 * 256 * 2048 + 3 * 5632 * 2048 + 2 * 2048) +
      2048;
  EXPECT_EQ(bench1b, 1100048384);  // TinyLlama-1.1B: 1,100,048,384
  EXPECT_EQ(preset_parameters("bench-1b"), bench1b);

  TempDir dir;
  const engine::RandomModel m = write_random_model("bench-25m", dir / "m", 3);
  EXPECT_EQ(m.parameters, bench25);
  EXPECT_EQ(loaded_parameters(dir / "m"), bench25);
  const nlohmann::json config = read_json(dir / "m" / "config.json");
  EXPECT_EQ(config["vocab_size"], 8192);
  EXPECT_EQ(config["head_dim"], 64);
}

// 500 MB of F32 weights: about 2.5 s on two cores, most of it writing the file.
TEST(InitModel, Bench125mLoadsWithItsParameterCount) {
  TempDir dir;
  const engine::RandomModel m = write_random_model("bench-125m", dir / "m", 3);
  EXPECT_EQ(m.parameters, 124668672);
  const io::SafetensorsFile f(dir / "m" / "model.safetensors");
  EXPECT_EQ(f.tensors().back().end, 4u * 124668672u);
  EXPECT_EQ(loaded_parameters(dir / "m"), 124668672);
}

TEST(InitModel, TokenizerIsHuggingFaceByteLevelBpe) {
  const nlohmann::json t = nlohmann::json::parse(engine::byte_tokenizer_json());
  EXPECT_EQ(t["version"], "1.0");
  EXPECT_EQ(t["model"]["type"], "BPE");
  EXPECT_TRUE(t["model"]["merges"].empty());
  EXPECT_EQ(t["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(t["decoder"]["type"], "ByteLevel");
  EXPECT_EQ(t["post_processor"]["type"], "TemplateProcessing");
  EXPECT_EQ(t["post_processor"]["special_tokens"]["<|begin_of_text|>"]["ids"][0], 256);
  ASSERT_EQ(t["added_tokens"].size(), 2u);
  EXPECT_EQ(t["added_tokens"][0]["content"], "<|begin_of_text|>");
  EXPECT_EQ(t["added_tokens"][0]["id"], 256);
  EXPECT_EQ(t["added_tokens"][1]["content"], "<|end_of_text|>");
  EXPECT_EQ(t["added_tokens"][1]["special"], true);
  const nlohmann::json& vocab = t["model"]["vocab"];
  ASSERT_EQ(vocab.size(), 256u);
  EXPECT_EQ(vocab["!"], 0);
  EXPECT_EQ(vocab["\xC4\xA0"], 220);  // "Ġ" = the space byte, id 220 as in GPT-2

  // Ids 0..255 are GPT-2's byte symbols (from GPT-2's own vocab.json).
  const fs::path gpt2 =
      fs::path(FTENGINE_SHARED_TESTDATA) / "tokenizers" / "gpt2" / "gpt2_vocab.json";
  if (!fs::exists(gpt2)) GTEST_SKIP() << "test data absent: " << gpt2.string();
  const nlohmann::json reference = read_json(gpt2);
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    EXPECT_EQ(reference.at(it.key()), it.value()) << it.key();

  const nlohmann::json c = nlohmann::json::parse(engine::byte_tokenizer_config_json(2048));
  EXPECT_EQ(c["add_bos_token"], true);
  EXPECT_EQ(c["bos_token"], "<|begin_of_text|>");
  EXPECT_EQ(c["eos_token"], "<|end_of_text|>");
  EXPECT_EQ(c["added_tokens_decoder"]["257"]["content"], "<|end_of_text|>");
}

}  // namespace
}  // namespace ft::testing
