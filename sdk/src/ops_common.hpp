// Shared plumbing of the ops (private to the SDK): argument checks that produce
// messages naming the op, and recording of autograd nodes.
#pragma once

#include <fmt/format.h>

#include <memory>

#include "ftengine/autograd.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::ops::detail {

// Throws ft::Error "op: message" when cond is false.
template <typename... Args>
void require(bool cond, std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  if (!cond)
    throw Error(fmt::format("{}: {}", op, fmt::format(format, std::forward<Args>(args)...)));
}

inline void require_defined(const Tensor& t, std::string_view op, std::string_view what) {
  require(t.defined(), op, "{} is an undefined tensor", what);
}

inline void require_dtype(const Tensor& t, DType dtype, std::string_view op, std::string_view what) {
  require_defined(t, op, what);
  require(t.dtype() == dtype, op, "{} must be {}, found {} (shape {})", what, dtype_name(dtype),
          dtype_name(t.dtype()), shape_str(t.shape()));
}

// Weights may be stored narrower than f32 (frozen base weights), but a weight that trains
// must be f32: gradients and optimizer updates are in f32.
inline void require_weight(const Tensor& w, std::string_view op, std::string_view what) {
  require_defined(w, op, what);
  require(is_floating(w.dtype()), op, "{} must be f32, bf16 or f16, found {}", what,
          dtype_name(w.dtype()));
  require(!w.requires_grad() || w.dtype() == DType::f32, op,
          "{} requires a gradient and so must be f32 (found {})", what, dtype_name(w.dtype()));
}

inline void require_same_backend(const Tensor& a, const Tensor& b, std::string_view op) {
  require(&a.backend() == &b.backend(), op, "inputs live on different backends ({} and {})",
          a.backend().name(), b.backend().name());
}

inline Tensor empty_f32(const Shape& shape, Backend& backend) {
  return Tensor::empty(shape, DType::f32, backend);
}

// out = a (op) b, where b either has a's shape or is repeated over a's leading dimensions (a
// row broadcast; a one-value b, such as an incoming gradient on the device, is one too).
inline void binary(Backend& be, BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  BinaryArgs args;
  args.a = a.f32();
  args.b = b.f32();
  args.out = out.f32();
  args.n = out.numel();
  args.op = op;
  if (b.numel() != out.numel()) {
    args.broadcast = Broadcast::row;
    args.b_n = b.numel();
  }
  be.binary(args);
}

inline Shape with_last(Shape shape, std::int64_t last) {
  shape.back() = last;
  return shape;
}

// Records `node` (whose inputs are `inputs`, in the order its backward returns them) as
// the producer of `output`, when any input requires a gradient and grad mode is on.
template <typename NodeT>
Tensor record(Tensor output, std::shared_ptr<NodeT> node, std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* input : inputs) node->inputs.push_back(input && input->defined() ? edge_to(*input) : Edge{});
  attach_node(output, std::move(node));
  return output;
}

// The gradient buffer an op fills for a weight input: the leaf's existing .grad, added
// into in place (accumulate = true), or a fresh tensor (accumulate = false) returned to
// autograd.
struct GradTarget {
  Tensor tensor;
  bool accumulate = false;
  bool fresh() const { return !accumulate; }
};
inline GradTarget grad_target(const Node& node, std::size_t input, const Shape& shape,
                              Backend& backend) {
  Tensor existing = node.accumulate_target(input);
  if (existing.defined() && existing.dtype() == DType::f32 && existing.shape() == shape)
    return {existing, true};
  return {empty_f32(shape, backend), false};
}

// A linear layer's bias: checked against the output width, added to y [rows, out] in place,
// and its gradient (the column sums of dy) into input `input` of `node`.
inline void require_bias(const Tensor& bias, std::int64_t out, std::string_view op) {
  if (!bias.defined()) return;
  require_weight(bias, op, "bias");
  require(bias.ndim() == 1 && bias.dim(0) == out, op, "bias must be [{}], found {}", out,
          shape_str(bias.shape()));
}
inline void add_bias(const Tensor& y, const Tensor& bias, std::int64_t rows, std::int64_t out) {
  if (!bias.defined()) return;
  BiasAddArgs b;
  b.x = y.f32();
  b.bias = bias.data();
  b.bias_dtype = bias.dtype();
  b.rows = rows, b.cols = out;
  y.backend().bias_add(b);
}
inline Tensor bias_grad(const Node& node, std::size_t input, const Tensor& dy, std::int64_t rows,
                        std::int64_t out) {
  Backend& be = dy.backend();
  GradTarget db = grad_target(node, input, {out}, be);
  SumRowsArgs s;
  s.x = dy.f32();
  s.out = db.tensor.f32();
  s.rows = rows, s.cols = out;
  s.accumulate = db.accumulate;
  be.sum_rows(s);
  return db.fresh() ? db.tensor : Tensor();
}

}  // namespace ft::ops::detail
