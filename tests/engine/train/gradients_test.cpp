// The flat gradient buffer's squared norm and non-finite count, clipping as
// torch.nn.utils.clip_grad_norm_ does it, and naming the first non-finite gradient.
#include "engine/train/gradients.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

using ft::testing::backend;

// Parameters gathered into a flat buffer, their gradients set through the views.
struct Gathered {
  std::vector<Parameter> parameters;
  FlatParameters flat;
};
Gathered with_grads(const std::vector<std::vector<float>>& grads) {
  Gathered g;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    Tensor t = Tensor::zeros({static_cast<std::int64_t>(grads[i].size())}, DType::f32, backend());
    t.set_requires_grad(true);
    g.parameters.push_back({fmt::format("p{}", i), t});
  }
  g.flat = FlatParameters(g.parameters, backend());
  for (std::size_t i = 0; i < grads.size(); ++i)
    g.parameters[i].tensor.grad().copy_from_host(grads[i].data());
  return g;
}

double measured(const FlatParameters& flat) {
  Tensor squared_norm = Tensor::zeros({2}, DType::f32, backend());
  measure_gradients(flat, static_cast<double*>(squared_norm.data()));
  double host = 0.0;
  squared_norm.copy_to_host(&host);
  return host;
}

TEST(Gradients, NormIsOverEveryGradient) {
  const Gathered g = with_grads({{3, 0}, {4}});
  EXPECT_DOUBLE_EQ(measured(g.flat), 25.0);
}

TEST(Gradients, ParametersAreViewsOfTheFlatBuffers) {
  Tensor a = Tensor::from_vector({1, 2, 3}, {3}, backend()),
         b = Tensor::from_vector({4}, {1, 1}, backend());
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  const std::vector<Parameter> parameters{{"a", a}, {"b", b}};
  const FlatParameters flat(parameters, backend());
  EXPECT_EQ(a.to_vector(), (std::vector<float>{1, 2, 3}));  // the values moved with them
  EXPECT_EQ(b.shape(), (Shape{1, 1}));
  EXPECT_EQ(a.impl()->storage, flat.values().impl()->storage);
  EXPECT_EQ(b.grad().impl()->storage, flat.grads().impl()->storage);
  b.grad().copy_from_host(std::vector<float>{7}.data());
  a.zero_grad();  // dropped by someone: zero_grads() makes it a view again
  flat.zero_grads();
  EXPECT_EQ(a.grad().impl()->storage, flat.grads().impl()->storage);
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{0}));
}

TEST(Gradients, ClippingScalesByMaxNormOverNorm) {
  const Gathered g = with_grads({{3, 0}, {4}});
  const double c = clip_coefficient(1.0, 5.0);
  EXPECT_DOUBLE_EQ(c, 1.0 / (5.0 + 1e-6));
  clip_gradients(g.flat, c);
  EXPECT_NEAR(g.parameters[0].tensor.grad().to_vector()[0], 3 * c, 1e-7);
  EXPECT_NEAR(g.parameters[1].tensor.grad().to_vector()[0], 4 * c, 1e-7);
  EXPECT_NEAR(std::sqrt(measured(g.flat)), 1.0, 1e-6);
}

TEST(Gradients, NoClippingBelowTheLimitOrAtZero) {
  EXPECT_EQ(clip_coefficient(10.0, 5.0), 1.0);
  EXPECT_EQ(clip_coefficient(0.0, 5.0), 1.0);
  const Gathered g = with_grads({{3, 0}, {4}});
  clip_gradients(g.flat, 1.0);
  EXPECT_EQ(g.parameters[1].tensor.grad().to_vector()[0], 4.0f);
}

TEST(Gradients, FirstNonFiniteIsNamedInParameterOrder) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const Gathered g = with_grads({{1, 2}, {3, inf}, {nan}});
  EXPECT_FALSE(std::isfinite(measured(g.flat)));
  // The largest finite gradients square and sum in double without overflowing: only a
  // non-finite gradient makes the norm non-finite.
  const float big = std::numeric_limits<float>::max();
  EXPECT_TRUE(std::isfinite(measured(with_grads({{big, -big}, {big}}).flat)));
  EXPECT_FALSE(std::isfinite(measured(with_grads({{big}, {inf}}).flat)));
  const Parameter* bad = first_nonfinite_gradient(g.parameters, backend());
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->name, "p1");
  EXPECT_EQ(first_nonfinite_gradient(with_grads({{1}}).parameters, backend()), nullptr);
}

}  // namespace
}  // namespace ft::engine
