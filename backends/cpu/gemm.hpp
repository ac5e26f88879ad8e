// Every GEMM of the CPU backend, through oneDNN's matmul primitive.
//
// A primitive is built once per shape and reused: creating one costs far more than running
// a small one, and a training step repeats the same shapes. The cache key holds everything
// the primitive depends on: m, n, k, batch, strides, transposes, accumulate, alpha and the
// OpenMP thread count (oneDNN's OpenMP build blocks its work for the team size).
//
//   C_b = alpha * op(A_b) · op(B_b)  (+ C_b)
//
// Transposes are free: a memory descriptor with swapped strides reads A stored [K, M] as
// its transpose. Batch stride 0 becomes a batch dimension of 1 (oneDNN broadcasts it).
// alpha is an output scale and "+ C" a sum post-op. A bf16/f16 B (frozen weights) is widened
// into an f32 scratch buffer first, a tile of rows at a time for a large one
// (gemm_tiles.hpp): oneDNN has no bf16 matmul on AVX2 machines.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "backends/common/gemm_tiles.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::cpu {

class GemmEngine {
 public:
  GemmEngine();
  void run(const GemmArgs& args, int threads);
  // One f32 GEMM (batch 1) whose A and C rows lie lda and ldc floats apart: a column block
  // of a wider matrix, read or written in place (the tiles of gemm_tiles.hpp).
  void run_strided(const GemmArgs& args, std::int64_t lda, std::int64_t ldc, int threads);
  // Number of cached primitives (for tests: a repeated shape must not add one).
  std::size_t cached_primitives() const;

 private:
  // Batch dims are 1 where a stride is 0 (broadcast); alpha as its bit pattern; lda, ldc
  // the row strides of A as stored and of C.
  struct Key {
    std::int64_t m, n, k, batch, batch_a, batch_b, stride_a, stride_b, stride_c, lda, ldc;
    bool trans_a, trans_b, accumulate;
    std::uint32_t alpha_bits;
    int threads;
    auto tie() const {
      return std::tie(m, n, k, batch, batch_a, batch_b, stride_a, stride_b, stride_c, lda, ldc,
                      trans_a, trans_b, accumulate, alpha_bits, threads);
    }
    bool operator<(const Key& other) const { return tie() < other.tie(); }
  };
  struct Entry {
    dnnl::matmul primitive;
    dnnl::memory a, b, c;
  };

  Entry& entry_for(const Key& key);
  // lda, ldc 0: packed rows.
  void run_f32(const GemmArgs& args, int threads, std::int64_t lda = 0, std::int64_t ldc = 0);

  dnnl::engine engine_;
  dnnl::stream stream_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> cache_;
  std::vector<float> b_scratch_;  // widened bf16/f16 B, grown as needed
  std::vector<float> tile_;       // a large bf16/f16 B, widened a tile of rows at a time
};

}  // namespace ft::backends::cpu
