// Causal grouped-query attention, flash style (ft::AttentionForwardArgs,
// ft::AttentionBackwardArgs). q, out: [B, T, Hq, D]; k, v: [B, T, Hkv, D]; lse, D: [B, Hq, T];
// query head h reads kv head h / (Hq / Hkv); which keys a query sees is
// backends/common/attention_mask.hpp, shared with the CPU.
//   forward:  s_ij = scale q_i·k_j;  out_i = sum_j softmax_j(s_i) v_j;  lse_i = log sum_j e^s_ij
//   backward: p_ij = exp(s_ij - lse_i);  D_i = dout_i·out_i;  ds_ij = p_ij (dout_i·v_j - D_i)
//             dq_i = scale sum_j ds_ij k_j;  dk_j = scale sum_i ds_ij q_i
//             dv_j = sum_i p_ij dout_i
//
// One 32-lane group per query row (forward, D, dq) or key row (dk, dv). A lane holds
// head_dim / 32 values of a row (at most 8: kMaxHeadDim). Scores and dot products reduce
// across the lanes; the softmax runs online (running max and sum), so no [seq, seq] matrix
// exists, as on the CPU. The backward recomputes p from lse rather than storing it, and
// dk/dv are gathered per key row (looping over the queries and the q heads of the kv head's
// group) instead of scattered with atomics, so each is written once.
#include <cmath>
#include <cstdint>

#include "backends/common/attention_mask.hpp"
#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

constexpr int kPerLane = static_cast<int>(kMaxHeadDim / kLanes);
constexpr int kRowsPerBlock = 4;  // 32-lane groups per block

// The row this thread's 32-lane group works on.
__device__ inline std::int64_t group_row() {
  return static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kLanes;
}

// Row `row` of a [batch, heads, seq] enumeration: (batch item, head, position).
struct HeadRow {
  std::int64_t b, head, t;
};
__device__ inline HeadRow head_row(std::int64_t row, std::int64_t heads, std::int64_t seq) {
  return {row / (seq * heads), (row / seq) % heads, row % seq};
}

// Query i of batch item b may see key j: backends/common/attention_mask.hpp, the CPU's mask.
__device__ inline bool attends(const std::int32_t* doc, std::int64_t b, std::int64_t seq,
                               std::int64_t i, std::int64_t j, std::int64_t window) {
  return attention_allows(i, j, window, doc == nullptr ? nullptr : doc + b * seq);
}

// Lane `lane`'s values of a row: elements lane, lane + 32, ... below head_dim.
__device__ inline void load_row(const float* row, int lane, std::int64_t d,
                                float (&out)[kPerLane]) {
  for (int e = 0; e < kPerLane; ++e) {
    const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
    out[e] = c < d ? row[c] : 0.0f;
  }
}
__device__ inline float dot_row(const float (&a)[kPerLane], const float* row, int lane,
                                std::int64_t d) {
  float s = 0;
  for (int e = 0; e < kPerLane; ++e) {
    const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
    if (c < d) s += a[e] * row[c];
  }
  return lane_sum(s);
}

// q, out: [B, T, Hq, D]; k, v: [B, T, Hkv, D]; lse: [B, Hq, T].
__global__ void attention_forward_kernel(const float* q, const float* k, const float* v,
                                         const std::int32_t* doc, float* out, float* lse,
                                         AttentionShape s) {
  const int lane = threadIdx.x % kLanes;
  const std::int64_t row = group_row();
  if (row >= s.batch * s.q_heads * s.seq) return;
  const HeadRow r = head_row(row, s.q_heads, s.seq);
  const std::int64_t b = r.b, h = r.head, i = r.t;
  const std::int64_t kvh = h / (s.q_heads / s.kv_heads), D = s.head_dim;
  const auto q_at = [&](std::int64_t t) { return q + ((b * s.seq + t) * s.q_heads + h) * D; };
  const auto kv_at = [&](const float* base, std::int64_t t) {
    return base + ((b * s.seq + t) * s.kv_heads + kvh) * D;
  };
  float qi[kPerLane], acc[kPerLane] = {};
  load_row(q_at(i), lane, D, qi);
  float running_max = -INFINITY, running_sum = 0;
  for (std::int64_t j = 0; j <= i; ++j) {
    if (!attends(doc, b, s.seq, i, j, s.window)) continue;
    const float score = s.scale * dot_row(qi, kv_at(k, j), lane, D);
    const float new_max = fmaxf(running_max, score);
    const float correction = expf(running_max - new_max), p = expf(score - new_max);
    running_sum = running_sum * correction + p;
    const float* vj = kv_at(v, j);
    for (int e = 0; e < kPerLane; ++e) {
      const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
      acc[e] = acc[e] * correction + (c < D ? p * vj[c] : 0.0f);
    }
    running_max = new_max;
  }
  float* out_i = out + ((b * s.seq + i) * s.q_heads + h) * D;
  for (int e = 0; e < kPerLane; ++e) {
    const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
    if (c < D) out_i[c] = acc[e] / running_sum;
  }
  if (lane == 0) lse[(b * s.q_heads + h) * s.seq + i] = running_max + logf(running_sum);
}

// D_i = dout_i · out_i, a 32-lane group per query row.
__global__ void attention_delta_kernel(const float* out, const float* d_out, float* delta,
                                       AttentionShape s) {
  const int lane = threadIdx.x % kLanes;
  const std::int64_t row = group_row();
  if (row >= s.batch * s.q_heads * s.seq) return;
  const HeadRow r = head_row(row, s.q_heads, s.seq);
  const std::int64_t b = r.b, h = r.head, i = r.t;
  const std::int64_t offset = ((b * s.seq + i) * s.q_heads + h) * s.head_dim;
  float o[kPerLane];
  load_row(out + offset, lane, s.head_dim, o);
  const float d = dot_row(o, d_out + offset, lane, s.head_dim);
  if (lane == 0) delta[(b * s.q_heads + h) * s.seq + i] = d;
}

// dq_i = scale sum_j p_ij (dout_i·v_j - D_i) k_j, a group per query row.
__global__ void attention_dq_kernel(const float* q, const float* k, const float* v,
                                    const std::int32_t* doc, const float* lse, const float* delta,
                                    const float* d_out, float* dq, AttentionShape s) {
  const int lane = threadIdx.x % kLanes;
  const std::int64_t row = group_row();
  if (row >= s.batch * s.q_heads * s.seq) return;
  const HeadRow r = head_row(row, s.q_heads, s.seq);
  const std::int64_t b = r.b, h = r.head, i = r.t;
  const std::int64_t kvh = h / (s.q_heads / s.kv_heads), D = s.head_dim;
  const std::int64_t qi_offset = ((b * s.seq + i) * s.q_heads + h) * D;
  const float lse_i = lse[(b * s.q_heads + h) * s.seq + i],
              delta_i = delta[(b * s.q_heads + h) * s.seq + i];
  float qi[kPerLane], doi[kPerLane], acc[kPerLane] = {};
  load_row(q + qi_offset, lane, D, qi);
  load_row(d_out + qi_offset, lane, D, doi);
  for (std::int64_t j = 0; j <= i; ++j) {
    if (!attends(doc, b, s.seq, i, j, s.window)) continue;
    const float* kj = k + ((b * s.seq + j) * s.kv_heads + kvh) * D;
    const float* vj = v + ((b * s.seq + j) * s.kv_heads + kvh) * D;
    const float p = expf(s.scale * dot_row(qi, kj, lane, D) - lse_i);
    const float ds = p * (dot_row(doi, vj, lane, D) - delta_i);
    for (int e = 0; e < kPerLane; ++e) {
      const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
      if (c < D) acc[e] += ds * kj[c];
    }
  }
  for (int e = 0; e < kPerLane; ++e) {
    const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
    if (c < D) dq[qi_offset + c] = s.scale * acc[e];
  }
}

// dv_j = sum_i p_ij dout_i;  dk_j = scale sum_i ds_ij q_i, over every query head of the
// kv head's group; a group per key row.
__global__ void attention_dkv_kernel(const float* q, const float* k, const float* v,
                                     const std::int32_t* doc, const float* lse, const float* delta,
                                     const float* d_out, float* dk, float* dv, AttentionShape s) {
  const int lane = threadIdx.x % kLanes;
  const std::int64_t row = group_row();
  if (row >= s.batch * s.kv_heads * s.seq) return;
  const HeadRow r = head_row(row, s.kv_heads, s.seq);
  const std::int64_t b = r.b, kvh = r.head, j = r.t;
  const std::int64_t group = s.q_heads / s.kv_heads, D = s.head_dim;
  const std::int64_t kj_offset = ((b * s.seq + j) * s.kv_heads + kvh) * D;
  float kj[kPerLane], vj[kPerLane], dk_acc[kPerLane] = {}, dv_acc[kPerLane] = {};
  load_row(k + kj_offset, lane, D, kj);
  load_row(v + kj_offset, lane, D, vj);
  for (std::int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
    for (std::int64_t i = j; i < s.seq; ++i) {
      if (!attends(doc, b, s.seq, i, j, s.window)) continue;
      const std::int64_t qi_offset = ((b * s.seq + i) * s.q_heads + h) * D;
      const float* qi = q + qi_offset;
      const float* doi = d_out + qi_offset;
      const float p =
          expf(s.scale * dot_row(kj, qi, lane, D) - lse[(b * s.q_heads + h) * s.seq + i]);
      const float ds = p * (dot_row(vj, doi, lane, D) - delta[(b * s.q_heads + h) * s.seq + i]);
      for (int e = 0; e < kPerLane; ++e) {
        const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
        if (c < D) {
          dv_acc[e] += p * doi[c];
          dk_acc[e] += ds * qi[c];
        }
      }
    }
  }
  for (int e = 0; e < kPerLane; ++e) {
    const std::int64_t c = lane + static_cast<std::int64_t>(e) * kLanes;
    if (c < D) {
      dk[kj_offset + c] = s.scale * dk_acc[e];
      dv[kj_offset + c] = dv_acc[e];
    }
  }
}

unsigned row_groups(std::int64_t rows) {
  return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
}

}  // namespace

void launch_attention_forward(const float* q, const float* k, const float* v,
                              const std::int32_t* doc, float* out, float* lse,
                              const AttentionShape& s, Stream stream) {
  const std::int64_t rows = s.batch * s.q_heads * s.seq;
  if (rows > 0)
    attention_forward_kernel<<<row_groups(rows), kRowsPerBlock * kLanes, 0, as_stream(stream)>>>(
        q, k, v, doc, out, lse, s);
}
void launch_attention_backward(const float* q, const float* k, const float* v,
                               const std::int32_t* doc, const float* out, const float* lse,
                               const float* d_out, float* dq, float* dk, float* dv,
                               float* scratch_d, const AttentionShape& s, Stream stream) {
  const std::int64_t q_rows = s.batch * s.q_heads * s.seq, kv_rows = s.batch * s.kv_heads * s.seq;
  if (q_rows == 0) return;
  const gpuStream_t st = as_stream(stream);
  attention_delta_kernel<<<row_groups(q_rows), kRowsPerBlock * kLanes, 0, st>>>(out, d_out,
                                                                                scratch_d, s);
  attention_dq_kernel<<<row_groups(q_rows), kRowsPerBlock * kLanes, 0, st>>>(
      q, k, v, doc, lse, scratch_d, d_out, dq, s);
  attention_dkv_kernel<<<row_groups(kv_rows), kRowsPerBlock * kLanes, 0, st>>>(
      q, k, v, doc, lse, scratch_d, d_out, dk, dv, s);
}

}  // namespace ft::backends::gpu
