// Softmax cross-entropy on a chunk of logits [rows, vocab] (ft::CrossEntropyForwardArgs,
// ft::CrossEntropyBackwardArgs):
//   forward:  lse[r] = log sum_v exp(logits[r, v]);  loss[r] = lse[r] - logits[r, targets[r]]
//   backward: logits[r, v] <- s * (exp(logits[r, v] - lse[r]) - [v == targets[r]]),
//             in place, and 0 for rows whose target is ignore_index; s = grad_scale * d_loss[0]
//             (d_loss in device memory, or 1 when null: the backward never waits for the host)
// The forward takes one block per row: the max first, so exp never overflows, then the sum.
// A kernel cannot throw: a target outside [0, vocab) sets *bad_target, which the backend
// checks the next time the host waits for the device anyway, and turns into an ft::Error.
#include <cmath>
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void cross_entropy_forward_kernel(const float* logits, const std::int32_t* targets,
                                             float* loss, float* lse, std::int64_t vocab,
                                             std::int32_t ignore_index, int* bad_target) {
  __shared__ float shared[1024 / kLanes];
  const std::int64_t row = blockIdx.x;
  const float* l = logits + row * vocab;
  float m = -INFINITY;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) m = fmaxf(m, l[c]);
  m = block_max(m, shared);
  float sum = 0;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) sum += expf(l[c] - m);
  const float row_lse = m + logf(block_sum(sum, shared));
  if (threadIdx.x != 0) return;
  lse[row] = row_lse;
  const std::int32_t t = targets[row];
  if (t == ignore_index) {
    loss[row] = 0.0f;
  } else if (t < 0 || t >= vocab) {
    loss[row] = 0.0f;
    *bad_target = 1;
  } else {
    loss[row] = row_lse - l[t];
  }
}
__global__ void cross_entropy_backward_kernel(float* logits, const float* lse,
                                              const std::int32_t* targets, std::int64_t rows,
                                              std::int64_t vocab, std::int32_t ignore_index,
                                              float grad_scale, const float* d_loss) {
  if (d_loss) grad_scale *= *d_loss;
  FT_GRID_LOOP(i, rows * vocab) {
    const std::int64_t r = i / vocab, c = i % vocab;
    const std::int32_t t = targets[r];
    logits[i] =
        t == ignore_index ? 0.0f : grad_scale * (expf(logits[i] - lse[r]) - (c == t ? 1.0f : 0.0f));
  }
}

}  // namespace

void launch_cross_entropy_forward(const float* logits, const std::int32_t* targets, float* loss,
                                  float* lse, std::int64_t rows, std::int64_t vocab,
                                  std::int32_t ignore_index, int* bad_target, Stream stream) {
  if (rows > 0)
    cross_entropy_forward_kernel<<<static_cast<unsigned>(rows), kThreads, 0, as_stream(stream)>>>(
        logits, targets, loss, lse, vocab, ignore_index, bad_target);
}
void launch_cross_entropy_backward(float* logits, const float* lse, const std::int32_t* targets,
                                   std::int64_t rows, std::int64_t vocab, std::int32_t ignore_index,
                                   float grad_scale, const float* d_loss, Stream stream) {
  if (rows * vocab > 0)
    cross_entropy_backward_kernel<<<blocks_for(rows * vocab), kThreads, 0, as_stream(stream)>>>(
        logits, lse, targets, rows, vocab, ignore_index, grad_scale, d_loss);
}

}  // namespace ft::backends::gpu
