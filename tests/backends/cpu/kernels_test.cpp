// Embedding, RMSNorm, RoPE, SwiGLU, cross-entropy and the small element-wise kernels against
// plain double-precision loops. Sizes are odd and some are big enough to take the parallel
// paths (more than 2^14 elements).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

// Stores `values` as dtype and returns the exact f32 values the kernel will see.
struct Stored {
  std::vector<std::uint8_t> bytes;
  std::vector<float> values;
};
Stored store_as(const std::vector<float>& values, DType dtype) {
  Stored s{std::vector<std::uint8_t>(values.size() * dtype_size(dtype)), values};
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::f32) {
      std::memcpy(s.bytes.data() + 4 * i, &values[i], 4);
      continue;
    }
    const std::uint16_t h = dtype == DType::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(s.bytes.data() + 2 * i, &h, 2);
    s.values[i] = dtype == DType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
  }
  return s;
}

const DType kFloatTypes[] = {DType::f32, DType::bf16, DType::f16};

template <typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "(no ft::Error thrown)";
}

// ---- embedding ----------------------------------------------------------------------------

TEST(CpuEmbedding, ForwardGathersRowsOfEveryTableType) {
  const std::int64_t vocab = 50, dim = 37, n = 23;
  std::vector<std::int32_t> ids(n);
  for (std::int64_t t = 0; t < n; ++t) ids[t] = static_cast<std::int32_t>((t * 7 + 3) % vocab);
  ids[5] = ids[6] = 49;
  for (DType dtype : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dtype));
    const Stored table = store_as(random_values(vocab * dim, 1), dtype);
    std::vector<float> out(n * dim, NAN);
    backend().embedding_forward({ids.data(), table.bytes.data(), dtype, out.data(), n, vocab, dim});
    std::vector<float> expected(n * dim);
    for (std::int64_t t = 0; t < n; ++t) {
      for (std::int64_t c = 0; c < dim; ++c) expected[t * dim + c] = table.values[ids[t] * dim + c];
    }
    EXPECT_EQ(out, expected);
  }
}

TEST(CpuEmbedding, BackwardSumsRepeatedIds) {
  for (std::int64_t n : {7, 300}) {  // serial and parallel paths
    const std::int64_t vocab = 10, dim = 70;
    std::vector<std::int32_t> ids(n);
    for (std::int64_t t = 0; t < n; ++t) ids[t] = static_cast<std::int32_t>((t * t + 1) % 7);
    const auto d_out = random_values(n * dim, 2);
    std::vector<float> d_table = random_values(vocab * dim, 3);
    std::vector<double> expected(d_table.begin(), d_table.end());
    for (std::int64_t t = 0; t < n; ++t) {
      for (std::int64_t c = 0; c < dim; ++c) expected[ids[t] * dim + c] += d_out[t * dim + c];
    }
    backend().embedding_backward({ids.data(), d_out.data(), d_table.data(), n, vocab, dim});
    EXPECT_TRUE(all_close(d_table, expected, 1e-5, 1e-5)) << "n=" << n;
  }
}

TEST(CpuEmbedding, IdsOutsideTheVocabularyNameTheTokenAndId) {
  std::vector<std::int32_t> ids = {1, 2, 3, 10, 4};
  std::vector<float> table(10 * 4), out(5 * 4);
  const std::string message = error_message([&] {
    backend().embedding_forward({ids.data(), table.data(), DType::f32, out.data(), 5, 10, 4});
  });
  EXPECT_NE(message.find("token 3"), std::string::npos) << message;
  EXPECT_NE(message.find("id 10"), std::string::npos) << message;
  ids[3] = -1;
  EXPECT_THROW(backend().embedding_backward({ids.data(), out.data(), table.data(), 5, 10, 4}),
               ft::Error);
}

// ---- rmsnorm ------------------------------------------------------------------------------

void rmsnorm_reference(const std::vector<float>& x, const std::vector<float>& w, std::int64_t rows,
                       std::int64_t dim, double eps, std::vector<double>& y,
                       std::vector<double>& rstd) {
  y.assign(rows * dim, 0.0);
  rstd.assign(rows, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (std::int64_t c = 0; c < dim; ++c) ss += double(x[r * dim + c]) * x[r * dim + c];
    rstd[r] = 1.0 / std::sqrt(ss / dim + eps);
    for (std::int64_t c = 0; c < dim; ++c) y[r * dim + c] = x[r * dim + c] * rstd[r] * w[c];
  }
}

TEST(CpuRmsNorm, ForwardForEveryWeightType) {
  for (std::int64_t rows : {33, 300}) {
    const std::int64_t dim = 70;
    const auto x = random_values(rows * dim, 4, -2.0f, 2.0f);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " rows=" + std::to_string(rows));
      const Stored w = store_as(random_values(dim, 5, 0.5f, 1.5f), dtype);
      std::vector<float> y(rows * dim), rstd(rows);
      backend().rmsnorm_forward(
          {x.data(), w.bytes.data(), dtype, y.data(), rstd.data(), rows, dim, 1e-5f});
      std::vector<double> y_ref, rstd_ref;
      rmsnorm_reference(x, w.values, rows, dim, 1e-5, y_ref, rstd_ref);
      EXPECT_TRUE(all_close(y, y_ref, 1e-5, 1e-6));
      EXPECT_TRUE(all_close(rstd, rstd_ref, 1e-5, 0.0));
    }
  }
}

TEST(CpuRmsNorm, BackwardMatchesTheFormulaAndFiniteDifferences) {
  for (std::int64_t rows : {9, 300}) {
    const std::int64_t dim = 70;
    const auto x = random_values(rows * dim, 6, -2.0f, 2.0f);
    const auto dy = random_values(rows * dim, 7);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " rows=" + std::to_string(rows));
      const Stored w = store_as(random_values(dim, 8, 0.5f, 1.5f), dtype);
      std::vector<float> y(rows * dim), rstd(rows);
      backend().rmsnorm_forward(
          {x.data(), w.bytes.data(), dtype, y.data(), rstd.data(), rows, dim, 1e-5f});
      std::vector<float> dx(rows * dim, NAN), dw = random_values(dim, 9);
      const std::vector<float> dw0 = dw;
      backend().rmsnorm_backward({x.data(), w.bytes.data(), dtype, rstd.data(), dy.data(),
                                  dx.data(), dw.data(), rows, dim});

      std::vector<double> dx_ref(rows * dim), dw_ref(dw0.begin(), dw0.end());
      for (std::int64_t r = 0; r < rows; ++r) {
        double ss = 0.0, dot = 0.0;
        for (std::int64_t c = 0; c < dim; ++c) ss += double(x[r * dim + c]) * x[r * dim + c];
        const double rs = 1.0 / std::sqrt(ss / dim + 1e-5);
        for (std::int64_t c = 0; c < dim; ++c)
          dot += dy[r * dim + c] * w.values[c] * x[r * dim + c] * rs;
        for (std::int64_t c = 0; c < dim; ++c) {
          const double xhat = x[r * dim + c] * rs;
          dx_ref[r * dim + c] = rs * (dy[r * dim + c] * w.values[c] - xhat * dot / dim);
          dw_ref[c] += dy[r * dim + c] * xhat;
        }
      }
      EXPECT_TRUE(all_close(dx, dx_ref, 1e-4, 1e-5));
      EXPECT_TRUE(all_close(dw, dw_ref, 1e-4, 1e-5));

      // The formula itself: d/dx of sum(y * dy) by central differences on a few elements.
      for (std::int64_t i : {std::int64_t{0}, dim + 5, rows * dim - 1}) {
        std::vector<float> xp = x;
        auto loss = [&](double delta) {
          xp[i] = static_cast<float>(x[i] + delta);
          std::vector<double> yr, rr;
          rmsnorm_reference(xp, w.values, rows, dim, 1e-5, yr, rr);
          double l = 0.0;
          for (std::int64_t j = (i / dim) * dim; j < (i / dim + 1) * dim; ++j) l += yr[j] * dy[j];
          return l;
        };
        const double h = 1e-3;
        EXPECT_NEAR(dx[i], (loss(h) - loss(-h)) / (2 * h), 1e-3) << "element " << i;
      }
    }
  }
  // Without d_weight, dx alone.
  const auto x = random_values(70, 10), dy = random_values(70, 11);
  std::vector<float> w(70, 1.0f), y(70), rstd(1), dx(70), dx2(70), dw(70, 0.0f);
  backend().rmsnorm_forward({x.data(), w.data(), DType::f32, y.data(), rstd.data(), 1, 70, 1e-6f});
  backend().rmsnorm_backward(
      {x.data(), w.data(), DType::f32, rstd.data(), dy.data(), dx.data(), nullptr, 1, 70});
  backend().rmsnorm_backward(
      {x.data(), w.data(), DType::f32, rstd.data(), dy.data(), dx2.data(), dw.data(), 1, 70});
  EXPECT_EQ(dx, dx2);
}

// ---- rope ---------------------------------------------------------------------------------

TEST(CpuRope, MatchesHuggingFaceRotateHalfAndInvertsExactlyEnough) {
  const std::int64_t n = 37, heads = 3, hd = 16, half = hd / 2;
  std::vector<float> inv_freq(half);
  for (std::int64_t i = 0; i < half; ++i)
    inv_freq[i] = static_cast<float>(1.0 / std::pow(10000.0, 2.0 * i / hd));
  std::vector<std::int32_t> pos(n);
  for (std::int64_t t = 0; t < n; ++t)
    pos[t] = static_cast<std::int32_t>(t < 20 ? t : 4000 + 3 * t);
  const auto x = random_values(n * heads * hd, 12);
  std::vector<float> out(x.size());
  backend().rope({x.data(), out.data(), pos.data(), inv_freq.data(), n, heads, hd, false});
  std::vector<double> expected(x.size());
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const float* xr = x.data() + (t * heads + h) * hd;
      double* e = expected.data() + (t * heads + h) * hd;
      for (std::int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<float>(pos[t]) * inv_freq[i];  // f32 product, as HF
        e[i] = xr[i] * std::cos(angle) - xr[i + half] * std::sin(angle);
        e[i + half] = xr[i + half] * std::cos(angle) + xr[i] * std::sin(angle);
      }
    }
  }
  EXPECT_TRUE(all_close(out, expected, 1e-5, 1e-5));

  // In place gives the same; the inverse brings x back.
  std::vector<float> in_place = x;
  backend().rope(
      {in_place.data(), in_place.data(), pos.data(), inv_freq.data(), n, heads, hd, false});
  EXPECT_EQ(in_place, out);
  backend().rope({out.data(), out.data(), pos.data(), inv_freq.data(), n, heads, hd, true});
  EXPECT_TRUE(all_close(out, x, 1e-5, 1e-6));
  EXPECT_THROW(backend().rope({x.data(), out.data(), pos.data(), inv_freq.data(), 1, 1, 5, false}),
               ft::Error);
}

// ---- swiglu -------------------------------------------------------------------------------

TEST(CpuSwiglu, ForwardAndBackward) {
  const std::int64_t n = 20003;
  auto g = random_values(n, 13, -10.0f, 10.0f);
  g[0] = -100.0f;
  g[1] = 100.0f;
  g[2] = 0.0f;
  const auto up = random_values(n, 14), dout = random_values(n, 15);
  std::vector<float> out(n), dg(n), du(n);
  backend().swiglu_forward({g.data(), up.data(), out.data(), n});
  backend().swiglu_backward({g.data(), up.data(), dout.data(), dg.data(), du.data(), n});
  std::vector<double> out_ref(n), dg_ref(n), du_ref(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-double(g[i])));
    out_ref[i] = g[i] * s * up[i];
    dg_ref[i] = dout[i] * up[i] * s * (1.0 + g[i] * (1.0 - s));
    du_ref[i] = dout[i] * g[i] * s;
  }
  EXPECT_TRUE(all_close(out, out_ref, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(dg, dg_ref, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(du, du_ref, 1e-5, 1e-6));
}

// ---- cross-entropy ------------------------------------------------------------------------

TEST(CpuCrossEntropy, ForwardAndBackwardAreStableAndSkipIgnoredRows) {
  const std::int64_t rows = 7, vocab = 1003;
  auto logits = random_values(rows * vocab, 16, -30.0f, 30.0f);  // exp(30) alone is 1e13
  const std::vector<std::int32_t> targets = {0, 1002, -100, 500, 7, -100, 999};
  std::vector<float> loss(rows, NAN), lse(rows, NAN);
  backend().cross_entropy_forward(
      {logits.data(), targets.data(), loss.data(), lse.data(), rows, vocab, -100});
  std::vector<double> loss_ref(rows), lse_ref(rows), grad_ref(rows * vocab);
  const double grad_scale = 0.25;
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0.0;
    for (std::int64_t v = 0; v < vocab; ++v) m = std::max(m, double(logits[r * vocab + v]));
    for (std::int64_t v = 0; v < vocab; ++v) s += std::exp(logits[r * vocab + v] - m);
    lse_ref[r] = m + std::log(s);
    const bool ignored = targets[r] == -100;
    loss_ref[r] = ignored ? 0.0 : lse_ref[r] - logits[r * vocab + targets[r]];
    for (std::int64_t v = 0; v < vocab; ++v) {
      grad_ref[r * vocab + v] =
          ignored ? 0.0
                  : grad_scale * (std::exp(logits[r * vocab + v] - lse_ref[r]) - (v == targets[r]));
    }
  }
  EXPECT_TRUE(all_close(lse, lse_ref, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(loss, loss_ref, 1e-5, 1e-5));
  EXPECT_EQ(loss[2], 0.0f);
  backend().cross_entropy_backward(
      {logits.data(), lse.data(), targets.data(), rows, vocab, -100, 0.25f});
  EXPECT_TRUE(all_close(logits, grad_ref, 1e-4, 1e-7));
}

TEST(CpuCrossEntropy, HugeLogitsDoNotOverflow) {
  // A row shifted by 10000 has the same loss and gradient; exp(10000) would be inf. The
  // shifted logits carry only ~1e-3 absolute precision in f32, hence the tolerance.
  const std::int64_t rows = 2, vocab = 517;
  const auto logits = random_values(rows * vocab, 17, -5.0f, 5.0f);
  std::vector<float> shifted = logits;
  for (float& x : shifted) x += 10000.0f;
  const std::vector<std::int32_t> targets = {3, 516};
  std::vector<float> loss(rows), lse(rows), loss_s(rows), lse_s(rows);
  backend().cross_entropy_forward(
      {logits.data(), targets.data(), loss.data(), lse.data(), rows, vocab, -100});
  backend().cross_entropy_forward(
      {shifted.data(), targets.data(), loss_s.data(), lse_s.data(), rows, vocab, -100});
  for (std::int64_t r = 0; r < rows; ++r) {
    EXPECT_NEAR(loss_s[r], loss[r], 2e-3);
    EXPECT_NEAR(lse_s[r], lse[r] + 10000.0f, 2e-3);
  }
  std::vector<float> grad = logits;
  backend().cross_entropy_backward(
      {grad.data(), lse.data(), targets.data(), rows, vocab, -100, 1.0f});
  backend().cross_entropy_backward(
      {shifted.data(), lse_s.data(), targets.data(), rows, vocab, -100, 1.0f});
  EXPECT_TRUE(all_close(shifted, grad, 5e-3, 1e-6));
}

TEST(CpuCrossEntropy, TargetOutsideTheVocabularyNamesRowAndValue) {
  std::vector<float> logits(3 * 5), loss(3), lse(3);
  std::vector<std::int32_t> targets = {1, 0, 5};
  const std::string message = error_message([&] {
    backend().cross_entropy_forward(
        {logits.data(), targets.data(), loss.data(), lse.data(), 3, 5, -100});
  });
  EXPECT_NE(message.find("row 2"), std::string::npos) << message;
  EXPECT_NE(message.find("target 5"), std::string::npos) << message;
  targets = {1, -3, 0};
  EXPECT_THROW(backend().cross_entropy_backward(
                   {logits.data(), lse.data(), targets.data(), 3, 5, -100, 1.0f}),
               ft::Error);
}

// ---- element-wise -------------------------------------------------------------------------

TEST(CpuElementwise, BinaryAddAndMulAlsoInPlace) {
  const std::int64_t n = 20011;
  const auto a = random_values(n, 17), b = random_values(n, 18);
  std::vector<float> out(n);
  backend().binary({a.data(), b.data(), out.data(), n, BinaryOp::add});
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], a[i] + b[i]) << i;
  std::vector<float> x = a;
  backend().binary({x.data(), b.data(), x.data(), n, BinaryOp::mul});
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(x[i], a[i] * b[i]) << i;
}

TEST(CpuElementwise, AxpbyAndBetaZeroIgnoresNaN) {
  const std::int64_t n = 20011;
  const auto x = random_values(n, 19);
  std::vector<float> y = random_values(n, 20);
  const std::vector<float> y0 = y;
  backend().axpby({x.data(), y.data(), n, 2.0f, -0.5f});
  std::vector<double> expected(n);
  for (std::int64_t i = 0; i < n; ++i) expected[i] = 2.0 * x[i] - 0.5 * y0[i];
  EXPECT_TRUE(all_close(y, expected, 1e-6, 1e-7));
  std::fill(y.begin(), y.end(), NAN);
  backend().axpby({x.data(), y.data(), n, 3.0f, 0.0f});
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 3.0f * x[i]) << i;
}

TEST(CpuElementwise, BiasAddForEveryBiasTypeAndSumRows) {
  const std::int64_t rows = 301, cols = 70;
  const auto x0 = random_values(rows * cols, 21);
  for (DType dtype : kFloatTypes) {
    SCOPED_TRACE(dtype_name(dtype));
    const Stored bias = store_as(random_values(cols, 22), dtype);
    std::vector<float> x = x0;
    backend().bias_add({x.data(), bias.bytes.data(), dtype, rows, cols});
    for (std::int64_t i = 0; i < rows * cols; ++i)
      ASSERT_EQ(x[i], x0[i] + bias.values[i % cols]) << i;
  }
  for (std::int64_t c : {cols, std::int64_t{300}}) {  // one column block and several
    const auto x = random_values(rows * c, 23);
    std::vector<float> out = random_values(c, 24);
    const std::vector<float> out0 = out;
    std::vector<double> sums(c, 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t j = 0; j < c; ++j) sums[j] += x[r * c + j];
    }
    backend().sum_rows({x.data(), out.data(), rows, c, false});
    EXPECT_TRUE(all_close(out, sums, 1e-6, 1e-6));
    out = out0;
    backend().sum_rows({x.data(), out.data(), rows, c, true});
    for (std::int64_t j = 0; j < c; ++j) sums[j] += out0[j];
    EXPECT_TRUE(all_close(out, sums, 1e-6, 1e-6));
  }
}

TEST(CpuReductions, SumSumSquaresAndNonFiniteCount) {
  const std::int64_t n = 100003;
  std::vector<float> x = random_values(n, 25, -3.0f, 5.0f);
  double s = 0.0, s2 = 0.0;
  for (float v : x) {
    s += v;
    s2 += double(v) * v;
  }
  EXPECT_NEAR(backend().sum(x.data(), n), s, 1e-9 * std::abs(s) + 1e-9);
  EXPECT_NEAR(backend().sum_squares(x.data(), n), s2, 1e-9 * s2);
  EXPECT_NEAR(backend().sum(x.data(), 5), double(x[0]) + x[1] + x[2] + x[3] + x[4], 1e-12);
  EXPECT_EQ(backend().count_nonfinite(x.data(), n), 0);
  x[0] = NAN;
  x[777] = INFINITY;
  x[n - 1] = -INFINITY;
  x[5000] = std::numeric_limits<float>::max();
  x[5001] = std::numeric_limits<float>::denorm_min();
  EXPECT_EQ(backend().count_nonfinite(x.data(), n), 3);
  EXPECT_EQ(backend().count_nonfinite(x.data() + 1, 10), 0);
}

}  // namespace
}  // namespace ft::backends::cpu::test
