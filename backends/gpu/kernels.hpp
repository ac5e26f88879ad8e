// The GPU kernels, one source for CUDA and HIP (a file per op, backends/gpu/*.cu, listed in
// sources.cmake; gpu_runtime.hpp maps the runtime). Each launcher enqueues its kernel on
// `stream` and returns; the formulas are those of the Backend argument structs
// (ftengine/backend.hpp), which gpu_backend.cpp unpacks into these calls. Plain types only,
// so this header compiles with the host compiler and the GPU one alike.
//
// Compute is f32 with f32 accumulation; stored weights may be bf16/f16 (widened on load).
// A GEMM at compute = bf16 gets its operands rounded by launch_round_to_bf16 first.
// Results match the CPU backend within the conformance suite's tolerances, not bit for bit
// (reductions run in another order).
#pragma once

#include <cstdint>

namespace ft::backends::gpu {

// How a weight is stored (ft::DType's floating types).
enum class Stored : int { f32 = 0, bf16 = 1, f16 = 2 };

// The stream type of the runtime, as an opaque pointer (cudaStream_t / hipStream_t).
using Stream = void*;

// Largest head_dim the attention kernels take (8 values per lane of a 32-lane group).
inline constexpr std::int64_t kMaxHeadDim = 256;

void launch_cast(const void* src, Stored src_type, void* dst, Stored dst_type, std::int64_t n,
                 Stream stream);

// The operands of a bf16 GEMM (round_bf16.cu): `items` matrices of rows x cols, item i's
// row r at src + (i * stride + r * ld) elements, rounded to bf16 and packed one after
// another into dst (item i's row r at (i * rows + r) * cols): as bf16 bits (dst_type bf16)
// or as those values in f32 (dst_type f32, for an f32 GEMM giving the same numbers).
void launch_round_to_bf16(const void* src, Stored src_type, std::int64_t items, std::int64_t stride,
                          std::int64_t rows, std::int64_t cols, std::int64_t ld, void* dst,
                          Stored dst_type, Stream stream);

void launch_embedding_forward(const std::int32_t* ids, const void* table, Stored table_type,
                              float* out, std::int64_t n_tokens, std::int64_t dim, Stream stream);
void launch_embedding_backward(const std::int32_t* ids, const float* d_out, float* d_table,
                               std::int64_t n_tokens, std::int64_t dim, Stream stream);

void launch_rmsnorm_forward(const float* x, const void* weight, Stored weight_type, float* y,
                            float* rstd, std::int64_t rows, std::int64_t dim, float eps,
                            Stream stream);
void launch_rmsnorm_backward(const float* x, const void* weight, Stored weight_type,
                             const float* rstd, const float* dy, float* dx, float* d_weight,
                             std::int64_t rows, std::int64_t dim, Stream stream);

// inv_freq: device memory, head_dim / 2 floats.
void launch_rope(const float* x, float* out, const std::int32_t* positions, const float* inv_freq,
                 std::int64_t n_tokens, std::int64_t heads, std::int64_t head_dim, bool inverse,
                 Stream stream);

struct AttentionShape {
  std::int64_t batch = 0, seq = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f;
  std::int64_t window = 0;
};
void launch_attention_forward(const float* q, const float* k, const float* v,
                              const std::int32_t* doc_ids, float* out, float* lse,
                              const AttentionShape& s, Stream stream);
// scratch_d: batch * q_heads * seq floats (D_i = dout_i·out_i).
void launch_attention_backward(const float* q, const float* k, const float* v,
                               const std::int32_t* doc_ids, const float* out, const float* lse,
                               const float* d_out, float* dq, float* dk, float* dv,
                               float* scratch_d, const AttentionShape& s, Stream stream);

void launch_swiglu_forward(const float* gate, const float* up, float* out, std::int64_t n,
                           Stream stream);
void launch_swiglu_backward(const float* gate, const float* up, const float* d_out, float* d_gate,
                            float* d_up, std::int64_t n, Stream stream);

// bad_target: one device int, set to 1 when a target is outside [0, vocab) and not ignored.
void launch_cross_entropy_forward(const float* logits, const std::int32_t* targets, float* loss,
                                  float* lse, std::int64_t rows, std::int64_t vocab,
                                  std::int32_t ignore_index, int* bad_target, Stream stream);
// d_loss: the loss's incoming gradient, one device float multiplied into grad_scale (or null).
void launch_cross_entropy_backward(float* logits, const float* lse, const std::int32_t* targets,
                                   std::int64_t rows, std::int64_t vocab, std::int32_t ignore_index,
                                   float grad_scale, const float* d_loss, Stream stream);

// op: 0 add, 1 mul.
// op: 0 add, 1 sub, 2 mul, 3 div; broadcast: 0 none, 1 row (b[i % b_n]), 2 column
// (b[i / (n / b_n)]) — ft::BinaryOp's and ft::Broadcast's order.
void launch_binary(const float* a, const float* b, float* out, std::int64_t n, int op,
                   int broadcast, std::int64_t b_n, Stream stream);
// op: ft::UnaryOp's order (0 identity, 1 exp, 2 log, 3 sqrt, 4 rsqrt, 5 sigmoid, 6 square).
void launch_unary(const float* x, float* y, std::int64_t n, int op, float alpha, float beta,
                  Stream stream);
// op: 0 sum, 1 max over each row of x [rows, cols].
void launch_reduce_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols, int op,
                        Stream stream);
void launch_axpby(const float* x, float* y, std::int64_t n, float alpha, float beta, Stream stream);
void launch_bias_add(float* x, const void* bias, Stored bias_type, std::int64_t rows,
                     std::int64_t cols, Stream stream);
void launch_sum_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                     bool accumulate, Stream stream);
void launch_dropout(const float* x, float* out, std::int64_t n, float p, std::uint64_t seed,
                    std::uint64_t offset, Stream stream);
// The multi-tensor optimizer steps: `chunks` (device memory, `count` of them) cut every
// tensor into runs of at most kOptimizerChunk elements, each with its tensor's constants;
// one launch steps them all.
inline constexpr std::int64_t kOptimizerChunk = 1 << 16;
struct AdamWChunk {
  float* param;
  const float* grad;
  float* m;
  float* v;
  std::int64_t n;
  float decay, bc1, bc2;  // lr * weight_decay and the bias corrections (optimizer_math.hpp)
};
struct SgdChunk {
  float* param;
  const float* grad;
  float* momentum_buffer;
  std::int64_t n;
  float weight_decay;
  bool first_step;
};
void launch_adamw(const AdamWChunk* chunks, std::int64_t count, float lr, float beta1, float beta2,
                  float eps, Stream stream);
void launch_sgd(const SgdChunk* chunks, std::int64_t count, float lr, float momentum, bool nesterov,
                Stream stream);

// Reductions in a fixed order (so a run repeats bit for bit): per-block partials into
// `partials` (kReduceBlocks doubles), then one block sums them, divides by `divisor`, and
// writes *out64 and *out32 (device; either may be null).
inline constexpr int kReduceBlocks = 256;
// what: 0 sum, 1 sum of squares, 2 count of NaN/Inf (ft::ReduceOp's order).
void launch_reduce(const float* x, std::int64_t n, int what, double* partials, double divisor,
                   double* out64, float* out32, Stream stream);

// A 4-bit weight (bitsandbytes layout, ftengine/quant.hpp) on the device.
struct Weight4bit {
  const std::uint8_t* packed = nullptr;
  std::int64_t rows = 0, cols = 0, block_size = 64;
  const float* code_table = nullptr;  // 16 floats (NF4 or FP4), device
  bool double_quant = false;
  const float* absmax = nullptr;               // without double quantisation
  const std::uint8_t* absmax_codes = nullptr;  // with it
  const float* absmax_scales = nullptr;        // with it
  const float* dynamic_map = nullptr;          // 256 floats, device, with it
  float absmax_offset = 0.0f;
};
// out[count] = W's flat elements [first, first + count), dequantised.
void launch_dequantize_4bit(const Weight4bit& w, std::int64_t first, std::int64_t count, float* out,
                            Stream stream);

// The project's own f32 GEMM (gemm.cu), for platforms without a vendor BLAS: row-major
// C_b = alpha·op(A_b)·op(B_b) (+ C_b), lda/ldb/ldc row strides, batch item strides (0:
// shared). Items must write distinct C: the caller runs items that share C one by one.
void launch_gemm(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n,
                 std::int64_t k, std::int64_t batch, std::int64_t lda, std::int64_t ldb,
                 std::int64_t ldc, std::int64_t stride_a, std::int64_t stride_b,
                 std::int64_t stride_c, bool trans_a, bool trans_b, bool accumulate, float alpha,
                 Stream stream);

// The last launch's error, as text ("" when none): launch failures surface here.
const char* last_launch_error();

}  // namespace ft::backends::gpu
