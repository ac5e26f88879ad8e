#include "backends/common/gemm_tiles.hpp"

#include <algorithm>

namespace ft::backends {

std::int64_t rows_per_tile(const RowTiledWeight& w, std::size_t tile_bytes) {
  if (w.rows == 0 || w.cols == 0) return 0;
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(tile_bytes / sizeof(float)) / w.cols, 1,
                                  w.rows);
}

void gemm_by_row_tiles(const float* a, float* c, std::int64_t m, bool transpose_w, bool accumulate,
                       const RowTiledWeight& w, const StridedGemm& gemm_f32, float* tile,
                       std::size_t tile_bytes) {
  if (m == 0 || w.rows == 0 || w.cols == 0) return;
  const std::int64_t tile_rows = rows_per_tile(w, tile_bytes);
  for (std::int64_t r0 = 0; r0 < w.rows; r0 += tile_rows) {
    const std::int64_t r = std::min(tile_rows, w.rows - r0);
    w.widen_rows(r0, r, tile);
    GemmArgs g;
    g.b = tile;
    g.m = m;
    if (transpose_w) {
      // c[:, r0:r0+r] (+)= a[m, cols] · tile[r, cols]ᵀ: a column block of c, rows w.rows apart
      g.a = a;
      g.c = c + r0;
      g.trans_b = true;
      g.n = r, g.k = w.cols;
      g.accumulate = accumulate;
      gemm_f32(g, w.cols, w.rows);
    } else {
      // c[m, cols] (+)= a[:, r0:r0+r] · tile[r, cols]: a column block of a, rows w.rows apart
      g.a = a + r0;
      g.c = c;
      g.n = w.cols, g.k = r;
      g.accumulate = accumulate || r0 > 0;
      gemm_f32(g, w.rows, w.cols);
    }
  }
}

}  // namespace ft::backends
