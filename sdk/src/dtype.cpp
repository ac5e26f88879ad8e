#include "ftengine/dtype.hpp"

#include <cmath>

#include "ftengine/error.hpp"

namespace ft {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::u8: return 1;
  }
  throw InternalError("dtype_size: unknown dtype");
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "float32") return DType::f32;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  if (name == "f16" || name == "float16") return DType::f16;
  if (name == "i32" || name == "int32") return DType::i32;
  if (name == "u8" || name == "uint8") return DType::u8;
  throw Error("unknown dtype \"" + std::string(name) + "\": expected one of f32, bf16, f16, i32, u8");
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
std::uint16_t f32_to_f16(float f) {
  const std::uint32_t u = f32_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;  // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u; // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Subnormal f16 (|f| < 2^-14): value = m * 2^-24. Let the FPU round to nearest even.
    const float scaled = f32_from_bits(abs) * 16777216.0f;  // exact: a power-of-two scale
    const float rounded = std::nearbyint(scaled);           // default mode: ties to even
    return sign | static_cast<std::uint16_t>(rounded);
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
  std::uint32_t v = abs - (112u << 23);
  v += 0x0fffu + ((v >> 13) & 1u);
  return sign | static_cast<std::uint16_t>(v >> 13);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float value = static_cast<float>(mantissa) * (1.0f / 16777216.0f);  // m * 2^-24
    return sign ? -value : value;
  }
  if (exponent == 31) return f32_from_bits(sign | 0x7f800000u | (mantissa << 13));
  return f32_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

}  // namespace ft
