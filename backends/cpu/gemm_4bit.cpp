#include "backends/cpu/gemm_4bit.hpp"

#include <algorithm>
#include <array>

#include "ftengine/error.hpp"

namespace ft::backends::cpu {

namespace {

float block_absmax(const Weight4bitView& w, std::int64_t block) {
  if (!w.double_quant) return w.absmax[block];
  return dynamic_map()[w.absmax_codes[block]] * w.absmax_scales[block / kDoubleQuantBlock] +
         w.absmax_offset;
}

}  // namespace

void dequantize_4bit_range(const Weight4bitView& w, std::int64_t first, std::int64_t count,
                           float* out) {
  const std::array<float, 16>& table = quant_code_table(w.type);
  const std::int64_t first_block = first / w.block_size;
  const std::int64_t last_block = (first + count - 1) / w.block_size;
#pragma omp parallel for schedule(static)
  for (std::int64_t b = first_block; b <= last_block; ++b) {
    // Each value of the block: code * absmax, with the 16 products made once.
    const float absmax = block_absmax(w, b);
    std::array<float, 16> scaled;
    for (int c = 0; c < 16; ++c) scaled[c] = table[c] * absmax;
    const std::int64_t begin = std::max(first, b * w.block_size);
    const std::int64_t end = std::min(first + count, (b + 1) * w.block_size);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::uint8_t byte = w.packed[i >> 1];
      out[i - first] = scaled[(i & 1) ? (byte & 0x0f) : (byte >> 4)];
    }
  }
}

void Gemm4bit::run(const Gemm4bitArgs& args, GemmEngine& gemm, int threads) {
  const Weight4bitView& w = args.w;
  if (w.block_size < 2 || w.rows < 0 || w.cols < 0)
    throw Error("gemm_4bit: a 4-bit weight needs rows, cols and a block size");
  std::lock_guard lock(mutex_);
  const RowTiledWeight tiled{w.rows, w.cols, [&](std::int64_t first, std::int64_t n, float* out) {
                               dequantize_4bit_range(w, first * w.cols, n * w.cols, out);
                             }};
  tile_.resize(static_cast<std::size_t>(rows_per_tile(tiled) * w.cols));
  gemm_by_row_tiles(
      args.a, args.c, args.m, args.transpose_w, args.accumulate, tiled,
      [&](const GemmArgs& g, std::int64_t lda, std::int64_t ldc) {
        GemmArgs tile_gemm = g;
        tile_gemm.compute = args.compute;  // bf16: the dequantised tile rounded
        gemm.run_strided(tile_gemm, lda, ldc, threads);
      },
      tile_.data());
}

}  // namespace ft::backends::cpu
