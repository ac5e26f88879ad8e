#include "backends/cpu/gemm_tiles.hpp"

#include <algorithm>

namespace ft::backends::cpu {

void gemm_by_row_tiles(const float* a, float* c, std::int64_t m, bool transpose_w,
                       bool accumulate, const RowTiledWeight& w, const StridedGemm& gemm_f32,
                       std::vector<float>& tile) {
  if (m == 0 || w.rows == 0 || w.cols == 0) return;
  const std::int64_t rows_per_tile = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(kTileBytes / sizeof(float)) / w.cols, 1, w.rows);
  tile.resize(static_cast<std::size_t>(rows_per_tile * w.cols));

  for (std::int64_t r0 = 0; r0 < w.rows; r0 += rows_per_tile) {
    const std::int64_t r = std::min(rows_per_tile, w.rows - r0);
    w.widen_rows(r0, r, tile.data());
    GemmArgs g;
    g.b = tile.data();
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

}  // namespace ft::backends::cpu
