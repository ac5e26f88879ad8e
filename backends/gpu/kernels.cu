// The GPU kernels of every Backend op but GEMM (cuBLAS/hipBLAS does those), one source for
// CUDA and HIP. Forward and backward side by side; each kernel's formula is the one in
// ftengine/backend.hpp. Written for clarity first: one thread per element, one block or one
// 32-lane group per row, reductions through shared memory or lane shuffles.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backends/common/attention_mask.hpp"
#include "backends/common/optimizer_math.hpp"
#include "backends/gpu/gpu_runtime.hpp"
#include "backends/gpu/kernels.hpp"
#include "ftengine/dtype.hpp"
#include "ftengine/philox.hpp"

namespace ft::backends::gpu {

namespace {

constexpr int kThreads = 256;  // threads per block of the elementwise kernels
constexpr int kLanes = 32;     // one row group: a CUDA warp, half an AMD wave64

gpuStream_t as_stream(Stream s) { return static_cast<gpuStream_t>(s); }

unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 64 ? 65535 * 64 : b));
}

// ---- numbers --------------------------------------------------------------------------------

// Stored weights widen to f32 on load and results narrow on store through ftengine/dtype.hpp,
// the conversions the CPU backend uses, so both round alike.
__device__ inline float load(const void* p, Stored type, std::int64_t i) {
  if (type == Stored::f32) return static_cast<const float*>(p)[i];
  const std::uint16_t h = static_cast<const std::uint16_t*>(p)[i];
  return type == Stored::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
}
__device__ inline void store(void* p, Stored type, std::int64_t i, float value) {
  if (type == Stored::f32)
    static_cast<float*>(p)[i] = value;
  else
    static_cast<std::uint16_t*>(p)[i] =
        type == Stored::bf16 ? f32_to_bf16(value) : f32_to_f16(value);
}

__device__ inline float lane_sum(float v) {
  for (int offset = kLanes / 2; offset > 0; offset /= 2) {
#if defined(FTENGINE_GPU_HIP)
    v += __shfl_xor(v, offset, kLanes);
#else
    v += __shfl_xor_sync(0xffffffffu, v, offset, kLanes);
#endif
  }
  return v;
}

// The sum of `v` over the block (blockDim.x a multiple of kLanes, at most 1024); every
// thread gets it. `shared` holds blockDim.x / kLanes floats.
__device__ inline float block_sum(float v, float* shared) {
  const int lane = threadIdx.x % kLanes, group = threadIdx.x / kLanes;
  const int groups = blockDim.x / kLanes;
  v = lane_sum(v);
  __syncthreads();  // `shared` may still be read from a previous call
  if (lane == 0) shared[group] = v;
  __syncthreads();
  float total = 0;
  for (int g = 0; g < groups; ++g) total += shared[g];
  return total;
}
__device__ inline float block_max(float v, float* shared) {
  const int lane = threadIdx.x % kLanes, group = threadIdx.x / kLanes;
  const int groups = blockDim.x / kLanes;
  for (int offset = kLanes / 2; offset > 0; offset /= 2) {
#if defined(FTENGINE_GPU_HIP)
    v = fmaxf(v, __shfl_xor(v, offset, kLanes));
#else
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset, kLanes));
#endif
  }
  __syncthreads();
  if (lane == 0) shared[group] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int g = 0; g < groups; ++g) m = fmaxf(m, shared[g]);
  return m;
}

#define FT_GRID_LOOP(i, n)                                                                         \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

// ---- casts and embeddings -------------------------------------------------------------------

__global__ void cast_kernel(const void* src, Stored st, void* dst, Stored dt, std::int64_t n) {
  FT_GRID_LOOP(i, n) store(dst, dt, i, load(src, st, i));
}

__global__ void embedding_forward_kernel(const std::int32_t* ids, const void* table, Stored type,
                                         float* out, std::int64_t n_tokens, std::int64_t dim) {
  FT_GRID_LOOP(i, n_tokens * dim) {
    const std::int64_t t = i / dim, c = i % dim;
    out[i] = load(table, type, static_cast<std::int64_t>(ids[t]) * dim + c);
  }
}
__global__ void embedding_backward_kernel(const std::int32_t* ids, const float* d_out,
                                          float* d_table, std::int64_t n_tokens, std::int64_t dim) {
  FT_GRID_LOOP(i, n_tokens * dim) {
    const std::int64_t t = i / dim, c = i % dim;
    atomicAdd(d_table + static_cast<std::int64_t>(ids[t]) * dim + c, d_out[i]);
  }
}

// ---- RMSNorm: one block per row --------------------------------------------------------------

__global__ void rmsnorm_forward_kernel(const float* x, const void* w, Stored wt, float* y,
                                       float* rstd, std::int64_t dim, float eps) {
  __shared__ float shared[1024 / kLanes];
  const std::int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  float sq = 0;
  for (std::int64_t c = threadIdx.x; c < dim; c += blockDim.x) sq += xr[c] * xr[c];
  const float r = rsqrtf(block_sum(sq, shared) / static_cast<float>(dim) + eps);
  if (threadIdx.x == 0) rstd[row] = r;
  for (std::int64_t c = threadIdx.x; c < dim; c += blockDim.x)
    y[row * dim + c] = xr[c] * r * load(w, wt, c);
}

// dx = rstd * (dy*w - xhat * mean(dy*w * xhat))
__global__ void rmsnorm_backward_dx_kernel(const float* x, const void* w, Stored wt,
                                           const float* rstd, const float* dy, float* dx,
                                           std::int64_t dim) {
  __shared__ float shared[1024 / kLanes];
  const std::int64_t row = blockIdx.x;
  const float r = rstd[row];
  float dot = 0;
  for (std::int64_t c = threadIdx.x; c < dim; c += blockDim.x)
    dot += dy[row * dim + c] * load(w, wt, c) * x[row * dim + c] * r;
  const float mean = block_sum(dot, shared) / static_cast<float>(dim);
  for (std::int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
    const float xhat = x[row * dim + c] * r;
    dx[row * dim + c] = r * (dy[row * dim + c] * load(w, wt, c) - xhat * mean);
  }
}
// d_weight[c] += sum_r dy[r, c] * x[r, c] * rstd[r]: a thread per column, rows in order.
__global__ void rmsnorm_backward_dw_kernel(const float* x, const float* rstd, const float* dy,
                                           float* d_weight, std::int64_t rows, std::int64_t dim) {
  FT_GRID_LOOP(c, dim) {
    float sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += dy[r * dim + c] * x[r * dim + c] * rstd[r];
    d_weight[c] += sum;
  }
}

// ---- rotary embedding: a thread per (token, head, pair) --------------------------------------

__global__ void rope_kernel(const float* x, float* out, const std::int32_t* positions,
                            const float* inv_freq, std::int64_t n_tokens, std::int64_t heads,
                            std::int64_t head_dim, float sign) {
  const std::int64_t half = head_dim / 2;
  FT_GRID_LOOP(i, n_tokens * heads * half) {
    const std::int64_t pair = i % half, th = i / half, t = th / heads;
    const float angle = static_cast<float>(positions[t]) * inv_freq[pair];
    const float c = cosf(angle), s = sign * sinf(angle);
    const float* xr = x + th * head_dim;
    const float x0 = xr[pair], x1 = xr[pair + half];
    out[th * head_dim + pair] = x0 * c - x1 * s;
    out[th * head_dim + pair + half] = x1 * c + x0 * s;
  }
}

// ---- attention: one 32-lane group per query row (forward, dq) or key row (dk, dv) -----------
//
// A lane holds head_dim / 32 values of a row (at most 8: kMaxHeadDim). Scores and dot
// products reduce across the lanes; the softmax runs online (running max and sum), so no
// [seq, seq] matrix exists, as on the CPU.

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

// ---- SwiGLU ----------------------------------------------------------------------------------

__device__ inline float sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

__global__ void swiglu_forward_kernel(const float* gate, const float* up, float* out,
                                      std::int64_t n) {
  FT_GRID_LOOP(i, n) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}
__global__ void swiglu_backward_kernel(const float* gate, const float* up, const float* d_out,
                                       float* d_gate, float* d_up, std::int64_t n) {
  FT_GRID_LOOP(i, n) {
    const float g = gate[i], sg = sigmoid(g), d = d_out[i];
    const float u = up[i];  // read both before writing: outputs may alias inputs
    d_gate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    d_up[i] = d * g * sg;
  }
}

// ---- cross-entropy: one block per row of logits ----------------------------------------------

__global__ void cross_entropy_forward_kernel(const float* logits, const std::int32_t* targets,
                                             float* loss, float* lse, std::int64_t vocab,
                                             std::int32_t ignore_index, int* bad_target) {
  __shared__ float shared[1024 / kLanes];
  const std::int64_t row = blockIdx.x;
  const float* l = logits + row * vocab;
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) m = fmaxf(m, l[c]);
  m = block_max(m, shared);
  float sum = 0;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) sum += expf(l[c] - m);
  const float row_lse = m + logf(block_sum(sum, shared));
  if (threadIdx.x != 0) return;
  lse[row] = row_lse;
  const std::int32_t t = targets[row];
  if (t == ignore_index) {
    loss[row] = 0.0f;
  } else if (t < 0 || t >= vocab) {
    loss[row] = 0.0f;
    *bad_target = 1;
  } else {
    loss[row] = row_lse - l[t];
  }
}
__global__ void cross_entropy_backward_kernel(float* logits, const float* lse,
                                              const std::int32_t* targets, std::int64_t rows,
                                              std::int64_t vocab, std::int32_t ignore_index,
                                              float grad_scale) {
  FT_GRID_LOOP(i, rows * vocab) {
    const std::int64_t r = i / vocab, c = i % vocab;
    const std::int32_t t = targets[r];
    logits[i] =
        t == ignore_index ? 0.0f : grad_scale * (expf(logits[i] - lse[r]) - (c == t ? 1.0f : 0.0f));
  }
}

// ---- elementwise, bias, dropout, optimizers --------------------------------------------------

__global__ void binary_kernel(const float* a, const float* b, float* out, std::int64_t n, int op) {
  FT_GRID_LOOP(i, n) out[i] = op == 0 ? a[i] + b[i] : a[i] * b[i];
}
__global__ void axpby_kernel(const float* x, float* y, std::int64_t n, float alpha, float beta) {
  FT_GRID_LOOP(i, n) y[i] = beta == 0.0f ? alpha * x[i] : alpha * x[i] + beta * y[i];
}
__global__ void bias_add_kernel(float* x, const void* bias, Stored type, std::int64_t rows,
                                std::int64_t cols) {
  FT_GRID_LOOP(i, rows * cols) x[i] += load(bias, type, i % cols);
}
__global__ void sum_rows_kernel(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                                bool accumulate) {
  FT_GRID_LOOP(c, cols) {
    float sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += x[r * cols + c];
    out[c] = accumulate ? out[c] + sum : sum;
  }
}
__global__ void dropout_kernel(const float* x, float* out, std::int64_t n, float p,
                               std::uint64_t seed, std::uint64_t offset) {
  const float keep_scale = 1.0f / (1.0f - p);
  FT_GRID_LOOP(i, n) {
    const bool keep = philox_uniform(seed, offset + static_cast<std::uint64_t>(i)) >= p;
    out[i] = keep ? x[i] * keep_scale : 0.0f;
  }
}
__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, std::int64_t n,
                             AdamWConstants c) {
  FT_GRID_LOOP(i, n) adamw_element(p[i], g[i], m[i], v[i], c);
}
__global__ void sgd_kernel(float* p, const float* grad, float* buf, std::int64_t n, float lr,
                           float momentum, float weight_decay, bool nesterov, bool first) {
  FT_GRID_LOOP(i, n) {
    if (momentum != 0.0f)
      sgd_momentum_element(p[i], grad[i], buf[i], lr, momentum, weight_decay, nesterov, first);
    else
      sgd_element(p[i], grad[i], lr, weight_decay);
  }
}

// ---- reductions in a fixed order ----------------------------------------------------------

__global__ void reduce_partials_kernel(const float* x, std::int64_t n, int what, double* partials) {
  __shared__ double shared[kThreads];
  double sum = 0;
  FT_GRID_LOOP(i, n) {
    const float xi = x[i];
    sum += what == 0   ? static_cast<double>(xi)
           : what == 1 ? static_cast<double>(xi) * xi
                       : (isfinite(xi) ? 0.0 : 1.0);
  }
  shared[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}
__global__ void reduce_final_kernel(const double* partials, int count, double* result) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double total = 0;
  for (int b = 0; b < count; ++b) total += partials[b];
  *result = total;
}

// ---- 4-bit dequantisation ----------------------------------------------------------------

__global__ void dequantize_4bit_kernel(Weight4bit w, std::int64_t first, std::int64_t count,
                                       float* out) {
  FT_GRID_LOOP(k, count) {
    const std::int64_t i = first + k, block = i / w.block_size;
    const float absmax =
        w.double_quant
            ? w.dynamic_map[w.absmax_codes[block]] * w.absmax_scales[block / 256] + w.absmax_offset
            : w.absmax[block];
    const std::uint8_t byte = w.packed[i >> 1];
    out[k] = w.code_table[(i & 1) ? (byte & 0x0f) : (byte >> 4)] * absmax;
  }
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------

void launch_cast(const void* src, Stored st, void* dst, Stored dt, std::int64_t n, Stream stream) {
  if (n > 0) cast_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(src, st, dst, dt, n);
}

void launch_embedding_forward(const std::int32_t* ids, const void* table, Stored type, float* out,
                              std::int64_t n_tokens, std::int64_t dim, Stream stream) {
  if (n_tokens * dim > 0)
    embedding_forward_kernel<<<blocks_for(n_tokens * dim), kThreads, 0, as_stream(stream)>>>(
        ids, table, type, out, n_tokens, dim);
}
void launch_embedding_backward(const std::int32_t* ids, const float* d_out, float* d_table,
                               std::int64_t n_tokens, std::int64_t dim, Stream stream) {
  if (n_tokens * dim > 0)
    embedding_backward_kernel<<<blocks_for(n_tokens * dim), kThreads, 0, as_stream(stream)>>>(
        ids, d_out, d_table, n_tokens, dim);
}

void launch_rmsnorm_forward(const float* x, const void* w, Stored wt, float* y, float* rstd,
                            std::int64_t rows, std::int64_t dim, float eps, Stream stream) {
  if (rows > 0)
    rmsnorm_forward_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
        x, w, wt, y, rstd, dim, eps);
}
void launch_rmsnorm_backward(const float* x, const void* w, Stored wt, const float* rstd,
                             const float* dy, float* dx, float* d_weight, std::int64_t rows,
                             std::int64_t dim, Stream stream) {
  if (rows == 0) return;
  if (d_weight != nullptr)  // before dx: dx may alias dy
    rmsnorm_backward_dw_kernel<<<blocks_for(dim), kThreads, 0, as_stream(stream)>>>(
        x, rstd, dy, d_weight, rows, dim);
  rmsnorm_backward_dx_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
      x, w, wt, rstd, dy, dx, dim);
}

void launch_rope(const float* x, float* out, const std::int32_t* positions, const float* inv_freq,
                 std::int64_t n_tokens, std::int64_t heads, std::int64_t head_dim, bool inverse,
                 Stream stream) {
  const std::int64_t n = n_tokens * heads * (head_dim / 2);
  if (n > 0)
    rope_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
        x, out, positions, inv_freq, n_tokens, heads, head_dim, inverse ? -1.0f : 1.0f);
}

namespace {
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

void launch_swiglu_forward(const float* gate, const float* up, float* out, std::int64_t n,
                           Stream stream) {
  if (n > 0)
    swiglu_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(gate, up, out, n);
}
void launch_swiglu_backward(const float* gate, const float* up, const float* d_out, float* d_gate,
                            float* d_up, std::int64_t n, Stream stream) {
  if (n > 0)
    swiglu_backward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(gate, up, d_out,
                                                                              d_gate, d_up, n);
}

void launch_cross_entropy_forward(const float* logits, const std::int32_t* targets, float* loss,
                                  float* lse, std::int64_t rows, std::int64_t vocab,
                                  std::int32_t ignore_index, int* bad_target, Stream stream) {
  if (rows > 0)
    cross_entropy_forward_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
        logits, targets, loss, lse, vocab, ignore_index, bad_target);
}
void launch_cross_entropy_backward(float* logits, const float* lse, const std::int32_t* targets,
                                   std::int64_t rows, std::int64_t vocab, std::int32_t ignore_index,
                                   float grad_scale, Stream stream) {
  if (rows * vocab > 0)
    cross_entropy_backward_kernel<<<blocks_for(rows * vocab), kThreads, 0, as_stream(stream)>>>(
        logits, lse, targets, rows, vocab, ignore_index, grad_scale);
}

void launch_binary(const float* a, const float* b, float* out, std::int64_t n, int op,
                   Stream stream) {
  if (n > 0) binary_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(a, b, out, n, op);
}
void launch_axpby(const float* x, float* y, std::int64_t n, float alpha, float beta,
                  Stream stream) {
  if (n > 0) axpby_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, y, n, alpha, beta);
}
void launch_bias_add(float* x, const void* bias, Stored type, std::int64_t rows, std::int64_t cols,
                     Stream stream) {
  if (rows * cols > 0)
    bias_add_kernel<<<blocks_for(rows * cols), kThreads, 0, as_stream(stream)>>>(x, bias, type,
                                                                                 rows, cols);
}
void launch_sum_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                     bool accumulate, Stream stream) {
  if (cols > 0)
    sum_rows_kernel<<<blocks_for(cols), kThreads, 0, as_stream(stream)>>>(x, out, rows, cols,
                                                                          accumulate);
}
void launch_dropout(const float* x, float* out, std::int64_t n, float p, std::uint64_t seed,
                    std::uint64_t offset, Stream stream) {
  if (n > 0)
    dropout_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, out, n, p, seed, offset);
}
void launch_adamw(float* param, const float* grad, float* m, float* v, std::int64_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, std::int64_t step,
                  Stream stream) {
  const AdamWConstants c = adamw_constants(lr, beta1, beta2, eps, weight_decay, step);
  if (n > 0)
    adamw_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(param, grad, m, v, n, c);
}
void launch_sgd(float* param, const float* grad, float* momentum_buffer, std::int64_t n, float lr,
                float momentum, float weight_decay, bool nesterov, bool first_step, Stream stream) {
  if (n > 0)
    sgd_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
        param, grad, momentum_buffer, n, lr, momentum, weight_decay, nesterov, first_step);
}

void launch_reduce(const float* x, std::int64_t n, int what, double* partials, double* result,
                   Stream stream) {
  const gpuStream_t st = as_stream(stream);
  reduce_partials_kernel<<<kReduceBlocks, kThreads, 0, st>>>(x, n, what, partials);
  reduce_final_kernel<<<1, 1, 0, st>>>(partials, kReduceBlocks, result);
}

void launch_dequantize_4bit(const Weight4bit& w, std::int64_t first, std::int64_t count, float* out,
                            Stream stream) {
  if (count > 0)
    dequantize_4bit_kernel<<<blocks_for(count), kThreads, 0, as_stream(stream)>>>(w, first, count,
                                                                                  out);
}

const char* last_launch_error() {
  const gpuError_t error = gpuGetLastError();
  return error == gpuSuccess ? "" : gpuGetErrorString(error);
}

}  // namespace ft::backends::gpu
