#include "backends/cpu/gemm_tiles.hpp"

#include <algorithm>

namespace ft::backends::cpu {

void gemm_by_row_tiles(const float* a, float* c, std::int64_t m, bool transpose_w,
                       bool accumulate, const RowTiledWeight& w,
                       const std::function<void(const GemmArgs&)>& gemm_f32,
                       TileBuffers& buffers) {
  if (m == 0 || w.rows == 0 || w.cols == 0) return;
  const std::int64_t rows_per_tile = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(kTileBytes / sizeof(float)) / w.cols, 1, w.rows);
  const bool one_tile = rows_per_tile == w.rows;
  buffers.tile.resize(static_cast<std::size_t>(rows_per_tile * w.cols));

  for (std::int64_t r0 = 0; r0 < w.rows; r0 += rows_per_tile) {
    const std::int64_t r = std::min(rows_per_tile, w.rows - r0);
    w.widen_rows(r0, r, buffers.tile.data());
    GemmArgs g;
    g.b = buffers.tile.data();
    g.m = m;
    if (transpose_w) {
      // c[:, r0:r0+r] = a[m, cols] · tile[r, cols]ᵀ
      g.a = a;
      g.trans_b = true;
      g.n = r, g.k = w.cols;
      if (one_tile) {
        g.c = c;
        g.accumulate = accumulate;
        gemm_f32(g);
        continue;
      }
      buffers.c_part.resize(static_cast<std::size_t>(m * r));
      g.c = buffers.c_part.data();
      gemm_f32(g);
      for (std::int64_t i = 0; i < m; ++i) {
        float* dst = c + i * w.rows + r0;
        const float* src = buffers.c_part.data() + i * r;
        if (accumulate)
          for (std::int64_t j = 0; j < r; ++j) dst[j] += src[j];
        else
          std::copy(src, src + r, dst);
      }
    } else {
      // c[m, cols] (+)= a[:, r0:r0+r] · tile[r, cols]
      g.n = w.cols, g.k = r;
      g.c = c;
      g.accumulate = accumulate || r0 > 0;
      if (one_tile) {
        g.a = a;
      } else {
        buffers.a_part.resize(static_cast<std::size_t>(m * r));
        for (std::int64_t i = 0; i < m; ++i)
          std::copy(a + i * w.rows + r0, a + i * w.rows + r0 + r, buffers.a_part.data() + i * r);
        g.a = buffers.a_part.data();
      }
      gemm_f32(g);
    }
  }
}

}  // namespace ft::backends::cpu
