// Casts (rounding to nearest even, NaN, inf, f16 subnormals and overflow), the vector exp,
// and dropout masks (deterministic, counter-indexed, the right kept fraction and scale).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>

#include "backends/cpu/kernels.hpp"
#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

std::vector<std::uint16_t> narrow(const std::vector<float>& x, DType dtype) {
  std::vector<std::uint16_t> out(x.size(), 0xdead);
  backend().cast({x.data(), DType::f32, out.data(), dtype, static_cast<std::int64_t>(x.size())});
  return out;
}
std::vector<float> widen(const std::vector<std::uint16_t>& x, DType dtype) {
  std::vector<float> out(x.size(), -1.0f);
  backend().cast({x.data(), dtype, out.data(), DType::f32, static_cast<std::int64_t>(x.size())});
  return out;
}
std::uint32_t bits(float f) { return f32_bits(f); }

TEST(CpuCast, Bf16RoundsToNearestEven) {
  const std::vector<float> x = {
      1.0f,
      f32_from_bits(0x3F808000u),  // halfway between 0x3F80 and 0x3F81: down to even
      f32_from_bits(0x3F818000u),  // halfway between 0x3F81 and 0x3F82: up to even
      f32_from_bits(0x3F808001u),  // just above halfway: up
      -2.5f,
      std::numeric_limits<float>::infinity(),
      -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::max(),  // rounds past the largest bf16: inf
      0.0f,
      -0.0f};
  const std::vector<std::uint16_t> expected = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC020,
                                               0x7F80, 0xFF80, 0x7F80, 0x0000, 0x8000};
  EXPECT_EQ(narrow(x, DType::bf16), expected);
  const auto nan = narrow({std::numeric_limits<float>::quiet_NaN()}, DType::bf16);
  EXPECT_TRUE(std::isnan(bf16_to_f32(nan[0])));
}

TEST(CpuCast, F16RoundsToNearestEvenWithSubnormalsAndOverflow) {
  const float tiny = std::ldexp(1.0f, -24);  // the smallest f16 subnormal
  const std::vector<float> x = {1.0f,
                                1.0f + std::ldexp(1.0f, -11),      // tie: down to even
                                1.0f + 3 * std::ldexp(1.0f, -11),  // tie: up to even
                                tiny,
                                tiny / 2,      // tie between 0 and tiny: 0
                                tiny * 1.5f,   // tie between 1 and 2 tiny: 2
                                tiny * 0.51f,  // above half: tiny
                                65504.0f,      // largest f16
                                65519.0f,      // still rounds down
                                65520.0f,      // rounds to inf
                                1e10f,
                                -std::numeric_limits<float>::infinity(),
                                -0.0f};
  const std::vector<std::uint16_t> expected = {0x3C00, 0x3C00, 0x3C02, 0x0001, 0x0000,
                                               0x0002, 0x0001, 0x7BFF, 0x7BFF, 0x7C00,
                                               0x7C00, 0xFC00, 0x8000};
  EXPECT_EQ(narrow(x, DType::f16), expected);
  const auto nan = narrow({std::numeric_limits<float>::quiet_NaN()}, DType::f16);
  EXPECT_EQ(nan[0] & 0x7C00u, 0x7C00u);
  EXPECT_NE(nan[0] & 0x03FFu, 0u);
}

TEST(CpuCast, WideningIsExactForAllHalfAndBf16Values) {
  std::vector<std::uint16_t> all(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  const auto from_f16 = widen(all, DType::f16);
  const auto from_bf16 = widen(all, DType::bf16);
  for (std::uint32_t i = 0; i < 65536; ++i) {
    ASSERT_EQ(bits(from_f16[i]), bits(f16_to_f32(all[i]))) << "f16 " << i;
    ASSERT_EQ(bits(from_bf16[i]), bits(bf16_to_f32(all[i]))) << "bf16 " << i;
  }
}

TEST(CpuCast, EveryPairMatchesTheScalarConversionsBitForBit) {
  const std::int64_t n = 50021;  // parallel path, with a partial last chunk
  auto x = random_values(n, 31, -70000.0f, 70000.0f);
  const auto small = random_values(n / 2, 32, -1e-4f, 1e-4f);  // f16 subnormal range
  std::copy(small.begin(), small.end(), x.begin());
  const auto h = narrow(x, DType::f16);
  const auto b = narrow(x, DType::bf16);
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(h[i], f32_to_f16(x[i])) << i;
    ASSERT_EQ(b[i], f32_to_bf16(x[i])) << i;
  }
  std::vector<std::uint16_t> h_from_b(n), b_from_h(n);
  backend().cast({b.data(), DType::bf16, h_from_b.data(), DType::f16, n});
  backend().cast({h.data(), DType::f16, b_from_h.data(), DType::bf16, n});
  std::vector<float> copy(n);
  backend().cast({x.data(), DType::f32, copy.data(), DType::f32, n});
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(h_from_b[i], f32_to_f16(bf16_to_f32(b[i]))) << i;
    ASSERT_EQ(b_from_h[i], f32_to_bf16(f16_to_f32(h[i]))) << i;
    ASSERT_EQ(bits(copy[i]), bits(x[i])) << i;
  }
  std::vector<std::int32_t> ints(4);
  EXPECT_THROW(backend().cast({ints.data(), DType::i32, copy.data(), DType::f32, 4}), ft::Error);
}

TEST(CpuVectorExp, IsAccurateAndHandlesSpecialValues) {
  std::vector<float> x;
  for (int i = 0; i <= 100000; ++i) x.push_back(-87.0f + 175.0f * static_cast<float>(i) / 100000);
  std::vector<float> e = x;
  kernels::exp_inplace(e.data(), static_cast<std::int64_t>(e.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(double(x[i]));
    ASSERT_LE(std::abs(e[i] - ref) / ref, 3e-7) << "exp(" << x[i] << ")";
  }
  std::vector<float> special = {0.0f, -INFINITY, NAN, -1000.0f, 1.0f, -1.0f, 2.0f, 0.5f, -0.5f};
  kernels::exp_inplace(special.data(), static_cast<std::int64_t>(special.size()));
  EXPECT_EQ(special[0], 1.0f);
  EXPECT_EQ(special[1], 0.0f);
  EXPECT_TRUE(std::isnan(special[2]));
  EXPECT_EQ(special[3], 0.0f);
  EXPECT_NEAR(special[4], 2.718281828, 1e-6);
}

// ---- dropout ------------------------------------------------------------------------------

std::vector<float> run_dropout(const std::vector<float>& x, float p, std::uint64_t seed,
                               std::uint64_t offset) {
  std::vector<float> out(x.size(), NAN);
  backend().dropout({x.data(), out.data(), static_cast<std::int64_t>(x.size()), p, seed, offset});
  return out;
}

TEST(CpuDropout, MaskIsThePhiloxStreamScaledByKeepProbability) {
  const std::int64_t n = 200003;
  const auto x = random_values(n, 33, 0.5f, 1.5f);  // never 0, so a dropped element shows
  const float p = 0.1f;
  const std::uint64_t seed = 0x1234567890abcdefull, offset = 1001;
  const auto out = run_dropout(x, p, seed, offset);
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool keep = philox_uniform(seed, offset + i) >= p;
    ASSERT_EQ(out[i], keep ? x[i] / (1.0f - p) : 0.0f) << i;
    kept += keep;
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.005);
  EXPECT_EQ(run_dropout(x, p, seed, offset), out);  // same key, same mask
}

TEST(CpuDropout, OffsetAndSeedSelectDifferentMasksAlongOneStream) {
  const std::int64_t n = 10007;
  const std::vector<float> ones(n + 3, 1.0f);
  const auto a = run_dropout(ones, 0.5f, 7, 0);
  const auto b = run_dropout(ones, 0.5f, 7, 1000000);
  const auto c = run_dropout(ones, 0.5f, 8, 0);
  std::int64_t diff_offset = 0, diff_seed = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    diff_offset += a[i] != b[i];
    diff_seed += a[i] != c[i];
  }
  EXPECT_GT(diff_offset, n / 3);
  EXPECT_GT(diff_seed, n / 3);
  // Element i of a call with offset 3 is element i + 3 of the stream: not 4-aligned on purpose.
  const std::vector<float> tail(ones.begin() + 3, ones.end());
  const auto shifted = run_dropout(tail, 0.5f, 7, 3);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(shifted[i], a[i + 3]) << i;
}

TEST(CpuDropout, ZeroAndOneProbabilities) {
  const auto x = random_values(1001, 34);
  EXPECT_EQ(run_dropout(x, 0.0f, 1, 0), x);
  EXPECT_EQ(run_dropout(x, 1.0f, 1, 0), std::vector<float>(x.size(), 0.0f));
  EXPECT_THROW(run_dropout(x, 1.5f, 1, 0), ft::Error);
}

}  // namespace
}  // namespace ft::backends::cpu::test
