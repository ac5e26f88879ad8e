// Element-wise kernels: swiglu, binary and unary ops, axpby, bias, row and column
// reductions, masked softmax, casts, dropout.
// Each is one pass over memory; they run in parallel over chunks big enough to amortise
// the OpenMP fork, with contiguous inner loops the compiler vectorises.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/convert.hpp"
#include "backends/cpu/kernels.hpp"
#include "backends/cpu/simd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"

namespace ft::backends::cpu::kernels {

namespace {

constexpr std::int64_t kParallelMin = 1 << 14;
constexpr std::int64_t kChunk = 4096;  // elements per parallel work item

std::int64_t chunks_of(std::int64_t n) { return (n + kChunk - 1) / kChunk; }

}  // namespace

// ---- swiglu -------------------------------------------------------------------------------

// out = silu(g) * up,  silu(g) = g * sigmoid(g) = g / (1 + exp(-g))           all [n]
void swiglu_forward(const SwigluForwardArgs& a) {
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
  for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
    const std::int64_t i0 = chunk * kChunk, len = std::min(kChunk, a.n - i0);
    const float* __restrict g = a.gate + i0;
    const float* __restrict up = a.up + i0;
    float* __restrict out = a.out + i0;
    alignas(64) float e[kChunk];
    exp_affine_sum(g, -1.0f, 0.0f, e, len);  // e = exp(-g)
    for (std::int64_t i = 0; i < len; ++i) out[i] = g[i] / (1.0f + e[i]) * up[i];
  }
}

// s = sigmoid(g):  d_gate = d_out * up * s * (1 + g * (1 - s));  d_up = d_out * g * s
void swiglu_backward(const SwigluBackwardArgs& a) {
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
  for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
    const std::int64_t i0 = chunk * kChunk, len = std::min(kChunk, a.n - i0);
    const float* __restrict g = a.gate + i0;
    const float* __restrict up = a.up + i0;
    const float* __restrict dout = a.d_out + i0;
    float* __restrict dg = a.d_gate + i0;
    float* __restrict du = a.d_up + i0;
    alignas(64) float e[kChunk];
    exp_affine_sum(g, -1.0f, 0.0f, e, len);
    for (std::int64_t i = 0; i < len; ++i) {
      const float s = 1.0f / (1.0f + e[i]);
      dg[i] = dout[i] * up[i] * s * (1.0f + g[i] * (1.0f - s));
      du[i] = dout[i] * g[i] * s;
    }
  }
}

// ---- add, mul, axpby, bias ----------------------------------------------------------------

namespace {

template <typename Op>
void binary_loop(const BinaryArgs& a, Op op) {
  const float* x = a.a;
  const float* y = a.b;
  float* out = a.out;
  switch (a.broadcast) {
    case Broadcast::none:
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) out[i] = op(x[i], y[i]);
      return;
    case Broadcast::row: {  // [rows, b_n] (op) [b_n]
      const std::int64_t cols = a.b_n, rows = a.n / cols;
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) out[r * cols + c] = op(x[r * cols + c], y[c]);
      return;
    }
    case Broadcast::column: {  // [b_n, cols] (op) [b_n] (one value per row)
      const std::int64_t rows = a.b_n, cols = a.n / rows;
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t r = 0; r < rows; ++r) {
        const float b = y[r];
        for (std::int64_t c = 0; c < cols; ++c) out[r * cols + c] = op(x[r * cols + c], b);
      }
      return;
    }
  }
}

}  // namespace

// out[i] = a[i] (op) b[j(i)]; out may alias a or b (so no __restrict here).
void binary(const BinaryArgs& a) {
  if (a.broadcast != Broadcast::none && (a.b_n <= 0 || a.n % a.b_n != 0))
    throw Error("binary: broadcast b of " + std::to_string(a.b_n) + " elements does not divide " +
                std::to_string(a.n));
  switch (a.op) {
    case BinaryOp::add:
      return binary_loop(a, [](float x, float y) { return x + y; });
    case BinaryOp::sub:
      return binary_loop(a, [](float x, float y) { return x - y; });
    case BinaryOp::mul:
      return binary_loop(a, [](float x, float y) { return x * y; });
    case BinaryOp::div:
      return binary_loop(a, [](float x, float y) { return x / y; });
  }
}

// y[i] = f(alpha x[i] + beta); y may alias x.
void unary(const UnaryArgs& a) {
  const float* x = a.x;
  float* y = a.y;
  const float alpha = a.alpha, beta = a.beta;
  switch (a.op) {
    case UnaryOp::identity:
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) y[i] = alpha * x[i] + beta;
      return;
    case UnaryOp::exp:
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
        const std::int64_t i0 = chunk * kChunk, len = std::min(kChunk, a.n - i0);
        exp_affine_sum(x + i0, alpha, -beta, y + i0, len);
      }
      return;
    case UnaryOp::log:
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) y[i] = std::log(alpha * x[i] + beta);
      return;
    case UnaryOp::sqrt:
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) y[i] = std::sqrt(alpha * x[i] + beta);
      return;
    case UnaryOp::rsqrt:
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) y[i] = 1.0f / std::sqrt(alpha * x[i] + beta);
      return;
    case UnaryOp::sigmoid:
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
        const std::int64_t i0 = chunk * kChunk, len = std::min(kChunk, a.n - i0);
        exp_affine_sum(x + i0, -alpha, beta, y + i0, len);  // exp(-(alpha x + beta))
        for (std::int64_t i = i0; i < i0 + len; ++i) y[i] = 1.0f / (1.0f + y[i]);
      }
      return;
    case UnaryOp::square:
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
      for (std::int64_t i = 0; i < a.n; ++i) {
        const float z = alpha * x[i] + beta;
        y[i] = z * z;
      }
      return;
  }
}

// out[r] = sum_c x[r, c] (in double, in column order) or max_c x[r, c]
void reduce_rows(const ReduceRowsArgs& a) {
#pragma omp parallel for schedule(static) if (a.rows * a.cols >= kParallelMin)
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* __restrict x = a.x + r * a.cols;
    if (a.op == RowReduce::max) {
      a.out[r] = max_of(x, a.cols);
    } else {
      double s = 0.0;
      for (std::int64_t c = 0; c < a.cols; ++c) s += x[c];
      a.out[r] = static_cast<float>(s);
    }
  }
}

// z = scale x + mask;  y = exp(z - max z) / sum exp(z - max z), a row at a time.
void masked_softmax(const MaskedSoftmaxArgs& a) {
#pragma omp parallel for schedule(static) if (a.rows * a.cols >= kParallelMin)
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.cols;
    float* y = a.y + r * a.cols;
    for (std::int64_t c = 0; c < a.cols; ++c) y[c] = a.scale * x[c] + (a.mask ? a.mask[c] : 0.0f);
    const float sum = exp_affine_sum(y, 1.0f, max_of(y, a.cols), y, a.cols);
    const float inv = 1.0f / sum;
    for (std::int64_t c = 0; c < a.cols; ++c) y[c] *= inv;
  }
}

// y = alpha x + beta y; beta = 0 never reads y (so a NaN there does not leak through).
void axpby(const AxpbyArgs& a) {
  const float* __restrict x = a.x;
  float* __restrict y = a.y;
  const float alpha = a.alpha, beta = a.beta;
  if (beta == 0.0f) {
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
    for (std::int64_t i = 0; i < a.n; ++i) y[i] = alpha * x[i];
  } else {
#pragma omp parallel for simd schedule(static) if (a.n >= kParallelMin)
    for (std::int64_t i = 0; i < a.n; ++i) y[i] = alpha * x[i] + beta * y[i];
  }
}

// x[r, c] += bias[c]         x: [R, C], bias: [C] (f32/bf16/f16)
void bias_add(const BiasAddArgs& a) {
  std::vector<float> bias(static_cast<std::size_t>(a.cols));
  widen_run(a.bias, a.bias_dtype, bias.data(), a.cols);
  const float* __restrict b = bias.data();
#pragma omp parallel for schedule(static) if (a.rows * a.cols >= kParallelMin)
  for (std::int64_t r = 0; r < a.rows; ++r) {
    float* __restrict x = a.x + r * a.cols;
    for (std::int64_t c = 0; c < a.cols; ++c) x[c] += b[c];
  }
}

// out[c] (+)= sum_r x[r, c]            x: [R, C], out: [C]
// Threads own column blocks and walk all rows, summing in double in row order.
void sum_rows(const SumRowsArgs& a) {
  constexpr std::int64_t kColumns = 256;
  const std::int64_t blocks = (a.cols + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (a.rows * a.cols >= kParallelMin)
  for (std::int64_t block = 0; block < blocks; ++block) {
    const std::int64_t c0 = block * kColumns, width = std::min(kColumns, a.cols - c0);
    double acc[kColumns] = {};
    for (std::int64_t r = 0; r < a.rows; ++r) {
      const float* __restrict x = a.x + r * a.cols + c0;
      for (std::int64_t c = 0; c < width; ++c) acc[c] += x[c];
    }
    float* __restrict out = a.out + c0;
    for (std::int64_t c = 0; c < width; ++c) {
      out[c] = static_cast<float>(a.accumulate ? out[c] + acc[c] : acc[c]);
    }
  }
}

// ---- casts --------------------------------------------------------------------------------

void widen_to_f32(const void* src, DType src_dtype, float* dst, std::int64_t n) {
  CastArgs args;
  args.src = src;
  args.src_dtype = src_dtype;
  args.dst = dst;
  args.dst_dtype = DType::f32;
  args.n = n;
  cast(args);
}

// dst = src converted; narrowing rounds to nearest even (ft::f32_to_bf16 / ft::f32_to_f16).
// bf16 <-> f16 goes through f32, which is exact on the way in.
void cast(const CastArgs& a) {
  for (DType d : {a.src_dtype, a.dst_dtype}) {
    if (!is_floating(d)) {
      throw Error("cast: dtype " + std::string(dtype_name(d)) + " is not f32, bf16 or f16");
    }
  }
  const std::size_t src_elem = dtype_size(a.src_dtype), dst_elem = dtype_size(a.dst_dtype);
  const auto* src = static_cast<const std::uint8_t*>(a.src);
  auto* dst = static_cast<std::uint8_t*>(a.dst);
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin)
  for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
    const std::int64_t i0 = chunk * kChunk, len = std::min(kChunk, a.n - i0);
    const void* s = src + i0 * src_elem;
    void* d = dst + i0 * dst_elem;
    if (a.src_dtype == a.dst_dtype) {
      std::memcpy(d, s, len * src_elem);
    } else if (a.dst_dtype == DType::f32) {
      widen_run(s, a.src_dtype, static_cast<float*>(d), len);
    } else if (a.src_dtype == DType::f32) {
      narrow_run(static_cast<const float*>(s), a.dst_dtype, d, len);
    } else {
      alignas(64) float tmp[kChunk];
      widen_run(s, a.src_dtype, tmp, len);
      narrow_run(tmp, a.dst_dtype, d, len);
    }
  }
}

// ---- dropout ------------------------------------------------------------------------------

namespace {

// Philox4x32-10 (ft/philox.hpp) of 8 consecutive counters at once, in stream order:
// words[4 j + w] is word w of philox4x32(counter + j, seed). Scalar Philox costs ~4 ns per element;
// eight lanes of AVX2 (vpmuludq gives the 32 x 32 -> 64-bit products of the even lanes) cut that
// ~8x.
void philox_x8(std::uint64_t counter, std::uint64_t seed, std::uint32_t words[32]) {
#if FT_CPU_AVX2
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // as in philox4x32_10
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t key0 = static_cast<std::uint32_t>(seed);
  std::uint32_t key1 = static_cast<std::uint32_t>(seed >> 32);
  alignas(32) std::uint32_t lo[8], hi[8];
  for (int j = 0; j < 8; ++j) {
    lo[j] = static_cast<std::uint32_t>(counter + j);
    hi[j] = static_cast<std::uint32_t>((counter + j) >> 32);
  }
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  // 64-bit products of all 8 lanes, split into their low and high 32-bit halves.
  auto mul_hilo = [](__m256i c, __m256i m, __m256i& low, __m256i& high) {
    const __m256i even = _mm256_mul_epu32(c, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    low = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  };
  for (int round = 0; round < 10; ++round) {
    __m256i lo0, hi0, lo1, hi1;
    mul_hilo(c0, m0, lo0, hi0);
    mul_hilo(c2, m1, lo1, hi1);
    const __m256i k0 = _mm256_set1_epi32(static_cast<int>(key0));
    const __m256i k1 = _mm256_set1_epi32(static_cast<int>(key1));
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
    c1 = lo1;
    c3 = lo0;
    key0 += kW0;
    key1 += kW1;
  }
  // Lanes hold counters; interleave the four words into stream order (a 4 x 8 transpose).
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  auto* out = reinterpret_cast<__m256i*>(words);
  _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
  _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
  _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
#else
  for (int j = 0; j < 8; ++j) {
    const Philox4x32 v = philox4x32(counter + j, seed);
    for (int w = 0; w < 4; ++w) words[4 * j + w] = v.v[w];
  }
#endif
}

}  // namespace

// out[i] = keep(i) ? x[i] / (1 - p) : 0,  keep(i) = philox_uniform(seed, offset + i) >= p.
// Stream position e = offset + i is word e % 4 of philox(seed, e / 4); one philox_x8 call
// covers 32 positions.
void dropout(const DropoutArgs& a) {
  if (!(a.p >= 0.0f && a.p <= 1.0f)) {
    throw Error("dropout: probability " + std::to_string(a.p) + " is outside [0, 1]");
  }
  const float p = a.p, keep_scale = 1.0f - a.p;
#pragma omp parallel for schedule(static) if (a.n >= kParallelMin / 4)
  for (std::int64_t chunk = 0; chunk < chunks_of(a.n); ++chunk) {
    const std::int64_t i0 = chunk * kChunk, i1 = std::min(a.n, i0 + kChunk);
    const std::uint64_t e0 = a.offset + static_cast<std::uint64_t>(i0);
    const std::uint64_t e1 = a.offset + static_cast<std::uint64_t>(i1);
    alignas(32) std::uint32_t words[32];
    alignas(32) float u[32];
    for (std::uint64_t base = e0 & ~std::uint64_t{3}; base < e1; base += 32) {
      philox_x8(base >> 2, a.seed, words);
      for (int k = 0; k < 32; ++k) {  // 24 random bits -> [0, 1), as ft::philox_uniform
        u[k] = static_cast<float>(static_cast<std::int32_t>(words[k] >> 8)) * (1.0f / 16777216.0f);
      }
      // Positions [first, last) of this block of 32 that fall inside the chunk.
      const std::uint64_t first = std::max(base, e0), last = std::min(base + 32, e1);
      const float* x = a.x + (first - a.offset);  // out may equal x
      float* out = a.out + (first - a.offset);
      const float* __restrict uk = u + (first - base);
      const std::int64_t count = static_cast<std::int64_t>(last - first);
      // Branch-free select (GCC does not if-convert the float ternary), so this vectorises.
      for (std::int64_t k = 0; k < count; ++k) {
        const std::uint32_t keep = 0u - static_cast<std::uint32_t>(uk[k] >= p);  // all ones
        out[k] = f32_from_bits(f32_bits(x[k] / keep_scale) & keep);
      }
    }
  }
}

void exp_inplace(float* x, std::int64_t n) { exp_affine_sum(x, 1.0f, 0.0f, x, n); }

}  // namespace ft::backends::cpu::kernels
