// 4-bit quantisation as bitsandbytes defines it: code tables, nibble order, nearest code
// with ties to the lower one, error bounds, double-quantised absmaxes and their size.
#include <gtest/gtest.h>

#include <cmath>

#include "ftengine/error.hpp"
#include "ftengine/quant.hpp"
#include "support/backends.hpp"
#include "support/gradcheck.hpp"

namespace ft {
namespace {

TEST(QuantTables, Nf4IsBitsandbytesNormalMap) {
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  EXPECT_EQ(t[0], -1.0f);
  EXPECT_EQ(t[1], -0.6961928009986877f);
  EXPECT_EQ(t[6], -0.09105003625154495f);
  EXPECT_EQ(t[7], 0.0f);
  EXPECT_EQ(t[8], 0.07958029955625534f);
  EXPECT_EQ(t[14], 0.7229568362236023f);
  EXPECT_EQ(t[15], 1.0f);
  for (int i = 1; i < 16; ++i) EXPECT_LT(t[i - 1], t[i]);
}

TEST(QuantTables, Fp4HasASignBitAndBitsandbytesMagnitudes) {
  const std::array<float, 16>& t = quant_code_table(QuantType::fp4);
  const float magnitudes[8] = {0.0f, 0.005208333333f, 0.6666666667f, 1.0f,
                               0.3333333333f, 0.5f, 0.1666666667f, 0.25f};
  for (int i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(t[i], magnitudes[i]) << i;
    EXPECT_FLOAT_EQ(t[i + 8], -magnitudes[i]) << i + 8;
  }
}

TEST(QuantTables, DynamicMapIsCreateDynamicMapSigned) {
  const std::array<float, 256>& m = dynamic_map();
  for (int i = 1; i < 256; ++i) EXPECT_LE(m[i - 1], m[i]);
  EXPECT_EQ(m[255], 1.0f);
  // Exponent 6 (10^0): 64 midpoints of linspace(0.1, 1, 65); the largest below 1 is
  // (0.98594 + 1) / 2 and the smallest value of all is its negative.
  EXPECT_NEAR(m[254], (0.1 + 0.9 * 63 / 64 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(m[0], -m[254], 1e-7);
  // Exponent 0 (10^-6): one value, the midpoint of [0.1, 1], either side of 0.
  const auto zero = std::find(m.begin(), m.end(), 0.0f);
  ASSERT_NE(zero, m.end());
  EXPECT_NEAR(*(zero + 1), 0.55e-6, 1e-12);
  EXPECT_NEAR(*(zero - 1), -0.55e-6, 1e-12);
}

TEST(Quantize4bit, CodesGoHighNibbleFirst) {
  // One block, absmax 2: values code x 2 give exactly those codes.
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  std::vector<float> w(32, 0.0f);
  const int codes[4] = {15, 0, 7, 9};
  for (int i = 0; i < 4; ++i) w[static_cast<std::size_t>(i)] = 2.0f * t[codes[i]];
  const Quantized4bit q = quantize_4bit(w.data(), 1, 32, {.block_size = 32, .double_quant = false});
  ASSERT_EQ(q.packed.size(), 16u);
  EXPECT_EQ(q.packed[0], 0xF0);  // 15 high, 0 low
  EXPECT_EQ(q.packed[1], 0x79);  // 7 high, 9 low
  EXPECT_EQ(q.packed[2], 0x77);  // zeros are code 7
  ASSERT_EQ(q.absmax.size(), 1u);
  EXPECT_EQ(q.absmax[0], 2.0f);
}

TEST(Quantize4bit, TiesGoToTheLowerCode) {
  const std::array<float, 16>& t = quant_code_table(QuantType::nf4);
  std::vector<float> w(32, 0.0f);
  w[0] = 1.0f;                               // the absmax
  w[1] = (t[8] + t[9]) / 2;                  // halfway between codes 8 and 9
  w[2] = std::nextafter(w[1], 1.0f);         // just above: code 9
  const Quantized4bit q = quantize_4bit(w.data(), 1, 32, {.block_size = 32, .double_quant = false});
  EXPECT_EQ(q.packed[0] & 0x0f, 8);
  EXPECT_EQ(q.packed[1] >> 4, 9);
}

TEST(Quantize4bit, AnAllZeroBlockStaysZero) {
  std::vector<float> w(64, 0.0f), back(64, 1.0f);
  const Quantized4bit q = quantize_4bit(w.data(), 2, 32, {.block_size = 32, .double_quant = true});
  dequantize_4bit(q, back.data());
  for (float v : back) EXPECT_EQ(v, 0.0f);
}

// |w - dequant(w)| is at most half the widest gap of the table, times the block's absmax
// (plus, double-quantised, the error of the absmax itself).
void expect_error_bound(QuantType type, bool double_quant) {
  const std::int64_t rows = 64, cols = 300;  // 19200 values: 300 blocks of 64
  const std::vector<float> w = testing::random_tensor({rows, cols}, testing::cpu(), 5).to_vector();
  const Quantized4bit q =
      quantize_4bit(w.data(), rows, cols, {.type = type, .block_size = 64, .double_quant = double_quant});
  std::vector<float> back(w.size());
  dequantize_4bit(q, back.data());
  std::array<float, 16> sorted = quant_code_table(type);
  std::sort(sorted.begin(), sorted.end());
  float half_gap = 0.0f;
  for (int i = 1; i < 16; ++i) half_gap = std::max(half_gap, (sorted[i] - sorted[i - 1]) / 2);
  for (std::int64_t b = 0; b < q.blocks(); ++b) {
    float absmax = 0.0f;
    for (std::int64_t i = b * 64; i < (b + 1) * 64; ++i)
      absmax = std::max(absmax, std::abs(w[static_cast<std::size_t>(i)]));
    const float stored = q.block_absmax(b);
    if (double_quant) {
      EXPECT_NEAR(stored, absmax, 0.02f * absmax) << "block " << b;
    }
    for (std::int64_t i = b * 64; i < (b + 1) * 64; ++i) {
      const auto k = static_cast<std::size_t>(i);
      EXPECT_LE(std::abs(w[k] - back[k]), half_gap * absmax + std::abs(stored - absmax) + 1e-6f)
          << "element " << i;
    }
  }
}

TEST(Quantize4bit, Nf4ErrorIsWithinHalfAGap) { expect_error_bound(QuantType::nf4, false); }
TEST(Quantize4bit, Nf4DoubleQuantisedErrorIsWithinHalfAGap) {
  expect_error_bound(QuantType::nf4, true);
}
TEST(Quantize4bit, Fp4ErrorIsWithinHalfAGap) { expect_error_bound(QuantType::fp4, false); }

TEST(Quantize4bit, DoubleQuantisationCostsAbout4127BitsPerWeight) {
  const std::int64_t rows = 4096, cols = 4096;
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 0.01f);
  const Quantized4bit q = quantize_4bit(w.data(), rows, cols, {});
  EXPECT_EQ(q.blocks(), 262144);
  EXPECT_EQ(q.absmax_scales.size(), 1024u);
  EXPECT_EQ(q.stored_bytes(), 8388608u + 262144u + 4u * 1024u + 4u);
  EXPECT_NEAR(8.0 * static_cast<double>(q.stored_bytes()) / static_cast<double>(rows * cols),
              4.127, 0.001);
}

TEST(Quantize4bit, BadInputIsAnError) {
  std::vector<float> w(64, 1.0f);
  EXPECT_THROW(quantize_4bit(w.data(), 1, 64, {.block_size = 16}), Error);
  EXPECT_THROW(quantize_4bit(w.data(), 1, 64, {.block_size = 33}), Error);
  w[40] = std::nanf("");
  try {
    quantize_4bit(w.data(), 2, 32, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("element 40 (row 1, column 8) is nan"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ft
