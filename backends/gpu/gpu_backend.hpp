// ft::Backend on a GPU, shared by the cuda and rocm plugins: device memory through the
// caching allocator, every kernel (backends/gpu/*.cu) on one stream (so work runs in the order
// it was asked for, and a freed block is safe to hand out again at once), GEMMs through the
// plugin's BLAS (cuBLAS, or the project's own GEMM for rocm).
//
// Precision is the job's (train.precision, through ft::GemmArgs::compute), never the
// weights': compute = f32 is an f32 GEMM whatever B is stored in (a bf16/f16 weight widened
// to f32 a tile at a time); compute = bf16 rounds A and B to bf16 on the device
// (round_bf16.cu) and multiplies them with f32 accumulation: on tensor cores where the BLAS
// has a bf16 GEMM (cuBLAS, compute capability 8.0 and newer), else by the f32 GEMM on the
// rounded values (the rocm plugin's own GEMM), the same numbers more slowly. Optimizer state
// and trainable weights are f32 always.
//
// Nothing touches the device until it is first needed: probe() is safe on a machine
// without one, and says why it cannot run there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/common/caching_allocator.hpp"
#include "backends/gpu/kernels.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::gpu {

// The GEMMs of the plugin's BLAS: ft::GemmArgs's meaning (row-major, batched with strides,
// alpha, accumulate). lda and ldc are the row strides of A as stored and of C (0: packed).
// Batch items always write distinct C (GpuBackend::gemm runs items that share one a call
// each).
class Blas {
 public:
  virtual ~Blas() = default;
  // A and B f32, f32 products (args.compute is the caller's business).
  virtual void gemm(const GemmArgs& args, std::int64_t lda, std::int64_t ldc) = 0;
  // Whether gemm_bf16() exists; without it a bf16 GEMM runs gemm() on rounded operands.
  virtual bool has_bf16_gemm() const { return false; }
  // The same with bf16 operands: A packed at a_bf16 (args.a's layout, rows unstrided), B
  // bf16 at args.b; f32 accumulation, f32 C.
  virtual void gemm_bf16(const GemmArgs& /*args*/, const void* /*a_bf16*/, std::int64_t /*ldc*/) {}
};

// Each GPU plugin defines these (backends/cuda, backends/rocm).
// `device` is the current device when the BLAS is made.
std::unique_ptr<Blas> make_blas(Stream stream, int device);
// Whether the plugin's BLAS runs bf16 fast on `device`, and on what, or why not; safe on a
// machine without a device (it says so).
PrecisionSupport bf16_support(int device);
// "cuda", "rocm"; and the priority under backend = "auto".
struct Platform {
  const char* name;
  int priority;
};
Platform platform();

class GpuBackend final : public Backend {
 public:
  GpuBackend();
  ~GpuBackend() override;

  std::string name() const override;
  DeviceInfo probe() override;
  // [backend] device: the index this object runs on; before the first memory or kernel call.
  void configure(const Options& options) override;
  int device() const override { return device_; }
  PrecisionSupport precision_support() const override { return bf16_support(device_); }
  void* native_stream() override { return stream(); }

  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) override;
  void copy_from_host(void* dst, const void* src_host, std::size_t bytes) override;
  void copy_to_host(void* dst_host, const void* src, std::size_t bytes) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void fill_zero(void* dst, std::size_t bytes) override;
  void synchronize() override;
  MemoryStats memory_stats() override;
  void reset_peak_memory() override;
  void release_cached_memory() override;

  void gemm(const GemmArgs& args) override;
  void gemm_4bit(const Gemm4bitArgs& args) override;
  void embedding_forward(const EmbeddingForwardArgs& args) override;
  void embedding_backward(const EmbeddingBackwardArgs& args) override;
  void rmsnorm_forward(const RmsNormForwardArgs& args) override;
  void rmsnorm_backward(const RmsNormBackwardArgs& args) override;
  void rope(const RopeArgs& args) override;
  void attention_forward(const AttentionForwardArgs& args) override;
  void attention_backward(const AttentionBackwardArgs& args) override;
  void swiglu_forward(const SwigluForwardArgs& args) override;
  void swiglu_backward(const SwigluBackwardArgs& args) override;
  void unary(const UnaryArgs& args) override;
  void reduce_rows(const ReduceRowsArgs& args) override;
  void reduce(const ReduceArgs& args) override;
  void cross_entropy_forward(const CrossEntropyForwardArgs& args) override;
  void cross_entropy_backward(const CrossEntropyBackwardArgs& args) override;
  void binary(const BinaryArgs& args) override;
  void axpby(const AxpbyArgs& args) override;
  void bias_add(const BiasAddArgs& args) override;
  void sum_rows(const SumRowsArgs& args) override;
  void cast(const CastArgs& args) override;
  void dropout(const DropoutArgs& args) override;
  void adamw_step(const AdamWStepArgs& args) override;
  void sgd_step(const SgdStepArgs& args) override;

 private:
  // A block of device memory for the length of one call.
  class Scratch;

  Stream stream();  // creates the stream, the BLAS handle and the constant tables once
  void check_launch(const char* what);
  // After the host has waited for the device: a bad target a kernel flagged since the last
  // check, as an ft::Error (kernels cannot throw, and checking at each launch would wait).
  void check_flagged_errors();
  // One GEMM on an f32 B at g.compute; A's and C's rows lda and ldc apart (0: packed).
  void gemm_at_precision(const GemmArgs& g, std::int64_t lda, std::int64_t ldc);
  // compute = bf16 (k > 0): A (f32) and B (any dtype) rounded, then the BLAS's bf16 GEMM, or
  // its f32 GEMM on the rounded values.
  void gemm_bf16(const GemmArgs& g, std::int64_t lda, std::int64_t ldc);
  // The GEMM of a weight held narrower than f32 (bf16/f16 B, or 4 bits) at `compute`, widened
  // a tile of rows at a time into device memory.
  void gemm_widened(const float* a, float* c, std::int64_t m, bool transpose_w, bool accumulate,
                    std::int64_t rows, std::int64_t cols, DType compute,
                    const std::function<void(std::int64_t, std::int64_t, float*)>& widen_rows);

  CachingAllocator allocator_;
  int device_ = 0;
  Stream stream_ = nullptr;
  int* bad_target_ = nullptr;  // set by the cross-entropy kernels
  std::unique_ptr<Blas> blas_;
  float* nf4_table_ = nullptr;    // 16 floats
  float* fp4_table_ = nullptr;    // 16 floats
  float* dynamic_map_ = nullptr;  // 256 floats
};

}  // namespace ft::backends::gpu
