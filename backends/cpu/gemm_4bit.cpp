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
  if (args.m == 0 || w.rows == 0 || w.cols == 0) return;
  std::lock_guard lock(mutex_);
  const std::int64_t rows_per_tile = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(kTileBytes / sizeof(float)) / w.cols, 1, w.rows);
  const bool one_tile = rows_per_tile == w.rows;
  tile_.resize(static_cast<std::size_t>(rows_per_tile * w.cols));

  for (std::int64_t r0 = 0; r0 < w.rows; r0 += rows_per_tile) {
    const std::int64_t r = std::min(rows_per_tile, w.rows - r0);
    dequantize_4bit_range(w, r0 * w.cols, r * w.cols, tile_.data());
    GemmArgs g;
    g.b = tile_.data();
    g.m = args.m;
    if (args.transpose_w) {
      // c[:, r0:r0+r] = a[m, cols] · tile[r, cols]ᵀ
      g.a = args.a;
      g.trans_b = true;
      g.n = r, g.k = w.cols;
      if (one_tile) {
        g.c = args.c;
        g.accumulate = args.accumulate;
        gemm.run(g, threads);
        continue;
      }
      c_part_.resize(static_cast<std::size_t>(args.m * r));
      g.c = c_part_.data();
      gemm.run(g, threads);
      for (std::int64_t i = 0; i < args.m; ++i) {
        float* dst = args.c + i * w.rows + r0;
        const float* src = c_part_.data() + i * r;
        if (args.accumulate)
          for (std::int64_t j = 0; j < r; ++j) dst[j] += src[j];
        else
          std::copy(src, src + r, dst);
      }
    } else {
      // c[m, cols] (+)= a[:, r0:r0+r] · tile[r, cols]
      g.n = w.cols, g.k = r;
      g.c = args.c;
      g.accumulate = args.accumulate || r0 > 0;
      if (one_tile) {
        g.a = args.a;
      } else {
        a_part_.resize(static_cast<std::size_t>(args.m * r));
        for (std::int64_t i = 0; i < args.m; ++i)
          std::copy(args.a + i * w.rows + r0, args.a + i * w.rows + r0 + r,
                    a_part_.data() + i * r);
        g.a = a_part_.data();
      }
      gemm.run(g, threads);
    }
  }
}

}  // namespace ft::backends::cpu
