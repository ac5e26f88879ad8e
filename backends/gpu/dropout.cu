// Dropout (ft::DropoutArgs): out[i] = keep(i) ? x[i] / (1 - p) : 0, keep(i) =
// philox_uniform(seed, offset + i) >= p. The mask is a pure function of (seed, element)
// through ftengine/philox.hpp, the stream the CPU backend's vectorised generator is tested
// against, so both backends drop the same elements, and the backward (the same call on the
// gradient) needs no stored mask.
#include <cstdint>

#include "backends/gpu/device_common.cuh"
#include "ftengine/philox.hpp"

namespace ft::backends::gpu {

namespace {

__global__ void dropout_kernel(const float* x, float* out, std::int64_t n, float p,
                               std::uint64_t seed, std::uint64_t offset) {
  const float keep_scale = 1.0f / (1.0f - p);
  FT_GRID_LOOP(i, n) {
    const bool keep = philox_uniform(seed, offset + static_cast<std::uint64_t>(i)) >= p;
    out[i] = keep ? x[i] * keep_scale : 0.0f;
  }
}

}  // namespace

void launch_dropout(const float* x, float* out, std::int64_t n, float p, std::uint64_t seed,
                    std::uint64_t offset, Stream stream) {
  if (n > 0)
    dropout_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, out, n, p, seed, offset);
}

}  // namespace ft::backends::gpu
