// The language-model loss fused with the LM head, a chunk of rows at a time:
//   logits = h · Wᵀ  ([rows, vocab], one chunk only ever alive)
//   loss_r = lse_r - logits[r, target_r]
//   dlogits = scale * (softmax - onehot);  dh = dlogits · W;  dW += dlogitsᵀ · h
// [tokens × vocab] is never kept. Where the head trains too, the backward recomputes each
// chunk's logits. Where only h needs a gradient (a frozen head: LoRA, QLoRA), the forward
// does each chunk's backward while its logits exist, for a unit incoming gradient, and the
// backward only scales that dh by the gradient it brings: one GEMM over the head a token
// instead of two.
#include <algorithm>

#include "ops_common.hpp"

namespace ft::ops {

using detail::require;

namespace {

// The default is about 32 MiB of logits, in a multiple of 64 rows: oneDNN's AMX bf16 kernels
// ran the head at half rate on 262 rows (1100 vs 510 GFLOP/s on 256 and 262 rows of a 32000
// vocabulary, 2 threads); f32 is indifferent.
std::int64_t pick_chunk_rows(std::int64_t requested, std::int64_t rows, std::int64_t vocab) {
  constexpr std::int64_t kChunkBytes = 32 << 20, kRowMultiple = 64;
  std::int64_t chunk = requested;
  if (chunk <= 0) {
    chunk = kChunkBytes / (4 * std::max<std::int64_t>(vocab, 1));
    if (chunk > kRowMultiple) chunk -= chunk % kRowMultiple;
  }
  return std::clamp<std::int64_t>(chunk, 1, std::max<std::int64_t>(rows, 1));
}

// logits[n, vocab] = h[row0 : row0 + n] · Wᵀ
void chunk_logits(Backend& be, const Tensor& hidden, const Tensor& head, std::int64_t row0,
                  std::int64_t n, const Tensor& logits, DType compute) {
  const std::int64_t dim = head.dim(1);
  GemmArgs g;
  g.a = hidden.f32() + row0 * dim;
  g.b = head.data();
  g.b_dtype = head.dtype();
  g.trans_b = true;
  g.c = logits.f32();
  g.m = n, g.n = head.dim(0), g.k = dim;
  g.compute = compute;
  be.gemm(g);
}

// In place: logits[n, vocab] <- d_loss / divisor * (softmax - onehot) for rows
// [row0, row0 + n) (d_loss in backend memory, or 1 when null).
void chunk_dlogits(Backend& be, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                   std::int64_t row0, std::int64_t n, std::int32_t ignore_index, double divisor,
                   const float* d_loss) {
  CrossEntropyBackwardArgs xb;
  xb.logits = logits.f32();
  xb.lse = lse.f32() + row0;
  xb.targets = targets.i32() + row0;
  xb.rows = n, xb.vocab = logits.dim(1);
  xb.ignore_index = ignore_index;
  xb.grad_scale = divisor > 0 ? static_cast<float>(1.0 / divisor) : 0.0f;
  xb.d_loss = d_loss;
  be.cross_entropy_backward(xb);
}

// dh[row0 : row0 + n] = dlogits[n, vocab] · W[vocab, dim]
void chunk_dh(Backend& be, const Tensor& dlogits, const Tensor& head, std::int64_t row0,
              std::int64_t n, const Tensor& dh, DType compute) {
  const std::int64_t dim = head.dim(1);
  GemmArgs g;
  g.a = dlogits.f32();
  g.b = head.data();
  g.b_dtype = head.dtype();
  g.c = dh.f32() + row0 * dim;
  g.m = n, g.n = dim, g.k = head.dim(0);
  g.compute = compute;
  be.gemm(g);
}

class CrossEntropyNode : public Node {
 public:
  CrossEntropyNode(Tensor hidden, Tensor head, Tensor targets, Tensor lse, std::int64_t chunk,
                   double divisor, std::int32_t ignore_index, DType compute)
      : hidden_(std::move(hidden)),
        head_(std::move(head)),
        targets_(std::move(targets)),
        lse_(std::move(lse)),
        chunk_(chunk),
        divisor_(divisor),
        ignore_index_(ignore_index),
        compute_(compute) {}
  std::string_view name() const override { return "cross_entropy"; }

  std::vector<Tensor> backward(const Tensor& d_loss) override {
    Backend& be = d_loss.backend();
    const std::int64_t vocab = head_.dim(0), dim = head_.dim(1);
    const std::int64_t rows = hidden_.numel() / dim;
    Tensor dh = needs_grad(0) ? detail::empty_f32(hidden_.shape(), be) : Tensor();
    detail::GradTarget dw;
    if (needs_grad(1)) dw = detail::grad_target(*this, 1, head_.shape(), be);
    Tensor logits = detail::empty_f32({chunk_, vocab}, be);
    for (std::int64_t row0 = 0; row0 < rows; row0 += chunk_) {
      const std::int64_t n = std::min(chunk_, rows - row0);
      chunk_logits(be, hidden_, head_, row0, n, logits, compute_);
      // The incoming gradient stays on the device: the kernel reads it there.
      chunk_dlogits(be, logits, lse_, targets_, row0, n, ignore_index_, divisor_, d_loss.f32());
      if (dh.defined()) chunk_dh(be, logits, head_, row0, n, dh, compute_);
      if (dw.tensor.defined()) {
        GemmArgs g;  // dW[vocab, dim] += dlogits[n, vocab]ᵀ · h[n, dim]
        g.a = logits.f32();
        g.trans_a = true;
        g.b = hidden_.f32() + row0 * dim;
        g.c = dw.tensor.f32();
        g.m = vocab, g.n = dim, g.k = n;
        g.accumulate = dw.accumulate || row0 > 0;
        g.compute = compute_;
        be.gemm(g);
      }
    }
    return {dh, needs_grad(1) && dw.fresh() ? dw.tensor : Tensor(), Tensor()};
  }
  void release() override { hidden_ = head_ = targets_ = lse_ = Tensor(); }

 private:
  Tensor hidden_, head_, targets_, lse_;
  std::int64_t chunk_;
  double divisor_;
  std::int32_t ignore_index_;
  DType compute_;
};

// The frozen-head case: dh for a unit incoming gradient was made in forward.
//   dh = d_loss · dh_unit
class FrozenHeadCrossEntropyNode : public Node {
 public:
  explicit FrozenHeadCrossEntropyNode(Tensor dh_unit) : dh_unit_(std::move(dh_unit)) {}
  std::string_view name() const override { return "cross_entropy"; }

  std::vector<Tensor> backward(const Tensor& d_loss) override {
    Backend& be = d_loss.backend();
    Tensor dh = detail::empty_f32(dh_unit_.shape(), be);
    detail::binary(be, BinaryOp::mul, dh_unit_, d_loss, dh);  // d_loss read on the device
    return {dh, Tensor(), Tensor()};
  }
  void release() override { dh_unit_ = Tensor(); }

 private:
  Tensor dh_unit_;
};

}  // namespace

Tensor cross_entropy(const Tensor& hidden, const Tensor& lm_head, const Tensor& targets,
                     const CrossEntropyOptions& options) {
  constexpr std::string_view op = "cross_entropy";
  detail::require_dtype(hidden, DType::f32, op, "hidden");
  detail::require_weight(lm_head, op, "lm_head");
  detail::require_dtype(targets, DType::i32, op, "targets");
  detail::require_same_backend(hidden, lm_head, op);
  require(lm_head.ndim() == 2 && hidden.ndim() >= 1 && hidden.dim(-1) == lm_head.dim(1), op,
          "hidden {} does not match lm_head {}", shape_str(hidden.shape()),
          shape_str(lm_head.shape()));
  const std::int64_t vocab = lm_head.dim(0), dim = lm_head.dim(1);
  const std::int64_t rows = hidden.numel() / std::max<std::int64_t>(dim, 1);
  require(targets.numel() == rows, op, "{} targets for {} rows of hidden {}", targets.numel(), rows,
          shape_str(hidden.shape()));
  Backend& be = hidden.backend();
  const std::int64_t chunk = pick_chunk_rows(options.chunk_rows, rows, vocab);
  const DType compute = gemm_precision();

  // The mean's divisor is counted on the host (a read of the targets); the sum, which
  // training uses, never waits for the device.
  double divisor = 1.0;
  if (options.reduction == Reduction::mean) {
    const std::vector<std::int32_t> host_targets = targets.to_ints();
    divisor = static_cast<double>(
        std::count_if(host_targets.begin(), host_targets.end(),
                      [&](std::int32_t t) { return t != options.ignore_index; }));
  }
  const bool frozen_head = grad_enabled() && hidden.requires_grad() && !lm_head.requires_grad();

  Tensor loss_rows = detail::empty_f32({rows}, be);
  Tensor lse = detail::empty_f32({rows}, be);
  Tensor logits = detail::empty_f32({chunk, vocab}, be);
  Tensor dh_unit = frozen_head ? detail::empty_f32(hidden.shape(), be) : Tensor();
  for (std::int64_t row0 = 0; row0 < rows; row0 += chunk) {
    const std::int64_t n = std::min(chunk, rows - row0);
    chunk_logits(be, hidden, lm_head, row0, n, logits, compute);
    CrossEntropyForwardArgs xf;
    xf.logits = logits.f32();
    xf.targets = targets.i32() + row0;
    xf.loss = loss_rows.f32() + row0;
    xf.lse = lse.f32() + row0;
    xf.rows = n, xf.vocab = vocab;
    xf.ignore_index = options.ignore_index;
    be.cross_entropy_forward(xf);
    if (frozen_head) {  // for a unit incoming gradient
      chunk_dlogits(be, logits, lse, targets, row0, n, options.ignore_index, divisor, nullptr);
      chunk_dh(be, logits, lm_head, row0, n, dh_unit, compute);
    }
  }
  logits = Tensor();

  Tensor loss = Tensor::zeros({}, DType::f32, be);
  if (rows > 0 && divisor > 0) {
    ReduceArgs sum;  // loss = float(sum of the rows' losses in double / divisor)
    sum.x = loss_rows.f32();
    sum.n = rows;
    sum.divisor = divisor;
    sum.out32 = loss.f32();
    be.reduce(sum);
  }
  if (frozen_head) {
    return detail::record(loss, std::make_shared<FrozenHeadCrossEntropyNode>(dh_unit),
                          {&hidden, &lm_head, &targets});
  }
  if (!any_requires_grad({&hidden, &lm_head})) return loss;
  auto node = std::make_shared<CrossEntropyNode>(hidden, lm_head, targets, lse, chunk, divisor,
                                                 options.ignore_index, compute);
  return detail::record(loss, node, {&hidden, &lm_head, &targets});
}

}  // namespace ft::ops
