// RMSNorm (ft::RmsNormForwardArgs, ft::RmsNormBackwardArgs); x, y, dx, dy: [rows, dim].
//   forward:  rstd[r] = 1 / sqrt(mean_c x[r, c]^2 + eps);  y = x * rstd[r] * w
//   backward: xhat = x * rstd;  dx = rstd * (dy*w - xhat * mean(dy*w * xhat))
//             d_weight[c] += sum_r dy[r, c] * xhat[r, c]
// Forward and dx take one block per row (the row's sum reduces across the block).
// d_weight takes one thread per column summing the rows in order, instead of atomics across
// row blocks, so the weight gradient repeats bit for bit; its launcher runs it before dx
// because dx may alias dy.
#include <cmath>
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

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

}  // namespace

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

}  // namespace ft::backends::gpu
