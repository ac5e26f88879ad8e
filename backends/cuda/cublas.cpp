// The cuda plugin's half of the GPU backend: its name, its rank under backend = "auto", and
// GEMMs through cuBLAS: f32 (cublasSgemm, the default math mode: no TF32) and bf16 operands
// with f32 accumulation on tensor cores.
#include <cublas_v2.h>
#include <fmt/format.h>

#include "backends/gpu/gpu_backend.hpp"
#include "backends/gpu/gpu_runtime.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::gpu {

namespace {

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(fmt::format("cuda backend: {}: cuBLAS status {} ({})", what,
                            static_cast<int>(status), cublasGetStatusString(status)));
}

// Row-major C[m, n] = op(A)[m, k]·op(B)[k, n] is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS
// gets B first, with the row-major strides as its leading dimensions.
class Cublas final : public Blas {
 public:
  Cublas(Stream stream, int device) : bf16_(bf16_support(device).bf16) {
    check(cublasCreate(&handle_), "creating a handle");
    check(cublasSetStream(handle_, static_cast<cudaStream_t>(stream)), "setting the stream");
  }
  ~Cublas() override { cublasDestroy(handle_); }

  bool has_bf16_gemm() const override { return bf16_; }

  // bf16 A and B, f32 C, CUBLAS_COMPUTE_32F: the products summed in f32 on tensor cores. Not
  // the _FAST_16BF or _FAST_TF32 compute types, which would round further.
  void gemm_bf16(const GemmArgs& g, const void* a_bf16, std::int64_t ldc) override {
    const std::int64_t lda = g.trans_a ? g.m : g.k, ldb = g.trans_b ? g.k : g.n;
    ldc = ldc != 0 ? ldc : g.n;
    const float alpha = g.alpha, beta = g.accumulate ? 1.0f : 0.0f;
    const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const bool batched = g.batch > 1;
    check(cublasGemmStridedBatchedEx(
              handle_, op_b, op_a, static_cast<int>(g.n), static_cast<int>(g.m),
              static_cast<int>(g.k), &alpha, g.b, CUDA_R_16BF, static_cast<int>(ldb),
              batched ? g.stride_b : 0, a_bf16, CUDA_R_16BF, static_cast<int>(lda),
              batched ? g.stride_a : 0, &beta, g.c, CUDA_R_32F, static_cast<int>(ldc),
              batched ? g.stride_c : 0, static_cast<int>(g.batch), CUBLAS_COMPUTE_32F,
              CUBLAS_GEMM_DEFAULT),
          "gemm_strided_batched_ex (bf16)");
  }

  void gemm(const GemmArgs& g, std::int64_t lda, std::int64_t ldc) override {
    if (g.k == 0) {  // C = 0 (or unchanged): cuBLAS wants k >= 1 for a meaningful call
      if (!g.accumulate) zero_c(g, ldc);
      return;
    }
    lda = lda != 0 ? lda : (g.trans_a ? g.m : g.k);
    ldc = ldc != 0 ? ldc : g.n;
    const std::int64_t ldb = g.trans_b ? g.k : g.n;
    const float alpha = g.alpha;
    const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const auto* b = static_cast<const float*>(g.b);
    const float beta = g.accumulate ? 1.0f : 0.0f;
    check(cublasSgemmStridedBatched(
              handle_, op_b, op_a, static_cast<int>(g.n), static_cast<int>(g.m),
              static_cast<int>(g.k), &alpha, b, static_cast<int>(ldb), g.batch > 1 ? g.stride_b : 0,
              g.a, static_cast<int>(lda), g.batch > 1 ? g.stride_a : 0, &beta, g.c,
              static_cast<int>(ldc), g.batch > 1 ? g.stride_c : 0, static_cast<int>(g.batch)),
          "sgemm_strided_batched");
  }

 private:
  void zero_c(const GemmArgs& g, std::int64_t ldc) {
    ldc = ldc != 0 ? ldc : g.n;
    cudaStream_t stream = nullptr;
    check(cublasGetStream(handle_, &stream), "getting the stream");
    for (std::int64_t b = 0; b < g.batch; ++b)
      for (std::int64_t i = 0; i < g.m; ++i)
        static_cast<void>(cudaMemsetAsync(g.c + b * g.stride_c + i * ldc, 0,
                                          static_cast<std::size_t>(g.n) * sizeof(float), stream));
  }

  bool bf16_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace

// bf16 tensor cores came with Ampere (compute capability 8.0); the plugin is built for
// sm_80 and sm_90.
PrecisionSupport bf16_support(int device) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    static_cast<void>(cudaGetLastError());  // not a launch error
    return {false, error != cudaSuccess
                       ? fmt::format("no CUDA device: {}", cudaGetErrorString(error))
                       : std::string("no CUDA device found")};
  }
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return {false, fmt::format("cannot read the compute capability of CUDA device {} (of {})",
                               device, count)};
  }
  if (major >= 8) return {true, "tensor cores (cuBLAS, f32 accumulation)"};
  return {false, fmt::format("bf16 tensor cores need compute capability 8.0, CUDA device {} has "
                             "{}.{}",
                             device, major, minor)};
}

std::unique_ptr<Blas> make_blas(Stream stream, int device) {
  return std::make_unique<Cublas>(stream, device);
}

Platform platform() { return {"cuda", 20}; }  // above rocm (10) and the CPU (0)

}  // namespace ft::backends::gpu
