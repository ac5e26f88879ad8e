// Multi-tensor optimizer steps in place on f32 tensors, one launch for all of them
// (ft::AdamWStepArgs, ft::SgdStepArgs); the host cuts every tensor into chunks of at most
// kOptimizerChunk elements and uploads the chunk table, a block a chunk:
//   AdamW: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr wd p;
//          p -= lr (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
//   SGD:   g += wd p;  buf = first ? g : momentum buf + g;
//          p -= lr (nesterov ? g + momentum buf : buf);  without momentum p -= lr (g + wd p)
// The per-element formulas and AdamW's bias corrections are backends/common/optimizer_math.hpp,
// the CPU backend's, so both step by the same arithmetic.
#include <cstdint>

#include "backends/common/optimizer_math.hpp"
#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

// One launch for every tensor: block b steps chunk b, a run of at most kChunk elements of
// one tensor, with that tensor's constants.
__global__ void adamw_kernel(const AdamWChunk* chunks, float lr, float beta1, float beta2,
                             float eps) {
  const AdamWChunk k = chunks[blockIdx.x];
  const AdamWConstants c{lr, beta1, beta2, eps, k.decay, k.bc1, k.bc2};
  for (std::int64_t i = threadIdx.x; i < k.n; i += blockDim.x)
    adamw_element(k.param[i], k.grad[i], k.m[i], k.v[i], c);
}
__global__ void sgd_kernel(const SgdChunk* chunks, float lr, float momentum, bool nesterov) {
  const SgdChunk k = chunks[blockIdx.x];
  for (std::int64_t i = threadIdx.x; i < k.n; i += blockDim.x) {
    if (momentum != 0.0f)
      sgd_momentum_element(k.param[i], k.grad[i], k.momentum_buffer[i], lr, momentum,
                           k.weight_decay, nesterov, k.first_step);
    else
      sgd_element(k.param[i], k.grad[i], lr, k.weight_decay);
  }
}

}  // namespace

void launch_adamw(const AdamWChunk* chunks, std::int64_t count, float lr, float beta1, float beta2,
                  float eps, Stream stream) {
  if (count > 0)
    adamw_kernel<<<static_cast<unsigned>(count), kThreads, 0, as_stream(stream)>>>(
        chunks, lr, beta1, beta2, eps);
}
void launch_sgd(const SgdChunk* chunks, std::int64_t count, float lr, float momentum, bool nesterov,
                Stream stream) {
  if (count > 0)
    sgd_kernel<<<static_cast<unsigned>(count), kThreads, 0, as_stream(stream)>>>(
        chunks, lr, momentum, nesterov);
}

}  // namespace ft::backends::gpu
