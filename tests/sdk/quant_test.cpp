// quantize_4bit / dequantize_4bit against an independent reference: the code tables and the
// dynamic map as bitsandbytes defines them, the nearest code by brute force (distances in
// double, ties to the lower code), nibble order, and the error bounds the tables imply.
#include "ftengine/quant.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ftengine/error.hpp"

namespace ft {
namespace {

// The code of element i, unpacked by hand: element 2j is the high nibble of byte j.
int code_at(const Quantized4bit& q, std::int64_t i) {
  const std::uint8_t byte = q.packed[static_cast<std::size_t>(i / 2)];
  return i % 2 == 0 ? byte >> 4 : byte & 0x0f;
}

// Brute force: the entry nearest to v, distances in double (exact for these floats),
// scanned in code order with a strict <, so ties go to the lower code.
int nearest_code_brute_force(const std::array<float, 16>& table, float v) {
  int best = 0;
  double best_distance = std::abs(static_cast<double>(v) - table[0]);
  for (int c = 1; c < 16; ++c) {
    const double d = std::abs(static_cast<double>(v) - table[static_cast<std::size_t>(c)]);
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

// Reference codes for a whole weight: per block, v = w * (1 / absmax), brute-force nearest.
std::vector<int> reference_codes(const std::vector<float>& w, std::int64_t block_size,
                                 QuantType type) {
  const std::array<float, 16>& table = quant_code_table(type);
  const auto n = static_cast<std::int64_t>(w.size());
  std::vector<int> codes(w.size());
  for (std::int64_t begin = 0; begin < n; begin += block_size) {
    const std::int64_t end = std::min(n, begin + block_size);
    float absmax = 0.0f;
    for (std::int64_t i = begin; i < end; ++i)
      absmax = std::max(absmax, std::abs(w[static_cast<std::size_t>(i)]));
    const float inverse = absmax > 0.0f ? 1.0f / absmax : 0.0f;
    for (std::int64_t i = begin; i < end; ++i)
      codes[static_cast<std::size_t>(i)] =
          nearest_code_brute_force(table, w[static_cast<std::size_t>(i)] * inverse);
  }
  return codes;
}

// Half of the widest gap between neighbouring values of a table: the most a value in
// [-1, 1] can be from its nearest entry (both tables contain -1 and 1).
float max_half_gap(QuantType type) {
  std::array<float, 16> sorted = quant_code_table(type);
  std::sort(sorted.begin(), sorted.end());
  float half_gap = 0.0f;
  for (std::size_t i = 1; i < sorted.size(); ++i)
    half_gap = std::max(half_gap, (sorted[i] - sorted[i - 1]) / 2);
  return half_gap;
}

std::vector<float> gaussian(std::size_t n, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> w(n);
  for (float& x : w) x = normal(rng);
  return w;
}

// --- Tables ---------------------------------------------------------------------------

TEST(Nf4Table, IsBitsandbytesNormalMapExactly) {
  const std::array<float, 16> expected = {-1.0f,
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
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  for (std::size_t c = 0; c < 16; ++c) EXPECT_EQ(t[c], expected[c]) << "code " << c;
  EXPECT_EQ(quant_type_name(QuantType::nf4), "nf4");
}

TEST(Fp4Table, IsBitsandbytesDequantizeFp4TreeExactly) {
  // The float literals of bitsandbytes' dDequantizeFP4Tree, code = sign bit | 3 bits.
  const std::array<float, 8> magnitude = {0.0f, 5.208333333e-03f, 0.66666667f, 1.0f, 0.33333333f,
                                          0.5f, 0.16666667f,      0.25f};
  const std::array<float, 16>& t = quant_code_table(QuantType::fp4);
  for (std::size_t c = 0; c < 8; ++c) {
    EXPECT_EQ(t[c], magnitude[c]) << "code " << c;
    EXPECT_EQ(t[c + 8], -magnitude[c]) << "code " << c + 8;
  }
  EXPECT_TRUE(std::signbit(t[8]));  // code 8 is -0.0
  EXPECT_EQ(quant_type_name(QuantType::fp4), "fp4");
}

TEST(DynamicMap, Sorted256ValuesWithZeroAndOne) {
  const std::array<float, 256>& m = dynamic_map();
  for (std::size_t i = 1; i < m.size(); ++i) EXPECT_LT(m[i - 1], m[i]) << i;
  EXPECT_EQ(std::count(m.begin(), m.end(), 0.0f), 1);
  EXPECT_EQ(std::count(m.begin(), m.end(), 1.0f), 1);
  EXPECT_EQ(m[255], 1.0f);
  // 127 negative values (1 + 2 + ... + 64), then 0, then 127 positive ones and 1.
  EXPECT_EQ(m[127], 0.0f);
  EXPECT_LT(m[126], 0.0f);
  EXPECT_GT(m[128], 0.0f);
}

TEST(DynamicMap, EndsAndCentreAreHandComputedValues) {
  const std::array<float, 256>& m = dynamic_map();
  // Exponent 6 (x 10^0): midpoints of linspace(0.1, 1, 65), i.e. 0.1 + 0.9 (k + 1/2) / 64.
  // The largest is 0.99296875, the next 0.97890625; their negatives are the smallest.
  EXPECT_FLOAT_EQ(m[254], 0.99296875f);
  EXPECT_FLOAT_EQ(m[253], 0.97890625f);
  EXPECT_FLOAT_EQ(m[0], -0.99296875f);
  EXPECT_FLOAT_EQ(m[1], -0.97890625f);
  // Exponent 0 (x 10^-6): one value, (0.1 + 1) / 2 = 0.55, either side of 0.
  EXPECT_FLOAT_EQ(m[128], 0.55e-6f);
  EXPECT_FLOAT_EQ(m[126], -0.55e-6f);
  // Exponent 1 (x 10^-5): midpoints of linspace(0.1, 1, 3) = 0.325 and 0.775.
  EXPECT_FLOAT_EQ(m[129], 3.25e-6f);
  EXPECT_FLOAT_EQ(m[130], 7.75e-6f);
  EXPECT_FLOAT_EQ(m[125], -3.25e-6f);
  // Exponent 5 (x 10^-1) ends at 0.1 (1 - 0.9 / 64) = 0.09859375, exponent 6 starts at
  // 0.1 + 0.9 / 128 = 0.10703125.
  const auto first_above = std::upper_bound(m.begin(), m.end(), 0.1f);
  EXPECT_FLOAT_EQ(*first_above, 0.10703125f);
  EXPECT_FLOAT_EQ(*(first_above - 1), 0.09859375f);
}

// --- Nearest code ---------------------------------------------------------------------

// Blocks that start with +-1 (so absmax is 1 and v = w exactly) filled with values at,
// and one float either side of, every midpoint of the table, then uniform values.
std::vector<float> values_around_midpoints(QuantType type, std::int64_t block_size) {
  std::array<float, 16> sorted = quant_code_table(type);
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> special;
  for (std::size_t k = 1; k < 16; ++k) {
    const float mid = static_cast<float>((static_cast<double>(sorted[k - 1]) + sorted[k]) / 2);
    special.insert(special.end(), {mid, std::nextafter(mid, -2.0f), std::nextafter(mid, 2.0f)});
  }
  special.insert(special.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 1.0f, -1.0f});
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> w;
  std::size_t next_special = 0;
  for (int b = 0; b < 4000; ++b) {
    w.push_back(b % 2 == 0 ? 1.0f : -1.0f);
    for (std::int64_t i = 1; i < block_size; ++i)
      w.push_back(next_special < special.size() ? special[next_special++] : uniform(rng));
  }
  return w;
}

void expect_codes_match_brute_force(QuantType type) {
  for (std::int64_t block_size : {64, 256}) {
    // Absmax 1 (midpoints hit exactly), then random absmaxes (v = w * (1 / absmax)).
    std::vector<std::vector<float>> weights = {values_around_midpoints(type, block_size),
                                               gaussian(256000, 0.03f, 3)};
    std::vector<float> wide = gaussian(256000, 1.0f, 4);
    for (std::size_t i = 0; i < wide.size(); ++i)
      wide[i] *= std::exp2(static_cast<float>(i % 41) - 20);
    weights.push_back(std::move(wide));
    for (const std::vector<float>& w : weights) {
      const auto n = static_cast<std::int64_t>(w.size());
      const Quantized4bit q = quantize_4bit(
          w.data(), 1, n, {.type = type, .block_size = block_size, .double_quant = false});
      const std::vector<int> expected = reference_codes(w, block_size, type);
      std::int64_t mismatches = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        if (code_at(q, i) == expected[static_cast<std::size_t>(i)]) continue;
        if (++mismatches <= 5)
          ADD_FAILURE() << quant_type_name(type) << " block " << block_size << ": element " << i
                        << " = " << w[static_cast<std::size_t>(i)] << " got code " << code_at(q, i)
                        << ", brute force " << expected[static_cast<std::size_t>(i)];
      }
      EXPECT_EQ(mismatches, 0);
    }
  }
}

TEST(Quant4bitNearest, Nf4EqualsBruteForceOnRandomAndMidpointValues) {
  expect_codes_match_brute_force(QuantType::nf4);
}

TEST(Quant4bitNearest, Fp4EqualsBruteForceOnRandomAndMidpointValues) {
  expect_codes_match_brute_force(QuantType::fp4);
}

// Codes of `values` quantised in one block of 32 whose first element is 1 (so v = w).
std::vector<int> codes_with_unit_absmax(QuantType type, const std::vector<float>& values) {
  std::vector<float> w(32, 0.0f);
  w[0] = 1.0f;
  std::copy(values.begin(), values.end(), w.begin() + 1);
  const Quantized4bit q =
      quantize_4bit(w.data(), 1, 32, {.type = type, .block_size = 32, .double_quant = false});
  std::vector<int> codes;
  for (std::size_t i = 0; i < values.size(); ++i)
    codes.push_back(code_at(q, static_cast<std::int64_t>(i) + 1));
  return codes;
}

TEST(Quant4bitNearest, TiesGoToTheLowerCode) {
  // Halving a float is exact, so t/2 is exactly halfway between 0 and t.
  const std::array<float, 16>& nf4 = quant_code_table(QuantType::nf4);
  EXPECT_EQ(codes_with_unit_absmax(QuantType::nf4,
                                   {nf4[6] / 2, nf4[8] / 2, std::nextafter(nf4[6] / 2, 0.0f),
                                    std::nextafter(nf4[8] / 2, 1.0f)}),
            (std::vector<int>{6, 7, 7, 8}));
  // FP4: +t1/2 is a tie of codes 0 and 1 -> 0; -t1/2 a tie of codes 9 and 0 (+0; -0 is
  // code 8) -> 0, although 0 is the upper neighbour; a hair below it is code 9. Any value
  // whose nearest entry is zero is equally near +0 and -0: code 0.
  const float t1 = quant_code_table(QuantType::fp4)[1];
  EXPECT_EQ(codes_with_unit_absmax(QuantType::fp4, {t1 / 2, -t1 / 2, std::nextafter(-t1 / 2, -1.0f),
                                                    std::nextafter(t1 / 2, 1.0f), -1e-30f, -0.0f}),
            (std::vector<int>{0, 0, 9, 1, 0, 0}));
}

// --- Layout ---------------------------------------------------------------------------

TEST(Quant4bitLayout, HighNibbleFirstOnA1x4Weight) {
  // Table entries times the absmax (2, so w * (1/2) is exact) give exactly those codes.
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  const std::vector<float> w = {2 * t[3], 2 * t[12], 2 * t[15], 2 * t[0]};
  const Quantized4bit q = quantize_4bit(w.data(), 1, 4, {.block_size = 64, .double_quant = false});
  EXPECT_EQ(q.blocks(), 1);
  EXPECT_EQ(q.packed, (std::vector<std::uint8_t>{0x3C, 0xF0}));
  EXPECT_EQ(q.absmax, (std::vector<float>{2.0f}));
  EXPECT_EQ(q.stored_bytes(), 2u + 4u);

  // FP4: 0.5, -0.25, 1, -1 -> codes 5, 15, 3, 11.
  const std::vector<float> f = {1.5f, -0.75f, 3.0f, -3.0f};
  const Quantized4bit p =
      quantize_4bit(f.data(), 1, 4, {.type = QuantType::fp4, .double_quant = false});
  EXPECT_EQ(p.packed, (std::vector<std::uint8_t>{0x5F, 0x3B}));
  EXPECT_EQ(p.absmax, (std::vector<float>{3.0f}));
}

TEST(Quant4bitLayout, OddElementCountLeavesTheLastLowNibbleZero) {
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  const std::vector<float> w = {t[1], t[2], t[15], t[4], t[9]};  // absmax 1
  const Quantized4bit q = quantize_4bit(w.data(), 1, 5, {.double_quant = false});
  EXPECT_EQ(q.packed, (std::vector<std::uint8_t>{0x12, 0xF4, 0x90}));
  std::vector<float> back(5);
  dequantize_4bit(q, back.data());
  EXPECT_EQ(back, w);
}

TEST(Quant4bitLayout, BlocksRunAcrossRowsAndTheLastMayBeShort) {
  // 3 x 30 = 90 values in blocks of 32: 32, 32, 26; each block's absmax is its own.
  std::vector<float> w(90);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) - 3.0f;
  w[10] = 8.0f, w[40] = -5.0f, w[89] = 0.5f;
  w[64] = 3.0f;  // block 2 is 0..3 in magnitude
  const Quantized4bit q = quantize_4bit(w.data(), 3, 30, {.block_size = 32, .double_quant = false});
  EXPECT_EQ(q.blocks(), 3);
  EXPECT_EQ(q.packed.size(), 45u);
  EXPECT_EQ(q.absmax, (std::vector<float>{8.0f, 5.0f, 3.0f}));
  EXPECT_EQ(code_at(q, 10), 15);
  EXPECT_EQ(code_at(q, 40), 0);
  const std::vector<int> expected = reference_codes(w, 32, QuantType::nf4);
  for (std::int64_t i = 0; i < 90; ++i)
    EXPECT_EQ(code_at(q, i), expected[static_cast<std::size_t>(i)]) << i;
}

// --- Round trip -----------------------------------------------------------------------

TEST(Quant4bitRoundTrip, HalfGapsAreWhatTheTablesImply) {
  // NF4: widest gap -1 to -0.6961928 (0.3038, wider than 0.7229568 to 1); FP4: 2/3 to 1.
  EXPECT_FLOAT_EQ(max_half_gap(QuantType::nf4), (1.0f - 0.6961928009986877f) / 2);
  EXPECT_NEAR(max_half_gap(QuantType::fp4), 1.0 / 6, 1e-7);
}

TEST(Quant4bitRoundTrip, AnAllZeroBlockDequantisesToZeros) {
  for (QuantType type : {QuantType::nf4, QuantType::fp4}) {
    for (bool double_quant : {false, true}) {
      std::vector<float> w = gaussian(3 * 64, 1.0f, 8);
      std::fill(w.begin() + 64, w.begin() + 128, 0.0f);  // block 1
      const Quantized4bit q =
          quantize_4bit(w.data(), 3, 64, {.type = type, .double_quant = double_quant});
      if (!double_quant) {
        EXPECT_EQ(q.absmax[1], 0.0f);
      }
      const int zero_code = type == QuantType::nf4 ? 7 : 0;
      std::vector<float> back(w.size(), 1.0f);
      dequantize_4bit(q, back.data());
      for (std::int64_t i = 64; i < 128; ++i) {
        EXPECT_EQ(code_at(q, i), zero_code) << i;
        EXPECT_EQ(back[static_cast<std::size_t>(i)], 0.0f) << i;
      }
    }
  }
}

// |w - dequant(w)| <= absmax * max_half_gap (v is within half a gap of its code, and |v| <=
// 1), plus |stored absmax - absmax| when double-quantised (|code| <= 1), plus rounding:
// v = w * (1/absmax) and the product code * absmax are each off by under an ulp.
void expect_round_trip_bound(QuantType type, bool double_quant) {
  const std::int64_t rows = 96, cols = 200, block_size = 64;  // 300 blocks: two scale groups
  std::vector<float> w = gaussian(static_cast<std::size_t>(rows * cols), 0.02f, 21);
  for (std::size_t i = 0; i < w.size(); i += 997) w[i] *= 10.0f;  // a few outliers
  const Quantized4bit q = quantize_4bit(
      w.data(), rows, cols, {.type = type, .block_size = block_size, .double_quant = double_quant});
  std::vector<float> back(w.size());
  dequantize_4bit(q, back.data());
  const std::array<float, 16>& table = quant_code_table(type);
  const float half_gap = max_half_gap(type);
  for (std::int64_t b = 0; b < q.blocks(); ++b) {
    float absmax = 0.0f;
    for (std::int64_t i = b * block_size; i < (b + 1) * block_size; ++i)
      absmax = std::max(absmax, std::abs(w[static_cast<std::size_t>(i)]));
    const float stored = q.block_absmax(b);
    if (!double_quant) {
      EXPECT_EQ(stored, absmax) << "block " << b;
    }
    const float bound =
        half_gap * absmax + std::abs(stored - absmax) + 4e-7f * (absmax + std::abs(stored));
    for (std::int64_t i = b * block_size; i < (b + 1) * block_size; ++i) {
      const auto k = static_cast<std::size_t>(i);
      // dequantize_4bit is code * block_absmax, exactly.
      ASSERT_EQ(back[k], table[static_cast<std::size_t>(code_at(q, i))] * stored) << i;
      EXPECT_LE(std::abs(w[k] - back[k]), bound) << "element " << i << " block " << b;
    }
  }
}

TEST(Quant4bitRoundTrip, Nf4WithinHalfAGap) { expect_round_trip_bound(QuantType::nf4, false); }
TEST(Quant4bitRoundTrip, Nf4DoubleQuantisedWithinHalfAGapPlusAbsmaxError) {
  expect_round_trip_bound(QuantType::nf4, true);
}
TEST(Quant4bitRoundTrip, Fp4WithinHalfAGap) { expect_round_trip_bound(QuantType::fp4, false); }
TEST(Quant4bitRoundTrip, Fp4DoubleQuantisedWithinHalfAGapPlusAbsmaxError) {
  expect_round_trip_bound(QuantType::fp4, true);
}

TEST(Quant4bitRoundTrip, Fp4TableValuesComeBackExactly) {
  // Each entry times absmax 4 (a power of two: every step exact) round-trips bit for bit,
  // -0 included as +0 (code 0 wins the tie with code 8).
  const std::array<float, 16>& t = quant_code_table(QuantType::fp4);
  std::vector<float> w;
  for (float v : t) w.push_back(4.0f * v);
  const Quantized4bit q =
      quantize_4bit(w.data(), 2, 8, {.type = QuantType::fp4, .double_quant = false});
  std::vector<float> back(w.size());
  dequantize_4bit(q, back.data());
  for (std::size_t c = 0; c < 16; ++c) {
    EXPECT_EQ(code_at(q, static_cast<std::int64_t>(c)), c == 8 ? 0 : static_cast<int>(c)) << c;
    EXPECT_EQ(back[c], w[c]) << c;
  }
}

// --- Double quantisation --------------------------------------------------------------

TEST(Quant4bitDoubleQuant, DynamicMapIsWithin0_00703OfAnyValueInMinusOneToOne) {
  // The widest gap is in the top decade, 0.9 / 64 = 0.0140625; and 1 - 0.99296875 as well
  // as -0.99296875 - (-1) are 0.00703125. So any v in [-1, 1] is within 0.00703125 of the
  // map, which bounds the double-quantised absmax error below.
  const std::array<float, 256>& m = dynamic_map();
  double worst = m[0] + 1.0;
  for (std::size_t i = 1; i < m.size(); ++i)
    worst = std::max(worst, (static_cast<double>(m[i]) - m[i - 1]) / 2);
  EXPECT_NEAR(worst, 0.00703125, 1e-7);
}

// block_absmax = map[code] * scale + offset with |centred / scale - map[code]| <=
// 0.00703125, so |block_absmax - absmax| <= 0.00703125 * scale (+ float rounding), where
// scale = max |absmax - offset| over the block's group of 256; relative to the absmax that
// is 0.00703125 * scale / absmax. Returns the worst relative error seen.
double expect_double_quant_bound(const std::vector<float>& w) {
  const std::int64_t block_size = 64, blocks = static_cast<std::int64_t>(w.size()) / block_size;
  const Quantized4bit q = quantize_4bit(w.data(), blocks, block_size, {.block_size = block_size});
  EXPECT_TRUE(q.double_quant);
  EXPECT_TRUE(q.absmax.empty());
  EXPECT_EQ(q.absmax_codes.size(), static_cast<std::size_t>(blocks));
  const std::int64_t groups = (blocks + 255) / 256;
  EXPECT_EQ(q.absmax_scales.size(), static_cast<std::size_t>(groups));

  std::vector<float> absmax(static_cast<std::size_t>(blocks), 0.0f);
  double sum = 0.0;
  for (std::size_t b = 0; b < absmax.size(); ++b) {
    for (std::size_t i = b * 64; i < (b + 1) * 64; ++i)
      absmax[b] = std::max(absmax[b], std::abs(w[i]));
    sum += absmax[b];
  }
  const float offset = static_cast<float>(sum / static_cast<double>(blocks));
  EXPECT_EQ(q.absmax_offset, offset);
  double worst_relative = 0.0;
  for (std::int64_t g = 0; g < groups; ++g) {
    const auto begin = static_cast<std::size_t>(g * 256);
    const std::size_t end = std::min(absmax.size(), begin + 256);
    float scale = 0.0f;
    for (std::size_t b = begin; b < end; ++b) scale = std::max(scale, std::abs(absmax[b] - offset));
    EXPECT_EQ(q.absmax_scales[static_cast<std::size_t>(g)], scale) << "group " << g;
    for (std::size_t b = begin; b < end; ++b) {
      const float stored = q.block_absmax(static_cast<std::int64_t>(b));
      EXPECT_LE(std::abs(stored - absmax[b]),
                0.00703125f * scale + 1e-6f * (scale + offset + absmax[b]))
          << "block " << b;
      worst_relative =
          std::max(worst_relative, std::abs(stored - absmax[b]) / static_cast<double>(absmax[b]));
    }
  }
  return worst_relative;
}

TEST(Quant4bitDoubleQuant, AbsmaxIsWithinTheMapSpacingOfItsGroupScale) {
  // 700 blocks of 64: groups of 256, 256 and 188.
  std::vector<float> w = gaussian(700 * 64, 0.02f, 31);
  // Gaussian blocks: absmaxes ~1.6 to 4 sigma around a mean of ~2.4 sigma, so scale /
  // absmax stays under ~1.4 and the relative error under 0.00703125 * 1.4 = 1% (0.5 to
  // 0.75% for the seeds tried).
  EXPECT_LT(expect_double_quant_bound(w), 0.01);
  // Outliers (0.3 against absmaxes ~0.05) widen every group's scale to ~0.22: the
  // absolute bound still holds, the relative error of the small blocks grows to a few %.
  for (std::size_t b = 0; b < 700; b += 9) w[b * 64] = 0.3f;
  EXPECT_LT(expect_double_quant_bound(w), 0.06);
}

// Brute force over the dynamic map: distances in double, ties to the lower index.
int nearest_dynamic_code_brute_force(float v) {
  const std::array<float, 256>& m = dynamic_map();
  int best = 0;
  for (int c = 1; c < 256; ++c)
    if (std::abs(static_cast<double>(v) - m[static_cast<std::size_t>(c)]) <
        std::abs(static_cast<double>(v) - m[static_cast<std::size_t>(best)]))
      best = c;
  return best;
}

TEST(Quant4bitDoubleQuant, CodesAreTheNearestDynamicMapEntry) {
  // 256 blocks whose absmaxes come in pairs 1 + v, 1 - v, plus the pair 2, 0: the mean is
  // exactly 1, the scale exactly 1, and each centred value is exactly +-v. The v are the
  // multiples of 2^-23 at and either side of the top decade's midpoints, so some sit on
  // the float thresholds between two codes.
  const std::array<float, 256>& m = dynamic_map();
  const double ulp = std::ldexp(1.0, -23);
  std::vector<float> absmax = {2.0f, 0.0f, 1.0f, 1.0f};
  for (std::size_t k = 255; absmax.size() < 256; --k) {
    const double mid = (static_cast<double>(m[k - 1]) + m[k]) / 2;
    const double base = std::round(mid / ulp) * ulp;
    for (double v : {base - ulp, base, base + ulp}) {
      if (absmax.size() == 256) break;
      absmax.push_back(static_cast<float>(1 + v));
      absmax.push_back(static_cast<float>(1 - v));
    }
  }
  std::vector<float> w(256 * 32, 0.0f);
  for (std::size_t b = 0; b < 256; ++b) w[b * 32] = absmax[b];
  const Quantized4bit q = quantize_4bit(w.data(), 256, 32, {.block_size = 32});
  ASSERT_EQ(q.absmax_offset, 1.0f);
  ASSERT_EQ(q.absmax_scales, (std::vector<float>{1.0f}));
  for (std::size_t b = 0; b < 256; ++b) {
    const float v = absmax[b] - 1.0f;
    EXPECT_EQ(q.absmax_codes[b], nearest_dynamic_code_brute_force(v))
        << "block " << b << ", v " << v;
  }
  // And on random values in [-1, 1] (scale 1 again, from the pair 2, 0).
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  absmax = {2.0f, 0.0f};
  while (absmax.size() < 4096) {
    // A multiple of 2^-23, so that 1 + v and 1 - v are exact and the mean stays 1.
    const double v = std::round(uniform(rng) * (uniform(rng) < 0.5f ? 1e-3 : 1.0) / ulp) * ulp;
    absmax.push_back(static_cast<float>(1 + v)), absmax.push_back(static_cast<float>(1 - v));
  }
  w.assign(4096 * 32, 0.0f);
  for (std::size_t b = 0; b < 4096; ++b) w[b * 32] = absmax[b];
  const Quantized4bit r = quantize_4bit(w.data(), 4096, 32, {.block_size = 32});
  ASSERT_EQ(r.absmax_offset, 1.0f);
  for (std::size_t b = 0; b < 4096; ++b) {
    const float scale = r.absmax_scales[b / 256];
    const float v = (absmax[b] - 1.0f) * (1.0f / scale);
    EXPECT_EQ(r.absmax_codes[b], nearest_dynamic_code_brute_force(v)) << "block " << b;
  }
}

TEST(Quant4bitDoubleQuant, EqualAbsmaxesHaveScaleZeroAndComeBackExactly) {
  std::vector<float> w = gaussian(300 * 32, 0.1f, 41);
  for (float& x : w) x = std::clamp(x, -1.0f, 1.0f);
  for (std::size_t b = 0; b < 300; ++b) w[b * 32 + b % 32] = 2.0f;  // every absmax is 2
  const Quantized4bit q = quantize_4bit(w.data(), 300, 32, {.block_size = 32});
  EXPECT_EQ(q.absmax_offset, 2.0f);
  EXPECT_EQ(q.absmax_scales, (std::vector<float>{0.0f, 0.0f}));
  const auto zero = static_cast<std::uint8_t>(
      std::find(dynamic_map().begin(), dynamic_map().end(), 0.0f) - dynamic_map().begin());
  for (std::int64_t b = 0; b < q.blocks(); ++b) {
    EXPECT_EQ(q.absmax_codes[static_cast<std::size_t>(b)], zero) << b;
    EXPECT_EQ(q.block_absmax(b), 2.0f) << b;
  }
}

TEST(Quant4bitDoubleQuant, A4096x4096WeightCosts4127BitsPerWeight) {
  const std::int64_t rows = 4096, cols = 4096;
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] = static_cast<float>(static_cast<int>(i % 251) - 125);
  const Quantized4bit q =
      quantize_4bit(w.data(), rows, cols, {.block_size = 64, .double_quant = true});
  // 2^24 / 2 code bytes, 2^18 absmax codes, 2^10 f32 scales and one f32 offset.
  EXPECT_EQ(q.stored_bytes(), 8388608u + 262144u + 4u * 1024u + 4u);
  EXPECT_NEAR(8.0 * static_cast<double>(q.stored_bytes()) / static_cast<double>(rows * cols), 4.127,
              5e-4);
  // Without double quantisation: f32 absmaxes, 4.5 bits per weight.
  const Quantized4bit plain =
      quantize_4bit(w.data(), rows, cols, {.block_size = 64, .double_quant = false});
  EXPECT_EQ(plain.stored_bytes(), 8388608u + 4u * 262144u);
}

// --- Errors ---------------------------------------------------------------------------

std::string quantize_error(const std::vector<float>& w, std::int64_t rows, std::int64_t cols,
                           const Quant4bitOptions& options) {
  try {
    quantize_4bit(w.data(), rows, cols, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Quant4bitErrors, BadBlockSizeOrEmptyWeight) {
  const std::vector<float> w(512, 1.0f);
  for (std::int64_t block_size : {0, 16, 31, 33, 65, 258, 512}) {
    const std::string message = quantize_error(w, 2, 256, {.block_size = block_size});
    EXPECT_NE(
        message.find("block_size must be even and in 32..256, found " + std::to_string(block_size)),
        std::string::npos)
        << message;
  }
  for (std::int64_t block_size : {32, 34, 128, 256})
    EXPECT_NO_THROW(quantize_4bit(w.data(), 2, 256, {.block_size = block_size}));
  EXPECT_NE(quantize_error(w, 0, 256, {}).find("empty weight [0, 256]"), std::string::npos);
  EXPECT_NE(quantize_error(w, 4, 0, {}).find("empty weight [4, 0]"), std::string::npos);
}

TEST(Quant4bitErrors, NanOrInfNamesTheElement) {
  std::vector<float> w(256, 0.5f);
  w[70] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(quantize_error(w, 4, 64, {}).find("element 70 (row 1, column 6) is nan"),
            std::string::npos)
      << quantize_error(w, 4, 64, {});
  w[70] = 0.5f;
  w[255] = -std::numeric_limits<float>::infinity();
  EXPECT_NE(quantize_error(w, 4, 64, {.type = QuantType::fp4})
                .find("element 255 (row 3, column 63) is -inf"),
            std::string::npos)
      << quantize_error(w, 4, 64, {.type = QuantType::fp4});
  w[255] = std::numeric_limits<float>::max();  // finite: fine
  EXPECT_NO_THROW(quantize_4bit(w.data(), 4, 64, {}));
}

}  // namespace
}  // namespace ft
