// Flash attention against a naive full-softmax attention in double (forward) and the naive
// backward written from the formulas (backward): causal, GQA, document ids, sliding window,
// sequence lengths that are not multiples of the 64-wide blocks, and more threads than heads
// (the backward's split path).
#include <gtest/gtest.h>

#include <string>

#include "backends/cpu/tile_gemm.hpp"
#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

struct Config {
  std::int64_t batch, seq, q_heads, kv_heads, head_dim;
  int docs;  // 0: none, 1: packed documents (sorted ids), 2: unsorted ids
  std::int64_t window;
  float magnitude;  // spread of q: larger means peakier softmax rows
  int threads;      // 0: leave as is
};

std::string describe(const Config& c) {
  return "B=" + std::to_string(c.batch) + " T=" + std::to_string(c.seq) +
         " Hq=" + std::to_string(c.q_heads) + " Hkv=" + std::to_string(c.kv_heads) +
         " D=" + std::to_string(c.head_dim) + " docs=" + std::to_string(c.docs) +
         " window=" + std::to_string(c.window) + " threads=" + std::to_string(c.threads);
}

struct Inputs {
  std::vector<float> q, k, v, d_out;
  std::vector<std::int32_t> docs;
};

Inputs make_inputs(const Config& c, std::uint32_t seed) {
  const std::int64_t nq = c.batch * c.seq * c.q_heads * c.head_dim;
  const std::int64_t nkv = c.batch * c.seq * c.kv_heads * c.head_dim;
  Inputs in{random_values(nq, seed, -c.magnitude, c.magnitude),
            random_values(nkv, seed + 1),
            random_values(nkv, seed + 2),
            random_values(nq, seed + 3),
            {}};
  if (c.docs) {
    // Documents of 1 to 40 tokens, restarting per sequence; unsorted: ids cycle through 3.
    std::mt19937 rng(seed + 4);
    std::uniform_int_distribution<int> length(1, 40);
    for (std::int64_t b = 0; b < c.batch; ++b) {
      std::int32_t doc = 0;
      int left = length(rng);
      for (std::int64_t t = 0; t < c.seq; ++t, --left) {
        if (left == 0) {
          doc = c.docs == 1 ? doc + 1 : (doc + 1) % 3;
          left = length(rng);
        }
        in.docs.push_back(doc);
      }
    }
  }
  return in;
}

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};

// The formulas of backend.hpp, one (b, h, i) at a time, with the full score row.
Reference naive(const Config& c, const Inputs& in, float scale) {
  const std::int64_t T = c.seq, D = c.head_dim, Hq = c.q_heads, Hkv = c.kv_heads;
  const std::int64_t group = Hq / Hkv;
  Reference r;
  r.out.assign(in.q.size(), 0.0);
  r.dq.assign(in.q.size(), 0.0);
  r.dk.assign(in.k.size(), 0.0);
  r.dv.assign(in.v.size(), 0.0);
  r.lse.assign(c.batch * Hq * T, 0.0);
  auto qi = [&](std::int64_t b, std::int64_t t, std::int64_t h) {
    return ((b * T + t) * Hq + h) * D;
  };
  auto ki = [&](std::int64_t b, std::int64_t t, std::int64_t h) {
    return ((b * T + t) * Hkv + h) * D;
  };
  std::vector<double> p(T);
  for (std::int64_t b = 0; b < c.batch; ++b) {
    for (std::int64_t h = 0; h < Hq; ++h) {
      const std::int64_t kvh = h / group;
      for (std::int64_t i = 0; i < T; ++i) {
        auto visible = [&](std::int64_t j) {
          return j <= i && (c.window <= 0 || i - j < c.window) &&
                 (c.docs == 0 || in.docs[b * T + i] == in.docs[b * T + j]);
        };
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < T; ++j) {
          p[j] = -INFINITY;
          if (!visible(j)) continue;
          double s = 0.0;
          for (std::int64_t d = 0; d < D; ++d)
            s += double(in.q[qi(b, i, h) + d]) * in.k[ki(b, j, kvh) + d];
          p[j] = scale * s;
          mx = std::max(mx, p[j]);
        }
        double sum = 0.0;
        for (std::int64_t j = 0; j < T; ++j) sum += visible(j) ? std::exp(p[j] - mx) : 0.0;
        const double lse = mx + std::log(sum);
        r.lse[(b * Hq + h) * T + i] = lse;
        for (std::int64_t j = 0; j < T; ++j) p[j] = visible(j) ? std::exp(p[j] - lse) : 0.0;
        for (std::int64_t j = 0; j < T; ++j) {
          for (std::int64_t d = 0; d < D; ++d)
            r.out[qi(b, i, h) + d] += p[j] * in.v[ki(b, j, kvh) + d];
        }
        // Backward of row i: D_i = dout_i·out_i; dv_j += p dout_i; ds = p (dout_i·v_j - D_i)
        double delta = 0.0;
        for (std::int64_t d = 0; d < D; ++d)
          delta += r.out[qi(b, i, h) + d] * in.d_out[qi(b, i, h) + d];
        for (std::int64_t j = 0; j < T; ++j) {
          if (p[j] == 0.0) continue;
          double dp = 0.0;
          for (std::int64_t d = 0; d < D; ++d) {
            dp += double(in.d_out[qi(b, i, h) + d]) * in.v[ki(b, j, kvh) + d];
            r.dv[ki(b, j, kvh) + d] += p[j] * in.d_out[qi(b, i, h) + d];
          }
          const double ds = p[j] * (dp - delta);
          for (std::int64_t d = 0; d < D; ++d) {
            r.dq[qi(b, i, h) + d] += scale * ds * in.k[ki(b, j, kvh) + d];
            r.dk[ki(b, j, kvh) + d] += scale * ds * in.q[qi(b, i, h) + d];
          }
        }
      }
    }
  }
  return r;
}

void check_once(const Config& c, std::uint32_t seed) {
  ThreadsGuard guard;
  if (c.threads > 0) backend().set_threads(c.threads);
  const Inputs in = make_inputs(c, seed);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Reference ref = naive(c, in, scale);

  std::vector<float> out(in.q.size(), NAN), lse(c.batch * c.q_heads * c.seq, NAN);
  AttentionForwardArgs f;
  f.q = in.q.data();
  f.k = in.k.data();
  f.v = in.v.data();
  f.doc_ids = c.docs != 0 ? in.docs.data() : nullptr;
  f.out = out.data();
  f.lse = lse.data();
  f.batch = c.batch;
  f.seq = c.seq;
  f.q_heads = c.q_heads;
  f.kv_heads = c.kv_heads;
  f.head_dim = c.head_dim;
  f.scale = scale;
  f.window = c.window;
  backend().attention_forward(f);
  EXPECT_TRUE(all_close(out, ref.out, 1e-4, 1e-5)) << "out";
  EXPECT_TRUE(all_close(lse, ref.lse, 1e-5, 1e-5)) << "lse";

  // NaN-filled outputs: the backward must overwrite every element.
  std::vector<float> dq(in.q.size(), NAN), dk(in.k.size(), NAN), dv(in.v.size(), NAN);
  AttentionBackwardArgs g;
  g.q = in.q.data();
  g.k = in.k.data();
  g.v = in.v.data();
  g.doc_ids = f.doc_ids;
  g.out = out.data();
  g.lse = lse.data();
  g.d_out = in.d_out.data();
  g.dq = dq.data();
  g.dk = dk.data();
  g.dv = dv.data();
  g.batch = c.batch;
  g.seq = c.seq;
  g.q_heads = c.q_heads;
  g.kv_heads = c.kv_heads;
  g.head_dim = c.head_dim;
  g.scale = scale;
  g.window = c.window;
  backend().attention_backward(g);
  EXPECT_TRUE(all_close(dq, ref.dq, 1e-3, 1e-5)) << "dq";
  EXPECT_TRUE(all_close(dk, ref.dk, 1e-3, 1e-5)) << "dk";
  EXPECT_TRUE(all_close(dv, ref.dv, 1e-3, 1e-5)) << "dv";
}

const char* isa_name(TileIsa isa) {
  return isa == TileIsa::avx512 ? "avx512" : isa == TileIsa::avx2 ? "avx2" : "scalar";
}

// Every tile-kernel version this machine runs gives the reference result.
void check(const Config& c, std::uint32_t seed) {
  SCOPED_TRACE(describe(c));
  for (TileIsa isa : {TileIsa::scalar, TileIsa::avx2, TileIsa::avx512}) {
    if (isa > best_tile_isa()) continue;
    SCOPED_TRACE(isa_name(isa));
    set_tile_isa(isa);
    check_once(c, seed);
  }
  set_tile_isa(best_tile_isa());
}

// tile_gemm alone: A and Aᵀ, accumulate, every edge shape of the 6/8-row, 8/16/32-column blocks.
TEST(CpuTileGemm, MatchesTheReferenceLoopForEdgeShapes) {
  for (TileIsa isa : {TileIsa::scalar, TileIsa::avx2, TileIsa::avx512}) {
    if (isa > best_tile_isa()) continue;
    SCOPED_TRACE(isa_name(isa));
    set_tile_isa(isa);
    for (std::int64_t M : {1, 5, 7, 8, 13, 64}) {
      for (std::int64_t N : {1, 7, 8, 15, 16, 17, 31, 33, 64}) {
        for (bool trans : {false, true}) {
          for (bool accumulate : {false, true}) {
            const std::int64_t K = 19, lda = trans ? M + 3 : K + 2, ldb = N + 5, ldc = N + 1;
            SCOPED_TRACE("M=" + std::to_string(M) + " N=" + std::to_string(N) +
                         " trans=" + std::to_string(trans) + " acc=" + std::to_string(accumulate));
            const auto A = random_values((trans ? K : M) * lda, 1);
            const auto B = random_values(K * ldb, 2);
            std::vector<float> C = random_values(M * ldc, 3);
            std::vector<double> expected(C.begin(), C.end());
            for (std::int64_t i = 0; i < M; ++i) {
              for (std::int64_t j = 0; j < N; ++j) {
                double s = accumulate ? expected[i * ldc + j] : 0.0;
                for (std::int64_t p = 0; p < K; ++p) {
                  s += double(trans ? A[p * lda + i] : A[i * lda + p]) * B[p * ldb + j];
                }
                expected[i * ldc + j] = s;
              }
            }
            tile_gemm(M, N, K, A.data(), trans ? 1 : lda, trans ? lda : 1, B.data(), ldb, C.data(),
                      ldc, accumulate);
            EXPECT_TRUE(all_close(C, expected, 1e-5, 1e-5));  // padding columns untouched too
          }
        }
      }
    }
  }
  set_tile_isa(best_tile_isa());
}

TEST(CpuAttention, CausalMultiHead) { check({2, 37, 4, 4, 16, 0, 0, 1.0f, 0}, 10); }
TEST(CpuAttention, GroupedQueryHeads) { check({2, 70, 4, 2, 16, 0, 0, 1.0f, 0}, 20); }
TEST(CpuAttention, DocumentIds) {
  check({2, 70, 2, 2, 8, 1, 0, 1.0f, 0}, 30);
  check({2, 200, 2, 1, 8, 1, 0, 1.0f, 0}, 31);
  check({2, 200, 2, 1, 8, 2, 0, 1.0f, 0}, 32);  // a document may come back later
}
TEST(CpuAttention, SlidingWindow) { check({1, 130, 4, 1, 64, 0, 50, 1.0f, 0}, 40); }
TEST(CpuAttention, EverythingAtOnceWithPeakySoftmax) {
  check({2, 150, 6, 2, 24, 1, 33, 4.0f, 0}, 50);
}
TEST(CpuAttention, OddHeadDimAndMoreThreadsThanHeads) {
  check({1, 200, 2, 1, 12, 1, 0, 2.0f, 8}, 60);
  check({1, 129, 1, 1, 64, 0, 0, 1.0f, 3}, 70);
}
TEST(CpuAttention, SingleToken) { check({3, 1, 2, 1, 8, 0, 0, 1.0f, 0}, 80); }

TEST(CpuAttention, RejectsHeadsThatDoNotGroup) {
  std::vector<float> x(3 * 4 * 2), lse(6);
  AttentionForwardArgs f;
  f.q = f.k = f.v = x.data();
  f.out = x.data();
  f.lse = lse.data();
  f.batch = 1;
  f.seq = 2;
  f.q_heads = 3;
  f.kv_heads = 2;
  f.head_dim = 4;
  EXPECT_THROW(backend().attention_forward(f), ft::Error);
}

}  // namespace
}  // namespace ft::backends::cpu::test
