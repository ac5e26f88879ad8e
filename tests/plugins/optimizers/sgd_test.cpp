// The sgd plugin against torch.optim.SGD's documented algorithm in double: plain, with an
// L2 penalty, with momentum and with Nesterov momentum, over six steps at varying learning
// rates, with a parameter that misses gradients (its momentum buffer starts on its own
// first gradient).
#include <gtest/gtest.h>

#include "optimizer_test_util.hpp"
#include "reference.hpp"

namespace ft::testing {
namespace {

struct SgdCase {
  const char* label;
  SgdSettings settings;
  bool decay_norms_and_biases;
};

// Test names in ctest and gtest output show the label, not the struct's bytes.
void PrintTo(const SgdCase& c, std::ostream* os) { *os << c.label; }

Options sgd_options(const SgdCase& c) {
  Options options("optimizer");
  options.set("momentum", c.settings.momentum);
  options.set("nesterov", c.settings.nesterov);
  options.set("weight_decay", c.settings.weight_decay);
  options.set("decay_norms_and_biases", c.decay_norms_and_biases);
  options.set("lr", 123.0);  // ignored: step() gets the schedule's
  return options;
}

class SgdReference : public ::testing::TestWithParam<SgdCase> {};

TEST_P(SgdReference, MatchesTorchOverSixSteps) {
  const SgdCase& c = GetParam();
  std::unique_ptr<Optimizer> optimizer = make_optimizer("sgd", sgd_options(c));
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());

  std::vector<ReferenceParameter> ref =
      run_beside_reference(*optimizer, params, c.decay_norms_and_biases,
                           [&](ReferenceParameter& p, const std::vector<float>& grad, float lr) {
                             sgd_reference(p, grad, lr, c.settings);
                           });

  const bool momentum = c.settings.momentum > 0;
  std::map<std::string, Tensor> state = state_by_name(*optimizer);
  EXPECT_EQ(state.size(), (momentum ? 2 : 1) * kSpecs.size());
  for (std::size_t i = 0; i < kSpecs.size(); ++i) {
    const std::string& name = kSpecs[i].name;
    expect_close(params[i].tensor.to_vector(), ref[i].param, 2e-6, name);
    ASSERT_TRUE(state.count("step/" + name)) << name;
    EXPECT_EQ(state["step/" + name].item(), static_cast<float>(ref[i].step)) << name;
    EXPECT_EQ(state.count("momentum_buffer/" + name), momentum ? 1u : 0u) << name;
    if (momentum)
      expect_close(state["momentum_buffer/" + name].to_vector(), ref[i].m, 2e-6,
                   "momentum_buffer/" + name);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Settings, SgdReference,
    ::testing::Values(SgdCase{"plain", {0.0, 0.0, false}, false},
                      SgdCase{"l2", {0.0, 0.05, false}, false},
                      SgdCase{"momentum", {0.9, 0.1, false}, false},
                      SgdCase{"nesterov", {0.8, 0.0, true}, false},
                      SgdCase{"nesterov_decay_everything", {0.9, 0.1, true}, true}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(Sgd, ParameterWithoutGradientIsUntouched) {
  Options options("optimizer");
  options.set("momentum", 0.9);
  options.set("weight_decay", 0.1);  // would move it even with a zero gradient
  std::unique_ptr<Optimizer> optimizer = make_optimizer("sgd", options);
  const std::vector<Parameter> params = make_parameters();
  optimizer->init(params, backend());
  const std::vector<std::uint32_t> before = bits(params[kLoraA].tensor);
  run_steps(*optimizer, params, 0, 3, [](int, std::size_t i) { return i != kLoraA; });

  std::map<std::string, Tensor> state = state_by_name(*optimizer);
  const std::string& name = kSpecs[kLoraA].name;
  EXPECT_EQ(bits(params[kLoraA].tensor), before);
  EXPECT_EQ(state.at("step/" + name).item(), 0.0f);
  for (const float x : state.at("momentum_buffer/" + name).to_vector()) ASSERT_EQ(x, 0.0f);
  EXPECT_EQ(state.at("step/" + kSpecs[0].name).item(), 3.0f);
}

}  // namespace
}  // namespace ft::testing
