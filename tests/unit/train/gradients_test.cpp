// Global gradient norm, clipping as torch.nn.utils.clip_grad_norm_ does it, and naming the
// first non-finite gradient.
#include "engine/train/gradients.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "unit/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

using ft::testing::backend;

std::vector<Parameter> with_grads(const std::vector<std::vector<float>>& grads) {
  std::vector<Parameter> out;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const auto n = static_cast<std::int64_t>(grads[i].size());
    Tensor t = Tensor::zeros({n}, DType::f32, backend());
    t.set_requires_grad(true);
    t.set_grad(Tensor::from_vector(grads[i], {n}, backend()));
    out.push_back({fmt::format("p{}", i), t});
  }
  out.push_back({"no_grad", Tensor::zeros({3}, DType::f32, backend())});  // counts 0
  return out;
}

TEST(Gradients, NormIsOverEveryGradient) {
  EXPECT_DOUBLE_EQ(global_grad_norm(with_grads({{3, 0}, {4}}), backend()), 5.0);
}

TEST(Gradients, ClippingScalesByMaxNormOverNorm) {
  const std::vector<Parameter> p = with_grads({{3, 0}, {4}});
  clip_gradients(p, 1.0, 5.0);
  const double c = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(p[0].tensor.grad().to_vector()[0], 3 * c, 1e-7);
  EXPECT_NEAR(p[1].tensor.grad().to_vector()[0], 4 * c, 1e-7);
  EXPECT_NEAR(global_grad_norm(p, backend()), 1.0, 1e-6);
}

TEST(Gradients, NoClippingBelowTheLimitOrAtZero) {
  const std::vector<Parameter> p = with_grads({{3, 0}, {4}});
  clip_gradients(p, 10.0, 5.0);
  clip_gradients(p, 0.0, 5.0);
  EXPECT_EQ(p[1].tensor.grad().to_vector()[0], 4.0f);
}

TEST(Gradients, FirstNonFiniteIsNamedInParameterOrder) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<Parameter> p = with_grads({{1, 2}, {3, inf}, {nan}});
  EXPECT_FALSE(std::isfinite(global_grad_norm(p, backend())));
  const Parameter* bad = first_nonfinite_gradient(p, backend());
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->name, "p1");
  EXPECT_EQ(first_nonfinite_gradient(with_grads({{1}}), backend()), nullptr);
}

}  // namespace
}  // namespace ft::engine
