// out[r] = sum_c x[r, c] (op 0) or max_c x[r, c] (op 1), x: [rows, cols] (ft::ReduceRowsArgs).
// A block per row, its threads striding over the columns, then a block reduction: the same
// order every run, so results repeat bit for bit.
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void reduce_rows_kernel(const float* x, float* out, std::int64_t cols, int op) {
  __shared__ float shared[kThreads / kLanes];
  const float* row = x + static_cast<std::int64_t>(blockIdx.x) * cols;
  float v = op == 0 ? 0.0f : -INFINITY;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    v = op == 0 ? v + row[c] : fmaxf(v, row[c]);
  v = op == 0 ? block_sum(v, shared) : block_max(v, shared);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}

}  // namespace

void launch_reduce_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols, int op,
                        Stream stream) {
  if (rows > 0)
    reduce_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(x, out,
                                                                                        cols, op);
}

}  // namespace ft::backends::gpu
