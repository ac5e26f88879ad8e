// Op forward results against plain reference computations, and op-level behaviour.
#include <gtest/gtest.h>

#include <cmath>

#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

using testing::cpu;
using testing::random_tensor;

TEST(Ops, LinearMatchesReferenceWithBf16Weight) {
  Tensor x = random_tensor({3, 4}, cpu(), 1);
  const std::vector<float> wv = testing::random_values(8, 2);
  Tensor w = Tensor::from_vector(wv, {2, 4}, cpu(), DType::bf16);
  Tensor b = Tensor::from_vector({0.5f, -1.0f}, {2}, cpu());
  const std::vector<float> y = ops::linear(x, w, b).to_vector();
  const std::vector<float> xv = x.to_vector();
  for (int r = 0; r < 3; ++r)
    for (int o = 0; o < 2; ++o) {
      double ref = o == 0 ? 0.5 : -1.0;
      for (int i = 0; i < 4; ++i) ref += xv[r * 4 + i] * bf16_to_f32(f32_to_bf16(wv[o * 4 + i]));
      EXPECT_NEAR(y[r * 2 + o], ref, 1e-5) << r << "," << o;
    }
}

TEST(Ops, ShapeErrorsNameTheOp) {
  Tensor x = random_tensor({3, 4}, cpu(), 3);
  Tensor w = random_tensor({2, 5}, cpu(), 4);
  try {
    ops::linear(x, w);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear: input [3, 4] does not match weight [2, 5]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ops::add(x, w), Error);
  EXPECT_THROW(ops::reshape(x, {5, -1}), Error);
}

// Naive attention for one sequence: full score matrix, causal + doc + window masks.
std::vector<float> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v, int seq, int hq, int hkv, int d,
                                   const std::vector<int>& docs) {
  std::vector<float> out(static_cast<std::size_t>(seq) * hq * d, 0.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int h = 0; h < hq; ++h) {
    const int kh = h / (hq / hkv);
    for (int i = 0; i < seq; ++i) {
      std::vector<double> s(seq, -INFINITY);
      double mx = -INFINITY;
      for (int j = 0; j <= i; ++j) {
        if (!docs.empty() && docs[i] != docs[j]) continue;
        double dot = 0;
        for (int c = 0; c < d; ++c) dot += q[(i * hq + h) * d + c] * k[(j * hkv + kh) * d + c];
        s[j] = dot * scale;
        mx = std::max(mx, s[j]);
      }
      double z = 0;
      for (int j = 0; j <= i; ++j) z += std::isinf(s[j]) ? 0 : std::exp(s[j] - mx);
      for (int j = 0; j <= i; ++j) {
        if (std::isinf(s[j])) continue;
        const double p = std::exp(s[j] - mx) / z;
        for (int c = 0; c < d; ++c) out[(i * hq + h) * d + c] += p * v[(j * hkv + kh) * d + c];
      }
    }
  }
  return out;
}

TEST(Ops, AttentionMatchesNaiveReference) {
  const int seq = 9, hq = 4, hkv = 2, d = 8;
  Tensor q = random_tensor({1, seq, hq, d}, cpu(), 5);
  Tensor k = random_tensor({1, seq, hkv, d}, cpu(), 6);
  Tensor v = random_tensor({1, seq, hkv, d}, cpu(), 7);
  const auto ref = naive_attention(q.to_vector(), k.to_vector(), v.to_vector(), seq, hq, hkv, d, {});
  const auto out = ops::attention(q, k, v).to_vector();
  for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-5) << i;
}

TEST(Ops, AttentionWithDocumentIdsEqualsEachDocumentAlone) {
  // A packed row of three documents (lengths 4, 6, 3) against each document run alone,
  // outputs and gradients.
  const int hq = 4, hkv = 2, d = 8;
  const std::vector<int> lengths{4, 6, 3};
  const int seq = 13;
  std::vector<std::int32_t> docs;
  for (int doc = 0; doc < 3; ++doc) docs.insert(docs.end(), lengths[doc], doc);
  Tensor q = random_tensor({1, seq, hq, d}, cpu(), 8);
  Tensor k = random_tensor({1, seq, hkv, d}, cpu(), 9);
  Tensor v = random_tensor({1, seq, hkv, d}, cpu(), 10);
  Tensor dout = random_tensor({1, seq, hq, d}, cpu(), 11);
  for (Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
  ops::AttentionOptions options;
  options.doc_ids = Tensor::from_ints(docs, {1, seq}, cpu());
  Tensor packed = ops::attention(q, k, v, options);
  packed.backward(dout);
  const auto packed_out = packed.to_vector();
  const auto dq = q.grad().to_vector(), dk = k.grad().to_vector(), dv = v.grad().to_vector();

  auto slice = [](const Tensor& t, int start, int len, int heads) {
    const auto all = t.to_vector();
    const int row = heads * 8;
    return std::vector<float>(all.begin() + start * row, all.begin() + (start + len) * row);
  };
  int start = 0;
  for (int len : lengths) {
    Tensor qs = Tensor::from_vector(slice(q, start, len, hq), {1, len, hq, d}, cpu());
    Tensor ks = Tensor::from_vector(slice(k, start, len, hkv), {1, len, hkv, d}, cpu());
    Tensor vs = Tensor::from_vector(slice(v, start, len, hkv), {1, len, hkv, d}, cpu());
    for (Tensor* t : {&qs, &ks, &vs}) t->set_requires_grad(true);
    Tensor alone = ops::attention(qs, ks, vs);
    alone.backward(Tensor::from_vector(slice(dout, start, len, hq), {1, len, hq, d}, cpu()));
    auto expect_slice = [&](const std::vector<float>& packed_values, const Tensor& single, int heads) {
      const auto s = single.to_vector();
      for (std::size_t i = 0; i < s.size(); ++i)
        EXPECT_NEAR(packed_values[start * heads * d + i], s[i], 1e-5) << "doc at " << start << " i " << i;
    };
    expect_slice(packed_out, alone, hq);
    expect_slice(dq, qs.grad(), hq);
    expect_slice(dk, ks.grad(), hkv);
    expect_slice(dv, vs.grad(), hkv);
    start += len;
  }
}

TEST(Ops, CrossEntropyMatchesFullLogitsAndIgnoresMaskedTokens) {
  const int rows = 7, dim = 6, vocab = 11;
  Tensor h = random_tensor({rows, dim}, cpu(), 12, -2, 2);
  Tensor w = random_tensor({vocab, dim}, cpu(), 13, -2, 2);
  const std::vector<std::int32_t> t{0, 10, -100, 5, 5, -100, 3};
  Tensor targets = Tensor::from_ints(t, {rows}, cpu());
  const auto hv = h.to_vector(), wv = w.to_vector();
  double total = 0;
  int count = 0;
  for (int r = 0; r < rows; ++r) {
    if (t[r] == -100) continue;
    std::vector<double> logits(vocab);
    double mx = -INFINITY;
    for (int o = 0; o < vocab; ++o) {
      for (int c = 0; c < dim; ++c) logits[o] += hv[r * dim + c] * wv[o * dim + c];
      mx = std::max(mx, logits[o]);
    }
    double z = 0;
    for (double l : logits) z += std::exp(l - mx);
    total += std::log(z) + mx - logits[t[r]];
    ++count;
  }
  for (std::int64_t chunk : {1, 3, 0}) {
    ops::CrossEntropyOptions options;
    options.chunk_rows = chunk;
    EXPECT_NEAR(ops::cross_entropy(h, w, targets, options).item(), total / count, 1e-5) << chunk;
    options.reduction = ops::Reduction::sum;
    EXPECT_NEAR(ops::cross_entropy(h, w, targets, options).item(), total, 1e-4) << chunk;
  }
  Tensor bad = Tensor::from_ints({0, 11, 0, 0, 0, 0, 0}, {rows}, cpu());
  EXPECT_THROW(ops::cross_entropy(h, w, bad), Error);
}

TEST(Ops, RopeInvFreqScaling) {
  const auto plain = ops::rope_inv_freq(8, 10000.0f);
  ASSERT_EQ(plain.size(), 4u);
  EXPECT_FLOAT_EQ(plain[0], 1.0f);
  EXPECT_NEAR(plain[1], 0.1f, 1e-7);
  EXPECT_NEAR(plain[3], 0.001f, 1e-9);
  ops::RopeScaling linear;
  linear.type = "linear";
  linear.factor = 4.0f;
  EXPECT_NEAR(ops::rope_inv_freq(8, 10000.0f, linear)[1], 0.025f, 1e-8);

  // Llama 3.1 (factor 8, low 1, high 4, original 8192, theta 500000, head_dim 128):
  // high frequencies kept, low ones divided by 8, the band between interpolated.
  ops::RopeScaling llama3;
  llama3.type = "llama3";
  llama3.factor = 8.0f;
  llama3.low_freq_factor = 1.0f;
  llama3.high_freq_factor = 4.0f;
  llama3.original_max_position_embeddings = 8192;
  const auto base = ops::rope_inv_freq(128, 500000.0f);
  const auto scaled = ops::rope_inv_freq(128, 500000.0f, llama3);
  for (std::size_t i = 0; i < base.size(); ++i) {
    const double wavelen = 2 * M_PI / base[i];
    if (wavelen < 8192.0 / 4) {
      EXPECT_EQ(scaled[i], base[i]) << i;
    } else if (wavelen > 8192.0) {
      EXPECT_NEAR(scaled[i], base[i] / 8, 1e-12) << i;
    } else {
      const double smooth = (8192.0 / wavelen - 1) / 3;
      EXPECT_NEAR(scaled[i], (1 - smooth) * base[i] / 8 + smooth * base[i], 1e-9) << i;
    }
  }
  ops::RopeScaling unknown;
  unknown.type = "yarn";
  EXPECT_THROW(ops::rope_inv_freq(8, 10000.0f, unknown), Error);
}

TEST(Ops, RopeRotatesHalvesByPositionAngle) {
  // head_dim 4, one head: pairs (x0, x2) and (x1, x3) rotate by pos * inv_freq[i].
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 1, 4}, cpu());
  Tensor pos = Tensor::from_ints({5}, {1, 1}, cpu());
  const Tensor inv_freq = Tensor::from_vector({0.5f, 0.25f}, {2}, cpu());
  const auto y = ops::rope(x, pos, inv_freq).to_vector();
  const float a0 = 2.5f, a1 = 1.25f;
  EXPECT_NEAR(y[0], 1 * std::cos(a0) - 3 * std::sin(a0), 1e-6);
  EXPECT_NEAR(y[1], 2 * std::cos(a1) - 4 * std::sin(a1), 1e-6);
  EXPECT_NEAR(y[2], 3 * std::cos(a0) + 1 * std::sin(a0), 1e-6);
  EXPECT_NEAR(y[3], 4 * std::cos(a1) + 2 * std::sin(a1), 1e-6);
}

TEST(Ops, DropoutIsDeterministicPerKeyAndUnbiased) {
  Tensor x = Tensor::from_vector(std::vector<float>(20000, 1.0f), {20000}, cpu());
  const auto a = ops::dropout(x, 0.25f, 7, 0).to_vector();
  const auto b = ops::dropout(x, 0.25f, 7, 0).to_vector();
  const auto c = ops::dropout(x, 0.25f, 7, 20000).to_vector();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double total = 0;
  int kept = 0;
  for (float v : a) {
    total += v;
    if (v != 0.0f) {
      ++kept;
      EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
    }
  }
  EXPECT_NEAR(kept / 20000.0, 0.75, 0.015);
  EXPECT_NEAR(total / 20000.0, 1.0, 0.02);
  EXPECT_TRUE(ops::dropout(x, 0.0f, 7, 0).same_as(x));
}

TEST(Ops, CastRoundTripAndReshapeSharesStorage) {
  Tensor x = Tensor::from_vector({1.0f, 1.0f + 1.0f / 256, 3.14159f, -0.0f}, {2, 2}, cpu());
  Tensor b = ops::cast(x, DType::bf16);
  EXPECT_EQ(b.dtype(), DType::bf16);
  const auto back = ops::cast(b, DType::f32).to_vector();
  EXPECT_EQ(back[1], 1.0f);  // ties to even
  EXPECT_EQ(back[2], bf16_to_f32(f32_to_bf16(3.14159f)));
  Tensor r = ops::reshape(x, {4});
  EXPECT_EQ(r.data(), x.data());
  EXPECT_EQ(r.shape(), Shape({4}));
}

}  // namespace
}  // namespace ft
