// Element types of tensors and the host-side conversions between them.
//
// Compute on the CPU is f32; bf16 and f16 are storage types widened inside kernels.
// Narrowing rounds to nearest, ties to even, as PyTorch and the hardware do, so a
// tensor cast here matches the same tensor cast by torch bit for bit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ft {

enum class DType : std::uint8_t { f32, bf16, f16, i32, u8 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
// Parses "f32", "bf16", "f16", "i32", "u8" (also "float32", "bfloat16", "float16");
// throws ft::Error listing the accepted names otherwise.
DType parse_dtype(std::string_view name);
inline bool is_floating(DType d) { return d == DType::f32 || d == DType::bf16 || d == DType::f16; }

inline std::uint32_t f32_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bf16 is the top half of an f32. Round to nearest even; NaN stays a (quiet) NaN.
inline std::uint16_t f32_to_bf16(float f) {
  std::uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16_to_f32(std::uint16_t h) { return f32_from_bits(static_cast<std::uint32_t>(h) << 16); }

// IEEE binary16, round to nearest even, with subnormals, overflow to inf, NaN kept.
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

}  // namespace ft
