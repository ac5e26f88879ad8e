// Training through the plugin: gradients reach every parameter, and activation
// checkpointing changes memory, not results.
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

std::vector<std::int32_t> story_ids() {
  return read_json(kStoriesDir / "reference.json")["loss"]["ids"].get<std::vector<std::int32_t>>();
}

// Mean next-token loss of the story, backpropagated; returns the loss.
float backward_loss(Model& model, const std::vector<std::int32_t>& ids) {
  ModelInput input;
  input.tokens = ids_tensor(ids);
  std::vector<std::int32_t> targets(ids.begin() + 1, ids.end());
  targets.push_back(-100);
  Tensor loss = ops::cross_entropy(model.forward(input), model.lm_head(), ids_tensor(targets));
  loss.backward();
  return loss.item();
}

TEST(LlamaGradients, ReachEveryParameterAndCheckpointingKeepsThem) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<Parameter> params = model->parameters();
  for (const Parameter& p : params) {
    Tensor t = p.tensor;
    t.set_requires_grad(true);
  }
  const std::vector<std::int32_t> ids = story_ids();
  const float loss = backward_loss(*model, ids);
  EXPECT_NEAR(loss, 1.2938488642586028, 1e-4);

  std::vector<std::vector<float>> plain;
  for (const Parameter& p : params) {
    const Tensor g = p.tensor.grad();
    ASSERT_TRUE(g.defined()) << p.name;
    ASSERT_EQ(g.shape(), p.tensor.shape()) << p.name;
    EXPECT_EQ(backend().count_nonfinite(g.f32(), g.numel()), 0) << p.name;
    EXPECT_GT(backend().sum_squares(g.f32(), g.numel()), 0.0) << p.name;
    plain.push_back(g.to_vector());
    p.tensor.zero_grad();
  }

  model->set_activation_checkpointing(true);
  EXPECT_FLOAT_EQ(backward_loss(*model, ids), loss);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].tensor.grad();
    ASSERT_TRUE(g.defined()) << params[i].name;
    const std::vector<float> v = g.to_vector();
    float scale = 0.0f;
    for (float x : plain[i]) scale = std::max(scale, std::abs(x));
    EXPECT_LE(max_abs_diff(v, plain[i]), 1e-6f * std::max(scale, 1.0f)) << params[i].name;
  }
}

// A finite-difference check of one weight: the gradient the plugin's graph computes is the
// derivative of its loss.
TEST(LlamaGradients, MatchFiniteDifferences) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  Tensor w;
  for (const Parameter& p : model->parameters())
    if (p.name == "model.layers.2.self_attn.v_proj.weight") w = p.tensor;
  ASSERT_TRUE(w.defined());
  w.set_requires_grad(true);
  const std::vector<std::int32_t> ids = story_ids();
  model->set_activation_checkpointing(true);
  backward_loss(*model, ids);
  const std::vector<float> grad = w.grad().to_vector();
  const auto loss_at = [&](std::size_t i, float delta) {
    NoGrad no_grad;
    const float old = w.f32()[i];
    w.f32()[i] = old + delta;  // zero-copy weights are copy-on-write: the file is untouched
    ModelInput input;
    input.tokens = ids_tensor(ids);
    std::vector<std::int32_t> targets(ids.begin() + 1, ids.end());
    targets.push_back(-100);
    const double loss =
        ops::cross_entropy(model->forward(input), model->lm_head(), ids_tensor(targets)).item();
    w.f32()[i] = old;
    return loss;
  };
  for (std::size_t i : {std::size_t{0}, std::size_t{100}, std::size_t{777}, std::size_t{2047}}) {
    const float h = 1e-2f;
    const double fd = (loss_at(i, h) - loss_at(i, -h)) / (2.0 * h);
    EXPECT_NEAR(grad[i], fd, 2e-3 + 2e-2 * std::abs(fd)) << "element " << i;
  }
}

}  // namespace
}  // namespace ft::testing
