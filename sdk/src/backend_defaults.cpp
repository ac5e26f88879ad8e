// The defaults of the Backend's fused kernels, each composed from primitives on the
// backend's own memory (so they run wherever the primitives do, a GPU included), and
// Backend::configure's default. They favour being obviously right over speed: a backend
// overrides what it runs often. Each follows its argument struct's formula in backend.hpp;
// the conformance suite holds them to the CPU backend's fused kernels.
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"

namespace ft {

namespace {

// f32 scratch in backend memory for the length of one default.
class Scratch {
 public:
  Scratch(Backend& backend, std::int64_t floats)
      : backend_(backend),
        bytes_(static_cast<std::size_t>(floats) * sizeof(float)),
        data_(static_cast<float*>(backend.allocate(bytes_ ? bytes_ : sizeof(float)))) {}
  ~Scratch() { backend_.deallocate(data_, bytes_ ? bytes_ : sizeof(float)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* get() const { return data_; }

 private:
  Backend& backend_;
  std::size_t bytes_;
  float* data_;
};

// The small vocabulary the defaults are written in.
struct Compose {
  Backend& be;

  void unary(const float* x, float* y, std::int64_t n, UnaryOp op, float alpha = 1.0f,
             float beta = 0.0f) const {
    be.unary({.x = x, .y = y, .n = n, .op = op, .alpha = alpha, .beta = beta});
  }
  void binary(const float* a, BinaryOp op, const float* b, float* out, std::int64_t n,
              Broadcast broadcast = Broadcast::none, std::int64_t b_n = 0) const {
    be.binary({.a = a, .b = b, .out = out, .n = n, .op = op, .broadcast = broadcast, .b_n = b_n});
  }
  // y = alpha x + beta y
  void axpby(const float* x, float* y, std::int64_t n, float alpha, float beta) const {
    be.axpby({.x = x, .y = y, .n = n, .alpha = alpha, .beta = beta});
  }
  void copy(const float* x, float* y, std::int64_t n) const {
    be.copy(y, x, static_cast<std::size_t>(n) * sizeof(float));
  }
  void reduce_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                   RowReduce op) const {
    be.reduce_rows({.x = x, .out = out, .rows = rows, .cols = cols, .op = op});
  }
  // A weight of any floating dtype as f32 in `scratch` (or as it is, when f32).
  const float* widened(const void* w, DType dtype, std::int64_t n, const Scratch& scratch) const {
    if (dtype == DType::f32) return static_cast<const float*>(w);
    be.cast({.src = w, .src_dtype = dtype, .dst = scratch.get(), .dst_dtype = DType::f32, .n = n});
    return scratch.get();
  }
};

double read_reduction(Backend& be, const float* x, std::int64_t n, ReduceOp op) {
  if (n == 0) return 0.0;
  const Scratch out(be, sizeof(double) / sizeof(float));
  auto* result_device = reinterpret_cast<double*>(out.get());
  be.reduce({.x = x, .n = n, .op = op, .divisor = 1.0, .out64 = result_device});
  double result = 0.0;
  be.copy_to_host(&result, result_device, sizeof(double));
  return result;
}

}  // namespace

// Keys meant for other backends (the cpu backend's threads) pass: one job serves every
// machine.
void Backend::configure(const Options& options) {
  const std::int64_t device = options.integer("device", 0);
  if (device != 0)
    throw Error(fmt::format("{}.device = {}: the {} backend has one device, 0", options.section(),
                            device, name()));
}

// z = scale x + mask;  y = exp(z - max z) / sum exp(z - max z), row by row.
void Backend::masked_softmax(const MaskedSoftmaxArgs& a) {
  const Compose c{*this};
  const std::int64_t n = a.rows * a.cols;
  if (n == 0) return;
  Scratch row(*this, a.rows);
  c.unary(a.x, a.y, n, UnaryOp::identity, a.scale);
  if (a.mask) c.binary(a.y, BinaryOp::add, a.mask, a.y, n, Broadcast::row, a.cols);
  c.reduce_rows(a.y, row.get(), a.rows, a.cols, RowReduce::max);
  c.binary(a.y, BinaryOp::sub, row.get(), a.y, n, Broadcast::column, a.rows);
  c.unary(a.y, a.y, n, UnaryOp::exp);
  c.reduce_rows(a.y, row.get(), a.rows, a.cols, RowReduce::sum);
  c.binary(a.y, BinaryOp::div, row.get(), a.y, n, Broadcast::column, a.rows);
}

// rstd = rsqrt(sum(x²) / dim + eps);  y = (x * rstd) * w
void Backend::rmsnorm_forward(const RmsNormForwardArgs& a) {
  const Compose c{*this};
  const std::int64_t n = a.rows * a.dim;
  if (n == 0) return;
  Scratch squares(*this, n);
  c.unary(a.x, squares.get(), n, UnaryOp::square);
  c.reduce_rows(squares.get(), a.rstd, a.rows, a.dim, RowReduce::sum);
  c.unary(a.rstd, a.rstd, a.rows, UnaryOp::rsqrt, 1.0f / static_cast<float>(a.dim), a.eps);
  c.binary(a.x, BinaryOp::mul, a.rstd, a.y, n, Broadcast::column, a.rows);
  Scratch weight(*this, a.weight_dtype == DType::f32 ? 0 : a.dim);
  c.binary(a.y, BinaryOp::mul, c.widened(a.weight, a.weight_dtype, a.dim, weight), a.y, n,
           Broadcast::row, a.dim);
}

// g = dy * w;  xhat = x * rstd;  dx = rstd * (g - xhat * sum(g * xhat) / dim);
// d_weight += sum over rows of dy * xhat
void Backend::rmsnorm_backward(const RmsNormBackwardArgs& a) {
  const Compose c{*this};
  const std::int64_t n = a.rows * a.dim;
  if (n == 0) return;
  Scratch weight(*this, a.weight_dtype == DType::f32 ? 0 : a.dim);
  Scratch g(*this, n), xhat(*this, n), t(*this, n), row(*this, a.rows);
  c.binary(a.dy, BinaryOp::mul, c.widened(a.weight, a.weight_dtype, a.dim, weight), g.get(), n,
           Broadcast::row, a.dim);
  c.binary(a.x, BinaryOp::mul, a.rstd, xhat.get(), n, Broadcast::column, a.rows);
  if (a.d_weight) {
    c.binary(a.dy, BinaryOp::mul, xhat.get(), t.get(), n);
    sum_rows({.x = t.get(), .out = a.d_weight, .rows = a.rows, .cols = a.dim, .accumulate = true});
  }
  c.binary(g.get(), BinaryOp::mul, xhat.get(), t.get(), n);
  c.reduce_rows(t.get(), row.get(), a.rows, a.dim, RowReduce::sum);
  c.unary(row.get(), row.get(), a.rows, UnaryOp::identity, 1.0f / static_cast<float>(a.dim));
  c.binary(xhat.get(), BinaryOp::mul, row.get(), t.get(), n, Broadcast::column, a.rows);
  c.binary(g.get(), BinaryOp::sub, t.get(), g.get(), n);
  c.binary(g.get(), BinaryOp::mul, a.rstd, a.dx, n, Broadcast::column, a.rows);
}

// out = (g * sigmoid(g)) * up
void Backend::swiglu_forward(const SwigluForwardArgs& a) {
  const Compose c{*this};
  if (a.n == 0) return;
  Scratch silu(*this, a.n);
  c.unary(a.gate, silu.get(), a.n, UnaryOp::sigmoid);
  c.binary(a.gate, BinaryOp::mul, silu.get(), silu.get(), a.n);
  c.binary(silu.get(), BinaryOp::mul, a.up, a.out, a.n);
}

// s = sigmoid(g), silu = g s:  d_up = d_out silu;  d_gate = d_out up (s + silu (1 - s))
void Backend::swiglu_backward(const SwigluBackwardArgs& a) {
  const Compose c{*this};
  if (a.n == 0) return;
  Scratch s(*this, a.n), silu(*this, a.n), t(*this, a.n);
  c.unary(a.gate, s.get(), a.n, UnaryOp::sigmoid);
  c.binary(a.gate, BinaryOp::mul, s.get(), silu.get(), a.n);
  c.unary(s.get(), t.get(), a.n, UnaryOp::identity, -1.0f, 1.0f);
  c.binary(silu.get(), BinaryOp::mul, t.get(), t.get(), a.n);
  c.binary(t.get(), BinaryOp::add, s.get(), t.get(), a.n);
  c.binary(t.get(), BinaryOp::mul, a.up, t.get(), a.n);
  // Both gradients from the scratch, so d_gate or d_up may alias an input.
  c.binary(a.d_out, BinaryOp::mul, silu.get(), silu.get(), a.n);
  c.binary(a.d_out, BinaryOp::mul, t.get(), a.d_gate, a.n);
  c.copy(silu.get(), a.d_up, a.n);
}

// Per tensor, with bc1 = 1 - b1^step, bc2 = 1 - b2^step:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p = (1 - lr wd) p;
//   p -= (lr / bc1) m / (sqrt(v / bc2) + eps)
void Backend::adamw_step(const AdamWStepArgs& a) {
  const Compose c{*this};
  for (std::int64_t i = 0; i < a.count; ++i) {
    const AdamWTensor& t = a.tensors[i];
    if (t.n == 0) continue;
    const auto bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(a.beta1), t.step));
    const auto bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(a.beta2), t.step));
    Scratch work(*this, t.n);
    c.axpby(t.grad, t.m, t.n, 1.0f - a.beta1, a.beta1);
    c.unary(t.grad, work.get(), t.n, UnaryOp::square);
    c.axpby(work.get(), t.v, t.n, 1.0f - a.beta2, a.beta2);
    if (t.weight_decay != 0.0f) c.axpby(t.param, t.param, t.n, 0.0f, 1.0f - a.lr * t.weight_decay);
    c.unary(t.v, work.get(), t.n, UnaryOp::sqrt, 1.0f / bc2);
    c.unary(work.get(), work.get(), t.n, UnaryOp::identity, 1.0f, a.eps);
    c.binary(t.m, BinaryOp::div, work.get(), work.get(), t.n);
    c.axpby(work.get(), t.param, t.n, -a.lr / bc1, 1.0f);
  }
}

// Per tensor: g' = g + wd p;  buf = first ? g' : momentum buf + g';
//   p -= lr (nesterov ? g' + momentum buf : buf)   (p -= lr g' without momentum)
void Backend::sgd_step(const SgdStepArgs& a) {
  const Compose c{*this};
  for (std::int64_t i = 0; i < a.count; ++i) {
    const SgdTensor& t = a.tensors[i];
    if (t.n == 0) continue;
    Scratch g(*this, t.n);
    c.copy(t.grad, g.get(), t.n);
    if (t.weight_decay != 0.0f) c.axpby(t.param, g.get(), t.n, t.weight_decay, 1.0f);
    if (a.momentum > 0.0f && t.momentum_buffer) {
      float* buf = t.momentum_buffer;
      if (t.first_step)
        c.copy(g.get(), buf, t.n);
      else
        c.axpby(g.get(), buf, t.n, 1.0f, a.momentum);
      if (a.nesterov)
        c.axpby(buf, g.get(), t.n, a.momentum, 1.0f);
      else
        c.copy(buf, g.get(), t.n);
    }
    c.axpby(g.get(), t.param, t.n, -a.lr, 1.0f);
  }
}

double Backend::sum(const float* x, std::int64_t n) {
  return read_reduction(*this, x, n, ReduceOp::sum);
}
double Backend::sum_squares(const float* x, std::int64_t n) {
  return read_reduction(*this, x, n, ReduceOp::sum_squares);
}
std::int64_t Backend::count_nonfinite(const float* x, std::int64_t n) {
  return static_cast<std::int64_t>(read_reduction(*this, x, n, ReduceOp::count_nonfinite));
}

}  // namespace ft
