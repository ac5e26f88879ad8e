// 4-bit block quantisation (NF4/FP4) with optional double-quantised absmaxes, laid out as
// bitsandbytes lays it out. See ftengine/quant.hpp for the format.
//
// Nearest code: v = w * (1 / absmax) (bitsandbytes multiplies by the reciprocal too), and
// the code is the table entry nearest to v in exact arithmetic, ties to the lower code.
// Rather than comparing distances per element we precompute, for each pair of neighbours
// in the sorted table, a float threshold t with "v > t  <=>  the upper neighbour wins":
// the exact midpoint m = (lo + hi) / 2 is formed in double (exact for floats), then
//   upper wins iff v > m   (lower neighbour has the lower code)  ->  t = largest float <= m
//   upper wins iff v >= m  (upper neighbour has the lower code)  ->  t = largest float <  m
// The sorted index is then the count of thresholds below v: 15 compares that vectorise,
// equal to a brute-force search over all 16 entries (tested on random values).
#include "ftengine/quant.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "ftengine/error.hpp"

namespace ft {

namespace {

// bitsandbytes' create_normal_map(), as float32 (its dDequantizeNF4 literals).
constexpr std::array<float, 16> kNf4 = {-1.0f,
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

// bitsandbytes' FP4 as dDequantizeFP4Tree returns it: bit 3 the sign, the low three bits
// an e2m1 magnitude with bitsandbytes' own bias, normalised so that code 3 is 1.0.
// Code 8 is -0.0; it equals code 0, which wins the tie, so quantisation never emits it.
constexpr std::array<float, 16> kFp4 = {
    0.0f,  0.005208333333f,  0.6666666667f,  1.0f,  0.3333333333f,  0.5f,  0.1666666667f,  0.25f,
    -0.0f, -0.005208333333f, -0.6666666667f, -1.0f, -0.3333333333f, -0.5f, -0.1666666667f, -0.25f};

std::array<float, 256> make_dynamic_map() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for i in 0..6,
  // the 2^i midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i - 6), both signs (254
  // values); then 0 and 1; sorted. Computed in double and rounded once; torch computes
  // linspace and the midpoints in float32, so the last bit of a value may differ.
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
  FT_CHECK(values.size() == 256, "dynamic map size");
  std::array<float, 256> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(values[i]);
  return out;
}

// The float t such that, for every float v, v > t exactly when v is nearer to `hi` than to
// `lo`, or as near and `upper_wins_tie` (see the top of the file). Requires lo < hi.
float threshold_between(float lo, float hi, bool upper_wins_tie) {
  const double m = (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0;
  float t = static_cast<float>(m);
  if (upper_wins_tie) {
    if (static_cast<double>(t) >= m) t = std::nextafter(t, -std::numeric_limits<float>::infinity());
  } else {
    if (static_cast<double>(t) > m) t = std::nextafter(t, -std::numeric_limits<float>::infinity());
  }
  return t;
}

// A 4-bit table prepared for the nearest search: its distinct values sorted, the
// thresholds between neighbours (padded with +inf to 15), and the code of each sorted slot.
struct CodeSearch {
  std::array<float, 15> thresholds{};
  std::array<std::uint8_t, 16> code_of_slot{};
  bool identity = true;  // code == slot (NF4: the table is sorted)
};

CodeSearch make_code_search(const std::array<float, 16>& table) {
  // Slots in value order; equal values (FP4's +0 and -0) keep only the lower code.
  std::array<std::uint8_t, 16> order{};
  std::iota(order.begin(), order.end(), std::uint8_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint8_t a, std::uint8_t b) { return table[a] < table[b]; });
  std::vector<std::uint8_t> slots;
  for (std::uint8_t c : order) {
    if (!slots.empty() && table[slots.back()] == table[c]) {
      slots.back() = std::min(slots.back(), c);
      continue;
    }
    slots.push_back(c);
  }
  CodeSearch s;
  s.thresholds.fill(std::numeric_limits<float>::infinity());
  for (std::size_t k = 0; k < slots.size(); ++k) {
    s.code_of_slot[k] = slots[k];
    if (slots[k] != k) s.identity = false;
    if (k + 1 < slots.size())
      s.thresholds[k] =
          threshold_between(table[slots[k]], table[slots[k + 1]], slots[k + 1] < slots[k]);
  }
  return s;
}

const CodeSearch& code_search(QuantType type) {
  static const CodeSearch nf4 = make_code_search(kNf4);
  static const CodeSearch fp4 = make_code_search(kFp4);
  return type == QuantType::fp4 ? fp4 : nf4;
}

// The 255 thresholds between neighbours of the dynamic map (sorted, so the lower index,
// which is the lower value, wins ties), padded with +inf to 256 for a branch-free search.
const std::array<float, 256>& dynamic_map_thresholds() {
  static const std::array<float, 256> thresholds = [] {
    const std::array<float, 256>& map = dynamic_map();
    std::array<float, 256> t{};
    for (std::size_t k = 0; k + 1 < map.size(); ++k)
      t[k] = threshold_between(map[k], map[k + 1], false);
    t[255] = std::numeric_limits<float>::infinity();
    return t;
  }();
  return thresholds;
}

// The count of thresholds below v, i.e. the nearest code (at most 255: the pad is +inf).
std::uint8_t nearest_dynamic_code(float v) {
  const float* t = dynamic_map_thresholds().data();
  std::size_t index = 0;
  for (std::size_t step = 128; step > 0; step /= 2) index += t[index + step - 1] < v ? step : 0;
  return static_cast<std::uint8_t>(index);
}

[[noreturn]] void throw_non_finite(const float* w, std::int64_t begin, std::int64_t end,
                                   std::int64_t cols) {
  for (std::int64_t i = begin; i < end; ++i)
    if (!std::isfinite(w[i]))
      throw Error(fmt::format("4-bit quantisation: element {} (row {}, column {}) is {}", i,
                              i / cols, i % cols, w[i]));
  FT_CHECK(false, "a non-finite block without a non-finite element");
}

// x: [len] -> codes of x[i] * inverse into slot[len] (sorted-table slots). len <= 256.
void nearest_slots(const float* __restrict x, std::int64_t len, float inverse,
                   const std::array<float, 15>& thresholds, std::uint8_t* __restrict slot) {
  float t[15];
  std::copy(thresholds.begin(), thresholds.end(), t);
  for (std::int64_t i = 0; i < len; ++i) {
    const float v = x[i] * inverse;
    int count = 0;
    for (int k = 0; k < 15; ++k) count += v > t[k] ? 1 : 0;
    slot[i] = static_cast<std::uint8_t>(count);
  }
}

void check_layout(const Quantized4bit& q) {
  const auto blocks = static_cast<std::size_t>(q.blocks());
  FT_CHECK(q.packed.size() == static_cast<std::size_t>((q.numel() + 1) / 2), "packed size");
  if (q.double_quant) {
    FT_CHECK(q.absmax_codes.size() == blocks, "absmax_codes size");
    FT_CHECK(q.absmax_scales.size() ==
                 (blocks + kDoubleQuantBlock - 1) / static_cast<std::size_t>(kDoubleQuantBlock),
             "absmax_scales size");
  } else {
    FT_CHECK(q.absmax.size() == blocks, "absmax size");
  }
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
  return packed.size() +
         (double_quant ? absmax_codes.size() + 4 * absmax_scales.size() + 4 : 4 * absmax.size());
}

Quantized4bit quantize_4bit(const float* w, std::int64_t rows, std::int64_t cols,
                            const Quant4bitOptions& options) {
  const std::int64_t bs = options.block_size;
  if (bs < 32 || bs > 256 || bs % 2 != 0)
    throw Error(fmt::format(
        "4-bit quantisation: block_size must be even and in 32..256, found {} (bitsandbytes' "
        "default is 64)",
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

  // One pass per block: absmax (and a finiteness check), then slots, then packed bytes.
  // Blocks start at even indices (bs is even), so a block owns whole bytes.
  const CodeSearch& search = code_search(q.type);
  std::uint8_t slot[256];
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t begin = b * bs, len = std::min(n - begin, bs);
    const float* __restrict x = w + begin;
    // absmax as the largest |x| bit pattern: for non-negative floats the integer order is
    // the float order, and Inf and NaN are the patterns from 0x7f800000 up, so one integer
    // max (which vectorises, unlike a float max without -ffast-math) also finds them.
    std::uint32_t max_bits = 0;
    for (std::int64_t i = 0; i < len; ++i)
      max_bits = std::max(max_bits, std::bit_cast<std::uint32_t>(x[i]) & 0x7fffffffu);
    if (max_bits >= 0x7f800000u) throw_non_finite(w, begin, begin + len, cols);
    const float m = std::bit_cast<float>(max_bits);
    absmax[static_cast<std::size_t>(b)] = m;
    // An all-zero block: every v is 0, the code of 0.0.
    nearest_slots(x, len, m > 0.0f ? 1.0f / m : 0.0f, search.thresholds, slot);
    if (!search.identity)
      for (std::int64_t i = 0; i < len; ++i) slot[i] = search.code_of_slot[slot[i]];
    if (len % 2 != 0) slot[len] = 0;  // odd numel: the last low nibble is 0
    std::uint8_t* __restrict out = q.packed.data() + begin / 2;
    for (std::int64_t j = 0; j < (len + 1) / 2; ++j)
      out[j] = static_cast<std::uint8_t>((slot[2 * j] << 4) | slot[2 * j + 1]);
  }

  if (!q.double_quant) {
    q.absmax = std::move(absmax);
    return q;
  }
  // Double quantisation: centre the absmaxes on their mean (summed in double), then 8-bit
  // dynamic codes in blocks of 256 with the block's largest magnitude as scale; like
  // bitsandbytes, values are multiplied by the reciprocal of the scale. A scale of 0 (all
  // absmaxes equal) maps every value to the code of 0.0.
  const double mean =
      std::accumulate(absmax.begin(), absmax.end(), 0.0) / static_cast<double>(absmax.size());
  q.absmax_offset = static_cast<float>(mean);
  const std::int64_t groups = (blocks + kDoubleQuantBlock - 1) / kDoubleQuantBlock;
  q.absmax_codes.resize(static_cast<std::size_t>(blocks));
  q.absmax_scales.resize(static_cast<std::size_t>(groups));
  for (std::int64_t g = 0; g < groups; ++g) {
    const std::int64_t begin = g * kDoubleQuantBlock,
                       end = std::min(blocks, begin + kDoubleQuantBlock);
    float scale = 0.0f;
    for (std::int64_t b = begin; b < end; ++b)
      scale = std::max(scale, std::abs(absmax[static_cast<std::size_t>(b)] - q.absmax_offset));
    q.absmax_scales[static_cast<std::size_t>(g)] = scale;
    const float inverse = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (std::int64_t b = begin; b < end; ++b) {
      const float centred = absmax[static_cast<std::size_t>(b)] - q.absmax_offset;
      q.absmax_codes[static_cast<std::size_t>(b)] = nearest_dynamic_code(centred * inverse);
    }
  }
  return q;
}

void dequantize_4bit(const Quantized4bit& q, float* out) {
  check_layout(q);
  const std::array<float, 16>& table = quant_code_table(q.type);
  const std::int64_t n = q.numel(), bs = q.block_size;
  float scaled[16];
  for (std::int64_t b = 0; b < q.blocks(); ++b) {
    const float absmax = q.block_absmax(b);
    for (int c = 0; c < 16; ++c) scaled[c] = table[static_cast<std::size_t>(c)] * absmax;
    const std::int64_t begin = b * bs, len = std::min(n - begin, bs);
    const std::uint8_t* bytes = q.packed.data() + begin / 2;
    float* y = out + begin;
    for (std::int64_t j = 0; j < len / 2; ++j) {
      y[2 * j] = scaled[bytes[j] >> 4];
      y[2 * j + 1] = scaled[bytes[j] & 0x0f];
    }
    if (len % 2 != 0) y[len - 1] = scaled[bytes[len / 2] >> 4];
  }
}

}  // namespace ft
