// Element types of tensors and the conversions between the floating ones.
//
// Compute is f32 (but for GEMMs given bf16 operands, ops::GemmPrecision); bf16 and f16 are
// storage types widened inside kernels. Narrowing rounds to
// nearest, ties to even, as PyTorch and the hardware do, so a tensor cast here matches the
// same tensor cast by torch bit for bit. The conversions are FT_HOST_DEVICE inline: the CPU
// loops (backends/cpu/convert.hpp) and the GPU kernels (backends/gpu) call these, so every
// backend rounds by this one code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "ftengine/host_device.hpp"

namespace ft {

enum class DType : std::uint8_t { f32, bf16, f16, i32, u8 };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
// Parses "f32", "bf16", "f16", "i32", "u8" (also "float32", "bfloat16", "float16");
// throws ft::Error listing the accepted names otherwise.
DType parse_dtype(std::string_view name);
inline bool is_floating(DType d) { return d == DType::f32 || d == DType::bf16 || d == DType::f16; }

// The bits of an f32 and back. On the GPU the intrinsics; on the host memcpy, which the
// compiler turns into a register move.
FT_HOST_DEVICE inline std::uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
FT_HOST_DEVICE inline float f32_from_bits(std::uint32_t u) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// bf16 is the top half of an f32. Round to nearest even; NaN stays a (quiet) NaN.
FT_HOST_DEVICE inline std::uint16_t f32_to_bf16(float f) {
  std::uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
FT_HOST_DEVICE inline float bf16_to_f32(std::uint16_t h) {
  return f32_from_bits(static_cast<std::uint32_t>(h) << 16);
}

// IEEE binary16 (1 sign, 5 exponent bits with bias 15, 10 mantissa bits) from f32: round to
// nearest even, with subnormals, overflow to inf, NaN kept (quiet).
FT_HOST_DEVICE inline std::uint16_t f32_to_f16(float f) {
  const std::uint32_t u = f32_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520: inf
  if (abs < 0x38800000u) {
    // Subnormal f16 (|f| < 2^-14): value = m * 2^-24. Scaling by 2^24 is exact, and the FPU
    // rounds m to nearest even (the default mode; nearbyint raises no inexact flag).
    const float scaled = f32_from_bits(abs) * 16777216.0f;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(nearbyintf(scaled)));
  }
  // Normal: rebias the exponent 127 -> 15 and round the 13 dropped mantissa bits to nearest
  // even (a carry out of the mantissa bumps the exponent, up to inf, which is right).
  std::uint32_t v = abs - (112u << 23);
  v += 0x0fffu + ((v >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | (v >> 13));
}

// binary16 to f32, exact. Branch-free (masks select the subnormal or the normal/inf/NaN
// form) so that CPU loops over it vectorise and GPU lanes do not diverge.
FT_HOST_DEVICE inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t em = h & 0x7fffu;  // exponent and mantissa
  // Normal: rebias the exponent 15 -> 127. Inf/NaN (exponent 31) go to exponent 255.
  const std::uint32_t inf_nan = 0u - static_cast<std::uint32_t>(em >= 0x7c00u);  // all ones
  const std::uint32_t normal = (em << 13) + (112u << 23) + (inf_nan & (112u << 23));
  // Subnormal (and zero): mantissa * 2^-24, exact in f32.
  const std::uint32_t subnormal = f32_bits(static_cast<float>(em) * (1.0f / 16777216.0f));
  const std::uint32_t is_subnormal = 0u - static_cast<std::uint32_t>(em < 0x400u);
  return f32_from_bits(sign | (subnormal & is_subnormal) | (normal & ~is_subnormal));
}

}  // namespace ft
