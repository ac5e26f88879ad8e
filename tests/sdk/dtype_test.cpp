#include "ftengine/dtype.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"

namespace ft {
namespace {

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::u8), 1u);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(dtype_name(parse_dtype("f16")), "f16");
  EXPECT_THROW(parse_dtype("fp8"), Error);
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 (even) and 1 + 2^-7: stays at 1.0.
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: goes up to even.
  EXPECT_EQ(f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
  // Just above halfway rounds up.
  EXPECT_EQ(f32_to_bf16(f32_from_bits(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
  // The largest float rounds to infinity in bf16 (as torch does).
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::max()))));
}

TEST(DType, F16RoundTripAndRounding) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);               // below the halfway point to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);               // halfway, ties to even: infinity
  EXPECT_EQ(f32_to_f16(1e-8f), 0x0000);                  // under half the smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -24)), 0x0002);  // tie between 1 and 2: even
  EXPECT_EQ(f32_to_f16(std::ldexp(2.5f, -24)), 0x0002);  // tie between 2 and 3: even
  EXPECT_EQ(f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);     // halfway, stays even
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);     // halfway, up to even
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  for (std::uint32_t h = 0; h < 65536; ++h) {  // every half but NaN survives a round trip
    const auto half = static_cast<std::uint16_t>(h);
    if ((h & 0x7fffu) > 0x7c00u) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(half)), half) << h;
  }
}

// f16_to_f32 is bit manipulation without branches; this holds it to binary16's definition,
// (-1)^s 2^(e-15) (1 + m/1024), subnormals (-1)^s 2^-14 m/1024, for every one of the 65536
// values. Compared as bits, so -0 and NaN payloads count.
TEST(DType, F16WideningMatchesTheDefinitionForEveryValue) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    const float magnitude =
        exponent == 0 ? std::ldexp(static_cast<float>(m), -24)
                      : std::ldexp(static_cast<float>(1024 + m), static_cast<int>(exponent) - 25);
    const std::uint32_t expected = exponent == 31 ? sign | 0x7f800000u | (m << 13)  // inf, NaN
                                                  : sign | f32_bits(magnitude);
    ASSERT_EQ(f32_bits(f16_to_f32(static_cast<std::uint16_t>(h))), expected) << h;
  }
}

TEST(Philox, MatchesTheRandom123KnownAnswer) {
  // Random123's kat_vectors: philox4x32 10 rounds, counter and key all zero.
  const Philox4x32 r = philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  const Philox4x32 ones = philox4x32_10({{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
}

TEST(Philox, UniformIsInRangeAndDependsOnKey) {
  double total = 0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    const float u = philox_uniform(7, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    total += u;
  }
  EXPECT_NEAR(total / 10000, 0.5, 0.01);
  EXPECT_NE(philox_uniform(7, 3), philox_uniform(8, 3));
  EXPECT_EQ(philox_uniform(7, 3), philox_uniform(7, 3));
}

}  // namespace
}  // namespace ft
