// GEMMs on a weight that is stored narrower than f32 (bf16, f16, 4-bit), widened to f32 a
// tile of rows at a time so the f32 copy is never whole in memory:
//
//   transpose_w: c[m, rows] = a[m, cols] · Wᵀ   (forward:  y = x · Wᵀ)
//                c[:, tile] = a · tileᵀ, one column block of c per tile
//   else:        c[m, cols] = a[m, rows] · W    (backward: dx = dy · W)
//                c += a[:, tile] · tile, summed over the tiles
//
// A tile holds about kTileBytes of f32. Each tile's GEMM reads its columns of a and writes
// its columns of c in place (row strides), so the only buffer is the tile itself.
#pragma once

#include <cstdint>
#include <functional>

#include "ftengine/backend.hpp"

namespace ft::backends {

inline constexpr std::size_t kTileBytes = 4u << 20;

struct RowTiledWeight {
  std::int64_t rows = 0, cols = 0;
  // out[n_rows * cols] = rows [first_row, first_row + n_rows) of W, in f32.
  std::function<void(std::int64_t first_row, std::int64_t n_rows, float* out)> widen_rows;
};

// One f32 GEMM (batch 1) whose A and C rows lie lda and ldc floats apart.
using StridedGemm = std::function<void(const GemmArgs&, std::int64_t lda, std::int64_t ldc)>;

// Rows of W per tile: about tile_bytes of f32, at least one row, at most all of them.
std::int64_t rows_per_tile(const RowTiledWeight& w, std::size_t tile_bytes = kTileBytes);

// `tile` is the caller's buffer of rows_per_tile(w, tile_bytes) * w.cols floats, in the
// memory the GEMM runs on (host for the CPU backend, device for the GPU ones).
void gemm_by_row_tiles(const float* a, float* c, std::int64_t m, bool transpose_w, bool accumulate,
                       const RowTiledWeight& w, const StridedGemm& gemm_f32, float* tile,
                       std::size_t tile_bytes = kTileBytes);

}  // namespace ft::backends
