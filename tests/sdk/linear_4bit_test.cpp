// linear_4bit: a linear layer on a 4-bit (NF4/FP4) weight equals `linear` on the weight
// dequantised, forward and backward, in one tile and across several; no gradient reaches
// W; and LoRA on an NF4 base passes the finite-difference check.
#include <gtest/gtest.h>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "ftengine/quant.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

using testing::cpu;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

struct Quantized {
  Quantized4bit host;
  ops::Weight4bit weight;
  Tensor dequantised;  // f32 [rows, cols]
};

Quantized quantized(std::int64_t rows, std::int64_t cols, std::uint64_t seed,
                    const Quant4bitOptions& options) {
  const std::vector<float> w = random_tensor({rows, cols}, cpu(), seed).to_vector();
  Quantized q{quantize_4bit(w.data(), rows, cols, options), {}, {}};
  q.weight = ops::to_backend(q.host, cpu());
  std::vector<float> back(static_cast<std::size_t>(rows * cols));
  dequantize_4bit(q.host, back.data());
  q.dequantised = Tensor::from_vector(back, {rows, cols}, cpu());
  return q;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  EXPECT_EQ(x.size(), y.size());
  float m = 0.0f;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// Forward and dx of linear_4bit against linear on the dequantised weight.
void expect_matches_linear(std::int64_t rows, std::int64_t cols, const Quant4bitOptions& options,
                           float tolerance) {
  const Quantized q = quantized(rows, cols, 7, options);
  const Tensor bias = random_tensor({rows}, cpu(), 8);
  Tensor x1 = random_tensor({3, 5, cols}, cpu(), 9), x2 = x1.clone();
  x1.set_requires_grad(true);
  x2.set_requires_grad(true);
  const Tensor y1 = ops::linear_4bit(x1, q.weight, bias);
  const Tensor y2 = ops::linear(x2, q.dequantised, bias);
  EXPECT_LE(max_abs_diff(y1, y2), tolerance);
  const Tensor dy = random_tensor(y1.shape(), cpu(), 10);
  ops::sum(ops::mul(y1, dy)).backward();
  ops::sum(ops::mul(y2, dy)).backward();
  EXPECT_LE(max_abs_diff(x1.grad(), x2.grad()), tolerance);
}

TEST(Linear4bit, Nf4EqualsLinearOnTheDequantisedWeight) {
  expect_matches_linear(24, 40, {.type = QuantType::nf4, .block_size = 64, .double_quant = true},
                        1e-5f);
}

TEST(Linear4bit, Fp4WithoutDoubleQuantisation) {
  expect_matches_linear(17, 33, {.type = QuantType::fp4, .block_size = 32, .double_quant = false},
                        1e-5f);
}

// 600 x 4096 is dequantised in tiles of 256 rows: c is written column block by column
// block, and dx summed tile by tile.
TEST(Linear4bit, ManyTilesGiveTheSameResult) {
  expect_matches_linear(600, 4096, {}, 2e-4f);
}

TEST(Linear4bit, NoGradientReachesTheWeight) {
  const Quantized q = quantized(6, 8, 11, {});
  const Tensor x = random_tensor({2, 8}, cpu(), 12);
  EXPECT_FALSE(ops::linear_4bit(x, q.weight).requires_grad());  // nothing to differentiate
  const Tensor bias = random_tensor({6}, cpu(), 13).set_requires_grad(true);
  ops::sum(ops::linear_4bit(x, q.weight, bias)).backward();
  EXPECT_TRUE(bias.grad().defined());
}

TEST(Linear4bit, ShapesAreChecked) {
  const Quantized q = quantized(6, 8, 14, {});
  try {
    ops::linear_4bit(random_tensor({2, 7}, cpu(), 15), q.weight);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the 4-bit weight [6, 8]"),
              std::string::npos)
        << e.what();
  }
}

// LoRA's forward on an NF4 base, y = x·Wq'ᵀ + 2·(x·Aᵀ)·Bᵀ, against finite differences in x,
// A and B.
TEST(Linear4bit, LoraOnAnNf4BasePassesTheGradientCheck) {
  const Quantized q = quantized(6, 10, 16, {});
  gradcheck(
      [&](const Inputs& in) {
        const Tensor low = ops::scale(ops::linear(in[0], in[1]), 2.0f);
        return ops::add(ops::linear_4bit(in[0], q.weight), ops::linear(low, in[2]));
      },
      {random_tensor({3, 10}, cpu(), 17), random_tensor({4, 10}, cpu(), 18),
       random_tensor({6, 4}, cpu(), 19)});
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

// QLoRA gives back the memory of a weight it holds in 4 bits: shape and dtype stay, the
// backend's memory goes, and reading the data is an error rather than garbage.
TEST(ReleaseData, FreesTheMemoryAndKeepsTheShape) {
  Backend& be = testing::cpu();
  be.release_cached_memory();
  const std::size_t before = be.memory_stats().in_use_bytes;
  Tensor w = Tensor::zeros({256, 1024}, DType::bf16, be);
  EXPECT_EQ(be.memory_stats().in_use_bytes, before + w.nbytes());
  w.release_data();
  EXPECT_EQ(be.memory_stats().in_use_bytes, before);
  EXPECT_EQ(w.shape(), (Shape{256, 1024}));
  EXPECT_EQ(w.dtype(), DType::bf16);
  EXPECT_EQ(w.numel(), 256 * 1024);
  EXPECT_THROW(w.data(), InternalError);
  w.release_data();  // twice is harmless
}

}  // namespace
}  // namespace ft
