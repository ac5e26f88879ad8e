// Resuming from a checkpoint: state() tensors and parameters copied to the host after three
// steps, restored into a fresh optimizer by copying into its own state() tensors, then two
// more steps must give bit-for-bit what the uninterrupted run gave.
#include <gtest/gtest.h>

#include "optimizer_test_util.hpp"

namespace ft::testing {
namespace {

struct RoundTripCase {
  const char* label;
  const char* plugin;
  Options (*options)();
};

// Test names in ctest and gtest output show the label, not the struct's bytes.
void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << c.label; }

Options adamw_with_decay() {
  Options options("optimizer");
  options.set("weight_decay", 0.1);
  options.set("betas", std::vector<double>{0.8, 0.95});
  return options;
}

Options sgd_with_nesterov() {
  Options options("optimizer");
  options.set("momentum", 0.9);
  options.set("nesterov", true);
  options.set("weight_decay", 0.01);
  return options;
}

using Bits = std::map<std::string, std::vector<std::uint32_t>>;

// Every parameter and state tensor, by name, as raw bits.
Bits snapshot(const Optimizer& optimizer, const std::vector<Parameter>& params) {
  Bits out;
  for (const Parameter& p : params) out["param/" + p.name] = bits(p.tensor);
  for (const auto& [name, tensor] : state_by_name(optimizer)) out[name] = bits(tensor);
  return out;
}

class StateRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(StateRoundTrip, ResumedRunIsBitIdentical) {
  const RoundTripCase& c = GetParam();
  constexpr int kSaveAt = 3, kEnd = 5;

  // The uninterrupted run; the LoRA A matrix misses two of the first three gradients, so
  // its step count (1) differs from the others' (3).
  std::unique_ptr<Optimizer> first = make_optimizer(c.plugin, c.options());
  const std::vector<Parameter> params = make_parameters();
  first->init(params, backend());
  run_steps(*first, params, 0, kSaveAt, lora_a_skips);
  std::vector<std::vector<float>> saved_params;
  for (const Parameter& p : params) saved_params.push_back(p.tensor.to_vector());
  std::map<std::string, std::vector<float>> saved_state;
  for (const auto& [name, tensor] : state_by_name(*first)) saved_state[name] = tensor.to_vector();
  ASSERT_EQ(saved_state.at("step/" + kSpecs[kLoraA].name), std::vector<float>{1.0f});
  run_steps(*first, params, kSaveAt, kEnd, lora_a_skips);
  const Bits expected = snapshot(*first, params);

  // A fresh optimizer on copies of the saved parameters, its state copied in.
  std::unique_ptr<Optimizer> resumed = make_optimizer(c.plugin, c.options());
  const std::vector<Parameter> resumed_params = make_parameters(saved_params);
  resumed->init(resumed_params, backend());
  std::size_t restored = 0;
  for (const Parameter& s : resumed->state()) {
    ASSERT_TRUE(saved_state.count(s.name)) << "state " << s.name << " was not saved";
    const std::vector<float>& values = saved_state.at(s.name);
    ASSERT_EQ(static_cast<std::size_t>(s.tensor.numel()), values.size()) << s.name;
    s.tensor.copy_from_host(values.data());
    ++restored;
  }
  EXPECT_EQ(restored, saved_state.size());
  run_steps(*resumed, resumed_params, kSaveAt, kEnd, lora_a_skips);
  const Bits got = snapshot(*resumed, resumed_params);
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [name, values] : expected) EXPECT_EQ(got.at(name), values) << name;

  // The same without restoring the state differs: the test can see a lost state.
  std::unique_ptr<Optimizer> cold = make_optimizer(c.plugin, c.options());
  const std::vector<Parameter> cold_params = make_parameters(saved_params);
  cold->init(cold_params, backend());
  run_steps(*cold, cold_params, kSaveAt, kEnd, lora_a_skips);
  for (std::size_t i = 0; i < kSpecs.size(); ++i)
    EXPECT_NE(bits(cold_params[i].tensor), expected.at("param/" + kSpecs[i].name))
        << kSpecs[i].name;
}

INSTANTIATE_TEST_SUITE_P(Optimizers, StateRoundTrip,
                         ::testing::Values(RoundTripCase{"adamw", "adamw", adamw_with_decay},
                                           RoundTripCase{"sgd", "sgd", sgd_with_nesterov}),
                         [](const auto& info) { return std::string(info.param.label); });

// step() reads the counts from the state tensors, not from a copy of its own: zeroing every
// state tensor through state() after two steps makes the next update a first update again.
TEST(OptimizerStepCount, IsReadFromTheStateTensorEachStep) {
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", Options("optimizer"));
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  run_steps(*optimizer, params, 0, 2, always);
  std::map<std::string, Tensor> state = state_by_name(*optimizer);
  for (const auto& [name, tensor] : state) {
    const std::vector<float> zeros(static_cast<std::size_t>(tensor.numel()), 0.0f);
    tensor.copy_from_host(zeros.data());
  }
  // With moments and counts zeroed, AdamW's first update is lr * g / (|g| + eps) (no decay).
  set_gradients(params, 2, always);
  const std::vector<float> before = params[2].tensor.to_vector();
  const std::vector<float> g = gradient(2, 2);
  optimizer->step(kLearningRates[2]);
  const std::vector<float> after = params[2].tensor.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double update = kLearningRates[2] * g[i] / (std::abs(g[i]) + 1e-8);
    EXPECT_NEAR(before[i] - after[i], update, 2e-7) << i;
  }
  EXPECT_EQ(state.at("step/" + kSpecs[2].name).item(), 1.0f);
}

TEST(OptimizerStepCount, DamagedCountIsRefusedBeforeAnythingMoves) {
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", Options("optimizer"));
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  run_steps(*optimizer, params, 0, 1, always);
  const float half = 2.5f;
  state_by_name(*optimizer).at("step/" + kSpecs[3].name).copy_from_host(&half);
  // Parameter 0 comes before the damaged one: it must not have moved either.
  const std::vector<std::uint32_t> before = bits(params[0].tensor);
  set_gradients(params, 1, always);
  EXPECT_EQ(error_of([&] { optimizer->step(1e-2f); }),
            "adamw: optimizer state 'step/model.layers.0.self_attn.q_proj.bias' holds 2.5, "
            "expected a whole number of steps in [0, 16777216) (was the checkpoint written by "
            "this optimizer?)");
  EXPECT_EQ(bits(params[0].tensor), before);
}

}  // namespace
}  // namespace ft::testing
