// The rocm plugin's half of the GPU backend: its name, its rank under backend = "auto", and
// GEMMs through the project's own tiled kernel (backends/gpu/gemm.cu): Debian 12 ships HIP
// without rocBLAS or hipBLAS. The kernel is f32; compute = bf16 runs it on rounded operands.
#include "backends/gpu/gpu_backend.hpp"

namespace ft::backends::gpu {

namespace {

class OwnGemm final : public Blas {
 public:
  explicit OwnGemm(Stream stream) : stream_(stream) {}

  void gemm(const GemmArgs& g, std::int64_t lda, std::int64_t ldc) override {
    lda = lda != 0 ? lda : (g.trans_a ? g.m : g.k);
    ldc = ldc != 0 ? ldc : g.n;
    const std::int64_t ldb = g.trans_b ? g.k : g.n;
    const auto* b = static_cast<const float*>(g.b);
    const bool batched = g.batch > 1;
    launch_gemm(g.a, b, g.c, g.m, g.n, g.k, g.batch, lda, ldb, ldc, batched ? g.stride_a : 0,
                batched ? g.stride_b : 0, batched ? g.stride_c : 0, g.trans_a, g.trans_b,
                g.accumulate, g.alpha, stream_);
  }

 private:
  Stream stream_;
};

}  // namespace

// No bf16 GEMM here: a bf16 GEMM runs the f32 kernel on operands rounded to bf16
// (GpuBackend::gemm_bf16), the same numbers, more slowly than f32.
PrecisionSupport bf16_support(int /*device*/) {
  return {false,
          "the project's own GEMM (backends/gpu/gemm.cu) is f32: Debian 12's HIP has no "
          "rocBLAS"};
}

std::unique_ptr<Blas> make_blas(Stream stream, int /*device*/) {
  return std::make_unique<OwnGemm>(stream);
}

Platform platform() { return {"rocm", 10}; }  // below cuda (20), above the CPU (0)

}  // namespace ft::backends::gpu
