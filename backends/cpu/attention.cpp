// Causal grouped-query attention, flash style (Dao et al., FlashAttention-2), on the CPU.
//
// q, out, dq: [B, T, Hq, D];  k, v, dk, dv: [B, T, Hkv, D];  lse: [B, Hq, T];
// doc_ids: [B, T] or null. Query head h reads kv head h / (Hq / Hkv).
// Query i sees key j when j <= i, and doc_ids[i] == doc_ids[j] (when given), and
// i - j < window (when window > 0).
//
// Forward, per (b, h, block of 64 queries): stream over blocks of 64 keys with an online
// softmax, so only a 64 x 64 score tile ever exists:
//   S = scale Q Kᵀ (masked to -inf);  m' = max(m, rowmax S);  P = exp(S - m')
//   l = l e^(m - m') + rowsum P;  O = O e^(m - m') + P V;   finally out = O / l, lse = m + log l
//
// Backward, per (b, h), key blocks outer and query blocks inner, recomputing P from lse:
//   P = exp(scale Q Kᵀ - lse);  dV += Pᵀ dO;  dP = dO Vᵀ;  dS = scale P (dP - Δ),  Δ_i = dO_i·out_i
//   dQ += dS K;  dK += dSᵀ Q
// dK/dV of a key block are summed in a per-thread [64, D] buffer and written once. dQ rows of a
// head are written only by the task that owns the head, so there are no races: when there
// are fewer heads than threads, key blocks are split across tasks, each with its own dQ
// copy, summed at the end. With GQA the q heads of a group write separate dK/dV copies that
// are then summed into the kv head.
//
// The 64 x 64 tile products go through tile_gemm.hpp (register-blocked AVX-512 or AVX2 FMA).
// Masks cost nothing on tiles wholly inside the visible region; tiles wholly outside it
// (beyond the diagonal, before the window, or in earlier documents when doc ids are sorted)
// are never visited.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/common/attention_mask.hpp"
#include "backends/cpu/kernels.hpp"
#include "backends/cpu/simd.hpp"
#include "backends/cpu/tile_gemm.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu::kernels {

namespace {

constexpr std::int64_t kBlockQ = 64;
constexpr std::int64_t kBlockK = 64;

struct Shape {
  std::int64_t batch, seq, q_heads, kv_heads, head_dim, group;
  std::int64_t q_row, kv_row;  // elements between consecutive tokens: Hq D and Hkv D
};

Shape check_shape(const char* what, std::int64_t batch, std::int64_t seq, std::int64_t q_heads,
                  std::int64_t kv_heads, std::int64_t head_dim) {
  if (batch < 0 || seq < 0 || q_heads <= 0 || kv_heads <= 0 || head_dim <= 0 ||
      q_heads % kv_heads != 0) {
    throw Error(std::string(what) + ": bad shape batch=" + std::to_string(batch) +
                " seq=" + std::to_string(seq) + " q_heads=" + std::to_string(q_heads) +
                " kv_heads=" + std::to_string(kv_heads) + " head_dim=" + std::to_string(head_dim) +
                " (q_heads must be a positive multiple of kv_heads)");
  }
  return Shape{batch,
               seq,
               q_heads,
               kv_heads,
               head_dim,
               q_heads / kv_heads,
               q_heads * head_dim,
               kv_heads * head_dim};
}

// Which keys a query may see, for one sequence of the batch.
struct Mask {
  const std::int32_t* doc;  // [T] or null
  std::int64_t seq;
  std::int64_t window;  // 0: unlimited
  bool docs_sorted;     // packed documents one after another: whole tiles can be skipped

  bool allows(std::int64_t i, std::int64_t j) const { return attention_allows(i, j, window, doc); }
  // Every (i, j) in queries [q0, q1) x keys [k0, k1) is allowed: no per-element test needed.
  bool whole_tile(std::int64_t q0, std::int64_t q1, std::int64_t k0, std::int64_t k1) const {
    return doc == nullptr && k1 - 1 <= q0 && (window <= 0 || (q1 - 1) - k0 < window);
  }
  // The first key that query q0 (or any later one) may see.
  std::int64_t first_key(std::int64_t q0) const {
    std::int64_t first = window > 0 ? std::max<std::int64_t>(0, q0 - window + 1) : 0;
    if (docs_sorted) first = std::max(first, std::lower_bound(doc, doc + seq, doc[q0]) - doc);
    return first;
  }
  // One past the last query that key k1 - 1 (or any earlier one) may be seen by.
  std::int64_t query_end(std::int64_t k1) const {
    std::int64_t end = window > 0 ? std::min(seq, k1 - 1 + window) : seq;
    if (docs_sorted) end = std::min(end, std::upper_bound(doc, doc + seq, doc[k1 - 1]) - doc);
    return end;
  }
};

Mask mask_for(const std::int32_t* doc_ids, std::int64_t b, std::int64_t seq, std::int64_t window,
              const std::vector<char>& sorted) {
  const std::int32_t* doc = doc_ids ? doc_ids + b * seq : nullptr;
  return Mask{doc, seq, window, doc != nullptr && sorted[b] != 0};
}

// `buffer`, grown to at least n elements (never shrunk).
float* at_least(std::vector<float>& buffer, std::int64_t n) {
  if (buffer.size() < static_cast<std::size_t>(n)) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// Per sequence: are its document ids non-decreasing (the usual packing)?
std::vector<char> docs_sorted(const std::int32_t* doc_ids, std::int64_t batch, std::int64_t seq) {
  std::vector<char> sorted(static_cast<std::size_t>(batch), 0);
  for (std::int64_t b = 0; doc_ids && b < batch; ++b) {
    sorted[b] = std::is_sorted(doc_ids + b * seq, doc_ids + (b + 1) * seq);
  }
  return sorted;
}

// dst[c, r] = src[r * ld + c]: rows x cols strided rows -> [cols, rows] contiguous.
void transpose_rows(const float* src, std::int64_t ld, std::int64_t rows, std::int64_t cols,
                    float* __restrict dst) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* __restrict s = src + r * ld;
    for (std::int64_t c = 0; c < cols; ++c) dst[c * rows + r] = s[c];
  }
}

}  // namespace

void attention_forward(const AttentionForwardArgs& a) {
  const Shape s =
      check_shape("attention_forward", a.batch, a.seq, a.q_heads, a.kv_heads, a.head_dim);
  const std::int64_t T = s.seq, D = s.head_dim;
  const std::int64_t q_blocks = (T + kBlockQ - 1) / kBlockQ;
  const std::int64_t heads = s.batch * s.q_heads;
  const float scale = a.scale;
  const std::vector<char> sorted = docs_sorted(a.doc_ids, s.batch, T);

#pragma omp parallel
  {
    std::vector<float> S(kBlockQ * kBlockK), Kt(D * kBlockK), O(kBlockQ * D);
    std::vector<float> m(kBlockQ), l(kBlockQ);
    // Late query blocks see the most keys: hand them out first for a balanced finish.
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < q_blocks * heads; ++task) {
      const std::int64_t qb = q_blocks - 1 - task / heads, bh = task % heads;
      const std::int64_t b = bh / s.q_heads, h = bh % s.q_heads, kvh = h / s.group;
      const std::int64_t q0 = qb * kBlockQ, q1 = std::min(T, q0 + kBlockQ), mq = q1 - q0;
      const Mask mask = mask_for(a.doc_ids, b, T, a.window, sorted);
      const float* Q = a.q + ((b * T + q0) * s.q_heads + h) * D;  // [mq, D], row stride q_row
      const float* K = a.k + (b * T * s.kv_heads + kvh) * D;      // [T, D], row stride kv_row
      const float* V = a.v + (b * T * s.kv_heads + kvh) * D;
      std::fill(O.begin(), O.begin() + mq * D, 0.0f);
      std::fill(m.begin(), m.end(), -INFINITY);
      std::fill(l.begin(), l.end(), 0.0f);

      for (std::int64_t k0 = mask.first_key(q0); k0 < q1; k0 += kBlockK) {
        const std::int64_t k1 = std::min(q1, k0 + kBlockK), nk = k1 - k0;
        // S[mq, nk] = Q Kᵀ
        transpose_rows(K + k0 * s.kv_row, s.kv_row, nk, D, Kt.data());
        tile_gemm(mq, nk, D, Q, s.q_row, 1, Kt.data(), nk, S.data(), kBlockK, false);
        const bool whole = mask.whole_tile(q0, q1, k0, k1);
        for (std::int64_t r = 0; r < mq; ++r) {
          float* row = S.data() + r * kBlockK;
          if (whole) {
            for (std::int64_t c = 0; c < nk; ++c) row[c] *= scale;
          } else {
            for (std::int64_t c = 0; c < nk; ++c) {
              row[c] = mask.allows(q0 + r, k0 + c) ? row[c] * scale : -INFINITY;
            }
          }
          const float row_max = max_of(row, nk);
          if (row_max == -INFINITY) {  // nothing visible in this tile for this query
            std::fill(row, row + nk, 0.0f);
            continue;
          }
          const float m_new = std::max(m[r], row_max);
          const float correction = std::exp(m[r] - m_new);  // 0 on the first visible tile
          l[r] = l[r] * correction + exp_affine_sum(row, 1.0f, m_new, row, nk);
          m[r] = m_new;
          if (correction != 1.0f) {
            float* o = O.data() + r * D;
            for (std::int64_t d = 0; d < D; ++d) o[d] *= correction;
          }
        }
        // O[mq, D] += P[mq, nk] V[k0:k1]
        tile_gemm(mq, D, nk, S.data(), kBlockK, 1, V + k0 * s.kv_row, s.kv_row, O.data(), D, true);
      }
      // Every query sees itself, so l > 0.
      for (std::int64_t r = 0; r < mq; ++r) {
        const float inv = 1.0f / l[r];
        float* out = a.out + ((b * T + q0 + r) * s.q_heads + h) * D;
        for (std::int64_t d = 0; d < D; ++d) out[d] = O[r * D + d] * inv;
        if (a.lse) a.lse[bh * T + q0 + r] = m[r] + std::log(l[r]);
      }
    }
  }
}

void attention_backward(const AttentionBackwardArgs& a) {
  const Shape s =
      check_shape("attention_backward", a.batch, a.seq, a.q_heads, a.kv_heads, a.head_dim);
  const std::int64_t T = s.seq, D = s.head_dim;
  const std::int64_t heads = s.batch * s.q_heads;
  const std::int64_t k_blocks = (T + kBlockK - 1) / kBlockK;
  const std::int64_t q_size = s.batch * T * s.q_row;
  const float scale = a.scale;
  if (heads == 0 || T == 0) return;
  const std::vector<char> sorted = docs_sorted(a.doc_ids, s.batch, T);

  // Δ[b, h, i] = dout_i · out_i
  std::vector<float> delta(static_cast<std::size_t>(heads * T));
#pragma omp parallel for schedule(static)
  for (std::int64_t bt = 0; bt < s.batch * T; ++bt) {
    const std::int64_t b = bt / T, i = bt % T;
    for (std::int64_t h = 0; h < s.q_heads; ++h) {
      const float* o = a.out + (bt * s.q_heads + h) * D;
      const float* g = a.d_out + (bt * s.q_heads + h) * D;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (std::int64_t d = 0; d < D; ++d) dot += o[d] * g[d];
      delta[(b * s.q_heads + h) * T + i] = dot;
    }
  }

  // Fewer heads than threads: split each head's key blocks over `splits` tasks; split 0
  // accumulates into dq, split p > 0 into its own copy dq_extra[p - 1].
  const std::int64_t threads = omp_get_max_threads();
  const std::int64_t splits = std::clamp<std::int64_t>((threads + heads - 1) / heads, 1, k_blocks);
  // These buffers outlive the call: fresh megabytes each call were page-faulted in anew (GQA's
  // dK, dV copies alone, 6 MB a layer, were 18k page faults a step of bench-125m).
  thread_local std::vector<float> dq_extra_buffer, dk_heads_buffer, dv_heads_buffer;
  float* dq_extra = at_least(dq_extra_buffer, (splits - 1) * q_size);
  std::fill(dq_extra, dq_extra + (splits - 1) * q_size, 0.0f);
  // GQA: per-q-head dK/dV [B, Hq, T, D], summed over each group afterwards; every row is
  // stored before it is read.
  const bool grouped = s.group > 1;
  float* dk_heads = at_least(dk_heads_buffer, grouped ? heads * T * D : 0);
  float* dv_heads = at_least(dv_heads_buffer, grouped ? heads * T * D : 0);

#pragma omp parallel
  {
    std::vector<float> P(kBlockQ * kBlockK), dS(kBlockQ * kBlockK);
    std::vector<float> Kt(D * kBlockK), Vt(D * kBlockK), dK(kBlockK * D), dV(kBlockK * D);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < heads * splits; ++task) {
      const std::int64_t bh = task / splits, split = task % splits;
      const std::int64_t b = bh / s.q_heads, h = bh % s.q_heads, kvh = h / s.group;
      const Mask mask = mask_for(a.doc_ids, b, T, a.window, sorted);
      const float* Q = a.q + (b * T * s.q_heads + h) * D;  // token rows, stride q_row
      const float* dO = a.d_out + (b * T * s.q_heads + h) * D;
      const float* K = a.k + (b * T * s.kv_heads + kvh) * D;  // stride kv_row
      const float* V = a.v + (b * T * s.kv_heads + kvh) * D;
      float* dQ =
          (split == 0 ? a.dq : dq_extra + (split - 1) * q_size) + (b * T * s.q_heads + h) * D;
      const float* lse = a.lse + bh * T;
      const float* dlt = delta.data() + bh * T;
      if (split == 0) {  // dq is overwritten: this task owns the head's rows
        for (std::int64_t t = 0; t < T; ++t)
          std::fill(dQ + t * s.q_row, dQ + t * s.q_row + D, 0.0f);
      }

      // Key blocks interleaved over splits: causal work shrinks with the block index.
      for (std::int64_t kb = split; kb < k_blocks; kb += splits) {
        const std::int64_t k0 = kb * kBlockK, k1 = std::min(T, k0 + kBlockK), nk = k1 - k0;
        transpose_rows(K + k0 * s.kv_row, s.kv_row, nk, D, Kt.data());  // [D, nk]
        transpose_rows(V + k0 * s.kv_row, s.kv_row, nk, D, Vt.data());
        std::fill(dK.begin(), dK.begin() + nk * D, 0.0f);
        std::fill(dV.begin(), dV.begin() + nk * D, 0.0f);
        const std::int64_t q_end = mask.query_end(k1);

        for (std::int64_t q0 = k0; q0 < q_end; q0 += kBlockQ) {
          const std::int64_t q1 = std::min(q_end, q0 + kBlockQ), mq = q1 - q0;
          const float* Qb = Q + q0 * s.q_row;
          const float* dOb = dO + q0 * s.q_row;
          // P[mq, nk] = exp(scale Q Kᵀ - lse), 0 where masked
          tile_gemm(mq, nk, D, Qb, s.q_row, 1, Kt.data(), nk, P.data(), kBlockK, false);
          const bool whole = mask.whole_tile(q0, q1, k0, k1);
          for (std::int64_t r = 0; r < mq; ++r) {
            float* p = P.data() + r * kBlockK;
            exp_affine_sum(p, scale, lse[q0 + r], p, nk);
            if (!whole) {
              for (std::int64_t c = 0; c < nk; ++c) {
                if (!mask.allows(q0 + r, k0 + c)) p[c] = 0.0f;
              }
            }
          }
          // dV[nk, D] += Pᵀ dO
          tile_gemm(nk, D, mq, P.data(), 1, kBlockK, dOb, s.q_row, dV.data(), D, true);
          // dS = dO Vᵀ, then dS = scale P (dS - Δ)
          tile_gemm(mq, nk, D, dOb, s.q_row, 1, Vt.data(), nk, dS.data(), kBlockK, false);
          for (std::int64_t r = 0; r < mq; ++r) {
            const float* p = P.data() + r * kBlockK;
            float* ds = dS.data() + r * kBlockK;
            const float di = dlt[q0 + r];
            for (std::int64_t c = 0; c < nk; ++c) ds[c] = scale * p[c] * (ds[c] - di);
          }
          // dQ[mq, D] += dS K;  dK[nk, D] += dSᵀ Q
          tile_gemm(mq, D, nk, dS.data(), kBlockK, 1, K + k0 * s.kv_row, s.kv_row,
                    dQ + q0 * s.q_row, s.q_row, true);
          tile_gemm(nk, D, mq, dS.data(), 1, kBlockK, Qb, s.q_row, dK.data(), D, true);
        }
        // Store this key block's dK, dV: into the kv head directly, or this q head's copy.
        for (std::int64_t r = 0; r < nk; ++r) {
          float* dk_row = grouped ? dk_heads + (bh * T + k0 + r) * D
                                  : a.dk + ((b * T + k0 + r) * s.kv_heads + kvh) * D;
          float* dv_row = grouped ? dv_heads + (bh * T + k0 + r) * D
                                  : a.dv + ((b * T + k0 + r) * s.kv_heads + kvh) * D;
          std::copy(dK.begin() + r * D, dK.begin() + (r + 1) * D, dk_row);
          std::copy(dV.begin() + r * D, dV.begin() + (r + 1) * D, dv_row);
        }
      }
    }
  }

  if (splits > 1) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < q_size; ++i) {
      float acc = a.dq[i];
      for (std::int64_t p = 0; p < splits - 1; ++p) acc += dq_extra[p * q_size + i];
      a.dq[i] = acc;
    }
  }
  if (grouped) {
    // dk[b, t, kvh] = sum over the group's q heads g of dk_heads[b, kvh * group + g, t]
#pragma omp parallel for schedule(static)
    for (std::int64_t bt = 0; bt < s.batch * T; ++bt) {
      const std::int64_t b = bt / T, t = bt % T;
      for (std::int64_t kvh = 0; kvh < s.kv_heads; ++kvh) {
        float* dk = a.dk + (bt * s.kv_heads + kvh) * D;
        float* dv = a.dv + (bt * s.kv_heads + kvh) * D;
        std::fill(dk, dk + D, 0.0f);
        std::fill(dv, dv + D, 0.0f);
        for (std::int64_t g = 0; g < s.group; ++g) {
          const std::int64_t row = ((b * s.q_heads + kvh * s.group + g) * T + t) * D;
          for (std::int64_t d = 0; d < D; ++d) {
            dk[d] += dk_heads[row + d];
            dv[d] += dv_heads[row + d];
          }
        }
      }
    }
  }
}

}  // namespace ft::backends::cpu::kernels
