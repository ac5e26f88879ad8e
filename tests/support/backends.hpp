// Backends for tests: the real CPU backend, and a decorator that counts kernel calls (to
// show that work which should be pruned is never launched) and host traffic (to show what
// a training step waits for).
#pragma once

#include <memory>

#include "backends/cpu/cpu_backend.hpp"
#include "ftengine/backend.hpp"

namespace ft::testing {

// One CPU backend for the whole test binary.
inline Backend& cpu() {
  static backends::cpu::CpuBackend backend;
  return backend;
}

// Forwards every primitive to `inner` and keeps the SDK's defaults for the fused kernels
// (so what runs through it also exercises those); counts GEMMs, reads back to the host
// (each a wait for the device) and uploads.
// It is not host_accessible(), as a GPU backend is not, whatever `inner` is.
class CountingBackend : public Backend {
 public:
  explicit CountingBackend(Backend& inner) : inner_(inner) {}
  int gemm_calls = 0;
  int host_reads = 0;    // copy_to_host and synchronize: the host waits for the device
  int host_uploads = 0;  // copy_from_host
  void reset_counts() { gemm_calls = host_reads = host_uploads = 0; }

  std::string name() const override { return "counting(" + inner_.name() + ")"; }
  DeviceInfo probe() override { return inner_.probe(); }
  void configure(const Options& options) override { inner_.configure(options); }
  void* allocate(std::size_t bytes) override { return inner_.allocate(bytes); }
  void deallocate(void* p, std::size_t bytes) override { inner_.deallocate(p, bytes); }
  void copy_from_host(void* d, const void* s, std::size_t n) override {
    ++host_uploads;
    inner_.copy_from_host(d, s, n);
  }
  void copy_to_host(void* d, const void* s, std::size_t n) override {
    ++host_reads;
    inner_.copy_to_host(d, s, n);
  }
  void copy(void* d, const void* s, std::size_t n) override { inner_.copy(d, s, n); }
  void fill_zero(void* d, std::size_t n) override { inner_.fill_zero(d, n); }
  void synchronize() override {
    ++host_reads;
    inner_.synchronize();
  }
  MemoryStats memory_stats() override { return inner_.memory_stats(); }
  void reset_peak_memory() override { inner_.reset_peak_memory(); }
  void release_cached_memory() override { inner_.release_cached_memory(); }

  void gemm(const GemmArgs& a) override {
    ++gemm_calls;
    inner_.gemm(a);
  }
  void gemm_4bit(const Gemm4bitArgs& a) override {
    ++gemm_calls;
    inner_.gemm_4bit(a);
  }
  void embedding_forward(const EmbeddingForwardArgs& a) override { inner_.embedding_forward(a); }
  void embedding_backward(const EmbeddingBackwardArgs& a) override { inner_.embedding_backward(a); }
  void rope(const RopeArgs& a) override { inner_.rope(a); }
  void attention_forward(const AttentionForwardArgs& a) override { inner_.attention_forward(a); }
  void attention_backward(const AttentionBackwardArgs& a) override { inner_.attention_backward(a); }
  void cross_entropy_forward(const CrossEntropyForwardArgs& a) override { inner_.cross_entropy_forward(a); }
  void cross_entropy_backward(const CrossEntropyBackwardArgs& a) override { inner_.cross_entropy_backward(a); }
  void unary(const UnaryArgs& a) override { inner_.unary(a); }
  void binary(const BinaryArgs& a) override { inner_.binary(a); }
  void axpby(const AxpbyArgs& a) override { inner_.axpby(a); }
  void bias_add(const BiasAddArgs& a) override { inner_.bias_add(a); }
  void sum_rows(const SumRowsArgs& a) override { inner_.sum_rows(a); }
  void reduce_rows(const ReduceRowsArgs& a) override { inner_.reduce_rows(a); }
  void reduce(const ReduceArgs& a) override { inner_.reduce(a); }
  void cast(const CastArgs& a) override { inner_.cast(a); }
  void dropout(const DropoutArgs& a) override { inner_.dropout(a); }

 private:
  Backend& inner_;
};

}  // namespace ft::testing
