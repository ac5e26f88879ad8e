// One element of each optimizer step, written once for the CPU loops and the GPU kernels
// (FT_HOST_DEVICE, ftengine/host_device.hpp), so every backend steps by the same formula.
#pragma once

#include <cmath>
#include <cstdint>

#include "ftengine/host_device.hpp"

namespace ft::backends {

// AdamW's per-step constants: bc1 = 1 - beta1^step, bc2 = 1 - beta2^step (computed in
// double, then f32), decay = lr * weight_decay.
struct AdamWConstants {
  float lr, beta1, beta2, eps, decay, bc1, bc2;
};

// The constants of 1-based step `step`, on the host. 1 - beta^step cancels digits, so it is
// taken in double and then rounded to f32, as PyTorch computes it (in Python floats).
inline AdamWConstants adamw_constants(float lr, float beta1, float beta2, float eps,
                                      float weight_decay, std::int64_t step) {
  const auto bias_correction = [step](float beta) {
    return static_cast<float>(1.0 - std::pow(static_cast<double>(beta), static_cast<double>(step)));
  };
  return AdamWConstants{
      lr, beta1, beta2, eps, lr * weight_decay, bias_correction(beta1), bias_correction(beta2)};
}

// Decoupled AdamW: m, v move toward g and g²; p decays, then steps by the bias-corrected
// ratio.
FT_HOST_DEVICE inline void adamw_element(float& p, float g, float& m, float& v,
                                         const AdamWConstants& c) {
  const float mi = c.beta1 * m + (1.0f - c.beta1) * g;
  const float vi = c.beta2 * v + (1.0f - c.beta2) * g * g;
  m = mi;
  v = vi;
  float pi = p;
  pi -= c.decay * pi;
  pi -= c.lr * (mi / c.bc1) / (sqrtf(vi / c.bc2) + c.eps);
  p = pi;
}

// SGD without momentum: p -= lr (g + wd p).
FT_HOST_DEVICE inline void sgd_element(float& p, float grad, float lr, float weight_decay) {
  p -= lr * (grad + weight_decay * p);
}

// SGD with momentum as PyTorch defines it (dampening 0): g += wd p; buf = first ? g :
// momentum buf + g; p -= lr (nesterov ? g + momentum buf : buf).
FT_HOST_DEVICE inline void sgd_momentum_element(float& p, float grad, float& buf, float lr,
                                                float momentum, float weight_decay, bool nesterov,
                                                bool first) {
  const float g = grad + weight_decay * p;
  const float b = first ? g : momentum * buf + g;
  buf = b;
  p -= lr * (nesterov ? g + momentum * b : b);
}

}  // namespace ft::backends
