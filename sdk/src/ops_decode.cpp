// narrow, and attention of new tokens against a key/value cache (generation), composed from
// GEMMs and the masked softmax, so every backend gets it without a kernel of its own.
//
// attention_decode, for new token i at position p = past + i and L = past + n cached keys:
//   cache layout [kv_heads, max_tokens, head_dim]: the keys of one kv head are contiguous
//   rows, so one batched GEMM (batch = kv heads) scores all q heads of a token:
//     S[h, j] = q[i, h] · K[h / group, j]                                   j in [0, L) (gemm)
//     P[h, j] = softmax_j(scale * S[h, j] + mask[j])    (masked_softmax; mask 0 when j <= p
//                                                        and p - j < window, else -inf)
//     out[i, h] = sum_j P[h, j] V[h / group, j]                                        (gemm)
//
// The first call on an empty cache (the prompt) is plain causal attention over the new
// tokens, done by the attention kernel; later calls loop over the new tokens (usually one).
#include <cmath>
#include <limits>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

namespace {

// dx = 0 except rows [start, start + length) = d_out
class NarrowNode : public Node {
 public:
  NarrowNode(Shape input_shape, std::int64_t start)
      : input_shape_(std::move(input_shape)), start_(start) {}
  std::string_view name() const override { return "narrow"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    Tensor dx = Tensor::zeros(input_shape_, DType::f32, be);
    const std::size_t row_bytes = input_shape_.empty() ? 0 : dx.nbytes() / input_shape_[0];
    if (d_out.nbytes())
      be.copy(static_cast<char*>(dx.data()) + start_ * row_bytes, d_out.data(), d_out.nbytes());
    return {dx};
  }

 private:
  Shape input_shape_;
  std::int64_t start_;
};

}  // namespace

Tensor narrow(const Tensor& x, std::int64_t start, std::int64_t length) {
  constexpr std::string_view op = "narrow";
  detail::require_defined(x, op, "input");
  require(x.ndim() >= 1, op, "needs at least one dimension, found a scalar");
  require(start >= 0 && length >= 0 && start + length <= x.dim(0), op,
          "rows [{}, {}) are outside the first dimension of {}", start, start + length,
          shape_str(x.shape()));
  const std::size_t row_bytes = x.dim(0) == 0 ? 0 : x.nbytes() / x.dim(0);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset_bytes = x.impl()->offset_bytes + start * row_bytes;
  impl->shape = x.shape();
  impl->shape[0] = length;
  impl->dtype = x.dtype();
  impl->name = x.name();
  Tensor out(std::move(impl));
  if (!any_requires_grad({&x})) return out;
  require(x.dtype() == DType::f32, op, "a narrowed tensor that requires a gradient must be f32");
  return detail::record(out, std::make_shared<NarrowNode>(x.shape(), start), {&x});
}

KvCache make_kv_cache(std::int64_t kv_heads, std::int64_t max_tokens, std::int64_t head_dim,
                      Backend& backend) {
  if (kv_heads <= 0 || max_tokens <= 0 || head_dim <= 0)
    throw Error(
        fmt::format("make_kv_cache: kv_heads ({}), max_tokens ({}) and head_dim ({}) must "
                    "be positive",
                    kv_heads, max_tokens, head_dim));
  KvCache cache;
  cache.k = Tensor::zeros({kv_heads, max_tokens, head_dim}, DType::f32, backend);
  cache.v = Tensor::zeros({kv_heads, max_tokens, head_dim}, DType::f32, backend);
  cache.max_tokens = max_tokens;
  return cache;
}

Tensor attention_decode(const Tensor& q, const Tensor& k, const Tensor& v, KvCache& cache,
                        const AttentionOptions& options) {
  constexpr std::string_view op = "attention_decode";
  detail::require_dtype(q, DType::f32, op, "q");
  detail::require_dtype(k, DType::f32, op, "k");
  detail::require_dtype(v, DType::f32, op, "v");
  detail::require_dtype(cache.k, DType::f32, op, "cache.k");
  detail::require_dtype(cache.v, DType::f32, op, "cache.v");
  detail::require_same_backend(q, k, op);
  detail::require_same_backend(q, v, op);
  detail::require_same_backend(q, cache.k, op);
  require(q.ndim() == 4 && q.dim(0) == 1 && k.shape() == v.shape() && k.ndim() == 4 &&
              k.dim(0) == 1 && k.dim(1) == q.dim(1) && k.dim(3) == q.dim(3),
          op,
          "q must be [1, n, q_heads, head_dim] and k, v [1, n, kv_heads, head_dim], found q {} "
          "k {} v {}",
          shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  const std::int64_t n = q.dim(1), q_heads = q.dim(2), kv_heads = k.dim(2), head_dim = q.dim(3);
  require(kv_heads > 0 && q_heads % kv_heads == 0, op,
          "q_heads ({}) must be a multiple of kv_heads ({})", q_heads, kv_heads);
  const Shape cache_shape{kv_heads, cache.max_tokens, head_dim};
  require(cache.k.shape() == cache_shape && cache.v.shape() == cache_shape, op,
          "the cache must be {} (make_kv_cache), found k {} v {}", shape_str(cache_shape),
          shape_str(cache.k.shape()), shape_str(cache.v.shape()));
  require(cache.length + n <= cache.max_tokens, op,
          "{} cached + {} new tokens exceed the cache's {} tokens", cache.length, n,
          cache.max_tokens);
  require(!options.doc_ids.defined(), op, "doc_ids are not supported when decoding");
  require(options.window >= 0, op, "window must be >= 0, found {}", options.window);
  require(!any_requires_grad({&q, &k, &v}), op, "has no gradient: run generation under ft::NoGrad");

  Backend& be = q.backend();
  const std::int64_t past = cache.length, rows = cache.max_tokens;
  const std::size_t row_bytes = static_cast<std::size_t>(head_dim) * sizeof(float);
  // Append: token i, kv head g -> cache row [g, past + i].
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t g = 0; g < kv_heads; ++g) {
      const std::int64_t src = (i * kv_heads + g) * head_dim;
      const std::int64_t dst = (g * rows + past + i) * head_dim;
      be.copy(cache.k.f32() + dst, k.f32() + src, row_bytes);
      be.copy(cache.v.f32() + dst, v.f32() + src, row_bytes);
    }
  }
  cache.length = past + n;
  if (n == 0) return Tensor::empty(q.shape(), DType::f32, be);

  AttentionOptions plain;
  plain.scale = options.scale;
  plain.window = options.window;
  if (past == 0) return attention(q, k, v, plain);

  const float scale =
      options.scale > 0.0f ? options.scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t L = cache.length, group = q_heads / kv_heads;
  // mask[i, j] for every new token at once: 0 where visible, -inf elsewhere.
  std::vector<float> mask_host(static_cast<std::size_t>(n * L),
                               -std::numeric_limits<float>::infinity());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t p = past + i;
    const std::int64_t first =
        options.window > 0 ? std::max<std::int64_t>(0, p - options.window + 1) : 0;
    for (std::int64_t j = first; j <= p; ++j) mask_host[i * L + j] = 0.0f;
  }
  const Tensor mask = Tensor::from_vector(mask_host, {n, L}, be);
  Tensor scores = detail::empty_f32({q_heads, L}, be);
  Tensor out = detail::empty_f32(q.shape(), be);

  for (std::int64_t i = 0; i < n; ++i) {
    GemmArgs s;  // S[g][group, L] = Q_i[g][group, D] · K[g][L, D]ᵀ
    s.a = q.f32() + i * q_heads * head_dim;
    s.b = cache.k.f32();
    s.c = scores.f32();
    s.trans_b = true;
    s.m = group, s.n = L, s.k = head_dim;
    s.batch = kv_heads;
    s.stride_a = group * head_dim, s.stride_b = rows * head_dim, s.stride_c = group * L;
    s.compute = gemm_precision();
    be.gemm(s);

    MaskedSoftmaxArgs p;  // P = softmax(scale * S + mask_i), in place
    p.x = scores.f32();
    p.mask = mask.f32() + i * L;
    p.y = scores.f32();
    p.rows = q_heads, p.cols = L;
    p.scale = scale;
    be.masked_softmax(p);

    GemmArgs o;  // out_i[g][group, D] = P[g][group, L] · V[g][L, D]
    o.a = scores.f32();
    o.b = cache.v.f32();
    o.c = out.f32() + i * q_heads * head_dim;
    o.m = group, o.n = head_dim, o.k = L;
    o.batch = kv_heads;
    o.stride_a = group * L, o.stride_b = rows * head_dim, o.stride_c = group * head_dim;
    o.compute = gemm_precision();
    be.gemm(o);
  }
  return out;
}

}  // namespace ft::ops
