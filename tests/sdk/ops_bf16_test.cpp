// The GEMM ops with bf16 operands (ops::GemmPrecision) against double references, forward
// and every gradient. bf16 compute means: each GEMM's two operands rounded to bf16, the
// products summed in f32. So where the reference can round the same operands (linear,
// matmul, linear_4bit), the op equals it to f32 accuracy; everywhere it is within bf16's
// error of the unrounded double reference; and it is never the f32 result (the rounding ran).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

using testing::cpu;

float bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }
std::vector<float> bf16(std::vector<float> x) {
  for (float& v : x) v = bf16(v);
  return x;
}

// c[m, n] = sum_q a(i, q) b(q, j) in double, with a(i, q) = a[i * sa_i + q * sa_q] and so on.
std::vector<double> product(const std::vector<float>& a, std::int64_t sa_i, std::int64_t sa_q,
                            const std::vector<float>& b, std::int64_t sb_q, std::int64_t sb_j,
                            std::int64_t m, std::int64_t n, std::int64_t k) {
  std::vector<double> c(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t q = 0; q < k; ++q)
        s += static_cast<double>(a[i * sa_i + q * sa_q]) * b[q * sb_q + j * sb_j];
      c[i * n + j] = s;
    }
  return c;
}

// |got - want| <= atol + rtol |want| everywhere.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<double>& want,
                                 double rtol, double atol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i])))
      return ::testing::AssertionFailure() << "[" << i << "]: " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

TEST(OpsBf16, PrecisionIsScopedAndAFreshThreadIsF32) {
  EXPECT_EQ(ops::gemm_precision(), DType::f32);
  {
    const ops::GemmPrecision outer(DType::bf16);
    EXPECT_EQ(ops::gemm_precision(), DType::bf16);
    {
      const ops::GemmPrecision inner(DType::f32);
      EXPECT_EQ(ops::gemm_precision(), DType::f32);
    }
    EXPECT_EQ(ops::gemm_precision(), DType::bf16);
  }
  EXPECT_EQ(ops::gemm_precision(), DType::f32);
  EXPECT_THROW(ops::GemmPrecision{DType::f16}, Error);
}

// y = x·Wᵀ + b;  dx = dy·W;  dW = dyᵀ·x;  db = sum dy — each GEMM on rounded operands. The
// backward runs after the scope has closed: it keeps the precision of its forward.
TEST(OpsBf16, LinearForwardAndGradientsRoundEachGemmsOperands) {
  const std::int64_t rows = 5, in = 70, out = 60;
  Tensor x = testing::random_tensor({rows, in}, cpu(), 1);
  Tensor w = testing::random_tensor({out, in}, cpu(), 2);
  Tensor b = testing::random_tensor({out}, cpu(), 3);
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  const std::vector<float> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  const std::vector<float> dy = testing::random_values(rows * out, 4);

  Tensor y;
  {
    const ops::GemmPrecision scope(DType::bf16);
    y = ops::linear(x, w, b);
  }
  y.backward(Tensor::from_vector(dy, y.shape(), cpu()));

  std::vector<double> want_y = product(bf16(xv), in, 1, bf16(wv), 1, in, rows, out, in);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) want_y[r * out + o] += bv[o];
  EXPECT_TRUE(close(y.to_vector(), want_y, 1e-5, 1e-5));
  EXPECT_TRUE(close(x.grad().to_vector(), product(bf16(dy), out, 1, bf16(wv), in, 1, rows, in, out),
                    1e-5, 1e-5));
  EXPECT_TRUE(close(w.grad().to_vector(), product(bf16(dy), 1, out, bf16(xv), in, 1, out, in, rows),
                    1e-5, 1e-5));

  // Within bf16's error of the exact product, and not the f32 one.
  const std::vector<double> exact_y = product(xv, in, 1, wv, 1, in, rows, out, in);
  std::vector<double> exact_y_b = exact_y;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) exact_y_b[r * out + o] += bv[o];
  EXPECT_TRUE(close(y.to_vector(), exact_y_b, 0, in / 256.0));
  const std::vector<float> y32 = ops::linear(x, w, b).to_vector();
  EXPECT_FALSE(close(y.to_vector(), std::vector<double>(y32.begin(), y32.end()), 1e-6, 1e-6));
}

// A bf16 linear saves its input for dW in bf16 (the values dW's GEMM reads anyway), and the
// linears reading one input share one copy: three projections of x hold half of x, not x or
// three halves. The gradients are those of the rounded operands.
TEST(OpsBf16, LinearsReadingOneInputSaveOneBf16CopyOfIt) {
  const std::int64_t rows = 64, in = 256, out = 32;  // x 64 KiB, its copy 32 KiB, each y 8 KiB
  Backend& be = cpu();
  Tensor x = testing::random_tensor({rows, in}, be, 1);
  const std::vector<float> xv = x.to_vector();
  std::vector<Tensor> w;
  for (std::uint32_t i = 0; i < 3; ++i) {
    w.push_back(testing::random_tensor({out, in}, be, 2 + i));
    w.back().set_requires_grad(true);
  }
  const std::size_t before = be.memory_stats().in_use_bytes;
  std::vector<Tensor> y;
  {
    const ops::GemmPrecision scope(DType::bf16);
    for (const Tensor& wi : w) y.push_back(ops::linear(x, wi));
  }
  x = Tensor();  // what the graph still holds of x is what it saved
  const std::size_t held = be.memory_stats().in_use_bytes + rows * in * sizeof(float) - before;
  EXPECT_EQ(held, 3 * rows * out * sizeof(float) + rows * in * sizeof(std::uint16_t));

  const std::vector<float> dy = testing::random_values(rows * out, 9);
  for (std::size_t i = 0; i < 3; ++i) {
    y[i].backward(Tensor::from_vector(dy, y[i].shape(), be));
    EXPECT_TRUE(close(w[i].grad().to_vector(),
                      product(bf16(dy), 1, out, bf16(xv), in, 1, out, in, rows), 1e-5, 1e-5));
  }
}

// c = a·b (batched, and with b shared by the batch);  da = dc·bᵀ;  db = aᵀ·dc.
TEST(OpsBf16, MatmulForwardAndGradientsRoundEachGemmsOperands) {
  const std::int64_t batch = 2, m = 9, k = 40, n = 11;
  for (const bool shared_b : {false, true}) {
    SCOPED_TRACE(shared_b ? "b shared" : "b batched");
    Tensor a = testing::random_tensor({batch, m, k}, cpu(), 10);
    Tensor b = shared_b ? testing::random_tensor({k, n}, cpu(), 11)
                        : testing::random_tensor({batch, k, n}, cpu(), 11);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    const std::vector<float> av = a.to_vector(), bv = b.to_vector();
    const std::vector<float> dc = testing::random_values(batch * m * n, 12);
    Tensor c;
    {
      const ops::GemmPrecision scope(DType::bf16);
      c = ops::matmul(a, b);
      c.backward(Tensor::from_vector(dc, c.shape(), cpu()));
    }
    std::vector<double> want_c, want_da, want_db(static_cast<std::size_t>(b.numel()), 0.0);
    for (std::int64_t i = 0; i < batch; ++i) {
      const std::vector<float> ai(av.begin() + i * m * k, av.begin() + (i + 1) * m * k);
      const std::int64_t b0 = shared_b ? 0 : i * k * n;
      const std::vector<float> bi(bv.begin() + b0, bv.begin() + b0 + k * n);
      const std::vector<float> dci(dc.begin() + i * m * n, dc.begin() + (i + 1) * m * n);
      const auto ci = product(bf16(ai), k, 1, bf16(bi), n, 1, m, n, k);
      const auto dai = product(bf16(dci), n, 1, bf16(bi), 1, n, m, k, n);
      // A shared b's gradient is one product over the stacked batch; summing the items'
      // products in double differs from it only in the order of the f32 sums.
      const auto dbi = product(bf16(ai), 1, k, bf16(dci), n, 1, k, n, m);
      want_c.insert(want_c.end(), ci.begin(), ci.end());
      want_da.insert(want_da.end(), dai.begin(), dai.end());
      for (std::int64_t e = 0; e < k * n; ++e) want_db[b0 + e] += dbi[e];
    }
    EXPECT_TRUE(close(c.to_vector(), want_c, 1e-5, 1e-5));
    EXPECT_TRUE(close(a.grad().to_vector(), want_da, 1e-5, 1e-5));
    EXPECT_TRUE(close(b.grad().to_vector(), want_db, 1e-5, 1e-5));
  }
}

// QLoRA's frozen base: the dequantised tile is rounded like any other operand.
TEST(OpsBf16, Linear4bitRoundsTheDequantisedWeight) {
  const std::int64_t rows = 4, in = 96, out = 40;
  Tensor x = testing::random_tensor({rows, in}, cpu(), 20);
  x.set_requires_grad(true);
  const ops::Weight4bit w4 = ops::quantize_4bit(testing::random_tensor({out, in}, cpu(), 21), {});
  const std::vector<float> wv = ops::dequantize_4bit(w4).to_vector(), xv = x.to_vector();
  const std::vector<float> dy = testing::random_values(rows * out, 22);
  Tensor y;
  {
    const ops::GemmPrecision scope(DType::bf16);
    y = ops::linear_4bit(x, w4);
  }
  y.backward(Tensor::from_vector(dy, y.shape(), cpu()));
  EXPECT_TRUE(
      close(y.to_vector(), product(bf16(xv), in, 1, bf16(wv), 1, in, rows, out, in), 1e-5, 1e-5));
  EXPECT_TRUE(close(x.grad().to_vector(), product(bf16(dy), out, 1, bf16(wv), in, 1, rows, in, out),
                    1e-5, 1e-5));
}

// The fused LM head and loss: logits from rounded operands, softmax and loss in f32, the
// backward's GEMMs on the rounded dlogits. Against the unrounded double loss and its
// gradients, to bf16's accuracy; and never the f32 numbers.
TEST(OpsBf16, CrossEntropyWithTheHeadIsWithinBf16OfTheExactLoss) {
  const std::int64_t rows = 10, dim = 48, vocab = 50;
  const std::vector<std::int32_t> targets = {3, -100, 49, 0, 7, 7, -100, 12, 1, 2};
  const auto run = [&](DType precision, std::vector<float>& dh, std::vector<float>& dw) {
    Tensor h = testing::random_tensor({rows, dim}, cpu(), 30);
    Tensor w = testing::random_tensor({vocab, dim}, cpu(), 31);
    h.set_requires_grad(true);
    w.set_requires_grad(true);
    const ops::GemmPrecision scope(precision);
    ops::CrossEntropyOptions o;
    o.chunk_rows = 3;
    Tensor loss = ops::cross_entropy(h, w, Tensor::from_ints(targets, {rows}, cpu()), o);
    loss.backward();
    dh = h.grad().to_vector();
    dw = w.grad().to_vector();
    return loss.item();
  };
  std::vector<float> dh16, dw16, dh32, dw32;
  const float loss16 = run(DType::bf16, dh16, dw16);
  const float loss32 = run(DType::f32, dh32, dw32);

  // The double reference, unrounded.
  const std::vector<float> hv = testing::random_tensor({rows, dim}, cpu(), 30).to_vector();
  const std::vector<float> wv = testing::random_tensor({vocab, dim}, cpu(), 31).to_vector();
  const std::vector<double> logits = product(hv, dim, 1, wv, 1, dim, rows, vocab, dim);
  double loss = 0;
  int counted = 0;
  std::vector<double> dlogits(static_cast<std::size_t>(rows * vocab), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    if (targets[r] < 0) continue;
    ++counted;
    double mx = -INFINITY, z = 0;
    for (std::int64_t v = 0; v < vocab; ++v) mx = std::max(mx, logits[r * vocab + v]);
    for (std::int64_t v = 0; v < vocab; ++v) z += std::exp(logits[r * vocab + v] - mx);
    loss += mx + std::log(z) - logits[r * vocab + targets[r]];
    for (std::int64_t v = 0; v < vocab; ++v)
      dlogits[r * vocab + v] = std::exp(logits[r * vocab + v] - mx) / z - (v == targets[r]);
  }
  loss /= counted;
  std::vector<double> want_dh(static_cast<std::size_t>(rows * dim), 0.0);
  std::vector<double> want_dw(static_cast<std::size_t>(vocab * dim), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t v = 0; v < vocab; ++v)
      for (std::int64_t d = 0; d < dim; ++d) {
        want_dh[r * dim + d] += dlogits[r * vocab + v] * wv[v * dim + d] / counted;
        want_dw[v * dim + d] += dlogits[r * vocab + v] * hv[r * dim + d] / counted;
      }
  EXPECT_NEAR(loss16, loss, 2e-2 * std::abs(loss));
  EXPECT_TRUE(close(dh16, want_dh, 2e-2, 2e-3));
  EXPECT_TRUE(close(dw16, want_dw, 2e-2, 2e-3));
  EXPECT_NE(loss16, loss32);
  EXPECT_FALSE(close(dh16, std::vector<double>(dh32.begin(), dh32.end()), 1e-6, 1e-6));
}

}  // namespace
}  // namespace ft
