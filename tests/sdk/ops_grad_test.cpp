// Every differentiable op's backward against central finite differences.
#include <gtest/gtest.h>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

using testing::cpu;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

TEST(OpGrad, Linear) {
  gradcheck([](const Inputs& in) { return ops::linear(in[0], in[1]); },
            {random_tensor({2, 3, 5}, cpu(), 1), random_tensor({4, 5}, cpu(), 2)});
}

TEST(OpGrad, LinearWithBias) {
  gradcheck([](const Inputs& in) { return ops::linear(in[0], in[1], in[2]); },
            {random_tensor({3, 5}, cpu(), 3), random_tensor({4, 5}, cpu(), 4),
             random_tensor({4}, cpu(), 5)});
}

TEST(OpGrad, MatmulBatched) {
  gradcheck([](const Inputs& in) { return ops::matmul(in[0], in[1]); },
            {random_tensor({2, 3, 4}, cpu(), 6), random_tensor({2, 4, 5}, cpu(), 7)});
}

TEST(OpGrad, MatmulBroadcastRight) {
  gradcheck([](const Inputs& in) { return ops::matmul(in[0], in[1]); },
            {random_tensor({2, 3, 4}, cpu(), 8), random_tensor({4, 5}, cpu(), 9)});
}

TEST(OpGrad, Embedding) {
  Tensor ids = Tensor::from_ints({2, 0, 2, 3, 2}, {5}, cpu());
  gradcheck([&](const Inputs& in) { return ops::embedding(ids, in[0]); },
            {random_tensor({4, 3}, cpu(), 10)});
}

TEST(OpGrad, RmsNorm) {
  gradcheck([](const Inputs& in) { return ops::rmsnorm(in[0], in[1], 1e-5f); },
            {random_tensor({3, 7}, cpu(), 11), random_tensor({7}, cpu(), 12, 0.5f, 1.5f)});
}

TEST(OpGrad, Rope) {
  Tensor pos = Tensor::from_ints({0, 1, 2, 7, 3, 4}, {2, 3}, cpu());
  const Tensor inv_freq = Tensor::from_vector(ops::rope_inv_freq(8, 10000.0f), {4}, cpu());
  gradcheck([&](const Inputs& in) { return ops::rope(in[0], pos, inv_freq); },
            {random_tensor({2, 3, 2, 8}, cpu(), 13)});
}

TEST(OpGrad, AttentionCausalGqa) {
  // batch 2, seq 6, 4 query heads sharing 2 kv heads, head_dim 4.
  gradcheck([](const Inputs& in) { return ops::attention(in[0], in[1], in[2]); },
            {random_tensor({2, 6, 4, 4}, cpu(), 14), random_tensor({2, 6, 2, 4}, cpu(), 15),
             random_tensor({2, 6, 2, 4}, cpu(), 16)});
}

TEST(OpGrad, AttentionWithDocumentsAndWindow) {
  ops::AttentionOptions options;
  options.doc_ids = Tensor::from_ints({0, 0, 0, 1, 1, 1, 1}, {1, 7}, cpu());
  options.window = 3;
  gradcheck([&](const Inputs& in) { return ops::attention(in[0], in[1], in[2], options); },
            {random_tensor({1, 7, 2, 4}, cpu(), 17), random_tensor({1, 7, 1, 4}, cpu(), 18),
             random_tensor({1, 7, 1, 4}, cpu(), 19)});
}

TEST(OpGrad, Swiglu) {
  gradcheck([](const Inputs& in) { return ops::swiglu(in[0], in[1]); },
            {random_tensor({4, 5}, cpu(), 20, -3, 3), random_tensor({4, 5}, cpu(), 21)});
}

TEST(OpGrad, AddMulScale) {
  gradcheck([](const Inputs& in) { return ops::scale(ops::mul(ops::add(in[0], in[1]), in[1]), -1.5f); },
            {random_tensor({3, 4}, cpu(), 22), random_tensor({3, 4}, cpu(), 23)});
}

// b repeated over a's leading dims (DoRA's per-row magnitude): b's gradient sums over them.
TEST(OpGrad, MulBroadcastsTheTrailingShape) {
  gradcheck([](const Inputs& in) { return ops::mul(in[0], in[1]); },
            {random_tensor({2, 3, 4}, cpu(), 80), random_tensor({4}, cpu(), 81)});
  gradcheck([](const Inputs& in) { return ops::mul(in[0], in[1]); },
            {random_tensor({2, 3, 4}, cpu(), 82), random_tensor({3, 4}, cpu(), 83)});
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, cpu());
  const Tensor b = Tensor::from_vector({10, 100, 1000}, {3}, cpu());
  EXPECT_EQ(ops::mul(a, b).to_vector(), (std::vector<float>{10, 200, 3000, 40, 500, 6000}));
  EXPECT_THROW(ops::mul(a, Tensor::from_vector({1, 2}, {2}, cpu())), Error);
}

// The conformance check finds a wrong gradient: y = x ⊙ c with c = x computed outside
// autograd has true derivative 2x, autograd's is x.
TEST(OpGrad, TheConformanceCheckReportsAWrongGradient) {
  const conformance::GradientReport report = conformance::check_gradients(
      [](const Inputs& in) {
        Tensor c;
        {
          NoGrad no_grad;
          c = ops::scale(in[0], 1.0f);
        }
        return ops::mul(in[0], c);
      },
      {random_tensor({8}, cpu(), 84, 0.5f, 1.0f)});
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.mismatches.size(), 8u);
  EXPECT_EQ(report.checked, 8u);
  EXPECT_NE(report.summary().find("8 of 8 elements differ"), std::string::npos)
      << report.summary();
}

TEST(OpGrad, Dropout) {
  // The mask is a function of (seed, offset), so the loss is smooth in x for a fixed key.
  gradcheck([](const Inputs& in) { return ops::dropout(in[0], 0.3f, 42, 1000); },
            {random_tensor({5, 6}, cpu(), 24)});
}

TEST(OpGrad, CrossEntropyFusedWithHeadMean) {
  Tensor targets = Tensor::from_ints({3, -100, 0, 9, 4, 4}, {2, 3}, cpu());
  ops::CrossEntropyOptions options;
  options.chunk_rows = 4;  // two chunks, the second partial
  gradcheck([&](const Inputs& in) { return ops::cross_entropy(in[0], in[1], targets, options); },
            {random_tensor({2, 3, 5}, cpu(), 25), random_tensor({10, 5}, cpu(), 26)});
}

TEST(OpGrad, CrossEntropySum) {
  Tensor targets = Tensor::from_ints({1, 2, 0}, {3}, cpu());
  ops::CrossEntropyOptions options;
  options.reduction = ops::Reduction::sum;
  gradcheck([&](const Inputs& in) { return ops::cross_entropy(in[0], in[1], targets, options); },
            {random_tensor({3, 4}, cpu(), 27), random_tensor({6, 4}, cpu(), 28)});
}

// A frozen head (LoRA): the forward makes dh for a unit incoming gradient and the backward
// scales it, so check it by finite differences, and against the path that recomputes the
// logits (a trainable head) under an incoming gradient that is not 1.
TEST(OpGrad, CrossEntropyWithAFrozenHead) {
  Tensor targets = Tensor::from_ints({3, -100, 0, 9, 4, 4}, {2, 3}, cpu());
  const Tensor head = random_tensor({10, 5}, cpu(), 26);
  for (const ops::Reduction reduction : {ops::Reduction::mean, ops::Reduction::sum}) {
    ops::CrossEntropyOptions options;
    options.chunk_rows = 4;
    options.reduction = reduction;
    gradcheck([&](const Inputs& in) { return ops::cross_entropy(in[0], head, targets, options); },
              {random_tensor({2, 3, 5}, cpu(), 25)});

    const Tensor seed = Tensor::from_vector({0.37f}, {}, cpu());
    Tensor h1 = random_tensor({2, 3, 5}, cpu(), 25), h2 = random_tensor({2, 3, 5}, cpu(), 25);
    h1.set_requires_grad(true);
    h2.set_requires_grad(true);
    Tensor trainable_head = random_tensor({10, 5}, cpu(), 26);
    trainable_head.set_requires_grad(true);
    ops::cross_entropy(h1, head, targets, options).backward(seed);
    ops::cross_entropy(h2, trainable_head, targets, options).backward(seed);
    const std::vector<float> frozen = h1.grad().to_vector(), recomputed = h2.grad().to_vector();
    for (std::size_t i = 0; i < frozen.size(); ++i)
      EXPECT_NEAR(frozen[i], recomputed[i], 1e-6f + 1e-5f * std::abs(recomputed[i])) << i;
  }
}

TEST(OpGrad, CastAndReshape) {
  gradcheck([](const Inputs& in) { return ops::reshape(ops::cast(in[0], DType::f32), {4, -1}); },
            {random_tensor({2, 3, 4}, cpu(), 29)});
}

}  // namespace
}  // namespace ft
