// Element conversions among f32, bf16 and f16 for one contiguous run, serial and written so
// the compiler vectorises them (the parallel loops in the kernels call these per chunk).
// Widening is exact. Narrowing rounds to nearest even through ft::f32_to_bf16/f32_to_f16,
// bit for bit what PyTorch produces.
#pragma once

#include <cstdint>
#include <cstring>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu {

// Branch-free ft::f16_to_f32, so the loops below vectorise (same bits for all 65536 inputs;
// a test checks each one).
inline float half_to_float(std::uint16_t h) {
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

inline void widen_run(const void* src, DType dtype, float* __restrict dst, std::int64_t n) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case DType::bf16: {
      const auto* __restrict s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::f16: {
      const auto* __restrict s = static_cast<const std::uint16_t*>(src);
      for (std::int64_t i = 0; i < n; ++i) dst[i] = half_to_float(s[i]);
      return;
    }
    default:
      throw Error("cpu backend: cannot widen " + std::string(dtype_name(dtype)) +
                  " to f32: expected f32, bf16 or f16");
  }
}

inline void narrow_run(const float* __restrict src, DType dtype, void* dst, std::int64_t n) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
    case DType::bf16: {
      auto* __restrict d = static_cast<std::uint16_t*>(dst);
      for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::f16: {
      auto* __restrict d = static_cast<std::uint16_t*>(dst);
      for (std::int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    default:
      throw Error("cpu backend: cannot convert f32 to " + std::string(dtype_name(dtype)) +
                  ": expected f32, bf16 or f16");
  }
}

}  // namespace ft::backends::cpu
