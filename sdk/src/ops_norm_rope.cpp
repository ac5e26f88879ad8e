// rmsnorm and rotary position embedding. Forward and backward side by side.
#include <cmath>
#include <numbers>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

namespace {

// y = x * rstd * w;  saves rstd per row for the backward (formulas in backend.hpp).
class RmsNormNode : public Node {
 public:
  RmsNormNode(Tensor x, Tensor w, Tensor rstd)
      : x_(std::move(x)), w_(std::move(w)), rstd_(std::move(rstd)) {}
  std::string_view name() const override { return "rmsnorm"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Backend& be = dy.backend();
    const std::int64_t dim = w_.dim(0);
    // dx is always computed by the kernel (it is cheap and shares the row reductions).
    Tensor dx = detail::empty_f32(x_.shape(), be);
    detail::GradTarget dw;
    if (needs_grad(1)) {
      dw = detail::grad_target(*this, 1, w_.shape(), be);
      if (dw.fresh()) be.fill_zero(dw.tensor.data(), dw.tensor.nbytes());
    }
    RmsNormBackwardArgs args;
    args.x = x_.f32();
    args.weight = w_.data();
    args.weight_dtype = w_.dtype();
    args.rstd = rstd_.f32();
    args.dy = dy.f32();
    args.dx = dx.f32();
    args.d_weight = needs_grad(1) ? dw.tensor.f32() : nullptr;
    args.rows = x_.numel() / dim;
    args.dim = dim;
    be.rmsnorm_backward(args);
    return {needs_grad(0) ? dx : Tensor(), needs_grad(1) && dw.fresh() ? dw.tensor : Tensor()};
  }
  void release() override {
    x_ = Tensor();
    w_ = Tensor();
    rstd_ = Tensor();
  }

 private:
  Tensor x_, w_, rstd_;
};

// The rotation is orthogonal, so its vector-Jacobian product is the inverse rotation.
class RopeNode : public Node {
 public:
  RopeNode(Tensor positions, Tensor inv_freq)
      : positions_(std::move(positions)), inv_freq_(std::move(inv_freq)) {}
  std::string_view name() const override { return "rope"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = detail::empty_f32(dy.shape(), dy.backend());
    RopeArgs args;
    args.x = dy.f32();
    args.out = dx.f32();
    args.positions = positions_.i32();
    args.inv_freq = inv_freq_.f32();
    args.n_tokens = dy.dim(0) * dy.dim(1);
    args.heads = dy.dim(2);
    args.head_dim = dy.dim(3);
    args.inverse = true;
    dy.backend().rope(args);
    return {dx};
  }
  void release() override {
    positions_ = Tensor();
    inv_freq_ = Tensor();
  }

 private:
  Tensor positions_;
  Tensor inv_freq_;
};

}  // namespace

Tensor rmsnorm(const Tensor& x, const Tensor& weight, float eps) {
  constexpr std::string_view op = "rmsnorm";
  detail::require_dtype(x, DType::f32, op, "input");
  detail::require_weight(weight, op, "weight");
  detail::require_same_backend(x, weight, op);
  require(weight.ndim() == 1 && x.ndim() >= 1 && x.dim(-1) == weight.dim(0), op,
          "weight {} does not match input {}", shape_str(weight.shape()), shape_str(x.shape()));
  require(eps > 0.0f, op, "eps must be > 0, found {}", eps);
  Backend& be = x.backend();
  const std::int64_t dim = weight.dim(0), rows = x.numel() / std::max<std::int64_t>(dim, 1);
  Tensor y = detail::empty_f32(x.shape(), be);
  Tensor rstd = detail::empty_f32({rows}, be);
  RmsNormForwardArgs args;
  args.x = x.f32();
  args.weight = weight.data();
  args.weight_dtype = weight.dtype();
  args.y = y.f32();
  args.rstd = rstd.f32();
  args.rows = rows;
  args.dim = dim;
  args.eps = eps;
  be.rmsnorm_forward(args);
  if (!any_requires_grad({&x, &weight})) return y;
  return detail::record(y, std::make_shared<RmsNormNode>(x, weight, rstd), {&x, &weight});
}

// As transformers' ROPE_INIT_FUNCTIONS compute it, in f32.
std::vector<float> rope_inv_freq(std::int64_t head_dim, float theta, const RopeScaling& scaling) {
  if (head_dim <= 0 || head_dim % 2 != 0)
    throw Error("rope: head_dim must be a positive even number, found " + std::to_string(head_dim));
  if (!(theta > 0.0f)) throw Error("rope: rope_theta must be > 0");
  std::vector<float> inv_freq(head_dim / 2);
  for (std::int64_t i = 0; i < head_dim / 2; ++i)
    inv_freq[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));

  if (scaling.type == "default") return inv_freq;
  if (!(scaling.factor > 0.0f)) throw Error("rope_scaling: factor must be > 0");
  if (scaling.type == "linear") {
    for (float& f : inv_freq) f /= scaling.factor;
    return inv_freq;
  }
  if (scaling.type == "llama3") {
    // Long wavelengths are slowed by `factor`, short ones kept, and the band between
    // interpolated smoothly (Llama 3.1's long-context recipe).
    if (!(scaling.high_freq_factor > scaling.low_freq_factor))
      throw Error("rope_scaling (llama3): high_freq_factor must exceed low_freq_factor");
    const float old_len = static_cast<float>(scaling.original_max_position_embeddings);
    const float low_freq_wavelen = old_len / scaling.low_freq_factor;
    const float high_freq_wavelen = old_len / scaling.high_freq_factor;
    for (float& f : inv_freq) {
      const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
      if (wavelen > low_freq_wavelen) {
        f = f / scaling.factor;
      } else if (wavelen >= high_freq_wavelen) {
        const float smooth = (old_len / wavelen - scaling.low_freq_factor) /
                             (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1.0f - smooth) * f / scaling.factor + smooth * f;
      }
    }
    return inv_freq;
  }
  throw Error("rope_scaling: unknown type \"" + scaling.type +
              "\": expected \"default\", \"linear\" or \"llama3\"");
}

Tensor rope(const Tensor& x, const Tensor& positions, const Tensor& inv_freq) {
  constexpr std::string_view op = "rope";
  detail::require_dtype(x, DType::f32, op, "input");
  detail::require_dtype(positions, DType::i32, op, "positions");
  detail::require_dtype(inv_freq, DType::f32, op, "inv_freq");
  detail::require_same_backend(x, inv_freq, op);
  require(x.ndim() == 4, op, "input must be [batch, seq, heads, head_dim], found {}",
          shape_str(x.shape()));
  require(positions.shape() == Shape({x.dim(0), x.dim(1)}), op,
          "positions must be [{}, {}], found {}", x.dim(0), x.dim(1), shape_str(positions.shape()));
  require(inv_freq.numel() * 2 == x.dim(3), op, "{} frequencies for head_dim {}", inv_freq.numel(),
          x.dim(3));
  Tensor out = detail::empty_f32(x.shape(), x.backend());
  RopeArgs args;
  args.x = x.f32();
  args.out = out.f32();
  args.positions = positions.i32();
  args.inv_freq = inv_freq.f32();
  args.n_tokens = x.dim(0) * x.dim(1);
  args.heads = x.dim(2);
  args.head_dim = x.dim(3);
  x.backend().rope(args);
  if (!any_requires_grad({&x})) return out;
  return detail::record(out, std::make_shared<RopeNode>(positions, inv_freq), {&x});
}

}  // namespace ft::ops
