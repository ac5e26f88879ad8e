// Elementwise ops, embedding, dtype casts and reshape. Forward and backward side by side.
#include <algorithm>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

using detail::binary;

namespace {

Tensor scaled(const Tensor& x, float factor) {
  Tensor y = detail::empty_f32(x.shape(), x.backend());
  AxpbyArgs args;
  args.x = x.f32();
  args.y = y.f32();
  args.n = x.numel();
  args.alpha = factor;
  args.beta = 0.0f;
  x.backend().axpby(args);
  return y;
}

void require_same_shape(const Tensor& a, const Tensor& b, std::string_view op) {
  detail::require_dtype(a, DType::f32, op, "a");
  detail::require_dtype(b, DType::f32, op, "b");
  detail::require_same_backend(a, b, op);
  require(a.shape() == b.shape(), op, "shapes differ: {} and {}", shape_str(a.shape()),
          shape_str(b.shape()));
}

// out[t, :] = table[ids[t], :];   d_table[ids[t], :] += d_out[t, :]
class EmbeddingNode : public Node {
 public:
  EmbeddingNode(Tensor ids, Shape table_shape)
      : ids_(std::move(ids)), table_shape_(std::move(table_shape)) {}
  std::string_view name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    detail::GradTarget dt = detail::grad_target(*this, 1, table_shape_, be);
    if (dt.fresh()) be.fill_zero(dt.tensor.data(), dt.tensor.nbytes());
    EmbeddingBackwardArgs args;
    args.ids = ids_.i32();
    args.d_out = d_out.f32();
    args.d_table = dt.tensor.f32();
    args.n_tokens = ids_.numel();
    args.vocab = table_shape_[0];
    args.dim = table_shape_[1];
    be.embedding_backward(args);
    return {Tensor(), dt.fresh() ? dt.tensor : Tensor()};
  }
  void release() override { ids_ = Tensor(); }

 private:
  Tensor ids_;
  Shape table_shape_;
};

// out = silu(g) * u
class SwigluNode : public Node {
 public:
  SwigluNode(Tensor gate, Tensor up) : gate_(std::move(gate)), up_(std::move(up)) {}
  std::string_view name() const override { return "swiglu"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    Tensor d_gate = detail::empty_f32(gate_.shape(), be);
    Tensor d_up = detail::empty_f32(up_.shape(), be);
    SwigluBackwardArgs args;
    args.gate = gate_.f32();
    args.up = up_.f32();
    args.d_out = d_out.f32();
    args.d_gate = d_gate.f32();
    args.d_up = d_up.f32();
    args.n = gate_.numel();
    be.swiglu_backward(args);
    return {needs_grad(0) ? d_gate : Tensor(), needs_grad(1) ? d_up : Tensor()};
  }
  void release() override {
    gate_ = Tensor();
    up_ = Tensor();
  }

 private:
  Tensor gate_, up_;
};

// out = a + b;  da = db = d_out
class AddNode : public Node {
 public:
  std::string_view name() const override { return "add"; }
  std::vector<Tensor> backward(const Tensor& d_out) override { return {d_out, d_out}; }
};

// out = a * b;  da = d_out * b, db = d_out * a. When b ([cols]) repeats over a's rows,
// db is the column sums of d_out * a.
class MulNode : public Node {
 public:
  MulNode(Tensor a, Tensor b, Shape b_shape)
      : a_(std::move(a)), b_(std::move(b)), b_shape_(std::move(b_shape)) {}
  std::string_view name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) {
      grads[0] = detail::empty_f32(d_out.shape(), be);
      binary(be, BinaryOp::mul, d_out, b_, grads[0]);
    }
    if (needs_grad(1)) {
      Tensor product = detail::empty_f32(d_out.shape(), be);
      binary(be, BinaryOp::mul, d_out, a_, product);
      const std::int64_t cols = shape_numel(b_shape_);
      if (cols == d_out.numel()) {
        grads[1] = product;
      } else {
        grads[1] = detail::empty_f32(b_shape_, be);
        SumRowsArgs args;
        args.x = product.f32();
        args.out = grads[1].f32();
        args.rows = cols == 0 ? 0 : d_out.numel() / cols;
        args.cols = cols;
        be.sum_rows(args);
      }
    }
    return grads;
  }
  void release() override {
    a_ = Tensor();
    b_ = Tensor();
  }

 private:
  Tensor a_, b_;
  Shape b_shape_;
};

// out = factor * x;  dx = factor * d_out
class ScaleNode : public Node {
 public:
  explicit ScaleNode(float factor) : factor_(factor) {}
  std::string_view name() const override { return "scale"; }
  std::vector<Tensor> backward(const Tensor& d_out) override { return {scaled(d_out, factor_)}; }

 private:
  float factor_;
};

// out = mask * x / (1 - p);  dx = mask * d_out / (1 - p), the same mask from the same key
class DropoutNode : public Node {
 public:
  DropoutNode(float p, std::uint64_t seed, std::uint64_t offset)
      : p_(p), seed_(seed), offset_(offset) {}
  std::string_view name() const override { return "dropout"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Tensor dx = detail::empty_f32(d_out.shape(), d_out.backend());
    DropoutArgs args;
    args.x = d_out.f32();
    args.out = dx.f32();
    args.n = d_out.numel();
    args.p = p_;
    args.seed = seed_;
    args.offset = offset_;
    d_out.backend().dropout(args);
    return {dx};
  }

 private:
  float p_;
  std::uint64_t seed_, offset_;
};

// Gradients are f32 whatever the dtype of the tensors they belong to, so a cast passes
// its gradient through unchanged.
class CastNode : public Node {
 public:
  std::string_view name() const override { return "cast"; }
  std::vector<Tensor> backward(const Tensor& d_out) override { return {d_out}; }
};

// A view with another shape; the gradient is viewed back.
class ReshapeNode : public Node {
 public:
  explicit ReshapeNode(Shape input_shape) : input_shape_(std::move(input_shape)) {}
  std::string_view name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    return {reshape(d_out, input_shape_)};
  }

 private:
  Shape input_shape_;
};

// out = sum x;  dx = d_out everywhere
class SumNode : public Node {
 public:
  explicit SumNode(Shape input_shape) : input_shape_(std::move(input_shape)) {}
  std::string_view name() const override { return "sum"; }
  std::vector<Tensor> backward(const Tensor& d_out) override {
    Backend& be = d_out.backend();
    Tensor dx = Tensor::zeros(input_shape_, DType::f32, be);
    if (dx.numel() > 0) binary(be, BinaryOp::add, dx, d_out, dx);  // d_out read on the device
    return {dx};
  }

 private:
  Shape input_shape_;
};

}  // namespace

Tensor embedding(const Tensor& ids, const Tensor& table) {
  constexpr std::string_view op = "embedding";
  detail::require_dtype(ids, DType::i32, op, "ids");
  detail::require_weight(table, op, "table");
  detail::require_same_backend(ids, table, op);
  require(table.ndim() == 2, op, "table must be [vocab, dim], found {}", shape_str(table.shape()));
  Shape out_shape = ids.shape();
  out_shape.push_back(table.dim(1));
  Tensor out = detail::empty_f32(out_shape, table.backend());
  EmbeddingForwardArgs args;
  args.ids = ids.i32();
  args.table = table.data();
  args.table_dtype = table.dtype();
  args.out = out.f32();
  args.n_tokens = ids.numel();
  args.vocab = table.dim(0);
  args.dim = table.dim(1);
  table.backend().embedding_forward(args);
  if (!any_requires_grad({&table})) return out;
  return detail::record(out, std::make_shared<EmbeddingNode>(ids, table.shape()),
                        {nullptr, &table});
}

Tensor swiglu(const Tensor& gate, const Tensor& up) {
  require_same_shape(gate, up, "swiglu");
  Tensor out = detail::empty_f32(gate.shape(), gate.backend());
  SwigluForwardArgs args;
  args.gate = gate.f32();
  args.up = up.f32();
  args.out = out.f32();
  args.n = gate.numel();
  gate.backend().swiglu_forward(args);
  if (!any_requires_grad({&gate, &up})) return out;
  return detail::record(out, std::make_shared<SwigluNode>(gate, up), {&gate, &up});
}

Tensor add(const Tensor& a, const Tensor& b) {
  require_same_shape(a, b, "add");
  Tensor out = detail::empty_f32(a.shape(), a.backend());
  binary(a.backend(), BinaryOp::add, a, b, out);
  if (!any_requires_grad({&a, &b})) return out;
  return detail::record(out, std::make_shared<AddNode>(), {&a, &b});
}

Tensor mul(const Tensor& a, const Tensor& b) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const bool repeated =
      bs.size() < as.size() && std::equal(bs.begin(), bs.end(), as.end() - bs.size());
  if (repeated) {
    detail::require_dtype(a, DType::f32, "mul", "a");
    detail::require_dtype(b, DType::f32, "mul", "b");
    detail::require_same_backend(a, b, "mul");
  } else {
    require_same_shape(a, b, "mul");
  }
  Tensor out = detail::empty_f32(a.shape(), a.backend());
  if (out.numel() > 0) binary(a.backend(), BinaryOp::mul, a, b, out);
  if (!any_requires_grad({&a, &b})) return out;
  // Each factor is saved only for the other's gradient.
  auto node = std::make_shared<MulNode>(b.requires_grad() ? a : Tensor(),
                                        a.requires_grad() ? b : Tensor(), b.shape());
  return detail::record(out, node, {&a, &b});
}

Tensor scale(const Tensor& x, float factor) {
  detail::require_dtype(x, DType::f32, "scale", "input");
  Tensor out = scaled(x, factor);
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<ScaleNode>(factor), {&x});
}

Tensor dropout(const Tensor& x, float p, std::uint64_t seed, std::uint64_t offset) {
  constexpr std::string_view op = "dropout";
  detail::require_dtype(x, DType::f32, op, "input");
  require(p >= 0.0f && p < 1.0f, op, "p must be in [0, 1), found {}", p);
  if (p == 0.0f) return x;
  Tensor out = detail::empty_f32(x.shape(), x.backend());
  DropoutArgs args;
  args.x = x.f32();
  args.out = out.f32();
  args.n = x.numel();
  args.p = p;
  args.seed = seed;
  args.offset = offset;
  x.backend().dropout(args);
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<DropoutNode>(p, seed, offset), {&x});
}

Tensor cast(const Tensor& x, DType dtype) {
  constexpr std::string_view op = "cast";
  detail::require_defined(x, op, "input");
  require(is_floating(x.dtype()) && is_floating(dtype), op,
          "converts between f32, bf16 and f16, not {} to {}", dtype_name(x.dtype()),
          dtype_name(dtype));
  Tensor out = Tensor::empty(x.shape(), dtype, x.backend());
  CastArgs args;
  args.src = x.data();
  args.src_dtype = x.dtype();
  args.dst = out.data();
  args.dst_dtype = dtype;
  args.n = x.numel();
  x.backend().cast(args);
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<CastNode>(), {&x});
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  constexpr std::string_view op = "reshape";
  detail::require_defined(x, op, "input");
  Shape resolved = shape;
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      require(inferred < 0, op, "only one dimension may be -1 in {}", shape_str(shape));
      inferred = static_cast<int>(i);
    } else {
      require(resolved[i] >= 0, op, "bad dimension in {}", shape_str(shape));
      known *= resolved[i];
    }
  }
  if (inferred >= 0) {
    require(known > 0 && x.numel() % known == 0, op, "cannot view {} as {}", shape_str(x.shape()),
            shape_str(shape));
    resolved[inferred] = x.numel() / known;
  }
  require(shape_numel(resolved) == x.numel(), op, "cannot view {} ({} elements) as {}",
          shape_str(x.shape()), x.numel(), shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset_bytes = x.impl()->offset_bytes;
  impl->shape = resolved;
  impl->dtype = x.dtype();
  impl->name = x.name();
  Tensor out(std::move(impl));
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<ReshapeNode>(x.shape()), {&x});
}

Tensor sum(const Tensor& x) {
  detail::require_dtype(x, DType::f32, "sum", "input");
  Tensor out = Tensor::zeros({}, DType::f32, x.backend());
  ReduceArgs args;
  args.x = x.f32();
  args.n = x.numel();
  args.out32 = out.f32();
  if (args.n > 0) x.backend().reduce(args);
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<SumNode>(x.shape()), {&x});
}

}  // namespace ft::ops
