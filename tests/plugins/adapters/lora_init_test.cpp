// LoRA's starting point: B = 0 (the model's output is unchanged), A as PEFT's
// Kaiming-uniform drawn from Philox, the same for a seed on every machine, its own per layer.
#include "ftengine/philox.hpp"
#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

const std::string kQ0 = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
const std::string kQ1 = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight";
const std::string kDown0 = "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight";

TEST(LoraInit, FreshAdapterLeavesLogitsUnchanged) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<float> base = logits_of(*model);
  const std::unique_ptr<Adapter> lora =
      make_adapter("lora", lora_options({}).set("target_modules", "all-linear"));
  lora->attach(*model, backend());
  ASSERT_EQ(lora->trainable_parameters().size(), 2u * 35u);
  for (const Parameter& p : lora->trainable_parameters()) {
    const std::vector<float> v = p.tensor.to_vector();
    const bool all_zero = std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
    EXPECT_EQ(all_zero, p.name.find("lora_B") != std::string::npos) << p.name;
  }
  EXPECT_EQ(max_abs_diff(logits_of(*model), base), 0.0f);
}

// Uniform in ±1/sqrt(in): inside the bound, reaching close to it, with the variance of a
// uniform distribution (bound² / 3).
void expect_kaiming_uniform(const std::vector<float>& a, std::int64_t in_features,
                            const std::string& what) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  double max_abs = 0, mean = 0, var = 0;
  for (float x : a) {
    max_abs = std::max(max_abs, static_cast<double>(std::abs(x)));
    mean += x;
  }
  mean /= static_cast<double>(a.size());
  for (float x : a) var += (x - mean) * (x - mean);
  var /= static_cast<double>(a.size());
  EXPECT_LE(max_abs, bound) << what;
  EXPECT_GT(max_abs, 0.95 * bound) << what;
  EXPECT_NEAR(mean, 0.0, 0.1 * bound) << what;
  EXPECT_NEAR(var, bound * bound / 3.0, 0.15 * bound * bound / 3.0) << what;
}

TEST(LoraInit, AIsKaimingUniformOwnPerLayerAndRepeatsForASeed) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> m1 = load_model(kStoriesDir);
  const std::unique_ptr<Model> m2 = load_model(kStoriesDir);
  const std::unique_ptr<Model> m3 = load_model(kStoriesDir);
  const Options options = lora_options({"q_proj", "down_proj"});
  const std::unique_ptr<Adapter> a1 = make_adapter("lora", options);
  const std::unique_ptr<Adapter> a2 = make_adapter("lora", options);
  const std::unique_ptr<Adapter> a3 =
      make_adapter("lora", Options(options).set("seed", std::int64_t{43}));
  a1->attach(*m1, backend());
  a2->attach(*m2, backend());
  a3->attach(*m3, backend());

  const std::vector<Parameter> p1 = a1->trainable_parameters();
  const std::vector<float> q0 = find_parameter(p1, kQ0).to_vector();
  const std::vector<float> q1 = find_parameter(p1, kQ1).to_vector();
  const std::vector<float> down0 = find_parameter(p1, kDown0).to_vector();
  ASSERT_EQ(q0.size(), 8u * 64u);
  ASSERT_EQ(down0.size(), 8u * 172u);
  expect_kaiming_uniform(q0, 64, kQ0);
  expect_kaiming_uniform(down0, 172, kDown0);
  EXPECT_GT(max_abs_diff(q0, q1), 0.01f) << "layers 0 and 1 drew the same A";

  const std::vector<Parameter> p2 = a2->trainable_parameters();
  const std::vector<Parameter> p3 = a3->trainable_parameters();
  ASSERT_EQ(p1.size(), p2.size());
  for (std::size_t i = 0; i < p1.size(); ++i) {
    EXPECT_EQ(p1[i].name, p2[i].name);
    EXPECT_EQ(max_abs_diff(p1[i].tensor.to_vector(), p2[i].tensor.to_vector()), 0.0f)
        << p1[i].name << ": the same seed gave another A";
  }
  EXPECT_GT(max_abs_diff(q0, find_parameter(p3, kQ0).to_vector()), 0.01f)
      << "seeds 42 and 43 gave the same A";
}

// The documented draw (lora_hook.hpp), so a seed gives these values on any machine:
// element e of the layer at position i of linear_layers() is word e % 4 of
// philox4x32_10(counter = (e / 4, i, "LoRA"), key = seed), mapped to ±1/sqrt(in).
TEST(LoraInit, ADrawsFromPhiloxByLayerPosition) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", lora_options({"q_proj"}, 4));
  lora->attach(*model, backend());
  // q_proj of layer 1 is linear layer 7 (q, k, v, o, gate, up, down per layer).
  const std::vector<float> a = find_parameter(lora->trainable_parameters(), kQ1).to_vector();
  ASSERT_EQ(a.size(), 4u * 64u);
  for (std::size_t e : {0u, 1u, 2u, 3u, 5u, 255u}) {
    const Philox4x32 bits = philox4x32_10(
        Philox4x32{{static_cast<std::uint32_t>(e / 4), 0u, 7u, 0x4C6F5241u}}, 42u, 0u);
    const float u = static_cast<float>(bits.v[e % 4] >> 8) / 16777216.0f;
    EXPECT_FLOAT_EQ(a[e], (2.0f * u - 1.0f) / 8.0f) << "element " << e;
  }
}

TEST(LoraInit, ParametersHavePeftNamesAndStayF32OnABf16Model) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir, DType::bf16);
  const std::unique_ptr<Adapter> lora =
      make_adapter("lora", lora_options({"v_proj", "up_proj"}, 4));
  lora->attach(*model, backend());
  const std::vector<Parameter> params = lora->trainable_parameters();
  ASSERT_EQ(params.size(), 20u);
  EXPECT_EQ(params[0].name, "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight");
  EXPECT_EQ(params[0].tensor.shape(), (Shape{4, 64}));
  EXPECT_EQ(params[1].name, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight");
  EXPECT_EQ(params[1].tensor.shape(), (Shape{32, 4}));
  EXPECT_EQ(params[2].name, "base_model.model.model.layers.0.mlp.up_proj.lora_A.weight");
  EXPECT_EQ(params[3].tensor.shape(), (Shape{172, 4}));
  for (const Parameter& p : params) {
    EXPECT_EQ(p.tensor.dtype(), DType::f32) << p.name;
    EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
  }
  for (const Parameter& p : model->parameters()) {
    EXPECT_EQ(p.tensor.dtype(), DType::bf16) << p.name;
    EXPECT_FALSE(p.tensor.requires_grad()) << p.name << ": a base weight was unfrozen";
  }
  // The hooked bf16 model runs, and the fresh adapter changes nothing.
  const std::unique_ptr<Model> plain = load_model(kStoriesDir, DType::bf16);
  EXPECT_EQ(max_abs_diff(logits_of(*model), logits_of(*plain)), 0.0f);
}

}  // namespace
}  // namespace ft::testing
