#include "backends/gpu/gpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "backends/common/gemm_tiles.hpp"
#include "backends/common/optimizer_math.hpp"
#include "backends/common/packed_operands.hpp"
#include "backends/gpu/gpu_runtime.hpp"
#include "ftengine/error.hpp"
#include "ftengine/quant.hpp"

namespace ft::backends::gpu {

namespace {

std::string backend_name() { return platform().name; }

void require_gemm_precision(const char* kernel, DType compute) {
  if (!is_gemm_precision(compute))
    throw Error(fmt::format("{} backend: {} compute precision {}, expected f32 or bf16",
                            backend_name(), kernel, dtype_name(compute)));
}

void check(gpuError_t error, const char* what) {
  if (error != gpuSuccess)
    throw Error(fmt::format("{} backend: {}: {}", backend_name(), what, gpuGetErrorString(error)));
}

void* device_allocate(std::size_t bytes) {
  void* p = nullptr;
  return gpuMalloc(&p, bytes) == gpuSuccess ? p : nullptr;
}
void device_free(void* p, std::size_t) { static_cast<void>(gpuFree(p)); }

Stored stored(DType dtype, const char* what) {
  switch (dtype) {
    case DType::f32:
      return Stored::f32;
    case DType::bf16:
      return Stored::bf16;
    case DType::f16:
      return Stored::f16;
    default:
      throw Error(fmt::format("{} backend: {}: dtype {}, expected f32, bf16 or f16", backend_name(),
                              what, dtype_name(dtype)));
  }
}

gpuStream_t native(Stream s) { return static_cast<gpuStream_t>(s); }

}  // namespace

// Device memory from the allocator, returned to it when the call ends. Work on the one
// stream is ordered, so the block may be reused by the next allocation at once.
class GpuBackend::Scratch {
 public:
  Scratch(GpuBackend& backend, std::size_t bytes)
      : backend_(backend), bytes_(bytes), ptr_(bytes ? backend.allocate(bytes) : nullptr) {}
  ~Scratch() {
    if (ptr_) backend_.deallocate(ptr_, bytes_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  GpuBackend& backend_;
  std::size_t bytes_;
  void* ptr_;
};

GpuBackend::GpuBackend()
    : allocator_(SystemMemory{fmt::format("{} backend", platform().name), &device_allocate,
                              &device_free}) {}

GpuBackend::~GpuBackend() {
  if (stream_ == nullptr) return;
  static_cast<void>(gpuStreamSynchronize(native(stream_)));
  blas_.reset();
  for (float* table : {nf4_table_, fp4_table_, dynamic_map_}) static_cast<void>(gpuFree(table));
  static_cast<void>(gpuFree(bad_target_));
  allocator_.release_cached();
  static_cast<void>(gpuStreamDestroy(native(stream_)));
}

std::string GpuBackend::name() const { return platform().name; }

DeviceInfo GpuBackend::probe() {
  DeviceInfo info;
  info.priority = platform().priority;
  int count = 0;
  const gpuError_t error = gpuGetDeviceCount(&count);
  if (error != gpuSuccess || count == 0) {
    info.reason = error != gpuSuccess ? fmt::format("no {} device: {}", FT_GPU_RUNTIME_NAME,
                                                    gpuGetErrorString(error))
                                      : fmt::format("no {} device found", FT_GPU_RUNTIME_NAME);
    static_cast<void>(gpuGetLastError());  // the probe's error is not a launch error
    return info;
  }
  gpuDeviceProp props{};
  check(gpuGetDeviceProperties(&props, 0), "reading device 0's properties");
  info.available = true;
  info.device_count = count;
  info.device_name = props.name;
  info.memory_bytes = props.totalGlobalMem;
  return info;
}

void GpuBackend::configure(const Options& options) {
  if (stream_ != nullptr)
    throw InternalError(fmt::format("{} backend: configure() after the device was in use", name()));
  const std::int64_t device = options.integer("device", 0);
  int count = 0;
  if (gpuGetDeviceCount(&count) != gpuSuccess) count = 0;
  static_cast<void>(gpuGetLastError());
  if (device < 0 || device >= count)
    throw Error(fmt::format("{}.device = {}: this machine has {} {} device{} (0 to {})",
                            options.section(), device, count, name(), count == 1 ? "" : "s",
                            count - 1));
  device_ = static_cast<int>(device);
}

Stream GpuBackend::stream() {
  if (stream_ != nullptr) return stream_;
  check(gpuSetDevice(device_), fmt::format("selecting device {}", device_).c_str());
  gpuStream_t s = nullptr;
  check(gpuStreamCreate(&s), "creating a stream");
  stream_ = s;
  blas_ = make_blas(stream_, device_);
  // The constant tables the 4-bit kernels read.
  const auto upload = [&](const float* host, std::size_t n) {
    void* p = nullptr;
    check(gpuMalloc(&p, n * sizeof(float)), "allocating the 4-bit code tables");
    check(gpuMemcpy(p, host, n * sizeof(float), gpuMemcpyHostToDevice), "copying the code tables");
    return static_cast<float*>(p);
  };
  nf4_table_ = upload(quant_code_table(QuantType::nf4).data(), 16);
  fp4_table_ = upload(quant_code_table(QuantType::fp4).data(), 16);
  dynamic_map_ = upload(dynamic_map().data(), 256);
  void* flag = nullptr;
  check(gpuMalloc(&flag, sizeof(int)), "allocating the error flag");
  check(gpuMemsetAsync(flag, 0, sizeof(int), native(stream_)), "clearing the error flag");
  bad_target_ = static_cast<int*>(flag);
  return stream_;
}

void GpuBackend::check_flagged_errors() {
  int bad = 0;
  check(gpuMemcpy(&bad, bad_target_, sizeof bad, gpuMemcpyDeviceToHost), "reading the error flag");
  if (!bad) return;
  check(gpuMemsetAsync(bad_target_, 0, sizeof(int), native(stream_)), "clearing the error flag");
  throw Error(
      "cross_entropy: a target is outside [0, vocab) and is not the ignore index (found when "
      "the host next waited for the device)");
}

void GpuBackend::check_launch(const char* what) {
  const char* error = last_launch_error();
  if (*error != '\0') throw Error(fmt::format("{} backend: {}: {}", name(), what, error));
}

// ---- memory ------------------------------------------------------------------------------

void* GpuBackend::allocate(std::size_t bytes) {
  stream();
  return allocator_.allocate(bytes);
}
void GpuBackend::deallocate(void* ptr, std::size_t bytes) { allocator_.deallocate(ptr, bytes); }

void GpuBackend::copy_from_host(void* dst, const void* src_host, std::size_t bytes) {
  if (bytes == 0) return;
  check(gpuMemcpyAsync(dst, src_host, bytes, gpuMemcpyHostToDevice, native(stream())),
        "copy to device");
  check(gpuStreamSynchronize(native(stream_)), "copy to device");  // src_host may go away
}
void GpuBackend::copy_to_host(void* dst_host, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  check(gpuMemcpyAsync(dst_host, src, bytes, gpuMemcpyDeviceToHost, native(stream())),
        "copy to host");
  check(gpuStreamSynchronize(native(stream_)), "copy to host");
  check_flagged_errors();
}
void GpuBackend::copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  check(gpuMemcpyAsync(dst, src, bytes, gpuMemcpyDeviceToDevice, native(stream())), "device copy");
}
void GpuBackend::fill_zero(void* dst, std::size_t bytes) {
  if (bytes == 0) return;
  check(gpuMemsetAsync(dst, 0, bytes, native(stream())), "fill_zero");
}
void GpuBackend::synchronize() {
  if (stream_ == nullptr) return;
  check(gpuStreamSynchronize(native(stream_)), "synchronize");
  check_flagged_errors();
}
MemoryStats GpuBackend::memory_stats() { return allocator_.stats(); }
void GpuBackend::reset_peak_memory() { allocator_.reset_peak(); }
void GpuBackend::release_cached_memory() {
  synchronize();
  allocator_.release_cached();
}

// ---- GEMMs ---------------------------------------------------------------------------------

void GpuBackend::gemm_at_precision(const GemmArgs& g, std::int64_t lda, std::int64_t ldc) {
  if (g.compute == DType::bf16) return gemm_bf16(g, lda, ldc);
  blas_->gemm(g, lda, ldc);
}

void GpuBackend::gemm_bf16(const GemmArgs& args, std::int64_t lda, std::int64_t ldc) {
  const Stream s = stream();
  // Tensor cores take the bf16 bits; the f32 GEMM takes the same values widened back to f32.
  const bool tensor_cores = blas_->has_bf16_gemm();
  const Stored operand = tensor_cores ? Stored::bf16 : Stored::f32;
  const std::size_t operand_bytes = tensor_cores ? sizeof(std::uint16_t) : sizeof(float);
  // The operands rounded into packed copies: the GEMM then runs on those.
  PackedOperands p = packed_operands(args);
  GemmArgs& packed = p.packed;
  const Scratch a(*this, p.count_a() * operand_bytes);
  launch_round_to_bf16(args.a, Stored::f32, p.items_a, args.stride_a, p.rows_a, p.cols_a,
                       lda != 0 ? lda : p.cols_a, a.as<void>(), operand, s);
  // A bf16 weight is already what tensor cores read: no copy of it (an LM head's is large).
  const bool b_in_place = tensor_cores && args.b_dtype == DType::bf16;
  const Scratch b(*this, b_in_place ? 0 : p.count_b() * operand_bytes);
  if (b_in_place) {
    packed.stride_b = args.stride_b;
  } else {
    launch_round_to_bf16(args.b, stored(args.b_dtype, "gemm B"), p.items_b, args.stride_b, p.rows_b,
                         p.cols_b, p.cols_b, b.as<void>(), operand, s);
    packed.b = b.as<void>();
  }
  check_launch("gemm (rounding the operands to bf16)");
  if (tensor_cores) return blas_->gemm_bf16(packed, a.as<void>(), ldc);
  packed.a = a.as<float>();
  packed.b_dtype = DType::f32;
  blas_->gemm(packed, 0, ldc);
}

void GpuBackend::gemm_widened(
    const float* a, float* c, std::int64_t m, bool transpose_w, bool accumulate, std::int64_t rows,
    std::int64_t cols, DType compute,
    const std::function<void(std::int64_t, std::int64_t, float*)>& widen) {
  constexpr std::size_t kDeviceTileBytes = std::size_t{64} << 20;  // bigger tiles: fewer launches
  const RowTiledWeight w{rows, cols, widen};
  const Scratch tile(
      *this, static_cast<std::size_t>(rows_per_tile(w, kDeviceTileBytes) * cols) * sizeof(float));
  gemm_by_row_tiles(
      a, c, m, transpose_w, accumulate, w,
      [&](const GemmArgs& g, std::int64_t lda, std::int64_t ldc) {
        GemmArgs at = g;
        at.compute = compute;  // bf16: each widened tile rounded as it is multiplied
        gemm_at_precision(at, lda, ldc);
      },
      tile.as<float>(), kDeviceTileBytes);
}

void GpuBackend::gemm(const GemmArgs& args) {
  if (args.m < 0 || args.n < 0 || args.k < 0 || args.batch < 0)
    throw Error(fmt::format("{} backend: gemm with a negative size", name()));
  require_gemm_precision("gemm", args.compute);
  if (args.m == 0 || args.n == 0 || args.batch == 0) return;
  if (args.batch > 1 && args.stride_c == 0) {
    // Every item writes the same C: one at a time, in order, as the formula reads. The BLAS
    // then only ever sees items with a C of their own.
    const auto* b = static_cast<const std::byte*>(args.b);
    for (std::int64_t i = 0; i < args.batch; ++i) {
      GemmArgs one = args;
      one.batch = 1;
      one.a = args.a + i * args.stride_a;
      one.b = b + static_cast<std::size_t>(i * args.stride_b) * dtype_size(args.b_dtype);
      one.stride_a = one.stride_b = 0;
      gemm(one);
    }
    return;
  }
  const Stream s = stream();
  // C = 0 (or unchanged): no operand is read, whatever its dtype. (The row tiles below would
  // skip an empty W and leave C as it was.)
  if (args.k == 0) return blas_->gemm(args, 0, 0);
  // bf16 on tensor cores: a bf16 B is read in place, any other rounded once; never widened.
  if (args.compute == DType::bf16 && blas_->has_bf16_gemm()) return gemm_bf16(args, 0, 0);
  if (args.b_dtype == DType::f32) return gemm_at_precision(args, 0, 0);
  // A bf16/f16 B on the f32 GEMM (compute f32, or bf16 on rounded values): widened to f32
  // first, so compute f32 never multiplies in half precision.
  const Stored type = stored(args.b_dtype, "gemm B");
  if (args.batch == 1 && !args.trans_a && args.alpha == 1.0f) {
    // One frozen weight, as linear layers use it: trans_b means B stored [n, k] is W[n, k].
    const std::int64_t rows = args.trans_b ? args.n : args.k, cols = args.trans_b ? args.k : args.n;
    const auto* bytes = static_cast<const std::uint16_t*>(args.b);
    gemm_widened(args.a, args.c, args.m, args.trans_b, args.accumulate, rows, cols, args.compute,
                 [&](std::int64_t first, std::int64_t n, float* out) {
                   launch_cast(bytes + first * cols, type, out, Stored::f32, n * cols, s);
                 });
    return check_launch("gemm (widening B)");
  }
  // Batched or scaled: widen every B item, then one GEMM.
  const bool one_b = args.batch == 1 || args.stride_b == 0;
  const std::int64_t matrix = args.k * args.n, items = one_b ? 1 : args.batch;
  const Scratch wide(*this, static_cast<std::size_t>(matrix * items) * sizeof(float));
  const auto* bytes = static_cast<const std::uint16_t*>(args.b);
  for (std::int64_t b = 0; b < items; ++b)
    launch_cast(bytes + b * args.stride_b, type, wide.as<float>() + b * matrix, Stored::f32, matrix,
                s);
  check_launch("gemm (widening B)");
  GemmArgs widened = args;
  widened.b = wide.as<float>();
  widened.b_dtype = DType::f32;
  widened.stride_b = one_b ? 0 : matrix;
  gemm_at_precision(widened, 0, 0);
}

void GpuBackend::gemm_4bit(const Gemm4bitArgs& args) {
  const Weight4bitView& v = args.w;
  if (v.block_size < 2 || v.rows < 0 || v.cols < 0)
    throw Error(fmt::format(
        "{} backend: gemm_4bit: a 4-bit weight needs rows, cols and a block size", name()));
  require_gemm_precision("gemm_4bit", args.compute);
  const Stream s = stream();
  Weight4bit w;
  w.packed = v.packed;
  w.rows = v.rows;
  w.cols = v.cols;
  w.block_size = v.block_size;
  w.code_table = v.type == QuantType::nf4 ? nf4_table_ : fp4_table_;
  w.double_quant = v.double_quant;
  w.absmax = v.absmax;
  w.absmax_codes = v.absmax_codes;
  w.absmax_scales = v.absmax_scales;
  w.dynamic_map = dynamic_map_;
  w.absmax_offset = v.absmax_offset;
  // compute = bf16: each dequantised tile goes through the bf16 GEMM (gemm_widened).
  gemm_widened(args.a, args.c, args.m, args.transpose_w, args.accumulate, v.rows, v.cols,
               args.compute, [&](std::int64_t first, std::int64_t n, float* out) {
                 launch_dequantize_4bit(w, first * v.cols, n * v.cols, out, s);
               });
  check_launch("gemm_4bit");
}

// ---- kernels -------------------------------------------------------------------------------

void GpuBackend::embedding_forward(const EmbeddingForwardArgs& a) {
  launch_embedding_forward(a.ids, a.table, stored(a.table_dtype, "embedding table"), a.out,
                           a.n_tokens, a.dim, stream());
  check_launch("embedding_forward");
}
void GpuBackend::embedding_backward(const EmbeddingBackwardArgs& a) {
  launch_embedding_backward(a.ids, a.d_out, a.d_table, a.n_tokens, a.dim, stream());
  check_launch("embedding_backward");
}
void GpuBackend::rmsnorm_forward(const RmsNormForwardArgs& a) {
  launch_rmsnorm_forward(a.x, a.weight, stored(a.weight_dtype, "rmsnorm weight"), a.y, a.rstd,
                         a.rows, a.dim, a.eps, stream());
  check_launch("rmsnorm_forward");
}
void GpuBackend::rmsnorm_backward(const RmsNormBackwardArgs& a) {
  launch_rmsnorm_backward(a.x, a.weight, stored(a.weight_dtype, "rmsnorm weight"), a.rstd, a.dy,
                          a.dx, a.d_weight, a.rows, a.dim, stream());
  check_launch("rmsnorm_backward");
}
void GpuBackend::rope(const RopeArgs& a) {
  if (a.head_dim % 2 != 0)
    throw Error(fmt::format("rope: head_dim {} is odd; rotary needs pairs", a.head_dim));
  launch_rope(a.x, a.out, a.positions, a.inv_freq, a.n_tokens, a.heads, a.head_dim, a.inverse,
              stream());
  check_launch("rope");
}

namespace {

AttentionShape shape_of(std::int64_t batch, std::int64_t seq, std::int64_t q_heads,
                        std::int64_t kv_heads, std::int64_t head_dim, float scale,
                        std::int64_t window) {
  if (head_dim > kMaxHeadDim)
    throw Error(fmt::format("{} backend: attention: head_dim {} is above the {} the kernels take",
                            backend_name(), head_dim, kMaxHeadDim));
  if (kv_heads <= 0 || q_heads % kv_heads != 0)
    throw Error(fmt::format("attention: {} query heads are not a multiple of {} kv heads", q_heads,
                            kv_heads));
  return AttentionShape{batch, seq, q_heads, kv_heads, head_dim, scale, window};
}

}  // namespace

void GpuBackend::attention_forward(const AttentionForwardArgs& a) {
  launch_attention_forward(
      a.q, a.k, a.v, a.doc_ids, a.out, a.lse,
      shape_of(a.batch, a.seq, a.q_heads, a.kv_heads, a.head_dim, a.scale, a.window), stream());
  check_launch("attention_forward");
}
void GpuBackend::attention_backward(const AttentionBackwardArgs& a) {
  const AttentionShape s =
      shape_of(a.batch, a.seq, a.q_heads, a.kv_heads, a.head_dim, a.scale, a.window);
  const Scratch delta(*this, static_cast<std::size_t>(a.batch * a.q_heads * a.seq) * sizeof(float));
  launch_attention_backward(a.q, a.k, a.v, a.doc_ids, a.out, a.lse, a.d_out, a.dq, a.dk, a.dv,
                            delta.as<float>(), s, stream());
  check_launch("attention_backward");
}
void GpuBackend::swiglu_forward(const SwigluForwardArgs& a) {
  launch_swiglu_forward(a.gate, a.up, a.out, a.n, stream());
  check_launch("swiglu_forward");
}
void GpuBackend::swiglu_backward(const SwigluBackwardArgs& a) {
  launch_swiglu_backward(a.gate, a.up, a.d_out, a.d_gate, a.d_up, a.n, stream());
  check_launch("swiglu_backward");
}
void GpuBackend::cross_entropy_forward(const CrossEntropyForwardArgs& a) {
  const Stream s = stream();
  launch_cross_entropy_forward(a.logits, a.targets, a.loss, a.lse, a.rows, a.vocab, a.ignore_index,
                               bad_target_, s);
  check_launch("cross_entropy_forward");
}
void GpuBackend::cross_entropy_backward(const CrossEntropyBackwardArgs& a) {
  launch_cross_entropy_backward(a.logits, a.lse, a.targets, a.rows, a.vocab, a.ignore_index,
                                a.grad_scale, a.d_loss, stream());
  check_launch("cross_entropy_backward");
}
void GpuBackend::unary(const UnaryArgs& a) {
  launch_unary(a.x, a.y, a.n, static_cast<int>(a.op), a.alpha, a.beta, stream());
  check_launch("unary");
}
void GpuBackend::binary(const BinaryArgs& a) {
  if (a.broadcast != Broadcast::none && (a.b_n <= 0 || a.n % a.b_n != 0))
    throw Error(fmt::format("binary: broadcast b of {} elements does not divide {}", a.b_n, a.n));
  launch_binary(a.a, a.b, a.out, a.n, static_cast<int>(a.op), static_cast<int>(a.broadcast), a.b_n,
                stream());
  check_launch("binary");
}
void GpuBackend::reduce_rows(const ReduceRowsArgs& a) {
  launch_reduce_rows(a.x, a.out, a.rows, a.cols, a.op == RowReduce::sum ? 0 : 1, stream());
  check_launch("reduce_rows");
}
void GpuBackend::reduce(const ReduceArgs& a) {
  const Scratch partials(*this, sizeof(double) * kReduceBlocks);
  launch_reduce(a.x, a.n, static_cast<int>(a.op), partials.as<double>(), a.divisor, a.out64,
                a.out32, stream());
  check_launch("reduce");
}
void GpuBackend::axpby(const AxpbyArgs& a) {
  launch_axpby(a.x, a.y, a.n, a.alpha, a.beta, stream());
  check_launch("axpby");
}
void GpuBackend::bias_add(const BiasAddArgs& a) {
  launch_bias_add(a.x, a.bias, stored(a.bias_dtype, "bias"), a.rows, a.cols, stream());
  check_launch("bias_add");
}
void GpuBackend::sum_rows(const SumRowsArgs& a) {
  launch_sum_rows(a.x, a.out, a.rows, a.cols, a.accumulate, stream());
  check_launch("sum_rows");
}
void GpuBackend::cast(const CastArgs& a) {
  launch_cast(a.src, stored(a.src_dtype, "cast source"), a.dst, stored(a.dst_dtype, "cast target"),
              a.n, stream());
  check_launch("cast");
}
void GpuBackend::dropout(const DropoutArgs& a) {
  launch_dropout(a.x, a.out, a.n, a.p, a.seed, a.offset, stream());
  check_launch("dropout");
}
// The multi-tensor steps: every tensor cut into chunks, the chunk table uploaded, one launch.
void GpuBackend::adamw_step(const AdamWStepArgs& a) {
  std::vector<AdamWChunk> chunks;
  for (std::int64_t t = 0; t < a.count; ++t) {
    const AdamWTensor& x = a.tensors[t];
    if (x.step < 1) throw Error(fmt::format("adamw: step {} must be >= 1 (it is 1-based)", x.step));
    const AdamWConstants c = adamw_constants(a.lr, a.beta1, a.beta2, a.eps, x.weight_decay, x.step);
    for (std::int64_t i = 0; i < x.n; i += kOptimizerChunk)
      chunks.push_back({x.param + i, x.grad + i, x.m + i, x.v + i,
                        std::min(kOptimizerChunk, x.n - i), c.decay, c.bc1, c.bc2});
  }
  if (chunks.empty()) return;
  const Scratch table(*this, chunks.size() * sizeof(AdamWChunk));
  copy_from_host(table.as<void>(), chunks.data(), chunks.size() * sizeof(AdamWChunk));
  launch_adamw(table.as<AdamWChunk>(), static_cast<std::int64_t>(chunks.size()), a.lr, a.beta1,
               a.beta2, a.eps, stream());
  check_launch("adamw_step");
}
void GpuBackend::sgd_step(const SgdStepArgs& a) {
  std::vector<SgdChunk> chunks;
  for (std::int64_t t = 0; t < a.count; ++t) {
    const SgdTensor& x = a.tensors[t];
    if (a.momentum != 0.0f && x.momentum_buffer == nullptr)
      throw Error(fmt::format("sgd: momentum {} needs a momentum buffer (got none)", a.momentum));
    for (std::int64_t i = 0; i < x.n; i += kOptimizerChunk)
      chunks.push_back({x.param + i, x.grad + i,
                        x.momentum_buffer ? x.momentum_buffer + i : nullptr,
                        std::min(kOptimizerChunk, x.n - i), x.weight_decay, x.first_step});
  }
  if (chunks.empty()) return;
  const Scratch table(*this, chunks.size() * sizeof(SgdChunk));
  copy_from_host(table.as<void>(), chunks.data(), chunks.size() * sizeof(SgdChunk));
  launch_sgd(table.as<SgdChunk>(), static_cast<std::int64_t>(chunks.size()), a.lr, a.momentum,
             a.nesterov, stream());
  check_launch("sgd_step");
}

}  // namespace ft::backends::gpu
