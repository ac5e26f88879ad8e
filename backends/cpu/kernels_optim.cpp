// Fused multi-tensor optimizer steps and the whole-array reductions (loss sums, gradient
// norm for clipping, a finite check). Reductions accumulate in double: a gradient norm over
// a few hundred million squares loses digits in float.
#include <string>

#include "backends/common/optimizer_math.hpp"
#include "backends/cpu/kernels.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu::kernels {

namespace {
constexpr std::int64_t kParallelMin = 1 << 14;
}  // namespace

// Decoupled AdamW, in place, for each tensor (all [n]):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr wd p;
//   p -= lr (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
void adamw_step(const AdamWStepArgs& args) {
  for (std::int64_t t = 0; t < args.count; ++t) {
    const AdamWTensor& a = args.tensors[t];
    if (a.step < 1) {
      throw Error("adamw: step " + std::to_string(a.step) + " must be >= 1 (it is 1-based)");
    }
    const AdamWConstants c =
        adamw_constants(args.lr, args.beta1, args.beta2, args.eps, a.weight_decay, a.step);
    float* __restrict p = a.param;
    const float* __restrict g = a.grad;
    float* __restrict m = a.m;
    float* __restrict v = a.v;
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
    for (std::int64_t i = 0; i < a.n; ++i) adamw_element(p[i], g[i], m[i], v[i], c);
  }
}

// SGD as PyTorch defines it (dampening 0), for each tensor:
//   g += wd p;  buf = first ? g : momentum buf + g;  g = nesterov ? g + momentum buf : buf;
//   p -= lr g                              (the buffer steps only when momentum > 0)
void sgd_step(const SgdStepArgs& args) {
  const float lr = args.lr, mu = args.momentum;
  const bool nesterov = args.nesterov;
  for (std::int64_t t = 0; t < args.count; ++t) {
    const SgdTensor& a = args.tensors[t];
    float* __restrict p = a.param;
    const float* __restrict grad = a.grad;
    const float wd = a.weight_decay;
    if (mu == 0.0f) {
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) sgd_element(p[i], grad[i], lr, wd);
      continue;
    }
    if (a.momentum_buffer == nullptr) {
      throw Error("sgd: momentum " + std::to_string(mu) + " needs a momentum buffer (got none)");
    }
    float* __restrict buf = a.momentum_buffer;
    const bool first = a.first_step;
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
    for (std::int64_t i = 0; i < a.n; ++i)
      sgd_momentum_element(p[i], grad[i], buf[i], lr, mu, wd, nesterov, first);
  }
}

namespace {

// sum_i x[i], in double
double sum(const float* x, std::int64_t n) {
  double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  return s;
}

// sum_i x[i]^2, in double
double sum_squares(const float* x, std::int64_t n) {
  double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) {
    const double xi = static_cast<double>(x[i]);
    s += xi * xi;
  }
  return s;
}

// Number of NaN or Inf elements: an all-ones exponent.
std::int64_t count_nonfinite(const float* x, std::int64_t n) {
  const auto* bits = reinterpret_cast<const std::uint32_t*>(x);
  std::int64_t count = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : count) if (n >= kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) count += (bits[i] & 0x7f800000u) == 0x7f800000u;
  return count;
}

}  // namespace

// r = sum_i f(x[i]) / divisor, in double; into out64 and out32 as asked.
void reduce(const ReduceArgs& a) {
  double r = 0.0;
  switch (a.op) {
    case ReduceOp::sum:
      r = sum(a.x, a.n);
      break;
    case ReduceOp::sum_squares:
      r = sum_squares(a.x, a.n);
      break;
    case ReduceOp::count_nonfinite:
      r = static_cast<double>(count_nonfinite(a.x, a.n));
      break;
  }
  r /= a.divisor;
  if (a.out64) *a.out64 = r;
  if (a.out32) *a.out32 = static_cast<float>(r);
}

}  // namespace ft::backends::cpu::kernels
