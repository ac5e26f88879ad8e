// Optimizer steps in place on f32 tensors of n elements, a thread per element
// (ft::AdamWStepArgs, ft::SgdStepArgs):
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

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, std::int64_t n,
                             AdamWConstants c) {
  FT_GRID_LOOP(i, n) adamw_element(p[i], g[i], m[i], v[i], c);
}
__global__ void sgd_kernel(float* p, const float* grad, float* buf, std::int64_t n, float lr,
                           float momentum, float weight_decay, bool nesterov, bool first) {
  FT_GRID_LOOP(i, n) {
    if (momentum != 0.0f)
      sgd_momentum_element(p[i], grad[i], buf[i], lr, momentum, weight_decay, nesterov, first);
    else
      sgd_element(p[i], grad[i], lr, weight_decay);
  }
}

}  // namespace

void launch_adamw(float* param, const float* grad, float* m, float* v, std::int64_t n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, std::int64_t step,
                  Stream stream) {
  const AdamWConstants c = adamw_constants(lr, beta1, beta2, eps, weight_decay, step);
  if (n > 0)
    adamw_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(param, grad, m, v, n, c);
}
void launch_sgd(float* param, const float* grad, float* momentum_buffer, std::int64_t n, float lr,
                float momentum, float weight_decay, bool nesterov, bool first_step, Stream stream) {
  if (n > 0)
    sgd_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
        param, grad, momentum_buffer, n, lr, momentum, weight_decay, nesterov, first_step);
}

}  // namespace ft::backends::gpu
