// y[i] = f(alpha x[i] + beta), a thread per element (ft::UnaryArgs); f by op:
//   0 identity, 1 exp, 2 log, 3 sqrt, 4 rsqrt, 5 sigmoid, 6 square (ft::UnaryOp's order).
// The building block of the SDK's fused-kernel defaults (sdk/src/backend_defaults.cpp).
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__device__ inline float apply(int op, float z) {
  switch (op) {
    case 1:
      return expf(z);
    case 2:
      return logf(z);
    case 3:
      return sqrtf(z);
    case 4:
      return rsqrtf(z);
    case 5:
      return 1.0f / (1.0f + expf(-z));
    case 6:
      return z * z;
    default:
      return z;
  }
}

__global__ void unary_kernel(const float* x, float* y, std::int64_t n, int op, float alpha,
                             float beta) {
  FT_GRID_LOOP(i, n) y[i] = apply(op, alpha * x[i] + beta);
}

}  // namespace

void launch_unary(const float* x, float* y, std::int64_t n, int op, float alpha, float beta,
                  Stream stream) {
  if (n > 0)
    unary_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, y, n, op, alpha, beta);
}

}  // namespace ft::backends::gpu
