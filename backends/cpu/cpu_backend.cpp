#include "backends/cpu/cpu_backend.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "backends/cpu/kernels.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu {

CpuBackend::CpuBackend() : threads_(omp_get_max_threads()) {}  // honours OMP_NUM_THREADS

CpuBackend::~CpuBackend() = default;

DeviceInfo CpuBackend::probe() {
  DeviceInfo info;
  info.available = true;
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2"), fma = __builtin_cpu_supports("fma");
  std::string isa = avx2 && fma ? "AVX2+FMA" : avx2 ? "AVX2" : "no AVX2";
  if (__builtin_cpu_supports("avx512f")) isa += ", AVX-512";
  if (gemm_.bf16().native) isa += ", " + gemm_.bf16().isa;
  info.device_name = std::to_string(threads_) + (threads_ == 1 ? " thread, " : " threads, ") + isa;
  info.device_count = 1;
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    info.memory_bytes = static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size);
  }
  info.priority = 0;  // GPU backends rank higher under backend = "auto"
  return info;
}

void CpuBackend::set_threads(int threads) {
  if (threads < 0) {
    throw Error("cpu backend: thread count " + std::to_string(threads) +
                " is negative: use 0 for all cores or a positive count");
  }
  threads_ = threads == 0 ? omp_get_num_procs() : threads;
  omp_set_num_threads(threads_);
}

void CpuBackend::configure(const Options& options) {
  Backend::configure(options);  // device 0
  const std::int64_t threads = options.integer("threads", 0);
  if (threads > 4096)
    throw Error(fmt::format("{}.threads = {}: at most 4096", options.section(), threads));
  set_threads(static_cast<int>(threads));
  set_emulate_bf16(options.boolean("emulate_bf16", false));
}

PrecisionSupport CpuBackend::precision_support() const {
  const Bf16Gemm& bf16 = gemm_.bf16();
  if (bf16.native) return {true, bf16.isa};
  if (emulate_bf16_) {
    return {true, bf16.onednn ? "emulated by oneDNN (" + bf16.isa + "), slower than f32"
                              : "emulated by rounding the operands for the f32 GEMM (" + bf16.isa +
                                    "), slower than f32"};
  }
  return {false, bf16.isa};
}

void CpuBackend::use_threads() const {
  if (omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
}

// ---- memory -------------------------------------------------------------------------------

void* CpuBackend::allocate(std::size_t bytes) { return allocator_.allocate(bytes); }
void CpuBackend::deallocate(void* ptr, std::size_t bytes) { allocator_.deallocate(ptr, bytes); }
void CpuBackend::copy_from_host(void* dst, const void* src_host, std::size_t bytes) {
  if (bytes) std::memcpy(dst, src_host, bytes);
}
void CpuBackend::copy_to_host(void* dst_host, const void* src, std::size_t bytes) {
  if (bytes) std::memcpy(dst_host, src, bytes);
}
void CpuBackend::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
}
void CpuBackend::fill_zero(void* dst, std::size_t bytes) {
  if (bytes) std::memset(dst, 0, bytes);
}
MemoryStats CpuBackend::memory_stats() { return allocator_.stats(); }
void CpuBackend::reset_peak_memory() { allocator_.reset_peak(); }
void CpuBackend::release_cached_memory() { allocator_.release_cached(); }

// ---- kernels ------------------------------------------------------------------------------

void CpuBackend::gemm(const GemmArgs& args) {
  use_threads();
  gemm_.run(args, threads_);
}

void CpuBackend::gemm_4bit(const Gemm4bitArgs& args) {
  use_threads();
  gemm_4bit_.run(args, gemm_, threads_);
}

#define FT_CPU_FORWARD(NAME, ARGS)          \
  void CpuBackend::NAME(const ARGS& args) { \
    use_threads();                          \
    kernels::NAME(args);                    \
  }
FT_CPU_FORWARD(embedding_forward, EmbeddingForwardArgs)
FT_CPU_FORWARD(embedding_backward, EmbeddingBackwardArgs)
FT_CPU_FORWARD(rmsnorm_forward, RmsNormForwardArgs)
FT_CPU_FORWARD(rmsnorm_backward, RmsNormBackwardArgs)
FT_CPU_FORWARD(rope, RopeArgs)
FT_CPU_FORWARD(attention_forward, AttentionForwardArgs)
FT_CPU_FORWARD(attention_backward, AttentionBackwardArgs)
FT_CPU_FORWARD(swiglu_forward, SwigluForwardArgs)
FT_CPU_FORWARD(swiglu_backward, SwigluBackwardArgs)
FT_CPU_FORWARD(cross_entropy_forward, CrossEntropyForwardArgs)
FT_CPU_FORWARD(cross_entropy_backward, CrossEntropyBackwardArgs)
FT_CPU_FORWARD(unary, UnaryArgs)
FT_CPU_FORWARD(binary, BinaryArgs)
FT_CPU_FORWARD(reduce_rows, ReduceRowsArgs)
FT_CPU_FORWARD(reduce, ReduceArgs)
FT_CPU_FORWARD(masked_softmax, MaskedSoftmaxArgs)
FT_CPU_FORWARD(axpby, AxpbyArgs)
FT_CPU_FORWARD(bias_add, BiasAddArgs)
FT_CPU_FORWARD(sum_rows, SumRowsArgs)
FT_CPU_FORWARD(cast, CastArgs)
FT_CPU_FORWARD(dropout, DropoutArgs)
FT_CPU_FORWARD(adamw_step, AdamWStepArgs)
FT_CPU_FORWARD(sgd_step, SgdStepArgs)
#undef FT_CPU_FORWARD

}  // namespace ft::backends::cpu
