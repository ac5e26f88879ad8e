// The adamw plugin against torch.optim.AdamW's documented algorithm in double: six steps at
// varying learning rates, matrices and 1-D parameters, with and without weight decay, and
// a parameter that misses gradients (its own step count drives its bias corrections).
#include <gtest/gtest.h>

#include "optimizer_test_util.hpp"
#include "reference.hpp"

namespace ft::testing {
namespace {

struct AdamWCase {
  const char* label;
  AdamWSettings settings;
  bool decay_norms_and_biases;
};

// Test names in ctest and gtest output show the label, not the struct's bytes.
void PrintTo(const AdamWCase& c, std::ostream* os) { *os << c.label; }

Options adamw_options(const AdamWCase& c) {
  Options options("optimizer");
  options.set("betas", std::vector<double>{c.settings.beta1, c.settings.beta2});
  options.set("eps", c.settings.eps);
  options.set("weight_decay", c.settings.weight_decay);
  options.set("decay_norms_and_biases", c.decay_norms_and_biases);
  options.set("lr", 123.0);  // the job's peak lr: ignored, step() gets the schedule's
  return options;
}

class AdamWReference : public ::testing::TestWithParam<AdamWCase> {};

TEST_P(AdamWReference, MatchesTorchOverSixSteps) {
  const AdamWCase& c = GetParam();
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", adamw_options(c));
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());

  std::vector<ReferenceParameter> ref =
      run_beside_reference(*optimizer, params, c.decay_norms_and_biases,
                           [&](ReferenceParameter& p, const std::vector<float>& grad, float lr) {
                             adamw_reference(p, grad, lr, c.settings);
                           });
  const int steps = static_cast<int>(kLearningRates.size());

  std::map<std::string, Tensor> state = state_by_name(*optimizer);
  EXPECT_EQ(state.size(), 3 * kSpecs.size());
  for (std::size_t i = 0; i < kSpecs.size(); ++i) {
    const std::string& name = kSpecs[i].name;
    expect_close(params[i].tensor.to_vector(), ref[i].param, 2e-6, name);
    ASSERT_TRUE(state.count("exp_avg/" + name) && state.count("exp_avg_sq/" + name) &&
                state.count("step/" + name))
        << name;
    expect_close(state["exp_avg/" + name].to_vector(), ref[i].m, 1e-6, "exp_avg/" + name);
    expect_close(state["exp_avg_sq/" + name].to_vector(), ref[i].v, 1e-6, "exp_avg_sq/" + name);
    EXPECT_EQ(state["step/" + name].shape(), Shape{1});
    EXPECT_EQ(state["step/" + name].item(), static_cast<float>(ref[i].step)) << name;
  }
  EXPECT_EQ(ref[kLoraA].step, steps - 2);  // the skips happened
}

INSTANTIATE_TEST_SUITE_P(
    Settings, AdamWReference,
    ::testing::Values(AdamWCase{"defaults", {}, false},
                      AdamWCase{"decay", {0.8, 0.99, 1e-6, 0.1}, false},
                      AdamWCase{"decay_norms_and_biases", {0.9, 0.95, 1e-8, 0.2}, true}),
    [](const auto& info) { return std::string(info.param.label); });

// An empty table gives the documented defaults: betas [0.9, 0.999], eps 1e-8, no decay.
TEST(AdamW, EmptyOptionsAreTorchDefaults) {
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", Options("optimizer"));
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  run_steps(*optimizer, params, 0, 3, always);
  for (std::size_t i = 0; i < kSpecs.size(); ++i) {
    ReferenceParameter ref(initial_values(i), true);
    for (int step = 0; step < 3; ++step)
      adamw_reference(ref, gradient(step, i), kLearningRates[step], AdamWSettings{});
    expect_close(params[i].tensor.to_vector(), ref.param, 2e-6, kSpecs[i].name);
  }
}

// Runs three steps with the given weight decay; returns each parameter's bits.
std::vector<std::vector<std::uint32_t>> after_three_steps(double weight_decay,
                                                          bool decay_norms_and_biases) {
  Options options("optimizer");
  options.set("weight_decay", weight_decay);
  options.set("decay_norms_and_biases", decay_norms_and_biases);
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", options);
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  run_steps(*optimizer, params, 0, 3, always);
  std::vector<std::vector<std::uint32_t>> out;
  for (const Parameter& p : params) out.push_back(bits(p.tensor));
  return out;
}

TEST(AdamW, DecaysMatricesButNotNormsAndBiasesByDefault) {
  const auto plain = after_three_steps(0.0, false);
  const auto decayed = after_three_steps(0.1, false);
  const auto everything = after_three_steps(0.1, true);
  for (std::size_t i = 0; i < kSpecs.size(); ++i) {
    const bool matrix = kSpecs[i].shape.size() >= 2;
    if (matrix)
      EXPECT_NE(decayed[i], plain[i]) << kSpecs[i].name << " was not decayed";
    else
      EXPECT_EQ(decayed[i], plain[i]) << kSpecs[i].name << " was decayed by default";
    EXPECT_NE(everything[i], plain[i])
        << kSpecs[i].name << " not decayed with decay_norms_and_biases";
  }
}

TEST(AdamW, ParameterWithoutGradientIsUntouched) {
  Options options("optimizer");
  options.set("weight_decay", 0.1);  // would move it even with a zero update
  std::unique_ptr<Optimizer> optimizer = make_optimizer("adamw", options);
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  const std::vector<std::uint32_t> before = bits(params[kLoraA].tensor);
  run_steps(*optimizer, params, 0, 3, [](int, std::size_t i) { return i != kLoraA; });

  std::map<std::string, Tensor> state = state_by_name(*optimizer);
  const std::string& name = kSpecs[kLoraA].name;
  EXPECT_EQ(bits(params[kLoraA].tensor), before);
  EXPECT_EQ(state.at("step/" + name).item(), 0.0f);
  for (const float x : state.at("exp_avg/" + name).to_vector()) ASSERT_EQ(x, 0.0f);
  for (const float x : state.at("exp_avg_sq/" + name).to_vector()) ASSERT_EQ(x, 0.0f);
  EXPECT_EQ(state.at("step/" + kSpecs[0].name).item(), 3.0f);  // the others did step
  EXPECT_NE(bits(params[0].tensor), bits(make_parameters()[0].tensor));
}

}  // namespace
}  // namespace ft::testing
