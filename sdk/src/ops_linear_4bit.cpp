// linear_4bit: a linear layer on a frozen 4-bit weight (QLoRA). Forward and backward side
// by side; the backend's gemm_4bit dequantises W tile by tile.
#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

Weight4bitView Weight4bit::view() const {
  Weight4bitView v;
  v.packed = static_cast<const std::uint8_t*>(packed.data());
  v.rows = rows, v.cols = cols, v.block_size = block_size;
  v.type = type;
  v.double_quant = double_quant;
  if (double_quant) {
    v.absmax_codes = static_cast<const std::uint8_t*>(absmax.data());
    v.absmax_scales = absmax_scales.f32();
    v.absmax_offset = absmax_offset;
  } else {
    v.absmax = absmax.f32();
  }
  return v;
}

std::size_t Weight4bit::bytes() const {
  std::size_t n = 0;
  for (const Tensor* t : {&packed, &absmax, &absmax_scales})
    if (t->defined()) n += t->nbytes();
  return n;
}

Weight4bit to_backend(const Quantized4bit& q, Backend& backend) {
  Weight4bit w;
  w.type = q.type;
  w.rows = q.rows, w.cols = q.cols, w.block_size = q.block_size;
  w.double_quant = q.double_quant;
  w.absmax_offset = q.absmax_offset;
  w.packed = Tensor::from_host(q.packed.data(), {static_cast<std::int64_t>(q.packed.size())},
                               DType::u8, backend);
  if (q.double_quant) {
    w.absmax = Tensor::from_host(q.absmax_codes.data(),
                                 {static_cast<std::int64_t>(q.absmax_codes.size())}, DType::u8,
                                 backend);
    w.absmax_scales = Tensor::from_host(q.absmax_scales.data(),
                                        {static_cast<std::int64_t>(q.absmax_scales.size())},
                                        DType::f32, backend);
  } else {
    w.absmax = Tensor::from_host(q.absmax.data(), {static_cast<std::int64_t>(q.absmax.size())},
                                 DType::f32, backend);
  }
  return w;
}

Weight4bit quantize_4bit(const Tensor& weight, const Quant4bitOptions& options) {
  require(weight.defined() && weight.ndim() == 2 && is_floating(weight.dtype()), "quantize_4bit",
          "expected a 2-D f32, bf16 or f16 weight");
  const std::vector<float> values = weight.to_vector();  // widened on the host
  return to_backend(ft::quantize_4bit(values.data(), weight.dim(0), weight.dim(1), options),
                    weight.backend());
}

Tensor dequantize_4bit(const Weight4bit& w) {
  Quantized4bit q;
  q.type = w.type;
  q.rows = w.rows, q.cols = w.cols, q.block_size = w.block_size;
  q.double_quant = w.double_quant;
  q.absmax_offset = w.absmax_offset;
  q.packed.resize(w.packed.nbytes());
  w.packed.copy_to_host(q.packed.data());
  if (w.double_quant) {
    q.absmax_codes.resize(w.absmax.nbytes());
    w.absmax.copy_to_host(q.absmax_codes.data());
    q.absmax_scales = w.absmax_scales.to_vector();
  } else {
    q.absmax = w.absmax.to_vector();
  }
  std::vector<float> values(static_cast<std::size_t>(q.numel()));
  ft::dequantize_4bit(q, values.data());
  return Tensor::from_vector(values, {w.rows, w.cols}, w.packed.backend());
}

namespace {

// y[rows, out] = x[rows, in] · Wᵀ + b
//   dx[rows, in] = dy[rows, out] · W      (W is frozen: no dW, so x is not kept)
//   db[out]     += sum_rows dy
class Linear4bitNode : public Node {
 public:
  Linear4bitNode(Shape x_shape, Weight4bit w, std::int64_t rows, DType compute)
      : x_shape_(std::move(x_shape)), w_(std::move(w)), rows_(rows), compute_(compute) {}
  std::string_view name() const override { return "linear_4bit"; }

  std::vector<Tensor> backward(const Tensor& dy) override {
    Backend& be = dy.backend();
    std::vector<Tensor> grads(2);
    if (needs_grad(0)) {
      Tensor dx = detail::empty_f32(x_shape_, be);
      Gemm4bitArgs g;
      g.a = dy.f32();
      g.c = dx.f32();
      g.m = rows_;
      g.w = w_.view();
      g.transpose_w = false;
      g.compute = compute_;
      be.gemm_4bit(g);
      grads[0] = dx;
    }
    if (needs_grad(1)) grads[1] = detail::bias_grad(*this, 1, dy, rows_, w_.rows);
    return grads;
  }
  void release() override { w_ = Weight4bit(); }

 private:
  Shape x_shape_;
  Weight4bit w_;
  std::int64_t rows_;
  DType compute_;
};

}  // namespace

Tensor linear_4bit(const Tensor& x, const Weight4bit& weight, const Tensor& bias) {
  constexpr std::string_view op = "linear_4bit";
  detail::require_dtype(x, DType::f32, op, "input");
  require(weight.packed.defined() && weight.absmax.defined(), op, "the 4-bit weight is empty");
  require(x.ndim() >= 1 && x.dim(-1) == weight.cols, op,
          "input {} does not match the 4-bit weight [{}, {}]: the last dimension must be {}",
          shape_str(x.shape()), weight.rows, weight.cols, weight.cols);
  const std::int64_t in = weight.cols, out = weight.rows;
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(in, 1);
  detail::require_bias(bias, out, op);
  Backend& be = x.backend();
  Tensor y = detail::empty_f32(detail::with_last(x.shape(), out), be);
  Gemm4bitArgs g;
  g.a = x.f32();
  g.c = y.f32();
  g.m = rows;
  g.w = weight.view();
  g.transpose_w = true;
  g.compute = gemm_precision();
  be.gemm_4bit(g);
  detail::add_bias(y, bias, rows, out);
  if (!any_requires_grad({&x, &bias})) return y;
  auto node = std::make_shared<Linear4bitNode>(x.shape(), weight, rows, g.compute);
  return detail::record(y, node, {&x, &bias});
}

}  // namespace ft::ops
