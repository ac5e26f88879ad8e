// Softmax cross-entropy on a chunk of logits (the LM head's output for a slice of tokens),
// forward and backward. Numerically stable: exponents are taken after subtracting the
// row's maximum, so no exp overflows for any finite logits.
#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cpu/kernels.hpp"
#include "backends/cpu/simd.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu::kernels {

namespace {

void check_targets(const std::int32_t* targets, std::int64_t rows, std::int64_t vocab,
                   std::int32_t ignore_index) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int32_t t = targets[r];
    if (t != ignore_index && (t < 0 || t >= vocab)) {
      throw Error("cross_entropy: row " + std::to_string(r) + " has target " + std::to_string(t) +
                  ", outside the vocabulary [0, " + std::to_string(vocab) +
                  ") and not the ignore index " + std::to_string(ignore_index));
    }
  }
}

}  // namespace

// logits: [R, V], targets: [R] -> loss: [R], lse: [R]
//   m = max_v logits[r, v];  lse[r] = m + log sum_v exp(logits[r, v] - m)
//   loss[r] = lse[r] - logits[r, targets[r]]    (0 where targets[r] == ignore_index)
void cross_entropy_forward(const CrossEntropyForwardArgs& a) {
  check_targets(a.targets, a.rows, a.vocab, a.ignore_index);
#pragma omp parallel for schedule(static) if (a.rows * a.vocab >= (1 << 15))
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* row = a.logits + r * a.vocab;
    const float m = max_of(row, a.vocab);
    const float lse = m + std::log(exp_affine_sum(row, 1.0f, m, nullptr, a.vocab));
    a.lse[r] = lse;
    const std::int32_t t = a.targets[r];
    a.loss[r] = t == a.ignore_index ? 0.0f : lse - row[t];
  }
}

// In place: logits[r, v] <- s * (exp(logits[r, v] - lse[r]) - [v == targets[r]]),
// s = grad_scale * d_loss[0]; the whole row 0 where targets[r] == ignore_index.
void cross_entropy_backward(const CrossEntropyBackwardArgs& a) {
  check_targets(a.targets, a.rows, a.vocab, a.ignore_index);
  const float scale = a.d_loss ? a.grad_scale * a.d_loss[0] : a.grad_scale;
#pragma omp parallel for schedule(static) if (a.rows * a.vocab >= (1 << 15))
  for (std::int64_t r = 0; r < a.rows; ++r) {
    float* __restrict row = a.logits + r * a.vocab;
    const std::int32_t t = a.targets[r];
    if (t == a.ignore_index) {
      std::fill(row, row + a.vocab, 0.0f);
      continue;
    }
    exp_affine_sum(row, 1.0f, a.lse[r], row, a.vocab);  // softmax probabilities
    row[t] -= 1.0f;
    for (std::int64_t v = 0; v < a.vocab; ++v) row[v] *= scale;
  }
}

}  // namespace ft::backends::cpu::kernels
