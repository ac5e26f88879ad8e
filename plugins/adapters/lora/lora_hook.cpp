#include "plugins/adapters/lora/lora_hook.hpp"

#include <cmath>
#include <vector>

#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"
#include "ftengine/philox.hpp"

namespace ft::plugins::lora {

namespace {

// Each (micro-batch, layer) pair owns 2^32 consecutive elements of the dropout stream
// (far more than one activation holds), so no two masks of a run share random numbers.
constexpr int kDropoutWindowBits = 32;

}  // namespace

Tensor kaiming_uniform_a(std::int64_t r, std::int64_t in_features, std::uint64_t seed,
                         std::uint32_t layer_index, Backend& backend) {
  // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + a²)) = sqrt(1/3), bound =
  // gain · sqrt(3 / fan_in) = 1 / sqrt(fan_in).
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  std::vector<float> values(static_cast<std::size_t>(r * in_features));
  const auto seed_lo = static_cast<std::uint32_t>(seed),
             seed_hi = static_cast<std::uint32_t>(seed >> 32);
  for (std::size_t e = 0; e < values.size(); e += 4) {
    const std::uint64_t block = e / 4;
    const Philox4x32 bits = philox4x32_10(
        Philox4x32{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                    layer_index, kInitStream}},
        seed_lo, seed_hi);
    for (std::size_t w = 0; w < 4 && e + w < values.size(); ++w) {
      const float u = static_cast<float>(bits.v[w] >> 8) * (1.0f / 16777216.0f);  // [0, 1)
      values[e + w] = (2.0f * u - 1.0f) * bound;
    }
  }
  return Tensor::from_vector(values, {r, in_features}, backend);
}

LoraHook::LoraHook(Tensor a, Tensor b, float scale, float dropout, std::uint64_t slot,
                   std::uint64_t slots, std::shared_ptr<const AdapterForwardState> state)
    : a_(std::move(a)),
      b_(std::move(b)),
      scale_(scale),
      dropout_(dropout),
      slot_(slot),
      slots_(slots),
      state_(std::move(state)) {}

// x: [..., in] f32 -> [..., out]. The scale is applied to the rank-r product, the smallest
// tensor on the path.
Tensor LoraHook::forward(const Linear& layer, const Tensor& x) {
  Tensor y = layer.base_forward(x);
  Tensor h = x;
  if (state_->training && dropout_ > 0.0f) {
    FT_CHECK(static_cast<std::uint64_t>(x.numel()) < (std::uint64_t{1} << kDropoutWindowBits),
             "LoRA dropout: one activation exceeds its window of the random stream");
    const std::uint64_t offset = (state_->micro_batch * slots_ + slot_) << kDropoutWindowBits;
    h = ops::dropout(x, dropout_, state_->seed, offset);
  }
  const Tensor low = ops::scale(ops::linear(h, a_), scale_);  // [..., r]
  return ops::add(y, ops::linear(low, b_));
}

Tensor LoraHook::merged_weight(const Linear& layer) const {
  NoGrad no_grad;
  ops::GemmPrecision exact(DType::f32);  // a merged weight is never rounded to bf16 on the way
  const Tensor delta = ops::scale(ops::matmul(b_, a_), scale_);  // [out, r]·[r, in]
  const Tensor dense = layer.dense_weight();  // f32 when dequantised from 4 bits
  const Tensor w32 = dense.dtype() == DType::f32 ? dense : ops::cast(dense, DType::f32);
  const Tensor merged = ops::add(w32, delta);
  const DType dtype = layer.weight().dtype();
  return dtype == DType::f32 ? merged : ops::cast(merged, dtype);
}

}  // namespace ft::plugins::lora
