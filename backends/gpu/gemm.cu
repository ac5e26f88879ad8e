// The project's own f32 GEMM, for GPU platforms without a vendor BLAS here (HIP on Debian 12
// ships no rocBLAS/hipBLAS). ft::GemmArgs's meaning, row-major:
//
//   C_b[m, n] = alpha · op(A_b)[m, k] · op(B_b)[k, n]  (+ C_b when accumulate)
//
// A block computes a 64 x 64 tile of C, walking k in slices of 16 staged through shared
// memory; each of its 256 threads accumulates a 4 x 4 patch in registers. Transposes are
// index changes when a slice is loaded. Batch items are blocks along z; an item stride of
// 0 shares that operand.
#include <cstdint>

#include "backends/gpu/gpu_runtime.hpp"
#include "backends/gpu/kernels.hpp"

namespace ft::backends::gpu {

namespace {

constexpr int kTile = 64, kSlice = 16, kPatch = 4;  // 64 / 4 = 16 threads a side: 256

struct GemmParams {
  const float* a;
  const float* b;
  float* c;
  std::int64_t m, n, k, lda, ldb, ldc, stride_a, stride_b, stride_c;
  bool trans_a, trans_b, accumulate;
  float alpha;
};

__global__ void gemm_kernel(GemmParams p) {
  __shared__ float a_tile[kSlice][kTile + 1];  // a_tile[kk][row], +1 against bank conflicts
  __shared__ float b_tile[kSlice][kTile + 1];  // b_tile[kk][col]
  const std::int64_t batch = blockIdx.z;
  const float* a = p.a + batch * p.stride_a;
  const float* b = p.b + batch * p.stride_b;
  float* c = p.c + batch * p.stride_c;
  const std::int64_t row0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
  const std::int64_t col0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  const int tx = threadIdx.x % (kTile / kPatch), ty = threadIdx.x / (kTile / kPatch);
  float acc[kPatch][kPatch] = {};

  for (std::int64_t k0 = 0; k0 < p.k; k0 += kSlice) {
    // 64 x 16 values of each operand, 4 per thread.
    for (int e = threadIdx.x; e < kTile * kSlice; e += blockDim.x) {
      const int r = e / kSlice, kk = e % kSlice;
      const std::int64_t row = row0 + r, col = col0 + r, kidx = k0 + kk;
      float av = 0, bv = 0;
      if (row < p.m && kidx < p.k) av = p.trans_a ? a[kidx * p.lda + row] : a[row * p.lda + kidx];
      if (col < p.n && kidx < p.k) bv = p.trans_b ? b[col * p.ldb + kidx] : b[kidx * p.ldb + col];
      a_tile[kk][r] = av;
      b_tile[kk][r] = bv;
    }
    __syncthreads();
    for (int kk = 0; kk < kSlice; ++kk) {
      float a_reg[kPatch], b_reg[kPatch];
      for (int i = 0; i < kPatch; ++i) a_reg[i] = a_tile[kk][ty * kPatch + i];
      for (int j = 0; j < kPatch; ++j) b_reg[j] = b_tile[kk][tx * kPatch + j];
      for (int i = 0; i < kPatch; ++i)
        for (int j = 0; j < kPatch; ++j) acc[i][j] += a_reg[i] * b_reg[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < kPatch; ++i) {
    const std::int64_t row = row0 + ty * kPatch + i;
    if (row >= p.m) continue;
    for (int j = 0; j < kPatch; ++j) {
      const std::int64_t col = col0 + tx * kPatch + j;
      if (col >= p.n) continue;
      float& out = c[row * p.ldc + col];
      out = p.accumulate ? out + p.alpha * acc[i][j] : p.alpha * acc[i][j];
    }
  }
}

}  // namespace

void launch_gemm(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n,
                 std::int64_t k, std::int64_t batch, std::int64_t lda, std::int64_t ldb,
                 std::int64_t ldc, std::int64_t stride_a, std::int64_t stride_b,
                 std::int64_t stride_c, bool trans_a, bool trans_b, bool accumulate, float alpha,
                 Stream stream) {
  if (m == 0 || n == 0 || batch == 0) return;
  const GemmParams p{a,   b,        c,        m,        n,       k,       lda,        ldb,
                     ldc, stride_a, stride_b, stride_c, trans_a, trans_b, accumulate, alpha};
  const dim3 grid(static_cast<unsigned>((n + kTile - 1) / kTile),
                  static_cast<unsigned>((m + kTile - 1) / kTile), static_cast<unsigned>(batch));
  gemm_kernel<<<grid, (kTile / kPatch) * (kTile / kPatch), 0, static_cast<gpuStream_t>(stream)>>>(
      p);
}

}  // namespace ft::backends::gpu
