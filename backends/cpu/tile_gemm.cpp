#include "backends/cpu/tile_gemm.hpp"

#include <algorithm>
#include <atomic>

#include "backends/cpu/simd.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FT_CPU_HAVE_AVX512_PATH 1
#else
#define FT_CPU_HAVE_AVX512_PATH 0
#endif

namespace ft::backends::cpu {

namespace {

// Reference loop; also the edge columns (N % 8) of the AVX2 path.
void tile_gemm_scalar(std::int64_t M, std::int64_t N, std::int64_t K, const float* A,
                      std::int64_t a_rs, std::int64_t a_cs, const float* B, std::int64_t ldb,
                      float* C, std::int64_t ldc, bool accumulate) {
  for (std::int64_t i = 0; i < M; ++i) {
    float* __restrict c = C + i * ldc;
    if (!accumulate) {
      for (std::int64_t j = 0; j < N; ++j) c[j] = 0.0f;
    }
    for (std::int64_t p = 0; p < K; ++p) {
      const float a = A[i * a_rs + p * a_cs];
      const float* __restrict b = B + p * ldb;
      for (std::int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

#if FT_CPU_AVX2
// C[MR, 8 NV] (+)= a(MR, K) B[K, 8 NV]: MR x NV accumulators (6 x 2 = 12 of the 16 ymm, the
// BLIS Haswell shape), one broadcast of A and NV loads of B per step of K. The unroll pragmas
// are what keep c[][] in registers: without them GCC 12 stores the accumulators to the stack
// on every step of K (measured: 3x slower).
template <int MR, int NV>
void micro_avx2(std::int64_t K, const float* __restrict A, std::int64_t a_rs, std::int64_t a_cs,
                const float* __restrict B, std::int64_t ldb, float* __restrict C, std::int64_t ldc,
                bool accumulate) {
  __m256 c[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      c[r][v] = accumulate ? _mm256_loadu_ps(C + r * ldc + 8 * v) : _mm256_setzero_ps();
    }
  }
  for (std::int64_t p = 0; p < K; ++p) {
    __m256 b[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(B + p * ldb + 8 * v);
    const float* ap = A + p * a_cs;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(ap + r * a_rs);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) c[r][v] = _mm256_fmadd_ps(a, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(C + r * ldc + 8 * v, c[r][v]);
  }
}

template <int NV>
void rows_avx2(std::int64_t M, std::int64_t K, const float* A, std::int64_t a_rs, std::int64_t a_cs,
               const float* B, std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
  constexpr std::int64_t kRows = 6;
  std::int64_t i = 0;
  for (; i + kRows <= M; i += kRows) {
    micro_avx2<kRows, NV>(K, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc, accumulate);
  }
  const float* Ai = A + i * a_rs;
  float* Ci = C + i * ldc;
  switch (M - i) {
    case 5:
      return micro_avx2<5, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate);
    case 4:
      return micro_avx2<4, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate);
    case 3:
      return micro_avx2<3, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate);
    case 2:
      return micro_avx2<2, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate);
    case 1:
      return micro_avx2<1, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate);
    default:
      return;
  }
}

void tile_gemm_avx2(std::int64_t M, std::int64_t N, std::int64_t K, const float* A,
                    std::int64_t a_rs, std::int64_t a_cs, const float* B, std::int64_t ldb,
                    float* C, std::int64_t ldc, bool accumulate) {
  std::int64_t j = 0;
  for (; j + 16 <= N; j += 16)
    rows_avx2<2>(M, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate);
  if (j + 8 <= N) {
    rows_avx2<1>(M, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate);
    j += 8;
  }
  if (j < N) tile_gemm_scalar(M, N - j, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate);
}
#endif

#if FT_CPU_HAVE_AVX512_PATH
// The same with 16-wide vectors: MR x NV of the 32 zmm registers (8 x 2 = 16), and the last
// vector of a row masked to `tail` lanes, so no scalar edge loop is needed.
#define FT_AVX512 __attribute__((target("avx512f")))

template <int MR, int NV>
FT_AVX512 void micro_avx512(std::int64_t K, const float* __restrict A, std::int64_t a_rs,
                            std::int64_t a_cs, const float* __restrict B, std::int64_t ldb,
                            float* __restrict C, std::int64_t ldc, bool accumulate,
                            __mmask16 tail) {
  __m512 c[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? tail : __mmask16(0xffff);
      c[r][v] =
          accumulate ? _mm512_maskz_loadu_ps(mask, C + r * ldc + 16 * v) : _mm512_setzero_ps();
    }
  }
  for (std::int64_t p = 0; p < K; ++p) {
    __m512 b[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? tail : __mmask16(0xffff);
      b[v] = _mm512_maskz_loadu_ps(mask, B + p * ldb + 16 * v);
    }
    const float* ap = A + p * a_cs;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(ap[r * a_rs]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? tail : __mmask16(0xffff);
      _mm512_mask_storeu_ps(C + r * ldc + 16 * v, mask, c[r][v]);
    }
  }
}

template <int NV>
FT_AVX512 void rows_avx512(std::int64_t M, std::int64_t K, const float* A, std::int64_t a_rs,
                           std::int64_t a_cs, const float* B, std::int64_t ldb, float* C,
                           std::int64_t ldc, bool accumulate, __mmask16 tail) {
  constexpr std::int64_t kRows = 8;
  std::int64_t i = 0;
  for (; i + kRows <= M; i += kRows) {
    micro_avx512<kRows, NV>(K, A + i * a_rs, a_rs, a_cs, B, ldb, C + i * ldc, ldc, accumulate,
                            tail);
  }
  const float* Ai = A + i * a_rs;
  float* Ci = C + i * ldc;
  switch (M - i) {
    case 7:
      return micro_avx512<7, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 6:
      return micro_avx512<6, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 5:
      return micro_avx512<5, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 4:
      return micro_avx512<4, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 3:
      return micro_avx512<3, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 2:
      return micro_avx512<2, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    case 1:
      return micro_avx512<1, NV>(K, Ai, a_rs, a_cs, B, ldb, Ci, ldc, accumulate, tail);
    default:
      return;
  }
}

FT_AVX512 void tile_gemm_avx512(std::int64_t M, std::int64_t N, std::int64_t K, const float* A,
                                std::int64_t a_rs, std::int64_t a_cs, const float* B,
                                std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
  const __mmask16 full = 0xffff;
  std::int64_t j = 0;
  for (; j + 32 <= N; j += 32) {
    rows_avx512<2>(M, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate, full);
  }
  const std::int64_t rest = N - j;  // 0..31 columns
  if (rest > 16) {
    const auto tail = static_cast<__mmask16>((1u << (rest - 16)) - 1u);
    rows_avx512<2>(M, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate, tail);
  } else if (rest > 0) {
    const auto tail = static_cast<__mmask16>((1u << rest) - 1u);
    rows_avx512<1>(M, K, A, a_rs, a_cs, B + j, ldb, C + j, ldc, accumulate, tail);
  }
}
#undef FT_AVX512
#endif

TileIsa detect_best() {
#if FT_CPU_HAVE_AVX512_PATH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return TileIsa::avx512;
#endif
#if FT_CPU_AVX2
  return TileIsa::avx2;  // the build only enables AVX2 where the build machine runs it
#else
  return TileIsa::scalar;
#endif
}

std::atomic<int>& current_isa() {
  static std::atomic<int> isa{static_cast<int>(detect_best())};
  return isa;
}

}  // namespace

TileIsa best_tile_isa() {
  static const TileIsa best = detect_best();
  return best;
}

TileIsa tile_isa() { return static_cast<TileIsa>(current_isa().load(std::memory_order_relaxed)); }

void set_tile_isa(TileIsa isa) {
  const int clamped = std::min(static_cast<int>(isa), static_cast<int>(best_tile_isa()));
  current_isa().store(clamped, std::memory_order_relaxed);
}

void tile_gemm(std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t a_rs,
               std::int64_t a_cs, const float* B, std::int64_t ldb, float* C, std::int64_t ldc,
               bool accumulate) {
  switch (tile_isa()) {
#if FT_CPU_HAVE_AVX512_PATH
    case TileIsa::avx512:
      return tile_gemm_avx512(M, N, K, A, a_rs, a_cs, B, ldb, C, ldc, accumulate);
#endif
#if FT_CPU_AVX2
    case TileIsa::avx2:
      return tile_gemm_avx2(M, N, K, A, a_rs, a_cs, B, ldb, C, ldc, accumulate);
#endif
    default:
      return tile_gemm_scalar(M, N, K, A, a_rs, a_cs, B, ldb, C, ldc, accumulate);
  }
}

}  // namespace ft::backends::cpu
