// The compute backend interface: memory and typed kernels.
//
// A backend owns device memory and runs kernels on raw pointers with explicit shapes.
// It knows nothing of models, tensors or autograd: ft::ops (sdk) turns tensors into
// these argument structs. Every kernel has a reference formula in its comment; the
// conformance suite holds each backend to the CPU backend's results.
//
// Two kinds of kernel (MLX's primitives and fallbacks, ggml's optional entries):
//   - primitives are pure virtual: a backend must have them (memory, gemm, the elementwise
//     and reduction building blocks, and what cannot be composed: embedding, rope,
//     attention, cross-entropy, dropout);
//   - fused kernels (masked softmax, RMSNorm, SwiGLU, the optimizer steps) have a default
//     in the SDK composed from primitives on the backend's own memory
//     (sdk/src/backend_defaults.cpp); a backend overrides the ones it accelerates.
// So a new backend starts with the primitives, and `Backend::rmsnorm_forward(args)` (a
// qualified call) runs the default on any backend, which is how the conformance suite
// tests each default against each override.
//
// Conventions: all shapes are row-major and contiguous; sizes are element counts;
// float pointers are f32; "accumulate" means out += result, otherwise out = result.
// Kernels may run asynchronously on a device, in the order they were asked for (one
// stream); copy_to_host() and synchronize() wait. A pointer "in backend memory" is one
// from allocate(); a "host" pointer is ordinary memory the call reads before it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ftengine/dtype.hpp"
#include "ftengine/options.hpp"
#include "ftengine/plugin.hpp"
#include "ftengine/quant.hpp"

namespace ft {

// What a backend reports about its device when asked (before any work is done).
struct DeviceInfo {
  bool available = false;   // false: reason says why (no device, missing driver library)
  std::string reason;       // one line, shown by `ftengine plugins` and `auto` selection
  std::string device_name;  // "2 CPU threads (AVX2, FMA)", "NVIDIA H200"
  int device_count = 0;
  std::size_t memory_bytes = 0;
  int priority = 0;  // `backend = "auto"` picks the available backend with the highest
};

struct MemoryStats {
  std::size_t in_use_bytes = 0;  // held by live tensors
  std::size_t peak_bytes = 0;    // highest in_use since the last reset
  std::size_t cached_bytes = 0;  // freed by tensors, kept by the caching allocator
};

// Batched GEMM. For each b < batch:
//   C_b[m, n] = alpha * sum_k op(A_b)[m, k] * op(B_b)[k, n]   (+ C_b[m, n] when accumulate)
// op(A) is A stored [M, K], or stored [K, M] when trans_a.
// op(B) is B stored [K, N], or stored [N, K] when trans_b (how an HF weight [out, in] is
// read as Wᵀ). b_dtype may be bf16/f16 (frozen weights), widened to f32 inside.
// Strides are in elements between consecutive batch items (0 repeats the same matrix).
// compute is the operand precision: f32, or bf16 — A and B rounded to bf16 (ties to even),
// the products summed in f32 (what torch.autocast's bf16 matmuls compute). A backend gets
// bf16 even where precision_support() says it has no fast path (the conformance suite,
// emulation): it then rounds the operands and runs its f32 GEMM, the same numbers up to the
// order of the sums.
struct GemmArgs {
  const float* a = nullptr;
  const void* b = nullptr;
  float* c = nullptr;
  DType b_dtype = DType::f32;
  bool trans_a = false;
  bool trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  float alpha = 1.0f;
  bool accumulate = false;
  DType compute = DType::f32;
};

// What GemmArgs::compute (and Gemm4bitArgs::compute) may hold.
inline bool is_gemm_precision(DType d) { return d == DType::f32 || d == DType::bf16; }

// out[t, :] = table[ids[t], :]        table: [vocab, dim] (f32/bf16/f16), out: [n_tokens, dim]
struct EmbeddingForwardArgs {
  const std::int32_t* ids = nullptr;
  const void* table = nullptr;
  DType table_dtype = DType::f32;
  float* out = nullptr;
  std::int64_t n_tokens = 0, vocab = 0, dim = 0;
};
// d_table[ids[t], :] += d_out[t, :]   (scatter-add; repeated ids sum)
struct EmbeddingBackwardArgs {
  const std::int32_t* ids = nullptr;
  const float* d_out = nullptr;
  float* d_table = nullptr;
  std::int64_t n_tokens = 0, vocab = 0, dim = 0;
};

// y[r, :] = x[r, :] * rstd[r] * weight,  rstd[r] = 1 / sqrt(mean(x[r, :]^2) + eps)
// x, y: [rows, dim]; weight: [dim] (f32/bf16/f16); rstd: [rows], saved for backward.
struct RmsNormForwardArgs {
  const float* x = nullptr;
  const void* weight = nullptr;
  DType weight_dtype = DType::f32;
  float* y = nullptr;
  float* rstd = nullptr;
  std::int64_t rows = 0, dim = 0;
  float eps = 1e-6f;
};
// With xhat = x * rstd:
//   dx = rstd * (dy*w - xhat * mean(dy*w * xhat))         (overwrites dx)
//   d_weight += sum_r dy * xhat                            (when d_weight != nullptr)
struct RmsNormBackwardArgs {
  const float* x = nullptr;
  const void* weight = nullptr;
  DType weight_dtype = DType::f32;
  const float* rstd = nullptr;
  const float* dy = nullptr;
  float* dx = nullptr;
  float* d_weight = nullptr;
  std::int64_t rows = 0, dim = 0;
};

// Rotary embedding, Hugging Face "rotate half" layout. x, out: [n_tokens, heads, head_dim],
// half = head_dim / 2, angle = float(positions[t]) * inv_freq[i] (f32, as HF computes it):
//   out[i]        = x[i] * cos(angle) - x[i + half] * sin(angle)
//   out[i + half] = x[i + half] * cos(angle) + x[i] * sin(angle)
// inverse = true rotates by -angle: that is the backward (the rotation is orthogonal).
// inv_freq: half floats in backend memory (made once per model); out may equal x.
struct RopeArgs {
  const float* x = nullptr;
  float* out = nullptr;
  const std::int32_t* positions = nullptr;
  const float* inv_freq = nullptr;
  std::int64_t n_tokens = 0, heads = 0, head_dim = 0;
  bool inverse = false;
};

// Causal grouped-query attention, flash style (no [T, T] matrix is stored).
// q, out: [batch, seq, q_heads, head_dim]; k, v: [batch, seq, kv_heads, head_dim];
// query head h reads kv head h / (q_heads / kv_heads). Query i attends key j when j <= i,
// and, when doc_ids ([batch, seq]) is given, doc_ids[i] == doc_ids[j], and, when window > 0,
// i - j < window. s_ij = scale * q_i·k_j;  out_i = sum_j softmax_j(s_i) v_j;
// lse[b, h, i] = log sum_j exp(s_ij) is saved for the backward.
struct AttentionForwardArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const std::int32_t* doc_ids = nullptr;
  float* out = nullptr;
  float* lse = nullptr;
  std::int64_t batch = 0, seq = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f;
  std::int64_t window = 0;
};
// p_ij = exp(s_ij - lse_i); D_i = dout_i·out_i
// dv_j = sum_i p_ij dout_i;  ds_ij = p_ij (dout_i·v_j - D_i)
// dq_i = scale sum_j ds_ij k_j;  dk_j = scale sum_i ds_ij q_i      (all overwrite)
struct AttentionBackwardArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const std::int32_t* doc_ids = nullptr;
  const float* out = nullptr;
  const float* lse = nullptr;
  const float* d_out = nullptr;
  float* dq = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  std::int64_t batch = 0, seq = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f;
  std::int64_t window = 0;
};

// out = silu(gate) * up,  silu(g) = g * sigmoid(g).  All [n].
struct SwigluForwardArgs {
  const float* gate = nullptr;
  const float* up = nullptr;
  float* out = nullptr;
  std::int64_t n = 0;
};
// d_gate = d_out * up * sigmoid(g) * (1 + g * (1 - sigmoid(g)));  d_up = d_out * silu(g)
struct SwigluBackwardArgs {
  const float* gate = nullptr;
  const float* up = nullptr;
  const float* d_out = nullptr;
  float* d_gate = nullptr;
  float* d_up = nullptr;
  std::int64_t n = 0;
};

// Softmax cross-entropy on one chunk of logits [rows, vocab]:
//   lse[r] = log sum_v exp(logits[r, v]);  loss[r] = lse[r] - logits[r, targets[r]]
// Rows whose target is ignore_index get loss 0 (lse is still written).
// A target outside [0, vocab) that is not ignore_index is an error.
struct CrossEntropyForwardArgs {
  const float* logits = nullptr;
  const std::int32_t* targets = nullptr;
  float* loss = nullptr;
  float* lse = nullptr;
  std::int64_t rows = 0, vocab = 0;
  std::int32_t ignore_index = -100;
};
// In place: logits[r, v] <- s * (exp(logits[r, v] - lse[r]) - [v == targets[r]]),
// and 0 for the whole row when targets[r] == ignore_index;  s = grad_scale * d_loss[0],
// d_loss being the loss's incoming gradient in backend memory (read there, so the
// backward never waits for the device), or 1 when null.
struct CrossEntropyBackwardArgs {
  float* logits = nullptr;
  const float* lse = nullptr;
  const std::int32_t* targets = nullptr;
  std::int64_t rows = 0, vocab = 0;
  std::int32_t ignore_index = -100;
  float grad_scale = 1.0f;
  const float* d_loss = nullptr;
};

enum class BinaryOp : std::uint8_t { add, sub, mul, div };
// How b lines up with a, seen as a [n / b_n, b_n] or [b_n, n / b_n] matrix:
//   none:   b[i]                    (b has n elements)
//   row:    b[i % b_n]              (b is one row, repeated down a [rows, b_n])
//   column: b[i / (n / b_n)]        (b holds one value per row of a [b_n, cols])
enum class Broadcast : std::uint8_t { none, row, column };
// out[i] = a[i] (op) b[j(i)]; out may alias a or b.
struct BinaryArgs {
  const float* a = nullptr;
  const float* b = nullptr;
  float* out = nullptr;
  std::int64_t n = 0;
  BinaryOp op = BinaryOp::add;
  Broadcast broadcast = Broadcast::none;
  std::int64_t b_n = 0;  // b's element count when broadcast (must divide n)
};
enum class UnaryOp : std::uint8_t { identity, exp, log, sqrt, rsqrt, sigmoid, square };
// y[i] = f(alpha * x[i] + beta); y may alias x.
struct UnaryArgs {
  const float* x = nullptr;
  float* y = nullptr;
  std::int64_t n = 0;
  UnaryOp op = UnaryOp::identity;
  float alpha = 1.0f;
  float beta = 0.0f;
};
enum class RowReduce : std::uint8_t { sum, max };
// out[r] = sum_c x[r, c]  or  max_c x[r, c]     x: [rows, cols], out: [rows]
struct ReduceRowsArgs {
  const float* x = nullptr;
  float* out = nullptr;
  std::int64_t rows = 0, cols = 0;
  RowReduce op = RowReduce::sum;
};
enum class ReduceOp : std::uint8_t { sum, sum_squares, count_nonfinite };
// r = (sum_i f(x[i])) / divisor, f(x) = x, x², or [x is NaN or Inf], accumulated in double
// in a fixed order (so a run repeats bit for bit). The result stays in backend memory:
// out64[0] = r (when set), out32[0] = float(r) (when set); nothing waits for the device.
struct ReduceArgs {
  const float* x = nullptr;
  std::int64_t n = 0;
  ReduceOp op = ReduceOp::sum;
  double divisor = 1.0;
  double* out64 = nullptr;
  float* out32 = nullptr;
};
// y[r, j] = exp(z[r, j] - max_j z[r, j]) / sum_j exp(z[r, j] - max_j z[r, j]),
//   z[r, j] = scale * x[r, j] + mask[j]
// x, y: [rows, cols] (y may alias x); mask: [cols] f32, 0 or -inf (nullptr: none). Every row
// needs at least one finite z.
struct MaskedSoftmaxArgs {
  const float* x = nullptr;
  const float* mask = nullptr;
  float* y = nullptr;
  std::int64_t rows = 0, cols = 0;
  float scale = 1.0f;
};
// y[i] = alpha * x[i] + beta * y[i]  (beta = 0 ignores the old y, even NaN)
struct AxpbyArgs {
  const float* x = nullptr;
  float* y = nullptr;
  std::int64_t n = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
};
// x[r, c] += bias[c]    x: [rows, cols]; bias f32/bf16/f16
struct BiasAddArgs {
  float* x = nullptr;
  const void* bias = nullptr;
  DType bias_dtype = DType::f32;
  std::int64_t rows = 0, cols = 0;
};
// out[c] (+)= sum_r x[r, c]    (the bias gradient)
struct SumRowsArgs {
  const float* x = nullptr;
  float* out = nullptr;
  std::int64_t rows = 0, cols = 0;
  bool accumulate = false;
};
// dst = src converted; narrowing rounds to nearest even. f32/bf16/f16 among themselves.
struct CastArgs {
  const void* src = nullptr;
  DType src_dtype = DType::f32;
  void* dst = nullptr;
  DType dst_dtype = DType::f32;
  std::int64_t n = 0;
};
// out[i] = keep(i) ? x[i] / (1 - p) : 0, keep(i) = philox_uniform(seed, offset + i) >= p
// (ft/philox.hpp). The backward is the same call on the gradient with the same key.
struct DropoutArgs {
  const float* x = nullptr;
  float* out = nullptr;
  std::int64_t n = 0;
  float p = 0.0f;
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};
// The optimizer steps are multi-tensor: one call updates every parameter listed (one
// launch on a GPU, whatever the number of tensors). `tensors` is a host array of `count`.
//
// Decoupled AdamW (Loshchilov & Hutter), in place on each f32 tensor of n elements:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr * weight_decay * p;
//   p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
struct AdamWTensor {
  float* param = nullptr;
  const float* grad = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  std::int64_t n = 0;
  float weight_decay = 0;
  std::int64_t step = 1;  // 1-based, for the bias corrections
};
struct AdamWStepArgs {
  const AdamWTensor* tensors = nullptr;
  std::int64_t count = 0;
  float lr = 0, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
};
// SGD as PyTorch defines it: g += wd p;  buf = momentum buf + g (buf = g on the first step);
// g = nesterov ? g + momentum buf : buf (when momentum > 0);  p -= lr g.
struct SgdTensor {
  float* param = nullptr;
  const float* grad = nullptr;
  float* momentum_buffer = nullptr;  // nullptr when momentum == 0
  std::int64_t n = 0;
  float weight_decay = 0;
  bool first_step = true;
};
struct SgdStepArgs {
  const SgdTensor* tensors = nullptr;
  std::int64_t count = 0;
  float lr = 0, momentum = 0;
  bool nesterov = false;
};

// A 4-bit weight W [rows, cols] in bitsandbytes' layout (ftengine/quant.hpp), on the
// backend: codes two per byte, and the absmax of each block of block_size (or, double
// quantised, its 8-bit code, the f32 scale of each 256 blocks and the offset).
struct Weight4bitView {
  const std::uint8_t* packed = nullptr;
  std::int64_t rows = 0, cols = 0, block_size = 64;
  QuantType type = QuantType::nf4;
  bool double_quant = false;
  const float* absmax = nullptr;               // without double quantisation
  const std::uint8_t* absmax_codes = nullptr;  // with it
  const float* absmax_scales = nullptr;        // with it
  float absmax_offset = 0.0f;                  // with it
};

// The GEMMs of a linear layer on a 4-bit weight, never widening all of W at once:
//   transpose_w: c[m, rows] = a[m, cols] · Wᵀ    (forward:  y = x · Wᵀ)
//   else:        c[m, cols] = a[m, rows] · W     (backward: dx = dy · W)
// accumulate adds into c; compute as in GemmArgs (the dequantised tiles rounded to bf16).
struct Gemm4bitArgs {
  const float* a = nullptr;
  float* c = nullptr;
  std::int64_t m = 0;
  Weight4bitView w;
  bool transpose_w = true;
  bool accumulate = false;
  DType compute = DType::f32;
};

// The GEMM operand precisions a backend runs fast (f32 always), for `train.precision` and
// `ftengine plugins`. `how`: what runs bf16 ("AVX512-BF16", "tensor cores") when bf16 is
// true, otherwise why it does not ("no AVX512-BF16 or AMX-BF16").
struct PrecisionSupport {
  bool bf16 = false;
  std::string how;
};

class Backend : public PluginObject {
 public:
  ~Backend() override;

  virtual std::string name() const = 0;
  // Cheap, safe to call without a device and before configure(): whether this backend can
  // run here, and on what.
  virtual DeviceInfo probe() = 0;
  // Once, before any memory or kernel call: the job's [backend] table. `device` (default 0)
  // is the device index this backend object runs on; other keys are the backend's own
  // (the cpu backend's `threads`; a backend ignores the keys of others, so one job serves
  // every machine). The default takes device 0.
  virtual void configure(const Options& options);
  // The device index configure() chose.
  virtual int device() const { return 0; }
  // The backend's native queue (cudaStream_t, hipStream_t) every kernel runs on, for
  // libraries that enqueue work beside it (collectives); nullptr where there is none (CPU).
  virtual void* native_stream() { return nullptr; }
  // True when kernels can read and write host memory directly (the CPU backend): weights
  // can then live in a memory-mapped file instead of being copied (Tensor::from_external).
  virtual bool host_accessible() const { return false; }

  // Memory. allocate() never returns nullptr: it throws ft::Error naming the size.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* ptr, std::size_t bytes) = 0;
  virtual void copy_from_host(void* dst, const void* src_host, std::size_t bytes) = 0;
  virtual void copy_to_host(void* dst_host, const void* src, std::size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, std::size_t bytes) = 0;
  virtual void fill_zero(void* dst, std::size_t bytes) = 0;
  virtual void synchronize() = 0;
  virtual MemoryStats memory_stats() = 0;
  virtual void reset_peak_memory() = 0;
  // Returns cached, unused blocks to the system.
  virtual void release_cached_memory() = 0;

  // Primitives (see the argument structs above for each formula).
  virtual void gemm(const GemmArgs& args) = 0;
  virtual void embedding_forward(const EmbeddingForwardArgs& args) = 0;
  virtual void embedding_backward(const EmbeddingBackwardArgs& args) = 0;
  virtual void rope(const RopeArgs& args) = 0;
  virtual void attention_forward(const AttentionForwardArgs& args) = 0;
  virtual void attention_backward(const AttentionBackwardArgs& args) = 0;
  virtual void cross_entropy_forward(const CrossEntropyForwardArgs& args) = 0;
  virtual void cross_entropy_backward(const CrossEntropyBackwardArgs& args) = 0;
  virtual void unary(const UnaryArgs& args) = 0;
  virtual void binary(const BinaryArgs& args) = 0;
  virtual void axpby(const AxpbyArgs& args) = 0;
  virtual void bias_add(const BiasAddArgs& args) = 0;
  virtual void sum_rows(const SumRowsArgs& args) = 0;
  virtual void reduce_rows(const ReduceRowsArgs& args) = 0;
  virtual void reduce(const ReduceArgs& args) = 0;
  virtual void cast(const CastArgs& args) = 0;
  virtual void dropout(const DropoutArgs& args) = 0;

  // Fused kernels, with defaults composed from the primitives (backend_defaults.cpp).
  virtual void masked_softmax(const MaskedSoftmaxArgs& args);
  virtual void rmsnorm_forward(const RmsNormForwardArgs& args);
  virtual void rmsnorm_backward(const RmsNormBackwardArgs& args);
  virtual void swiglu_forward(const SwigluForwardArgs& args);
  virtual void swiglu_backward(const SwigluBackwardArgs& args);
  virtual void adamw_step(const AdamWStepArgs& args);
  virtual void sgd_step(const SgdStepArgs& args);
  // The default says the backend cannot: ft::Error naming it.
  virtual void gemm_4bit(const Gemm4bitArgs& args);

  // After configure(). The default: f32 only.
  virtual PrecisionSupport precision_support() const;

  // Reductions read back to the host, and so wait for the device: reduce() into backend
  // memory, then one copy. For tests and tools; the training step keeps its numbers on the
  // device and reads them once.
  double sum(const float* x, std::int64_t n);
  double sum_squares(const float* x, std::int64_t n);
  std::int64_t count_nonfinite(const float* x, std::int64_t n);
};

}  // namespace ft
