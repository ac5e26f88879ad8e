// Register-blocked GEMM for small tiles (the 64 x 64 blocks of flash attention).
//
// Calling oneDNN for each 64 x 64 x 64 tile costs about as much in dispatch as the tile's
// arithmetic, so attention multiplies its tiles here instead:
//
//   C[M, N] (+)= sum_p a(i, p) * B[p, N]      a(i, p) = A[i * a_rs + p * a_cs]
//
// A is read element by element (broadcast), so one kernel covers A (a_rs = lda, a_cs = 1) and
// Aᵀ (a_rs = 1, a_cs = lda). B and C are row-major with leading dimensions ldb, ldc: B's rows
// are what the vector loads stream over.
//
// Three versions, picked at run time: AVX-512 (when the CPU has it: twice the AVX2 rate, as
// oneDNN's own sgemm gets), AVX2+FMA (when the build enables it), and a plain loop.
#pragma once

#include <cstdint>

namespace ft::backends::cpu {

void tile_gemm(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t a_rs,
               std::int64_t a_cs, const float* B, std::int64_t ldb, float* C, std::int64_t ldc,
               bool accumulate);

enum class TileIsa : int { scalar = 0, avx2 = 1, avx512 = 2 };
// The widest version this CPU and build run.
TileIsa best_tile_isa();
TileIsa tile_isa();
// For tests: use `isa` (clamped to best_tile_isa()) from now on.
void set_tile_isa(TileIsa isa);

}  // namespace ft::backends::cpu
