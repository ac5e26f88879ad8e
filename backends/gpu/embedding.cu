// Token embeddings (ft::EmbeddingForwardArgs, ft::EmbeddingBackwardArgs), a thread per
// output element:
//   forward:  out[t, c] = table[ids[t], c]     (table f32/bf16/f16, widened on load)
//   backward: d_table[ids[t], c] += d_out[t, c]
// The backward adds atomically: a token that repeats in the batch writes the same row from
// several threads. f32 atomics make the sum's order (and its last bits) vary run to run.
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void embedding_forward_kernel(const std::int32_t* ids, const void* table, Stored type,
                                         float* out, std::int64_t n_tokens, std::int64_t dim) {
  FT_GRID_LOOP(i, n_tokens * dim) {
    const std::int64_t t = i / dim, c = i % dim;
    out[i] = load(table, type, static_cast<std::int64_t>(ids[t]) * dim + c);
  }
}
__global__ void embedding_backward_kernel(const std::int32_t* ids, const float* d_out,
                                          float* d_table, std::int64_t n_tokens, std::int64_t dim) {
  FT_GRID_LOOP(i, n_tokens * dim) {
    const std::int64_t t = i / dim, c = i % dim;
    atomicAdd(d_table + static_cast<std::int64_t>(ids[t]) * dim + c, d_out[i]);
  }
}

}  // namespace

void launch_embedding_forward(const std::int32_t* ids, const void* table, Stored type, float* out,
                              std::int64_t n_tokens, std::int64_t dim, Stream stream) {
  if (n_tokens * dim > 0)
    embedding_forward_kernel<<<blocks_for(n_tokens * dim), kThreads, 0, as_stream(stream)>>>(
        ids, table, type, out, n_tokens, dim);
}
void launch_embedding_backward(const std::int32_t* ids, const float* d_out, float* d_table,
                               std::int64_t n_tokens, std::int64_t dim, Stream stream) {
  if (n_tokens * dim > 0)
    embedding_backward_kernel<<<blocks_for(n_tokens * dim), kThreads, 0, as_stream(stream)>>>(
        ids, d_out, d_table, n_tokens, dim);
}

}  // namespace ft::backends::gpu
