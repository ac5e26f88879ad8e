// Differentiable operations on ft::Tensor: the vocabulary models are written in.
//
// Each op checks its shapes and dtypes (throwing ft::Error that names the op and what
// it got), runs one or two kernels of the inputs' backend, and, when an input requires
// a gradient, records a Node with its vector-Jacobian product (autograd.hpp). Activations
// are f32; weights may be stored as bf16/f16 and are widened inside kernels; GEMMs round
// their operands to bf16 inside a GemmPrecision(bf16) scope.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/quant.hpp"
#include "ftengine/tensor.hpp"

namespace ft::ops {

// The operand precision of every GEMM the ops run in this thread — linear, linear_4bit,
// matmul, cross_entropy's LM head, attention_decode — as torch.autocast sets it: f32, or bf16
// (operands rounded to bf16, products summed in f32; see GemmArgs::compute). Everything
// else (norms, softmax, attention's fused kernel, the loss, gradients summed into f32
// tensors) stays f32. A backward runs at the precision its forward ran with.
DType gemm_precision();  // f32 unless a GemmPrecision scope is open
class GemmPrecision {
 public:
  explicit GemmPrecision(DType compute);  // f32 or bf16, else ft::Error
  ~GemmPrecision();
  GemmPrecision(const GemmPrecision&) = delete;
  GemmPrecision& operator=(const GemmPrecision&) = delete;

 private:
  DType previous_;
};

// y = x·Wᵀ (+ bias).  x: [..., in], weight: [out, in] (f32/bf16/f16), bias: [out] -> [..., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// A frozen 4-bit weight [rows = out, cols = in] on a backend, in bitsandbytes' layout
// (ftengine/quant.hpp): QLoRA's base weights.
struct Weight4bit {
  QuantType type = QuantType::nf4;
  std::int64_t rows = 0, cols = 0, block_size = 64;
  bool double_quant = false;
  float absmax_offset = 0.0f;
  Tensor packed;         // u8 [(rows * cols + 1) / 2]
  Tensor absmax;         // f32 [blocks], or with double quantisation u8 codes [blocks]
  Tensor absmax_scales;  // f32 [blocks / 256, rounded up], with double quantisation

  Weight4bitView view() const;
  std::size_t bytes() const;  // held on the backend
};
Weight4bit to_backend(const Quantized4bit& q, Backend& backend);
// A weight [rows, cols] (f32/bf16/f16) quantised on the host and put on its backend.
Weight4bit quantize_4bit(const Tensor& weight, const Quant4bitOptions& options);
// The 4-bit weight dequantised: f32 [rows, cols], a new tensor on its backend.
Tensor dequantize_4bit(const Weight4bit& weight);

// y = x·dequant(W)ᵀ (+ bias) without widening all of W; backward gives dx = dy·dequant(W)
// (and the bias's gradient), never one for W.  x: [..., in] -> [..., out]
Tensor linear_4bit(const Tensor& x, const Weight4bit& weight, const Tensor& bias = Tensor());

// Batched matrix product. a: [..., M, K], b: [..., K, N] with the same leading dims,
// or b: [K, N] shared by every batch item. -> [..., M, N]
Tensor matmul(const Tensor& a, const Tensor& b);

// ids: [...] i32, table: [vocab, dim] -> [..., dim]. No gradient to the ids.
Tensor embedding(const Tensor& ids, const Tensor& table);

// y = x / sqrt(mean(x², last axis) + eps) * weight.  x: [..., dim], weight: [dim]
Tensor rmsnorm(const Tensor& x, const Tensor& weight, float eps);

// Rotary position embedding frequencies, as Hugging Face's rope_init functions compute them.
struct RopeScaling {
  std::string type = "default";                          // "default", "linear", "llama3"
  float factor = 1.0f;                                   // linear, llama3
  float low_freq_factor = 1.0f;                          // llama3
  float high_freq_factor = 4.0f;                         // llama3
  std::int64_t original_max_position_embeddings = 8192;  // llama3
};
// inv_freq[i] = 1 / theta^(2i / head_dim), i < head_dim / 2, then scaled as `scaling` says.
std::vector<float> rope_inv_freq(std::int64_t head_dim, float theta,
                                 const RopeScaling& scaling = {});
// x: [batch, seq, heads, head_dim], positions: [batch, seq] i32 -> same shape as x.
// inv_freq: [head_dim / 2] f32 on x's backend, made once (from rope_inv_freq) and reused.
Tensor rope(const Tensor& x, const Tensor& positions, const Tensor& inv_freq);

struct AttentionOptions {
  float scale = 0.0f;       // 0 means 1/sqrt(head_dim)
  Tensor doc_ids;           // [batch, seq] i32: attend only within the same document
  std::int64_t window = 0;  // > 0: sliding window (Mistral), keys i - window < j <= i
};
// Causal grouped-query attention. q: [batch, seq, q_heads, head_dim],
// k, v: [batch, seq, kv_heads, head_dim] (q_heads a multiple of kv_heads) -> like q.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options = {});

// silu(gate) * up, same shapes.
Tensor swiglu(const Tensor& gate, const Tensor& up);

Tensor add(const Tensor& a, const Tensor& b);  // same shapes
// Same shapes, or b's shape the trailing dims of a's: b is repeated over a's leading dims
// (y[..., j] = a[..., j] · b[j] for a vector b), and its gradient summed over them.
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float factor);

// Inverted dropout with a counter-based mask keyed by (seed, offset): the same key gives
// the same mask on every backend and after a resume. p = 0 returns x itself.
Tensor dropout(const Tensor& x, float p, std::uint64_t seed, std::uint64_t offset);

enum class Reduction : std::uint8_t {
  mean,  // over targets that are not ignore_index (0 when there are none)
  sum,   // summed; divide by your own token count (gradient accumulation over micro-batches)
};
struct CrossEntropyOptions {
  std::int32_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  // Rows of logits computed at a time; 0 picks a chunk of about 32 MiB of logits in a
  // multiple of 64 rows (fewer rows, or a ragged count, make the head's GEMMs slow: 32 rows
  // of a 32000 vocabulary ran at half the rate in f32, 262 rows at half the rate in bf16).
  std::int64_t chunk_rows = 0;
};
// The language-model loss fused with the LM head: logits = hidden·lm_headᵀ are computed a
// chunk of rows at a time (and again in backward), never [tokens × vocab] whole.
// hidden: [..., dim] f32, lm_head: [vocab, dim], targets: [...] i32 -> scalar (shape []).
Tensor cross_entropy(const Tensor& hidden, const Tensor& lm_head, const Tensor& targets,
                     const CrossEntropyOptions& options = {});

// dtype conversion (f32, bf16, f16). Gradients flow back converted to the source dtype.
Tensor cast(const Tensor& x, DType dtype);

// Same storage, new shape (one dimension may be -1).
Tensor reshape(const Tensor& x, const Shape& shape);

// Sum of all elements -> scalar. (Mostly for tests and losses.)
Tensor sum(const Tensor& x);

// Rows [start, start + length) of x along its first axis: a view sharing x's storage.
// The gradient flows back into those rows (zeros elsewhere).
Tensor narrow(const Tensor& x, std::int64_t start, std::int64_t length);

// ---- Incremental decoding (generation) -------------------------------------------------
//
// The keys and values of the tokens seen so far, for one attention layer. k, v:
// [kv_heads, max_tokens, head_dim] f32, zero-initialised; rows [0, length) of each head
// hold the cached tokens.
struct KvCache {
  Tensor k, v;
  std::int64_t length = 0;
  std::int64_t max_tokens = 0;
};
KvCache make_kv_cache(std::int64_t kv_heads, std::int64_t max_tokens, std::int64_t head_dim,
                      Backend& backend);

// Appends k, v ([1, n, kv_heads, head_dim], the keys and values of n new tokens) to `cache`
// and returns the attention of their queries q ([1, n, q_heads, head_dim]) over every
// cached token: query i sits at position cache.length + i (before the append) and sees
// keys j <= that position (and within options.window when set), as attention() would on
// the whole sequence. -> [1, n, q_heads, head_dim]. Inference only: no gradient, no doc_ids.
Tensor attention_decode(const Tensor& q, const Tensor& k, const Tensor& v, KvCache& cache,
                        const AttentionOptions& options = {});

}  // namespace ft::ops
