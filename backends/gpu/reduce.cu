// Reductions over f32 x[n], accumulated in double (launch_reduce in kernels.hpp):
//   what 0: sum_i x[i];  1: sum_i x[i]^2;  2: the count of NaN/Inf elements
// In a fixed order, so a run repeats bit for bit (no atomics): kReduceBlocks blocks stride
// over x and tree-reduce in shared memory into one partial each, then a single thread adds
// the partials in block order.
#include <cmath>
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

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
  for (unsigned stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}
__global__ void reduce_final_kernel(const double* partials, int count, double divisor,
                                    double* out64, float* out32) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  double total = 0;
  for (int b = 0; b < count; ++b) total += partials[b];
  total /= divisor;
  if (out64) *out64 = total;
  if (out32) *out32 = static_cast<float>(total);
}

}  // namespace

void launch_reduce(const float* x, std::int64_t n, int what, double* partials, double divisor,
                   double* out64, float* out32, Stream stream) {
  const gpuStream_t st = as_stream(stream);
  reduce_partials_kernel<<<kReduceBlocks, kThreads, 0, st>>>(x, n, what, partials);
  reduce_final_kernel<<<1, 1, 0, st>>>(partials, kReduceBlocks, divisor, out64, out32);
}

}  // namespace ft::backends::gpu
