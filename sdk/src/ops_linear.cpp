// linear and matmul: the GEMM ops. Forward and backward side by side.
#include <array>
#include <memory>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

namespace {

// x rounded to bf16, for a bf16 linear to save for its weight gradient: the values that GEMM
// reads anyway (dW = dyᵀ·x takes bf16 operands), in half the memory. One copy per input: the
// q, k and v projections (and LoRA's A matrices beside them) read the same x, and a copy each
// would hold 1.5 times the f32 x instead of half. The few most recent copies are remembered
// while both they and their source are alive; activations are never written in place.
Tensor saved_bf16(const Tensor& x) {
  struct Recent {
    std::weak_ptr<TensorImpl> source, copy;
  };
  thread_local std::array<Recent, 4> recent;
  thread_local std::size_t next = 0;
  for (const Recent& r : recent) {
    if (r.source.lock() != x.impl()) continue;
    if (std::shared_ptr<TensorImpl> copy = r.copy.lock()) return Tensor(copy);
  }
  const NoGrad saved;  // a value kept for backward, not a step of the graph
  Tensor copy = cast(x, DType::bf16);
  recent[next++ % recent.size()] = Recent{x.impl(), copy.impl()};
  return copy;
}

// y[rows, out] = x[rows, in] · W[out, in]ᵀ + b[out]
//   dx[rows, in] = dy[rows, out] · W[out, in]
//   dW[out, in] += dy[rows, out]ᵀ · x[rows, in]   (skipped for a frozen W: LoRA's saving)
//   db[out]     += sum_rows dy
class LinearNode : public Node {
 public:
  // x is saved only when the weight's gradient needs it (in bf16 when compute is: saved_bf16);
  // its shape always is.
  LinearNode(Tensor x, Shape x_shape, Tensor w, std::int64_t rows, DType compute)
      : x_(std::move(x)),
        x_shape_(std::move(x_shape)),
        w_(std::move(w)),
        rows_(rows),
        compute_(compute) {}
  std::string_view name() const override { return "linear"; }

  std::vector<Tensor> backward(const Tensor& dy) override {
    Backend& be = dy.backend();
    const std::int64_t in = w_.dim(1), out = w_.dim(0);
    std::vector<Tensor> grads(3);
    if (needs_grad(0)) {
      Tensor dx = detail::empty_f32(x_shape_, be);
      GemmArgs g;
      g.a = dy.f32();
      g.b = w_.data();
      g.b_dtype = w_.dtype();
      g.c = dx.f32();
      g.m = rows_, g.n = in, g.k = out;
      g.compute = compute_;
      be.gemm(g);
      grads[0] = dx;
    }
    if (needs_grad(1)) {
      detail::GradTarget dw = detail::grad_target(*this, 1, w_.shape(), be);
      GemmArgs g;
      g.a = dy.f32();
      g.trans_a = true;  // dy stored [rows, out] = [K, M]
      g.b = x_.data();   // x stored [rows, in] = [K, N]; bf16 where its forward was
      g.b_dtype = x_.dtype();
      g.c = dw.tensor.f32();
      g.m = out, g.n = in, g.k = rows_;
      g.accumulate = dw.accumulate;
      g.compute = compute_;
      be.gemm(g);
      if (dw.fresh()) grads[1] = dw.tensor;
    }
    if (needs_grad(2)) grads[2] = detail::bias_grad(*this, 2, dy, rows_, out);
    return grads;
  }
  void release() override {
    x_ = Tensor();
    w_ = Tensor();
  }

 private:
  Tensor x_;
  Shape x_shape_;
  Tensor w_;
  std::int64_t rows_;
  DType compute_;
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  constexpr std::string_view op = "linear";
  detail::require_dtype(x, DType::f32, op, "input");
  detail::require_weight(weight, op, "weight");
  detail::require_same_backend(x, weight, op);
  require(weight.ndim() == 2, op, "weight must be [out, in], found shape {}",
          shape_str(weight.shape()));
  require(x.ndim() >= 1 && x.dim(-1) == weight.dim(1), op,
          "input {} does not match weight {}: the last dimension must be {}", shape_str(x.shape()),
          shape_str(weight.shape()), weight.dim(1));
  const std::int64_t in = weight.dim(1), out = weight.dim(0);
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(in, 1);
  detail::require_bias(bias, out, op);
  Backend& be = x.backend();
  Tensor y = detail::empty_f32(detail::with_last(x.shape(), out), be);
  GemmArgs g;
  g.a = x.f32();
  g.b = weight.data();
  g.b_dtype = weight.dtype();
  g.trans_b = true;  // HF weight [out, in] read as Wᵀ
  g.c = y.f32();
  g.m = rows, g.n = out, g.k = in;
  g.compute = gemm_precision();
  be.gemm(g);
  detail::add_bias(y, bias, rows, out);
  if (!any_requires_grad({&x, &weight, &bias})) return y;
  Tensor saved_x;
  if (weight.requires_grad()) saved_x = g.compute == DType::bf16 ? saved_bf16(x) : x;
  auto node = std::make_shared<LinearNode>(saved_x, x.shape(), weight, rows, g.compute);
  return detail::record(y, node, {&x, &weight, &bias});
}

namespace {

// c[b, M, N] = a[b, M, K] · bm[b, K, N]   (bm shared by every b when broadcast)
//   da = dc · bmᵀ;  dbm = aᵀ · dc  (summed over b when broadcast)
class MatmulNode : public Node {
 public:
  MatmulNode(Tensor a, Tensor b, std::int64_t batch, bool broadcast_b, DType compute)
      : a_(std::move(a)),
        b_(std::move(b)),
        batch_(batch),
        broadcast_b_(broadcast_b),
        compute_(compute) {}
  std::string_view name() const override { return "matmul"; }

  std::vector<Tensor> backward(const Tensor& dc) override {
    Backend& be = dc.backend();
    const std::int64_t m = a_.dim(-2), k = a_.dim(-1), n = b_.dim(-1);
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) {
      Tensor da = detail::empty_f32(a_.shape(), be);
      GemmArgs g;
      g.a = dc.f32();
      g.b = b_.f32();
      g.trans_b = true;  // b stored [K, N] = [N', K'] for this product
      g.c = da.f32();
      g.m = m, g.n = k, g.k = n;
      g.batch = batch_;
      g.stride_a = m * n, g.stride_b = broadcast_b_ ? 0 : k * n, g.stride_c = m * k;
      g.compute = compute_;
      be.gemm(g);
      grads[0] = da;
    }
    if (needs_grad(1)) {
      Tensor db = detail::empty_f32(b_.shape(), be);
      GemmArgs g;
      g.a = a_.f32();
      g.trans_a = true;  // a stored [M, K] = [K', M']
      g.b = dc.f32();
      g.c = db.f32();
      if (broadcast_b_) {
        // Sum over the batch by treating it as one tall product: [batch*M, K]ᵀ · [batch*M, N].
        g.m = k, g.n = n, g.k = batch_ * m;
      } else {
        g.m = k, g.n = n, g.k = m;
        g.batch = batch_;
        g.stride_a = m * k, g.stride_b = m * n, g.stride_c = k * n;
      }
      g.compute = compute_;
      be.gemm(g);
      grads[1] = db;
    }
    return grads;
  }
  void release() override {
    a_ = Tensor();
    b_ = Tensor();
  }

 private:
  Tensor a_, b_;
  std::int64_t batch_;
  bool broadcast_b_;
  DType compute_;
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "matmul";
  detail::require_dtype(a, DType::f32, op, "a");
  detail::require_dtype(b, DType::f32, op, "b");
  detail::require_same_backend(a, b, op);
  require(a.ndim() >= 2 && b.ndim() >= 2, op, "needs matrices, found {} and {}",
          shape_str(a.shape()), shape_str(b.shape()));
  const std::int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  require(b.dim(-2) == k, op, "inner dimensions differ: {} · {}", shape_str(a.shape()),
          shape_str(b.shape()));
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2);
  const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
  const bool broadcast_b = b.ndim() == 2;
  require(broadcast_b || a_batch == b_batch, op, "batch dimensions differ: {} · {}",
          shape_str(a.shape()), shape_str(b.shape()));
  const std::int64_t batch = shape_numel(a_batch);
  Shape out_shape = a_batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor c = detail::empty_f32(out_shape, a.backend());
  GemmArgs g;
  g.a = a.f32();
  g.b = b.f32();
  g.c = c.f32();
  g.m = m, g.n = n, g.k = k;
  g.batch = batch;
  g.stride_a = m * k, g.stride_b = broadcast_b ? 0 : k * n, g.stride_c = m * n;
  g.compute = gemm_precision();
  a.backend().gemm(g);
  if (!any_requires_grad({&a, &b})) return c;
  return detail::record(c, std::make_shared<MatmulNode>(a, b, batch, broadcast_b, g.compute),
                        {&a, &b});
}

}  // namespace ft::ops
