// What the GPU kernel files (backends/gpu/*.cu) share: block sizes, the launch geometry of
// grid-stride loops, loads and stores of stored types, and lane/block reductions. Device code
// for one translation unit at a time (no relocatable device code), so everything here is
// inline; each op file keeps its kernels in an anonymous namespace next to its launchers.
#pragma once

#include <cmath>
#include <cstdint>

#include "backends/gpu/gpu_runtime.hpp"
#include "backends/gpu/kernels.hpp"
#include "ftengine/dtype.hpp"

namespace ft::backends::gpu {

inline constexpr int kThreads = 256;  // threads per block of the elementwise kernels
inline constexpr int kLanes = 32;     // one row group: a CUDA warp, half an AMD wave64

inline gpuStream_t as_stream(Stream s) { return static_cast<gpuStream_t>(s); }

// Blocks for a grid-stride loop over n elements: enough for one element a thread, at most
// 65535 * 64 (the loop strides over the rest).
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 64 ? 65535 * 64 : b));
}

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

// Lane `lane ^ offset`'s value of v, within a 32-lane row group: CUDA's and HIP's spelling.
__device__ inline float lane_xor(float v, int offset) {
#if defined(FTENGINE_GPU_HIP)
  return __shfl_xor(v, offset, kLanes);
#else
  return __shfl_xor_sync(0xffffffffu, v, offset, kLanes);
#endif
}

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// op over the 32 lanes of a row group by butterfly shuffles; every lane gets the result.
template <class Op>
__device__ inline float lane_reduce(float v, Op op) {
  for (int offset = kLanes / 2; offset > 0; offset /= 2) v = op(v, lane_xor(v, offset));
  return v;
}
__device__ inline float lane_sum(float v) { return lane_reduce(v, SumOp{}); }

// op over the block (blockDim.x a multiple of kLanes, at most 1024); every thread gets it.
// Each row group reduces by shuffles, then every thread folds the groups' results in group
// order, so all threads hold the same bits. `shared` holds blockDim.x / kLanes floats.
template <class Op>
__device__ inline float block_reduce(float v, float* shared, Op op, float identity) {
  const int lane = threadIdx.x % kLanes, group = threadIdx.x / kLanes;
  const int groups = blockDim.x / kLanes;
  v = lane_reduce(v, op);
  __syncthreads();  // `shared` may still be read from a previous call
  if (lane == 0) shared[group] = v;
  __syncthreads();
  float total = identity;
  for (int g = 0; g < groups; ++g) total = op(total, shared[g]);
  return total;
}
__device__ inline float block_sum(float v, float* shared) {
  return block_reduce(v, shared, SumOp{}, 0.0f);
}
__device__ inline float block_max(float v, float* shared) {
  return block_reduce(v, shared, MaxOp{}, -INFINITY);
}

// A grid-stride loop: thread t of the grid takes elements t, t + grid size, ... below n, so
// any n runs on the capped grid of blocks_for(n).
#define FT_GRID_LOOP(i, n)                                                                         \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

}  // namespace ft::backends::gpu
