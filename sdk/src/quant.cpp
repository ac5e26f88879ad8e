#include "ftengine/quant.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ftengine/error.hpp"

namespace ft {

namespace {

constexpr std::array<float, 16> kNf4 = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f};

// bitsandbytes' FP4 (bit 3 the sign; e2m1 with its own bias): dDequantizeFP4Tree.
constexpr std::array<float, 16> kFp4 = {
    0.0f,         0.005208333333f, 0.6666666667f,  1.0f,          0.3333333333f, 0.5f,
    0.1666666667f, 0.25f,          -0.0f,          -0.005208333333f, -0.6666666667f, -1.0f,
    -0.3333333333f, -0.5f,         -0.1666666667f, -0.25f};

std::array<float, 256> make_dynamic_map() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for each exponent
  // i, 2^i linearly spaced fractions (midpoints of linspace(0.1, 1, 2^i + 1)) times
  // 10^(i - 6), both signs; then 0 and 1. Computed in double and rounded once (torch
  // computes in float32, so the last bit of a value may differ).
  std::vector<double> values;
  for (int i = 0; i < 7; ++i) {
    const int items = (1 << i) + 1;
    const double scale = std::pow(10.0, i - 6);
    for (int k = 0; k + 1 < items; ++k) {
      const double lo = 0.1 + 0.9 * k / (items - 1), hi = 0.1 + 0.9 * (k + 1) / (items - 1);
      const double mean = (lo + hi) / 2.0;
      values.push_back(scale * mean);
      values.push_back(-scale * mean);
    }
  }
  values.push_back(0.0);
  values.push_back(1.0);
  std::sort(values.begin(), values.end());
  std::array<float, 256> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(values[i]);
  return out;
}

// Index of the table entry nearest to v; ties to the lower index.
std::uint8_t nearest(const float* table, int size, float v) {
  int best = 0;
  float best_distance = std::abs(v - table[0]);
  for (int c = 1; c < size; ++c) {
    const float d = std::abs(v - table[c]);
    if (d < best_distance) best = c, best_distance = d;
  }
  return static_cast<std::uint8_t>(best);
}

// The same for a sorted table, by binary search: the first entry not below v, or the one
// before it when that is at least as near (ties to the lower index).
std::uint8_t nearest_sorted(const float* table, int size, float v) {
  const float* hi = std::lower_bound(table, table + size, v);
  if (hi == table) return 0;
  if (hi == table + size) return static_cast<std::uint8_t>(size - 1);
  const float* lo = hi - 1;
  return static_cast<std::uint8_t>((v - *lo <= *hi - v ? lo : hi) - table);
}

}  // namespace

std::string_view quant_type_name(QuantType type) { return type == QuantType::fp4 ? "fp4" : "nf4"; }

const std::array<float, 16>& quant_code_table(QuantType type) {
  return type == QuantType::fp4 ? kFp4 : kNf4;
}

const std::array<float, 256>& dynamic_map() {
  static const std::array<float, 256> map = make_dynamic_map();
  return map;
}

float Quantized4bit::block_absmax(std::int64_t block) const {
  const auto b = static_cast<std::size_t>(block);
  if (!double_quant) return absmax[b];
  return dynamic_map()[absmax_codes[b]] * absmax_scales[b / kDoubleQuantBlock] + absmax_offset;
}

std::size_t Quantized4bit::stored_bytes() const {
  return packed.size() + (double_quant ? absmax_codes.size() + 4 * absmax_scales.size() + 4
                                       : 4 * absmax.size());
}

Quantized4bit quantize_4bit(const float* w, std::int64_t rows, std::int64_t cols,
                            const Quant4bitOptions& options) {
  const std::int64_t bs = options.block_size;
  if (bs < 32 || bs > 256 || bs % 2 != 0)
    throw Error(fmt::format("4-bit quantisation: block_size must be even and in 32..256, found {}",
                            bs));
  if (rows <= 0 || cols <= 0)
    throw Error(fmt::format("4-bit quantisation: empty weight [{}, {}]", rows, cols));
  Quantized4bit q;
  q.type = options.type;
  q.rows = rows, q.cols = cols, q.block_size = bs;
  q.double_quant = options.double_quant;
  const std::int64_t n = rows * cols, blocks = q.blocks();
  q.packed.assign(static_cast<std::size_t>((n + 1) / 2), 0);
  std::vector<float> absmax(static_cast<std::size_t>(blocks));

  const std::array<float, 16>& table = quant_code_table(q.type);
  const bool sorted = q.type == QuantType::nf4;
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t begin = b * bs, end = std::min(n, begin + bs);
    float m = 0.0f;
    for (std::int64_t i = begin; i < end; ++i) {
      if (!std::isfinite(w[i]))
        throw Error(fmt::format("4-bit quantisation: element {} (row {}, column {}) is {}", i,
                                i / cols, i % cols, w[i]));
      m = std::max(m, std::abs(w[i]));
    }
    absmax[static_cast<std::size_t>(b)] = m;
    const float inverse = m > 0.0f ? 1.0f / m : 0.0f;
    for (std::int64_t i = begin; i < end; ++i) {
      const float v = w[i] * inverse;
      const std::uint8_t code =
          sorted ? nearest_sorted(table.data(), 16, v) : nearest(table.data(), 16, v);
      std::uint8_t& byte = q.packed[static_cast<std::size_t>(i / 2)];
      byte |= (i % 2 == 0) ? static_cast<std::uint8_t>(code << 4) : code;
    }
  }

  if (!q.double_quant) {
    q.absmax = std::move(absmax);
    return q;
  }
  // Double quantisation: centre the absmaxes on their mean, then 8-bit dynamic codes in
  // blocks of 256 with the block's largest magnitude as scale.
  const double mean =
      std::accumulate(absmax.begin(), absmax.end(), 0.0) / static_cast<double>(absmax.size());
  q.absmax_offset = static_cast<float>(mean);
  const std::array<float, 256>& map = dynamic_map();
  const std::int64_t groups = (blocks + kDoubleQuantBlock - 1) / kDoubleQuantBlock;
  q.absmax_codes.resize(static_cast<std::size_t>(blocks));
  q.absmax_scales.resize(static_cast<std::size_t>(groups));
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t begin = g * kDoubleQuantBlock, end = std::min(blocks, begin + kDoubleQuantBlock);
    float scale = 0.0f;
    for (std::int64_t b = begin; b < end; ++b)
      scale = std::max(scale, std::abs(absmax[static_cast<std::size_t>(b)] - q.absmax_offset));
    q.absmax_scales[static_cast<std::size_t>(g)] = scale;
    for (std::int64_t b = begin; b < end; ++b) {
      const float centred = absmax[static_cast<std::size_t>(b)] - q.absmax_offset;
      const float v = scale > 0.0f ? centred / scale : 0.0f;
      q.absmax_codes[static_cast<std::size_t>(b)] = nearest_sorted(map.data(), 256, v);
    }
  }
  return q;
}

void dequantize_4bit(const Quantized4bit& q, float* out) {
  const std::array<float, 16>& table = quant_code_table(q.type);
  const std::int64_t n = q.numel();
  for (std::int64_t b = 0; b < q.blocks(); ++b) {
    const float absmax = q.block_absmax(b);
    const std::int64_t begin = b * q.block_size, end = std::min(n, begin + q.block_size);
    for (std::int64_t i = begin; i < end; ++i) {
      const std::uint8_t byte = q.packed[static_cast<std::size_t>(i / 2)];
      out[i] = table[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0f)] * absmax;
    }
  }
}

}  // namespace ft
