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
// alpha is an output scale and "+ C" a sum post-op.
//
// compute = f32: a bf16/f16 B (frozen weights) is widened into an f32 scratch buffer first, a
// tile of rows at a time for a large one (gemm_tiles.hpp).
// compute = bf16: A and B are rounded into packed bf16 copies (a bf16 B is read in place) for
// oneDNN's bf16 matmul, f32 accumulation and f32 C. That is about twice the f32 rate where the
// CPU has AVX512-BF16 or AMX; on plain AVX-512 oneDNN emulates it (slower than f32); on AVX2
// oneDNN has none, and the operands are rounded to bf16 values in f32 copies for the f32
// matmul instead: the same numbers up to the order of the sums, on every machine.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "backends/common/gemm_tiles.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::cpu {

// What this CPU does with compute = bf16 (oneDNN decides at run time, and honours
// ONEDNN_MAX_CPU_ISA).
struct Bf16Gemm {
  bool native = false;  // AVX512-BF16 or AMX: bf16 is the fast path
  bool onednn = false;  // oneDNN has a bf16 matmul here (native or emulated)
  std::string isa;      // "AVX512-BF16", "AMX-BF16", or what the CPU lacks
};
Bf16Gemm detect_bf16_gemm(const dnnl::engine& engine);

class GemmEngine {
 public:
  GemmEngine();
  // As on a CPU with `bf16` (tests take the AVX2 path, onednn = false, on any machine).
  explicit GemmEngine(const Bf16Gemm& bf16);
  const Bf16Gemm& bf16() const { return bf16_; }
  void run(const GemmArgs& args, int threads);
  // One GEMM (batch 1) on an f32 B whose A and C rows lie lda and ldc floats apart: a column
  // block of a wider matrix, read or written in place (the tiles of gemm_tiles.hpp).
  void run_strided(const GemmArgs& args, std::int64_t lda, std::int64_t ldc, int threads);
  // Number of cached primitives (for tests: a repeated shape must not add one).
  std::size_t cached_primitives() const;
  // At most this many (each holds JIT code; trimmed micro-batches bring new shapes with each
  // length): then the least recently used goes.
  static constexpr std::size_t kMaxPrimitives = 1024;

 private:
  // Batch dims are 1 where a stride is 0 (broadcast); alpha as its bit pattern; lda, ldc
  // the row strides of A as stored and of C; bf16: A and B are bf16.
  struct Key {
    std::int64_t m, n, k, batch, batch_a, batch_b, stride_a, stride_b, stride_c, lda, ldc;
    bool trans_a, trans_b, accumulate, bf16;
    std::uint32_t alpha_bits;
    int threads;
    auto tie() const {
      return std::tie(m, n, k, batch, batch_a, batch_b, stride_a, stride_b, stride_c, lda, ldc,
                      trans_a, trans_b, accumulate, bf16, alpha_bits, threads);
    }
    bool operator<(const Key& other) const { return tie() < other.tie(); }
  };
  struct Entry {
    dnnl::matmul primitive;
    dnnl::memory a, b, c, scratch;
    std::uint64_t last_use = 0;
  };
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };

  Entry& entry_for(const Key& key);
  // The one scratchpad every primitive runs with, at least `bytes` long.
  void* scratchpad(std::size_t bytes);
  // args.b is f32 (bf16 false) or the operands are both bf16 (args.a then points at bf16
  // too); lda, ldc 0: packed rows.
  void run_onednn(const GemmArgs& args, bool bf16, int threads, std::int64_t lda = 0,
                  std::int64_t ldc = 0);
  void run_bf16(const GemmArgs& args, int threads, std::int64_t lda = 0, std::int64_t ldc = 0);

  dnnl::engine engine_;
  dnnl::stream stream_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> cache_;
  std::uint64_t uses_ = 0;
  std::unique_ptr<std::uint8_t, FreeDeleter> scratchpad_;
  std::size_t scratchpad_bytes_ = 0;
  std::vector<float> b_scratch_;  // widened bf16/f16 B, grown as needed
  std::vector<float> tile_;       // a large bf16/f16 B, widened a tile of rows at a time
  Bf16Gemm bf16_;
  // compute = bf16: the operands as bf16, or as f32 rounded to bf16 where oneDNN has no bf16
  std::vector<std::uint16_t> a_bf16_, b_bf16_;
  std::vector<float> a_rounded_, b_rounded_;
};

}  // namespace ft::backends::cpu
