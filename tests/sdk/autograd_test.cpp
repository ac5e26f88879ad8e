// Autograd semantics: shared inputs, accumulation, no-grad, checkpointing, pruning.
#include <gtest/gtest.h>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

using testing::cpu;
using testing::random_tensor;

void expect_all_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "element " << i;
}

TEST(Autograd, TensorUsedTwiceSumsItsGradients) {
  // y = x * x  ->  dy/dx = 2x, reached through both inputs of mul.
  Tensor x = Tensor::from_vector({1, -2, 3}, {3}, cpu());
  x.set_requires_grad(true);
  ops::sum(ops::mul(x, x)).backward();
  expect_all_near(x.grad().to_vector(), {2, -4, 6}, 0);
}

TEST(Autograd, IntermediateUsedTwiceSumsItsGradients) {
  // h = 3x;  y = h + h * h  ->  dy/dx = 3 (1 + 2h)
  Tensor x = Tensor::from_vector({0.5f, -1.0f}, {2}, cpu());
  x.set_requires_grad(true);
  Tensor h = ops::scale(x, 3.0f);
  ops::sum(ops::add(h, ops::mul(h, h))).backward();
  expect_all_near(x.grad().to_vector(), {3 * (1 + 2 * 1.5f), 3 * (1 + 2 * -3.0f)}, 1e-6f);
}

TEST(Autograd, GradientsAccumulateIntoALeafOverBackwardCalls) {
  Tensor x = Tensor::from_vector({1, 2}, {2}, cpu());
  x.set_requires_grad(true);
  ops::sum(ops::scale(x, 2.0f)).backward();
  ops::sum(ops::scale(x, 5.0f)).backward();
  expect_all_near(x.grad().to_vector(), {7, 7}, 0);
  x.zero_grad();
  ops::sum(ops::scale(x, 5.0f)).backward();
  expect_all_near(x.grad().to_vector(), {5, 5}, 0);
}

TEST(Autograd, LinearWeightGradientAccumulatesInPlaceAcrossMicroBatches) {
  // Two micro-batches into one .grad equal one batch with both (the trainer's grad_accum).
  Tensor w = random_tensor({4, 3}, cpu(), 1);
  w.set_requires_grad(true);
  Tensor x = random_tensor({6, 3}, cpu(), 2);
  std::vector<float> xv = x.to_vector();
  Tensor x1 = Tensor::from_vector({xv.begin(), xv.begin() + 9}, {3, 3}, cpu());
  Tensor x2 = Tensor::from_vector({xv.begin() + 9, xv.end()}, {3, 3}, cpu());
  ops::sum(ops::linear(x1, w)).backward();
  ops::sum(ops::linear(x2, w)).backward();
  const std::vector<float> accumulated = w.grad().to_vector();
  w.zero_grad();
  ops::sum(ops::linear(x, w)).backward();
  expect_all_near(accumulated, w.grad().to_vector(), 1e-5f);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = Tensor::from_vector({1, 2}, {2}, cpu());
  x.set_requires_grad(true);
  Tensor y;
  {
    NoGrad no_grad;
    EXPECT_FALSE(grad_enabled());
    y = ops::scale(x, 2.0f);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_THROW(y.backward(), Error);
}

TEST(Autograd, NoGradientFlowsIntoTokenIds) {
  Tensor ids = Tensor::from_ints({1, 0, 1}, {3}, cpu());
  Tensor table = random_tensor({2, 4}, cpu(), 3);
  table.set_requires_grad(true);
  ops::sum(ops::embedding(ids, table)).backward();
  EXPECT_FALSE(ids.grad().defined());
  expect_all_near(table.grad().to_vector(), {1, 1, 1, 1, 2, 2, 2, 2}, 0);
}

// A small block: rmsnorm -> linear -> swiglu -> linear, residual.
Tensor block(const Tensor& x, const Tensor& norm_w, const Tensor& w_gate, const Tensor& w_up,
             const Tensor& w_down) {
  Tensor h = ops::rmsnorm(x, norm_w, 1e-5f);
  Tensor act = ops::swiglu(ops::linear(h, w_gate), ops::linear(h, w_up));
  return ops::add(x, ops::linear(act, w_down));
}

TEST(Autograd, CheckpointGivesTheSameGradientsAsNoCheckpoint) {
  Tensor x = random_tensor({5, 8}, cpu(), 4);
  Tensor norm_w = random_tensor({8}, cpu(), 5, 0.5f, 1.5f);
  Tensor w_gate = random_tensor({12, 8}, cpu(), 6);
  Tensor w_up = random_tensor({12, 8}, cpu(), 7);
  Tensor w_down = random_tensor({8, 12}, cpu(), 8);
  std::vector<Tensor> params{x, norm_w, w_gate, w_up, w_down};
  for (Tensor& p : params) p.set_requires_grad(true);

  ops::sum(ops::mul(block(x, norm_w, w_gate, w_up, w_down), x)).backward();
  std::vector<std::vector<float>> plain;
  for (Tensor& p : params) {
    plain.push_back(p.grad().to_vector());
    p.zero_grad();
  }

  Tensor y = checkpoint(
      [&](const std::vector<Tensor>& in) { return block(in[0], norm_w, w_gate, w_up, w_down); },
      {x});
  EXPECT_EQ(y.grad_fn()->name(), "checkpoint");
  ops::sum(ops::mul(y, x)).backward();
  for (std::size_t i = 0; i < params.size(); ++i)
    expect_all_near(params[i].grad().to_vector(), plain[i], 1e-5f);
}

TEST(Autograd, FrozenWeightGetsNoGradientAndNoGemm) {
  testing::CountingBackend counting(cpu());
  Tensor x = random_tensor({4, 6}, counting, 9);
  Tensor w = random_tensor({5, 6}, counting, 10);
  x.set_requires_grad(true);

  // Trainable weight: forward GEMM, then dx and dW GEMMs.
  w.set_requires_grad(true);
  Tensor y = ops::linear(x, w);
  counting.gemm_calls = 0;
  y.backward(random_tensor({4, 5}, counting, 11));
  EXPECT_EQ(counting.gemm_calls, 2);
  EXPECT_TRUE(w.grad().defined());

  // Frozen weight: only the dx GEMM runs.
  Tensor frozen = random_tensor({5, 6}, counting, 10);
  x.zero_grad();
  Tensor y2 = ops::linear(x, frozen);
  counting.gemm_calls = 0;
  y2.backward(random_tensor({4, 5}, counting, 11));
  EXPECT_EQ(counting.gemm_calls, 1);
  EXPECT_FALSE(frozen.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(Autograd, InputWithoutGradientIsPruned) {
  // Frozen bf16 base weight, trainable nothing but a downstream scale: dx is still needed,
  // but a frozen input to the first op gets no GEMM.
  testing::CountingBackend counting(cpu());
  Tensor x = random_tensor({3, 4}, counting, 12);
  Tensor w = Tensor::from_vector(testing::random_values(8, 13), {2, 4}, counting, DType::bf16);
  Tensor s = random_tensor({3, 2}, counting, 14);
  s.set_requires_grad(true);
  Tensor y = ops::mul(ops::linear(x, w), s);
  counting.gemm_calls = 0;
  ops::sum(y).backward();
  EXPECT_EQ(counting.gemm_calls, 0);  // neither x nor w needs a gradient
  EXPECT_TRUE(s.grad().defined());
}

TEST(Autograd, TrainableWeightMustBeF32) {
  Tensor x = random_tensor({2, 4}, cpu(), 15);
  Tensor w = Tensor::from_vector(testing::random_values(8, 16), {2, 4}, cpu(), DType::bf16);
  w.set_requires_grad(true);
  EXPECT_THROW(ops::linear(x, w), Error);
}

}  // namespace
}  // namespace ft
