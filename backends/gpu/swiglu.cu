// SwiGLU (ft::SwigluForwardArgs, ft::SwigluBackwardArgs), all [n], a thread per element:
//   forward:  out = silu(g) * up,  silu(g) = g * sigmoid(g)
//   backward: d_gate = d_out * up * sigmoid(g) * (1 + g * (1 - sigmoid(g)))
//             d_up = d_out * silu(g)
// The backward reads gate and up before writing: d_gate and d_up may alias them.
#include <cmath>
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__device__ inline float sigmoid(float g) { return 1.0f / (1.0f + expf(-g)); }

__global__ void swiglu_forward_kernel(const float* gate, const float* up, float* out,
                                      std::int64_t n) {
  FT_GRID_LOOP(i, n) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}
__global__ void swiglu_backward_kernel(const float* gate, const float* up, const float* d_out,
                                       float* d_gate, float* d_up, std::int64_t n) {
  FT_GRID_LOOP(i, n) {
    const float g = gate[i], sg = sigmoid(g), d = d_out[i];
    const float u = up[i];  // read both before writing: outputs may alias inputs
    d_gate[i] = d * u * sg * (1.0f + g * (1.0f - sg));
    d_up[i] = d * g * sg;
  }
}

}  // namespace

void launch_swiglu_forward(const float* gate, const float* up, float* out, std::int64_t n,
                           Stream stream) {
  if (n > 0)
    swiglu_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(gate, up, out, n);
}
void launch_swiglu_backward(const float* gate, const float* up, const float* d_out, float* d_gate,
                            float* d_up, std::int64_t n, Stream stream) {
  if (n > 0)
    swiglu_backward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(gate, up, d_out,
                                                                              d_gate, d_up, n);
}

}  // namespace ft::backends::gpu
