// Element conversions among f32, bf16 and f16 for one contiguous run, serial and written so
// the compiler vectorises them (the parallel loops in the kernels call these per chunk).
// The element conversions are ftengine/dtype.hpp's, the ones the GPU kernels use too: widening
// is exact (f16 branch-free, so these loops vectorise), narrowing rounds to nearest even, bit
// for bit what PyTorch produces.
#pragma once

#include <cstdint>
#include <cstring>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"

namespace ft::backends::cpu {

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
      for (std::int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
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
