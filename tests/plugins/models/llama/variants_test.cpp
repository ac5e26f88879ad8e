// Mistral (sliding window), Qwen2 (q/k/v biases, windowed upper layers) and Qwen3 (q/k norm):
// models written here from a random `tiny` model, each checked for what makes it different
// and for KV-cached decoding agreeing with the full forward.
#include "engine/model_init/model_init.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

// A small random model whose attention is far from uniform: q/k weights scaled up so the
// window and the norms change the output visibly.
ModelFiles base_model(const TempDir& dir) {
  write_random_model("tiny", dir / "tiny", 7);
  ModelFiles files = ModelFiles::read(dir / "tiny");
  for (auto& [name, t] : files.tensors)
    if (name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight"))
      t = ops::scale(t, 25.0f);
  return files;
}

Tensor random_vector(std::int64_t n, float center, float spread, int seed) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[i] = center + spread * std::sin(1.7f * i + seed);
  return Tensor::from_vector(v, {n}, backend());
}

const std::vector<std::int32_t> kTokens{256, 72,  101, 108, 108, 111, 44,
                                        32,  119, 111, 114, 108, 100, 33};

std::vector<float> full_logits(Model& model) {
  ModelInput input;
  input.tokens = ids_tensor(kTokens);
  return model.logits(input).to_vector();
}

// Decodes kTokens (4 at once, 3 at once, then one by one) and returns the worst difference
// from the full forward's logits at the same positions.
float decode_vs_forward(Model& model) {
  const std::int64_t vocab = model.info().vocab_size;
  const std::vector<float> full = full_logits(model);
  std::unique_ptr<DecodeState> state =
      model.begin_decode(static_cast<std::int64_t>(kTokens.size()));
  float worst = 0.0f;
  std::size_t pos = 0;
  while (pos < kTokens.size()) {
    const std::size_t n = pos == 0 ? 4 : pos == 4 ? 3 : 1;
    const std::vector<std::int32_t> chunk(kTokens.begin() + pos, kTokens.begin() + pos + n);
    const std::vector<float> got = model.decode(*state, chunk).to_vector();
    pos += n;
    worst = std::max(worst, max_abs_diff(got, std::vector<float>(full.begin() + (pos - 1) * vocab,
                                                                 full.begin() + pos * vocab)));
  }
  return worst;
}

TEST(LlamaVariants, MistralSlidingWindow) {
  TempDir dir;
  ModelFiles files = base_model(dir);
  files.write(dir / "llama");
  files.config["model_type"] = "mistral";
  files.config["architectures"] = {"MistralForCausalLM"};
  files.config["sliding_window"] = 3;
  files.write(dir / "mistral");
  files.config["sliding_window"] = nullptr;
  files.write(dir / "mistral-full");

  const std::unique_ptr<Model> llama = load_model(dir / "llama");
  const std::unique_ptr<Model> mistral = load_model(dir / "mistral");
  const std::unique_ptr<Model> full = load_model(dir / "mistral-full");
  EXPECT_EQ(mistral->info().model_type, "mistral");
  const std::vector<float> a = full_logits(*llama), b = full_logits(*mistral);
  // sliding_window null is no window; 3 changes every position from the fourth on only.
  EXPECT_EQ(max_abs_diff(full_logits(*full), a), 0.0f);
  const std::int64_t vocab = engine::kByteTokenizerVocab;
  EXPECT_EQ(max_abs_diff(std::vector<float>(a.begin(), a.begin() + 3 * vocab),
                         std::vector<float>(b.begin(), b.begin() + 3 * vocab)),
            0.0f);
  EXPECT_GT(max_abs_diff(a, b), 1e-3f);
  EXPECT_LT(decode_vs_forward(*mistral), 1e-4f);
}

TEST(LlamaVariants, Qwen2BiasesAndWindowedUpperLayers) {
  TempDir dir;
  ModelFiles files = base_model(dir);
  files.config["model_type"] = "qwen2";
  files.config["architectures"] = {"Qwen2ForCausalLM"};
  files.config["use_sliding_window"] = false;
  files.config["sliding_window"] = 4;
  files.config["max_window_layers"] = 2;
  // Qwen2 always has q/k/v biases, so a checkpoint without them is incomplete.
  files.write(dir / "nobias");
  EXPECT_NE(error_of([&] { load_model(dir / "nobias"); })
                .find("missing tensor "
                      "\"model.layers.0.self_attn.q_proj.bias\""),
            std::string::npos);
  for (int i = 0; i < 4; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".self_attn.";
    files.set(p + "q_proj.bias", random_vector(128, 0.0f, 0.5f, i));
    files.set(p + "k_proj.bias", random_vector(64, 0.0f, 0.5f, i + 10));
    files.set(p + "v_proj.bias", random_vector(64, 0.0f, 0.5f, i + 20));
  }
  files.write(dir / "qwen2");
  files.config["use_sliding_window"] = true;
  files.write(dir / "qwen2-window");

  const std::unique_ptr<Model> qwen2 = load_model(dir / "qwen2");
  const std::unique_ptr<Model> windowed = load_model(dir / "qwen2-window");
  std::int64_t biases = 0;
  for (const Parameter& p : qwen2->parameters()) biases += p.name.ends_with(".bias");
  EXPECT_EQ(biases, 12);
  EXPECT_TRUE(qwen2->linear_layers()[0]->bias().defined());
  EXPECT_FALSE(qwen2->linear_layers()[3]->bias().defined());  // o_proj: never in Qwen2
  EXPECT_GT(max_abs_diff(full_logits(*qwen2), full_logits(*windowed)), 1e-3f);
  EXPECT_LT(decode_vs_forward(*qwen2), 1e-4f);
  EXPECT_LT(decode_vs_forward(*windowed), 1e-4f);
}

TEST(LlamaVariants, Qwen3QueryKeyNorm) {
  TempDir dir;
  ModelFiles files = base_model(dir);
  files.write(dir / "llama");
  files.config["model_type"] = "qwen3";
  files.config["architectures"] = {"Qwen3ForCausalLM"};
  for (int i = 0; i < 4; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".self_attn.";
    files.set(p + "q_norm.weight", random_vector(32, 1.0f, 0.5f, i));
    files.set(p + "k_norm.weight", random_vector(32, 1.0f, 0.5f, i + 5));
  }
  files.write(dir / "qwen3");
  const std::unique_ptr<Model> qwen3 = load_model(dir / "qwen3");
  std::int64_t norms = 0;
  for (const Parameter& p : qwen3->parameters())
    norms += p.name.ends_with("q_norm.weight") || p.name.ends_with("k_norm.weight");
  EXPECT_EQ(norms, 8);
  const std::unique_ptr<Model> llama = load_model(dir / "llama");
  EXPECT_GT(max_abs_diff(full_logits(*llama), full_logits(*qwen3)), 1e-3f);
  EXPECT_LT(decode_vs_forward(*qwen3), 1e-4f);

  // Without the norms, a qwen3 checkpoint is incomplete.
  files.erase("model.layers.1.self_attn.k_norm.weight");
  files.write(dir / "broken");
  EXPECT_NE(error_of([&] {
              load_model(dir / "broken");
            }).find("missing tensor \"model.layers.1.self_attn.k_norm.weight\" (shape [32])"),
            std::string::npos);
}

TEST(LlamaVariants, RopeScalingChangesPositionsOnly) {
  TempDir dir;
  ModelFiles files = base_model(dir);
  files.write(dir / "llama");
  files.config["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  files.write(dir / "linear");
  files.config["rope_scaling"] = {{"rope_type", "llama3"},
                                  {"factor", 8.0},
                                  {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0},
                                  {"original_max_position_embeddings", 16}};
  files.write(dir / "llama3");
  const std::unique_ptr<Model> plain = load_model(dir / "llama");
  const std::vector<float> a = full_logits(*plain);
  const std::int64_t vocab = engine::kByteTokenizerVocab;
  for (const char* variant : {"linear", "llama3"}) {
    const std::unique_ptr<Model> scaled = load_model(dir / variant);
    const std::vector<float> b = full_logits(*scaled);
    // Position 0 has angle 0 whatever the frequencies.
    EXPECT_EQ(max_abs_diff(std::vector<float>(a.begin(), a.begin() + vocab),
                           std::vector<float>(b.begin(), b.begin() + vocab)),
              0.0f)
        << variant;
    EXPECT_GT(max_abs_diff(a, b), 1e-4f) << variant;
    EXPECT_LT(decode_vs_forward(*scaled), 1e-4f) << variant;
  }
}

}  // namespace
}  // namespace ft::testing
