// Causal grouped-query attention, flash style: the forward saves only the output and the
// per-row log-sum-exp, and the backward recomputes the scores from them.
#include <cmath>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

namespace {

class AttentionNode : public Node {
 public:
  AttentionNode(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor doc_ids, float scale,
                std::int64_t window)
      : q_(std::move(q)), k_(std::move(k)), v_(std::move(v)), out_(std::move(out)),
        lse_(std::move(lse)), doc_ids_(std::move(doc_ids)), scale_(scale), window_(window) {}
  std::string_view name() const override { return "attention"; }

  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    Tensor dq = detail::empty_f32(q_.shape(), be);
    Tensor dk = detail::empty_f32(k_.shape(), be);
    Tensor dv = detail::empty_f32(v_.shape(), be);
    AttentionBackwardArgs args;
    args.q = q_.f32();
    args.k = k_.f32();
    args.v = v_.f32();
    args.doc_ids = doc_ids_.defined() ? doc_ids_.i32() : nullptr;
    args.out = out_.f32();
    args.lse = lse_.f32();
    args.d_out = d_out.f32();
    args.dq = dq.f32();
    args.dk = dk.f32();
    args.dv = dv.f32();
    args.batch = q_.dim(0);
    args.seq = q_.dim(1);
    args.q_heads = q_.dim(2);
    args.kv_heads = k_.dim(2);
    args.head_dim = q_.dim(3);
    args.scale = scale_;
    args.window = window_;
    be.attention_backward(args);
    return {needs_grad(0) ? dq : Tensor(), needs_grad(1) ? dk : Tensor(),
            needs_grad(2) ? dv : Tensor()};
  }
  void release() override {
    q_ = k_ = v_ = out_ = lse_ = doc_ids_ = Tensor();
  }

 private:
  Tensor q_, k_, v_, out_, lse_, doc_ids_;
  float scale_;
  std::int64_t window_;
};

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
  constexpr std::string_view op = "attention";
  detail::require_dtype(q, DType::f32, op, "q");
  detail::require_dtype(k, DType::f32, op, "k");
  detail::require_dtype(v, DType::f32, op, "v");
  detail::require_same_backend(q, k, op);
  detail::require_same_backend(q, v, op);
  require(q.ndim() == 4 && k.ndim() == 4, op,
          "q, k, v must be [batch, seq, heads, head_dim], found q {} k {}", shape_str(q.shape()),
          shape_str(k.shape()));
  require(k.shape() == v.shape(), op, "k {} and v {} differ", shape_str(k.shape()), shape_str(v.shape()));
  require(k.dim(0) == q.dim(0) && k.dim(1) == q.dim(1) && k.dim(3) == q.dim(3), op,
          "k {} does not match q {} in batch, seq or head_dim", shape_str(k.shape()),
          shape_str(q.shape()));
  require(k.dim(2) > 0 && q.dim(2) % k.dim(2) == 0, op,
          "q_heads ({}) must be a multiple of kv_heads ({})", q.dim(2), k.dim(2));
  require(options.window >= 0, op, "window must be >= 0, found {}", options.window);
  if (options.doc_ids.defined()) {
    detail::require_dtype(options.doc_ids, DType::i32, op, "doc_ids");
    require(options.doc_ids.shape() == Shape({q.dim(0), q.dim(1)}), op,
            "doc_ids must be [{}, {}], found {}", q.dim(0), q.dim(1),
            shape_str(options.doc_ids.shape()));
  }
  Backend& be = q.backend();
  const float scale = options.scale > 0.0f ? options.scale
                                           : 1.0f / std::sqrt(static_cast<float>(q.dim(3)));
  Tensor out = detail::empty_f32(q.shape(), be);
  Tensor lse = detail::empty_f32({q.dim(0), q.dim(2), q.dim(1)}, be);
  AttentionForwardArgs args;
  args.q = q.f32();
  args.k = k.f32();
  args.v = v.f32();
  args.doc_ids = options.doc_ids.defined() ? options.doc_ids.i32() : nullptr;
  args.out = out.f32();
  args.lse = lse.f32();
  args.batch = q.dim(0);
  args.seq = q.dim(1);
  args.q_heads = q.dim(2);
  args.kv_heads = k.dim(2);
  args.head_dim = q.dim(3);
  args.scale = scale;
  args.window = options.window;
  be.attention_forward(args);
  if (!any_requires_grad({&q, &k, &v})) return out;
  auto node = std::make_shared<AttentionNode>(q, k, v, out, lse, options.doc_ids, scale, options.window);
  return detail::record(out, node, {&q, &k, &v});
}

}  // namespace ft::ops
