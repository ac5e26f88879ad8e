// Full fine-tuning: every weight but the frozen ones trains, in f32, and the result is a
// Hugging Face model directory that the llama plugin loads back as it was.
#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

Options freeze(const std::vector<std::string>& names) {
  Options o("adapter");
  o.set("freeze", names);
  return o;
}

Tensor story_targets() {
  return Tensor::from_ints({403, 17, 289, 65, 311, 42, 500, 2, 7, 250, 33, 498, 12, 64, 3, -100},
                           {2, 8}, backend());
}

void backward_loss(Model& model) {
  ModelInput input;
  input.tokens = sample_tokens();
  ops::cross_entropy(model.forward(input), model.lm_head(), story_targets()).backward();
}

TEST(FullAdapter, FrozenParametersGetNoGradient) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> full = make_adapter("full", freeze({"embed_tokens", "norm"}));
  full->attach(*model, backend());

  std::vector<std::string> expected;
  for (const Parameter& p : model->parameters()) {
    const bool frozen = p.name.find("embed_tokens") != std::string::npos ||
                        p.name.find("norm") != std::string::npos;
    EXPECT_EQ(p.tensor.requires_grad(), !frozen) << p.name;
    if (!frozen) expected.push_back(p.name);
  }
  std::vector<std::string> trainable;
  for (const Parameter& p : full->trainable_parameters()) trainable.push_back(p.name);
  EXPECT_EQ(trainable, expected);
  EXPECT_EQ(trainable.size(), 35u);

  backward_loss(*model);
  for (const Parameter& p : model->parameters())
    EXPECT_EQ(p.tensor.grad().defined(), p.tensor.requires_grad()) << p.name;
}

TEST(FullAdapter, RefusesBf16Weights) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir, DType::bf16);
  EXPECT_EQ(error_of([&] { make_adapter("full")->attach(*model, backend()); }),
            "full: the model was loaded as bf16 (\"model.embed_tokens.weight\"); full fine-tuning "
            "trains f32 master weights: set model.dtype = \"f32\"");
  for (const Parameter& p : model->parameters()) EXPECT_FALSE(p.tensor.requires_grad()) << p.name;
}

TEST(FullAdapter, SavedModelReloadsWithTheSameLogits) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<float> base = logits_of(*model);
  const std::unique_ptr<Adapter> full = make_adapter("full", freeze({"embed_tokens"}));
  full->attach(*model, backend());

  // One plain gradient step, in place (the weights may be views of the base file's
  // copy-on-write mapping: the file must not change).
  backward_loss(*model);
  for (const Parameter& p : full->trainable_parameters()) {
    std::vector<float> w = p.tensor.to_vector();
    const std::vector<float> g = p.tensor.grad().to_vector();
    for (std::size_t i = 0; i < w.size(); ++i) w[i] -= 0.5f * g[i];
    p.tensor.copy_from_host(w.data());
  }
  const std::vector<float> trained = logits_of(*model);
  ASSERT_GT(max_abs_diff(trained, base), 1e-3f);
  EXPECT_EQ(max_abs_diff(logits_of(*load_model(kStoriesDir)), base), 0.0f)
      << "training changed the base model's file";

  TempDir dir;
  AdapterSaveInfo info;
  info.base_model_dir = kStoriesDir;
  full->save(dir.path(), info);
  EXPECT_EQ(max_abs_diff(logits_of(*load_model(dir.path())), trained), 0.0f);
  EXPECT_EQ(read_bytes(dir / "tokenizer.json"), read_bytes(kStoriesDir / "tokenizer.json"));
  EXPECT_EQ(read_json(dir / "config.json")["torch_dtype"], "float32");

  TempDir bf16_dir;
  info.dtype = DType::bf16;
  full->save(bf16_dir.path(), info);
  EXPECT_EQ(read_json(bf16_dir / "config.json")["torch_dtype"], "bfloat16");
  const io::SafetensorsFile file(bf16_dir / "model.safetensors");
  for (const io::SafetensorsTensorInfo& t : file.tensors()) EXPECT_EQ(t.dtype, "BF16") << t.name;
  EXPECT_LE(max_abs_diff(logits_of(*load_model(bf16_dir.path(), DType::bf16)), trained), 0.1f);
}

TEST(FullAdapter, LoadExplainsThatTheOutputIsAModel) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  EXPECT_EQ(error_of([&] { make_adapter("full")->load("runs/x/adapter", *model, backend()); }),
            "runs/x/adapter: full fine-tuning has no adapter to load: its output is a whole "
            "model directory; use it as the model (--model runs/x/adapter)");
}

TEST(FullAdapter, FreezingEverythingIsAnError) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  EXPECT_EQ(error_of([&] { make_adapter("full", freeze({"model."}))->attach(*model, backend()); }),
            "full: adapter.freeze [model.] freezes every parameter: nothing would train");
}

}  // namespace
}  // namespace ft::testing
