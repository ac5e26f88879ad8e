// Embedding lookup, RMSNorm and rotary embedding, forward and backward.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/convert.hpp"
#include "backends/cpu/kernels.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu::kernels {

namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr std::int64_t kParallelMin = 1 << 14;

void check_ids(const std::int32_t* ids, std::int64_t n_tokens, std::int64_t vocab) {
  for (std::int64_t t = 0; t < n_tokens; ++t) {
    if (ids[t] < 0 || ids[t] >= vocab) {
      throw Error("embedding: token " + std::to_string(t) + " has id " + std::to_string(ids[t]) +
                  ", outside the vocabulary [0, " + std::to_string(vocab) +
                  "): the tokenizer and the model disagree on the vocabulary size");
    }
  }
}

std::vector<float> widened(const void* src, DType dtype, std::int64_t n) {
  std::vector<float> out(static_cast<std::size_t>(n));
  widen_run(src, dtype, out.data(), n);
  return out;
}

}  // namespace

// ---- embedding ----------------------------------------------------------------------------

// out[t, :] = table[ids[t], :]          ids: [T], table: [vocab, C], out: [T, C]
void embedding_forward(const EmbeddingForwardArgs& a) {
  check_ids(a.ids, a.n_tokens, a.vocab);
  const std::size_t elem = dtype_size(a.table_dtype);
  const auto* table = static_cast<const std::uint8_t*>(a.table);
#pragma omp parallel for schedule(static) if (a.n_tokens * a.dim >= kParallelMin)
  for (std::int64_t t = 0; t < a.n_tokens; ++t) {
    widen_run(table + static_cast<std::size_t>(a.ids[t]) * a.dim * elem, a.table_dtype,
              a.out + t * a.dim, a.dim);
  }
}

// d_table[ids[t], :] += d_out[t, :]     d_out: [T, C], d_table: [vocab, C]
// Repeated ids sum. Threads split the C columns (not the tokens), so no two threads ever
// write the same element and the sum order is the token order: race-free and deterministic.
void embedding_backward(const EmbeddingBackwardArgs& a) {
  check_ids(a.ids, a.n_tokens, a.vocab);
  constexpr std::int64_t kMinColumns = 16;  // one cache line of floats per thread at least
  const std::int64_t chunks = std::max<std::int64_t>(1, a.dim / kMinColumns);
#pragma omp parallel for schedule(static) if (a.n_tokens * a.dim >= kParallelMin)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::int64_t c0 = a.dim * chunk / chunks, c1 = a.dim * (chunk + 1) / chunks;
    for (std::int64_t t = 0; t < a.n_tokens; ++t) {
      const float* __restrict src = a.d_out + t * a.dim;
      float* __restrict dst = a.d_table + static_cast<std::int64_t>(a.ids[t]) * a.dim;
      for (std::int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

// ---- rmsnorm ------------------------------------------------------------------------------

// y[r, :] = x[r, :] * rstd[r] * w,  rstd[r] = 1 / sqrt(mean(x[r, :]^2) + eps)
// x, y: [R, C]; w: [C] (f32/bf16/f16); rstd: [R]
void rmsnorm_forward(const RmsNormForwardArgs& a) {
  const std::vector<float> w = widened(a.weight, a.weight_dtype, a.dim);
  const float* __restrict wp = w.data();
#pragma omp parallel for schedule(static) if (a.rows * a.dim >= kParallelMin)
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* __restrict x = a.x + r * a.dim;
    float* __restrict y = a.y + r * a.dim;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (std::int64_t c = 0; c < a.dim; ++c) ss += x[c] * x[c];
    const float rstd = 1.0f / std::sqrt(ss / static_cast<float>(a.dim) + a.eps);
    for (std::int64_t c = 0; c < a.dim; ++c) y[c] = x[c] * rstd * wp[c];
    a.rstd[r] = rstd;
  }
}

// xhat = x * rstd,  g = dy * w:
//   dx = rstd * (g - xhat * mean(g * xhat))           dx: [R, C] (overwritten)
//   d_weight += sum_r dy * xhat                        d_weight: [C]
// d_weight is summed per thread over its rows, then the partial rows are added in order.
void rmsnorm_backward(const RmsNormBackwardArgs& a) {
  const std::vector<float> w = widened(a.weight, a.weight_dtype, a.dim);
  const float* __restrict wp = w.data();
  const bool parallel = a.rows * a.dim >= kParallelMin;
  const int teams = parallel ? omp_get_max_threads() : 1;
  std::vector<float> partial(a.d_weight ? static_cast<std::size_t>(teams * a.dim) : 0, 0.0f);
#pragma omp parallel num_threads(teams) if (parallel)
  {
    float* __restrict dw = a.d_weight ? partial.data() + omp_get_thread_num() * a.dim : nullptr;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * a.dim;
      const float* dy = a.dy + r * a.dim;
      float* dx = a.dx + r * a.dim;  // may alias dy: each element is read before it is written
      const float rstd = a.rstd[r];
      float dot = 0.0f;  // sum g * x
#pragma omp simd reduction(+ : dot)
      for (std::int64_t c = 0; c < a.dim; ++c) dot += dy[c] * wp[c] * x[c];
      const float mean = dot * rstd / static_cast<float>(a.dim);  // mean(g * xhat)
      if (dw) {
        for (std::int64_t c = 0; c < a.dim; ++c) dw[c] += dy[c] * x[c] * rstd;
      }
      for (std::int64_t c = 0; c < a.dim; ++c) {
        dx[c] = rstd * (dy[c] * wp[c] - x[c] * rstd * mean);
      }
    }
  }
  if (a.d_weight) {
#pragma omp parallel for schedule(static) if (a.dim * teams >= kParallelMin)
    for (std::int64_t c = 0; c < a.dim; ++c) {
      float s = 0.0f;
      for (int t = 0; t < teams; ++t) s += partial[t * a.dim + c];
      a.d_weight[c] += s;
    }
  }
}

// ---- rope ---------------------------------------------------------------------------------

// x, out: [T, H, D], half = D / 2, angle = float(positions[t]) * inv_freq[i]:
//   out[i]        = x[i] * cos(angle) - x[i + half] * sin(angle)
//   out[i + half] = x[i + half] * cos(angle) + x[i] * sin(angle)
// inverse rotates by -angle (the backward). out may equal x. cos/sin are computed once per
// token and shared by its heads.
void rope(const RopeArgs& a) {
  if (a.head_dim % 2 != 0) {
    throw Error("rope: head_dim " + std::to_string(a.head_dim) + " is odd; rotary needs pairs");
  }
  const std::int64_t half = a.head_dim / 2;
  const float sign = a.inverse ? -1.0f : 1.0f;
#pragma omp parallel if (a.n_tokens * a.heads * a.head_dim >= kParallelMin)
  {
    std::vector<float> cos_t(half), sin_t(half);
#pragma omp for schedule(static)
    for (std::int64_t t = 0; t < a.n_tokens; ++t) {
      const float pos = static_cast<float>(a.positions[t]);
      for (std::int64_t i = 0; i < half; ++i) {
        const float angle = pos * a.inv_freq[i];
        cos_t[i] = std::cos(angle);
        sin_t[i] = sign * std::sin(angle);
      }
      for (std::int64_t h = 0; h < a.heads; ++h) {
        const float* x = a.x + (t * a.heads + h) * a.head_dim;
        float* out = a.out + (t * a.heads + h) * a.head_dim;
        for (std::int64_t i = 0; i < half; ++i) {
          const float x0 = x[i], x1 = x[i + half];
          out[i] = x0 * cos_t[i] - x1 * sin_t[i];
          out[i + half] = x1 * cos_t[i] + x0 * sin_t[i];
        }
      }
    }
  }
}

}  // namespace ft::backends::cpu::kernels
