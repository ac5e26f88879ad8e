// The operands of a GEMM at compute = bf16 (ft::GemmArgs::compute), rounded to bf16 once,
// for both GPU plugins: cuBLAS reads the bf16 bits on tensor cores; the rocm plugin's own
// f32 GEMM reads the bf16 values held in f32, and so computes the same numbers.
//
//   dst[(i * rows + r) * cols + c] = bf16(src[i * stride + r * ld + c])
//
// a thread per element of `items` matrices of rows x cols, packed one after another.
// Rounding is ftengine/dtype.hpp's f32_to_bf16 (nearest, ties to even), the CPU backend's,
// so every backend feeds its GEMM the same operand bits.
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void round_to_bf16_kernel(const void* src, Stored st, std::int64_t stride,
                                     std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                     void* dst, Stored dt, std::int64_t n) {
  FT_GRID_LOOP(e, n) {
    const std::int64_t col = e % cols, row = e / cols;  // row counts on across the items
    const std::int64_t from = (row / rows) * stride + (row % rows) * ld + col;
    const std::uint16_t bits = f32_to_bf16(load(src, st, from));  // exact for a bf16 source
    if (dt == Stored::bf16)
      static_cast<std::uint16_t*>(dst)[e] = bits;
    else
      static_cast<float*>(dst)[e] = bf16_to_f32(bits);
  }
}

}  // namespace

void launch_round_to_bf16(const void* src, Stored src_type, std::int64_t items, std::int64_t stride,
                          std::int64_t rows, std::int64_t cols, std::int64_t ld, void* dst,
                          Stored dst_type, Stream stream) {
  const std::int64_t n = items * rows * cols;
  if (n > 0)
    round_to_bf16_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
        src, src_type, stride, rows, cols, ld, dst, dst_type, n);
}

}  // namespace ft::backends::gpu
