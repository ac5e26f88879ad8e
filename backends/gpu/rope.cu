// Rotary embedding, Hugging Face "rotate half" layout (ft::RopeArgs). x, out:
// [n_tokens, heads, head_dim], half = head_dim / 2, angle = positions[t] * inv_freq[i]:
//   out[i]        = x[i] * cos(angle) - x[i + half] * sin(angle)
//   out[i + half] = x[i + half] * cos(angle) + x[i] * sin(angle)
// The inverse (the backward) rotates by -angle: the same kernel with sin negated. A thread
// per (token, head, pair) reads both elements of its pair before writing either, so out may
// equal x.
#include <cmath>
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

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

}  // namespace

void launch_rope(const float* x, float* out, const std::int32_t* positions, const float* inv_freq,
                 std::int64_t n_tokens, std::int64_t heads, std::int64_t head_dim, bool inverse,
                 Stream stream) {
  const std::int64_t n = n_tokens * heads * (head_dim / 2);
  if (n > 0)
    rope_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
        x, out, positions, inv_freq, n_tokens, heads, head_dim, inverse ? -1.0f : 1.0f);
}

}  // namespace ft::backends::gpu
