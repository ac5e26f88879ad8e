// The LoRA forward and backward: y = x·Wᵀ + scale·(dropout(x)·Aᵀ)·Bᵀ against a host
// reference, gradients against finite differences, the frozen base getting none, and
// dropout masks keyed by (seed, micro-batch, layer).
#include "support/gradcheck.hpp"
#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

const std::string kQ0 = "model.layers.0.self_attn.q_proj";

struct Lora {
  std::unique_ptr<Model> model;
  std::unique_ptr<Adapter> adapter;
  Tensor a(const std::string& layer) const { return weight(layer, "lora_A"); }
  Tensor b(const std::string& layer) const { return weight(layer, "lora_B"); }
  Tensor weight(const std::string& layer, const std::string& which) const {
    return find_parameter(adapter->trainable_parameters(),
                          "base_model.model." + layer + "." + which + ".weight");
  }
};

Lora attach_lora(const Options& options, DType dtype = DType::f32) {
  Lora l;
  l.model = load_model(kStoriesDir, dtype);
  l.adapter = make_adapter("lora", options);
  l.adapter->attach(*l.model, backend());
  return l;
}

// y[row, o] = Σ_i x[row, i]·W[o, i] + scale·Σ_k B[o, k]·Σ_i A[k, i]·x[row, i], in double.
std::vector<float> reference_forward(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& a, const std::vector<float>& b,
                                     std::size_t in, std::size_t out, std::size_t r, double scale) {
  const std::size_t rows = x.size() / in;
  std::vector<float> y(rows * out);
  for (std::size_t row = 0; row < rows; ++row) {
    std::vector<double> ax(r, 0.0);
    for (std::size_t k = 0; k < r; ++k)
      for (std::size_t i = 0; i < in; ++i) ax[k] += double(a[k * in + i]) * x[row * in + i];
    for (std::size_t o = 0; o < out; ++o) {
      double acc = 0;
      for (std::size_t i = 0; i < in; ++i) acc += double(w[o * in + i]) * x[row * in + i];
      for (std::size_t k = 0; k < r; ++k) acc += scale * b[o * r + k] * ax[k];
      y[row * out + o] = static_cast<float>(acc);
    }
  }
  return y;
}

class LoraScale : public ::testing::TestWithParam<bool> {};

// alpha / r, or alpha / sqrt(r) with use_rslora: alpha 8, r 4 gives 2 or 4.
TEST_P(LoraScale, HookAddsTheScaledLowRankUpdate) {
  REQUIRE_STORIES();
  const bool rslora = GetParam();
  Lora l = attach_lora(lora_options({"q_proj"}, 4, 8.0).set("use_rslora", rslora));
  randomize_b(*l.adapter, 3, 0.5f);
  Linear* q = find_layer(*l.model, kQ0);
  const Tensor x = random_tensor({2, 3, 64}, backend(), 11);
  NoGrad no_grad;
  const std::vector<float> y = (*q)(x).to_vector();
  const auto expected = [&](double scale) {
    return reference_forward(x.to_vector(), q->weight().to_vector(), l.a(kQ0).to_vector(),
                             l.b(kQ0).to_vector(), 64, 64, 4, scale);
  };
  const double scale = rslora ? 4.0 : 2.0, wrong = rslora ? 2.0 : 4.0;
  EXPECT_LE(max_abs_diff(y, expected(scale)), 1e-4f);
  EXPECT_GT(max_abs_diff(y, expected(wrong)), 1e-2f) << "the scale makes no visible difference";
}

INSTANTIATE_TEST_SUITE_P(Adapters, LoraScale, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "rslora" : "alpha_over_r"; });

TEST(LoraForward, GradientsOfAAndBAndTheInputMatchFiniteDifferences) {
  REQUIRE_STORIES();
  Lora l = attach_lora(lora_options({"down_proj"}, 3, 6.0));
  randomize_b(*l.adapter, 5, 0.5f);
  Linear* down = find_layer(*l.model, "model.layers.2.mlp.down_proj");  // in 172, out 64
  const std::string name = "model.layers.2.mlp.down_proj";
  GradcheckOptions options;
  options.max_checks = 24;
  gradcheck([&](const std::vector<Tensor>& in) { return (*down)(in[0]); },
            {random_tensor({2, 2, 172}, backend(), 17), l.a(name), l.b(name)}, options);
}

class LoraBaseFrozen : public ::testing::TestWithParam<DType> {};

// Backward through the whole model reaches every A and B and no base weight: a frozen
// weight's gradient is never computed, whatever its dtype.
TEST_P(LoraBaseFrozen, OnlyAdapterWeightsGetGradients) {
  REQUIRE_STORIES();
  Options all = lora_options({});
  all.set("target_modules", std::string("all-linear"));
  Lora l = attach_lora(all, GetParam());
  randomize_b(*l.adapter);
  ModelInput input;
  input.tokens = sample_tokens();
  const Tensor targets = Tensor::from_ints(
      {403, 17, 289, 65, 311, 42, 500, 2, 7, 250, 33, 498, 12, 64, 3, -100}, {2, 8}, backend());
  ops::cross_entropy(l.model->forward(input), l.model->lm_head(), targets).backward();

  for (const Parameter& p : l.model->parameters())
    EXPECT_FALSE(p.tensor.grad().defined()) << p.name << " got a gradient";
  for (const Parameter& p : l.adapter->trainable_parameters()) {
    const Tensor g = p.tensor.grad();
    ASSERT_TRUE(g.defined()) << p.name;
    EXPECT_EQ(g.shape(), p.tensor.shape()) << p.name;
    EXPECT_GT(backend().sum_squares(g.f32(), g.numel()), 0.0) << p.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Adapters, LoraBaseFrozen, ::testing::Values(DType::f32, DType::bf16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// The adapter's part of a layer's output: layer(x) - x·Wᵀ.
std::vector<float> adapter_delta(Adapter& adapter, Linear& layer, const Tensor& x,
                                 const AdapterForwardState& state) {
  adapter.set_forward_state(state);
  NoGrad no_grad;
  const std::vector<float> y = layer(x).to_vector(), base = layer.base_forward(x).to_vector();
  std::vector<float> d(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) d[i] = y[i] - base[i];
  return d;
}

TEST(LoraDropout, OnlyWhileTrainingOnTheAdapterInputKeyedBySeedMicroBatchAndLayer) {
  REQUIRE_STORIES();
  Lora l = attach_lora(lora_options({"k_proj", "v_proj"}, 4, 8.0).set("dropout", 0.5));
  randomize_b(*l.adapter, 9, 0.5f);
  // k_proj and v_proj of a layer have the same shape: give v the same A and B as k, so any
  // difference between their adapter outputs comes from the dropout mask alone.
  const std::string k0 = "model.layers.0.self_attn.k_proj", v0 = "model.layers.0.self_attn.v_proj";
  l.a(v0).copy_from_host(l.a(k0).to_vector().data());
  l.b(v0).copy_from_host(l.b(k0).to_vector().data());
  Linear& k = *find_layer(*l.model, k0);
  Linear& v = *find_layer(*l.model, v0);
  Adapter& a = *l.adapter;
  const Tensor x = random_tensor({2, 5, 64}, backend(), 21);

  const std::vector<float> eval = adapter_delta(a, k, x, {false, 5, 0});
  EXPECT_EQ(max_abs_diff(adapter_delta(a, k, x, {false, 6, 9}), eval), 0.0f)
      << "dropout while not training";
  // (Not bit-equal: each delta is rounded against its own layer's base output.)
  EXPECT_LE(max_abs_diff(adapter_delta(a, v, x, {false, 5, 0}), eval), 1e-5f);

  const std::vector<float> train = adapter_delta(a, k, x, {true, 5, 0});
  EXPECT_GT(max_abs_diff(train, eval), 1e-3f) << "no dropout while training";
  EXPECT_EQ(max_abs_diff(adapter_delta(a, k, x, {true, 5, 0}), train), 0.0f)
      << "the same (seed, micro-batch) gave another mask";
  EXPECT_GT(max_abs_diff(adapter_delta(a, k, x, {true, 5, 1}), train), 1e-3f)
      << "micro-batches 0 and 1 share a mask";
  EXPECT_GT(max_abs_diff(adapter_delta(a, k, x, {true, 6, 0}), train), 1e-3f)
      << "seeds 5 and 6 share a mask";
  EXPECT_GT(max_abs_diff(adapter_delta(a, v, x, {true, 5, 0}), train), 1e-3f)
      << "k_proj and v_proj share a mask";

  // With B = 0 the adapter adds nothing: the base path never sees the dropout.
  const std::vector<float> zeros(static_cast<std::size_t>(l.b(k0).numel()), 0.0f);
  l.b(k0).copy_from_host(zeros.data());
  const std::vector<float> none = adapter_delta(a, k, x, {true, 5, 0});
  EXPECT_EQ(*std::max_element(none.begin(), none.end()), 0.0f);
  EXPECT_EQ(*std::min_element(none.begin(), none.end()), 0.0f);
}

// Activation checkpointing replays each layer in backward: the replay must draw the same
// masks, or the gradients would belong to another forward pass.
TEST(LoraDropout, CheckpointedReplayDrawsTheSameMasks) {
  REQUIRE_STORIES();
  Options all = lora_options({}).set("dropout", 0.3);
  all.set("target_modules", std::string("all-linear"));
  Lora l = attach_lora(all);
  randomize_b(*l.adapter);
  ModelInput input;
  input.tokens = sample_tokens();
  const Tensor targets = Tensor::from_ints(
      {403, 17, 289, 65, 311, 42, 500, 2, 7, 250, 33, 498, 12, 64, 3, -100}, {2, 8}, backend());
  const auto grads = [&](bool checkpointing, std::uint64_t micro_batch) {
    l.model->set_activation_checkpointing(checkpointing);
    l.adapter->set_forward_state({true, 11, micro_batch});
    ops::cross_entropy(l.model->forward(input), l.model->lm_head(), targets).backward();
    std::vector<float> all_grads;
    for (const Parameter& p : l.adapter->trainable_parameters()) {
      const std::vector<float> g = p.tensor.grad().to_vector();
      all_grads.insert(all_grads.end(), g.begin(), g.end());
      p.tensor.zero_grad();
    }
    return all_grads;
  };
  const std::vector<float> plain = grads(false, 4);
  EXPECT_LE(max_abs_diff(grads(true, 4), plain), 1e-5f);
  EXPECT_GT(max_abs_diff(grads(true, 5), plain), 1e-4f) << "masks do not change the gradients";
}

}  // namespace
}  // namespace ft::testing
