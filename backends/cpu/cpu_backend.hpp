// The CPU compute backend: host memory through a caching allocator, every GEMM through
// oneDNN, every other kernel an OpenMP loop written to vectorise.
//
// It is also the reference the other backends are held to (tests/backends/conformance), so each
// kernel is written to be obviously right first and fast second; see kernels.hpp for where
// each one lives. Used as a plugin (plugin = "cpu") or linked directly by tests:
//
//   ft::backends::cpu::CpuBackend backend;
//   backend.set_threads(0);  // all cores (a job says [backend] threads = 0)
#pragma once

#include <cstddef>
#include <string>

#include "backends/cpu/allocator.hpp"
#include "backends/cpu/gemm.hpp"
#include "backends/cpu/gemm_4bit.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::cpu {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  DeviceInfo probe() override;
  // [backend] threads (0: all cores), device (0, the only one) and emulate_bf16.
  void configure(const Options& options) override;
  // bf16 where the CPU has AVX512-BF16 or AMX-BF16, or everywhere with emulate_bf16 (the
  // same numbers, slower than f32: for checking bf16 on any machine).
  PrecisionSupport precision_support() const override;
  void set_emulate_bf16(bool emulate) { emulate_bf16_ = emulate; }
  bool host_accessible() const override { return true; }
  // 0 = all cores.
  void set_threads(int threads);
  int threads() const { return threads_; }

  void* allocate(std::size_t bytes) override;
  void deallocate(void* ptr, std::size_t bytes) override;
  void copy_from_host(void* dst, const void* src_host, std::size_t bytes) override;
  void copy_to_host(void* dst_host, const void* src, std::size_t bytes) override;
  void copy(void* dst, const void* src, std::size_t bytes) override;
  void fill_zero(void* dst, std::size_t bytes) override;
  void synchronize() override {}
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
  void cross_entropy_forward(const CrossEntropyForwardArgs& args) override;
  void cross_entropy_backward(const CrossEntropyBackwardArgs& args) override;
  void unary(const UnaryArgs& args) override;
  void binary(const BinaryArgs& args) override;
  void reduce_rows(const ReduceRowsArgs& args) override;
  void reduce(const ReduceArgs& args) override;
  void masked_softmax(const MaskedSoftmaxArgs& args) override;
  void axpby(const AxpbyArgs& args) override;
  void bias_add(const BiasAddArgs& args) override;
  void sum_rows(const SumRowsArgs& args) override;
  void cast(const CastArgs& args) override;
  void dropout(const DropoutArgs& args) override;
  void adamw_step(const AdamWStepArgs& args) override;
  void sgd_step(const SgdStepArgs& args) override;

  // Number of oneDNN matmul primitives built so far (tests check that shapes are reused).
  std::size_t cached_gemm_primitives() const { return gemm_.cached_primitives(); }

 private:
  // OpenMP's team size is per calling thread: make sure this thread uses ours.
  void use_threads() const;

  int threads_;
  bool emulate_bf16_ = false;
  CachingAllocator allocator_{host_memory()};
  GemmEngine gemm_;
  Gemm4bit gemm_4bit_;
};

}  // namespace ft::backends::cpu
