// dst[i] = src[i] converted among f32, bf16 and f16 (ft::CastArgs): a thread per element.
// Narrowing rounds to nearest even through ftengine/dtype.hpp's conversions, the CPU
// backend's, so a tensor cast on either backend has the same bits.
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void cast_kernel(const void* src, Stored st, void* dst, Stored dt, std::int64_t n) {
  FT_GRID_LOOP(i, n) store(dst, dt, i, load(src, st, i));
}

}  // namespace

void launch_cast(const void* src, Stored st, void* dst, Stored dt, std::int64_t n, Stream stream) {
  if (n > 0) cast_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(src, st, dst, dt, n);
}

}  // namespace ft::backends::gpu
