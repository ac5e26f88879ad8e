// Vector helpers shared by the kernels: a vectorised exp and the row loops built on it.
//
// glibc's expf is not vectorised without -ffast-math, and softmax-heavy kernels (attention,
// cross-entropy, swiglu) spend most of their non-GEMM time in exp. exp8() is the Cephes
// polynomial (as in avx_mathfun): relative error under 1e-7 (8.2e-8 measured) for inputs in
// [-87.3, 88.37]; below, results under 2^-126 flush to 0 (exp(-inf) = 0 exactly); above 88.37
// inputs saturate (to a huge value or inf); NaN stays NaN. The kernels only take exp of
// max-subtracted values (<= 0) or where saturation is harmless (sigmoid).
// Without AVX2 (a build machine that lacks it) the same helpers fall back to std::exp.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FT_CPU_AVX2 1
#else
#define FT_CPU_AVX2 0
#endif

namespace ft::backends::cpu {

#if FT_CPU_AVX2
// e^x = 2^n · e^r, n = round(x / ln2), r = x - n ln2 (ln2 split in two for exactness),
// e^r by a degree-5 polynomial on [-ln2/2, ln2/2].
inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-88.3762626647949f);
  // Operand order makes NaN pass through (min/max return the second operand on NaN).
  x = _mm256_min_ps(hi, x);
  x = _mm256_max_ps(lo, x);
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  fx = _mm256_max_ps(_mm256_set1_ps(-127.0f), fx);  // 2^-127 -> exponent bits 0: exp = 0
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(1.9875691500E-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
  y = _mm256_fmadd_ps(y, z, x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  __m256i n = _mm256_cvttps_epi32(fx);
  n = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Loads the first n < 8 floats of p, the rest of the lanes set to `fill`.
inline __m256 load_partial(const float* p, std::int64_t n, float fill) {
  alignas(32) float tmp[8];
  for (int i = 0; i < 8; ++i) tmp[i] = i < n ? p[i] : fill;
  return _mm256_load_ps(tmp);
}
inline void store_partial(float* p, __m256 v, std::int64_t n) {
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (std::int64_t i = 0; i < n; ++i) p[i] = tmp[i];
}
#endif

// y[i] = exp(a * x[i] - b); returns sum_i y[i] (float accumulation). y may equal x, or be
// nullptr to get only the sum.
inline float exp_affine_sum(const float* x, float a, float b, float* y, std::int64_t n) {
#if FT_CPU_AVX2
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  __m256 acc = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_fmsub_ps(va, _mm256_loadu_ps(x + i), vb));
    if (y) _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    // Tail: exp of a zero-padded vector, of which only the first n - i lanes are kept.
    const __m256 e = exp8(_mm256_fmsub_ps(va, load_partial(x + i, n - i, 0.0f), vb));
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, e);
    float tail = 0.0f;
    for (std::int64_t j = 0; j < n - i; ++j) {
      if (y) y[i + j] = tmp[j];
      tail += tmp[j];
    }
    return hsum8(acc) + tail;
  }
  return hsum8(acc);
#else
  float sum = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const float e = std::exp(a * x[i] - b);
    if (y) y[i] = e;
    sum += e;
  }
  return sum;
#endif
}

// max_i x[i] (-inf for n == 0; NaN is not guaranteed to win).
inline float max_of(const float* x, std::int64_t n) {
  float m = -INFINITY;
  std::int64_t i = 0;
#if FT_CPU_AVX2
  if (n >= 8) {
    __m256 vm = _mm256_loadu_ps(x);
    for (i = 8; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
    m = hmax8(vm);
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace ft::backends::cpu
