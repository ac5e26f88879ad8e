// GEMM through oneDNN against a double-precision triple loop: every combination of
// transposes, accumulate, alpha, batching, broadcast (stride 0) and padded strides, and
// bf16/f16 B; bf16 compute on both of its paths; plus the primitive cache.
#include <gtest/gtest.h>

#include <string>

#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

struct Problem {
  std::int64_t m, n, k, batch;
  std::int64_t stride_a, stride_b, stride_c;
  bool trans_a, trans_b, accumulate;
  float alpha;
};

std::int64_t extent(std::int64_t batch, std::int64_t stride, std::int64_t matrix) {
  return (batch - 1) * stride + matrix;
}

// C_b = alpha op(A_b) op(B_b) (+ C_b), item after item, in double.
std::vector<double> reference(const Problem& p, const std::vector<float>& a,
                              const std::vector<float>& b, const std::vector<float>& c0) {
  std::vector<double> c(c0.begin(), c0.end());
  for (std::int64_t bi = 0; bi < p.batch; ++bi) {
    const float* A = a.data() + bi * p.stride_a;
    const float* B = b.data() + bi * p.stride_b;
    double* C = c.data() + bi * p.stride_c;
    for (std::int64_t i = 0; i < p.m; ++i) {
      for (std::int64_t j = 0; j < p.n; ++j) {
        double s = 0.0;
        for (std::int64_t q = 0; q < p.k; ++q) {
          const double x = p.trans_a ? A[q * p.m + i] : A[i * p.k + q];
          const double y = p.trans_b ? B[j * p.k + q] : B[q * p.n + j];
          s += x * y;
        }
        C[i * p.n + j] = p.alpha * s + (p.accumulate ? C[i * p.n + j] : 0.0);
      }
    }
  }
  return c;
}

GemmArgs args_for(const Problem& p, const float* a, const void* b, DType b_dtype, float* c) {
  GemmArgs g;
  g.a = a;
  g.b = b;
  g.c = c;
  g.b_dtype = b_dtype;
  g.trans_a = p.trans_a;
  g.trans_b = p.trans_b;
  g.m = p.m;
  g.n = p.n;
  g.k = p.k;
  g.batch = p.batch;
  g.stride_a = p.stride_a;
  g.stride_b = p.stride_b;
  g.stride_c = p.stride_c;
  g.alpha = p.alpha;
  g.accumulate = p.accumulate;
  return g;
}

std::string describe(const Problem& p) {
  return "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k) +
         " batch=" + std::to_string(p.batch) + " strides=" + std::to_string(p.stride_a) + "," +
         std::to_string(p.stride_b) + "," + std::to_string(p.stride_c) +
         " trans_a=" + std::to_string(p.trans_a) + " trans_b=" + std::to_string(p.trans_b) +
         " accumulate=" + std::to_string(p.accumulate) + " alpha=" + std::to_string(p.alpha);
}

// Runs p with f32 B and checks it against the reference.
void check_f32(const Problem& p, std::uint32_t seed) {
  SCOPED_TRACE(describe(p));
  const auto a = random_values(extent(p.batch, p.stride_a, p.m * p.k), seed);
  const auto b = random_values(extent(p.batch, p.stride_b, p.k * p.n), seed + 1);
  const auto c0 = random_values(extent(p.batch, p.stride_c, p.m * p.n), seed + 2);
  std::vector<float> c = c0;
  backend().gemm(args_for(p, a.data(), b.data(), DType::f32, c.data()));
  EXPECT_TRUE(all_close(c, reference(p, a, b, c0), 1e-5, 1e-5));
}

// The batch layouts both precisions run, for an m x n x k product.
struct Layout {
  const char* name;
  std::int64_t batch, sa, sb, sc;
};
std::vector<Layout> layouts(std::int64_t m, std::int64_t n, std::int64_t k) {
  const std::int64_t mk = m * k, kn = k * n, mn = m * n;
  return {
      {"single", 1, 0, 0, 0},
      {"packed", 3, mk, kn, mn},
      {"broadcast A", 3, 0, kn, mn},
      {"broadcast B", 3, mk, 0, mn},
      {"padded", 3, mk + 5, kn + 3, mn + 7},
      {"shared C", 3, mk, kn, 0},
      {"overlapping A", 3, k, kn, mn},  // items share rows: oneDNN may refuse, then per item
  };
}

TEST(CpuGemm, AllTransposeAccumulateAlphaAndBatchLayouts) {
  const std::int64_t m = 13, n = 29, k = 37;
  std::uint32_t seed = 1;
  for (const Layout& layout : layouts(m, n, k)) {
    SCOPED_TRACE(layout.name);
    for (bool trans_a : {false, true}) {
      for (bool trans_b : {false, true}) {
        for (bool accumulate : {false, true}) {
          for (float alpha : {1.0f, -0.5f}) {
            check_f32(Problem{m, n, k, layout.batch, layout.sa, layout.sb, layout.sc, trans_a,
                              trans_b, accumulate, alpha},
                      seed += 3);
          }
        }
      }
    }
  }
}

TEST(CpuGemm, LargerShapesThatSpanSeveralBlocks) {
  check_f32(Problem{67, 130, 150, 1, 0, 0, 0, false, true, false, 1.0f}, 100);
  check_f32(Problem{130, 67, 201, 2, 130 * 201, 0, 130 * 67, true, false, true, 0.25f}, 200);
}

TEST(CpuGemm, SharedOutputRunsItemsInOrder) {
  // stride_c = 0: every item writes the same C; with accumulate they all add up.
  check_f32(Problem{5, 6, 7, 4, 35, 42, 0, false, false, true, 1.0f}, 300);
  check_f32(Problem{5, 6, 7, 4, 35, 42, 0, true, true, false, 2.0f}, 310);
}

TEST(CpuGemm, EmptyInnerDimensionZeroesOrKeepsC) {
  std::vector<float> c(12, 3.0f);
  const float a = 0.0f, b = 0.0f;
  GemmArgs g;
  g.a = &a;
  g.b = &b;
  g.c = c.data();
  g.m = 3;
  g.n = 4;
  g.k = 0;
  g.accumulate = true;
  backend().gemm(g);
  EXPECT_EQ(c, std::vector<float>(12, 3.0f));
  g.accumulate = false;
  backend().gemm(g);
  EXPECT_EQ(c, std::vector<float>(12, 0.0f));
}

TEST(CpuGemm, HalfPrecisionBIsWidenedExactly) {
  const std::int64_t m = 11, n = 19, k = 23;
  for (DType dtype : {DType::bf16, DType::f16}) {
    for (bool trans_b : {false, true}) {
      for (std::int64_t stride_b : {std::int64_t{0}, k * n + 4}) {
        const Problem p{m, n, k, 3, m * k, stride_b, m * n, false, trans_b, true, 0.5f};
        SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + describe(p));
        const auto a = random_values(extent(p.batch, p.stride_a, m * k), 7);
        auto b = random_values(extent(p.batch, p.stride_b, k * n), 8);
        std::vector<std::uint16_t> b_half(b.size());
        for (std::size_t i = 0; i < b.size(); ++i) {
          b_half[i] = dtype == DType::bf16 ? f32_to_bf16(b[i]) : f32_to_f16(b[i]);
          b[i] = dtype == DType::bf16 ? bf16_to_f32(b_half[i]) : f16_to_f32(b_half[i]);
        }
        const auto c0 = random_values(extent(p.batch, p.stride_c, m * n), 9);
        std::vector<float> c = c0;
        backend().gemm(args_for(p, a.data(), b_half.data(), dtype, c.data()));
        EXPECT_TRUE(all_close(c, reference(p, a, b, c0), 1e-5, 1e-5));
      }
    }
  }
}

// A large bf16 weight (more than 4 MiB as f32) is widened a tile of rows at a time: the
// forward product (c = a · Wᵀ, one column block per tile) and the backward one (c += a · W,
// summed over tiles) still equal the reference.
TEST(CpuGemm, LargeHalfPrecisionBIsWidenedInTiles) {
  const std::int64_t m = 5, rows = 700, cols = 2048;  // 5.5 MiB as f32: tiles of 512 and 188 rows
  for (bool trans_b : {true, false}) {
    for (bool accumulate : {false, true}) {
      const std::int64_t n = trans_b ? rows : cols, k = trans_b ? cols : rows;
      const Problem p{m, n, k, 1, m * k, k * n, m * n, false, trans_b, accumulate, 1.0f};
      SCOPED_TRACE(describe(p));
      const auto a = random_values(m * k, 21);
      auto b = random_values(k * n, 22);
      std::vector<std::uint16_t> b_half(b.size());
      for (std::size_t i = 0; i < b.size(); ++i) {
        b_half[i] = f32_to_bf16(b[i]);
        b[i] = bf16_to_f32(b_half[i]);
      }
      const auto c0 = random_values(m * n, 23);
      std::vector<float> c = c0;
      backend().gemm(args_for(p, a.data(), b_half.data(), DType::bf16, c.data()));
      EXPECT_TRUE(all_close(c, reference(p, a, b, c0), 1e-4, 1e-4));
    }
  }
}

TEST(CpuGemm, RepeatedShapeReusesItsPrimitiveAndGivesTheSameResult) {
  ThreadsGuard guard;
  const Problem p{31, 17, 45, 2, 31 * 45, 17 * 45, 31 * 17, false, true, false, 1.0f};
  const auto a = random_values(2 * 31 * 45, 11), b = random_values(2 * 17 * 45, 12);
  const auto expected = reference(p, a, b, std::vector<float>(2 * 31 * 17));
  std::vector<float> c1(2 * 31 * 17), c2(2 * 31 * 17);
  backend().gemm(args_for(p, a.data(), b.data(), DType::f32, c1.data()));
  const std::size_t primitives = backend().cached_gemm_primitives();
  backend().gemm(args_for(p, a.data(), b.data(), DType::f32, c2.data()));
  EXPECT_EQ(backend().cached_gemm_primitives(), primitives);
  EXPECT_EQ(c1, c2);
  EXPECT_TRUE(all_close(c1, expected, 1e-5, 1e-5));

  // Another thread count is another primitive, still correct.
  backend().set_threads(backend().threads() == 1 ? 2 : 1);
  std::vector<float> c3(2 * 31 * 17);
  backend().gemm(args_for(p, a.data(), b.data(), DType::f32, c3.data()));
  EXPECT_EQ(backend().cached_gemm_primitives(), primitives + 1);
  EXPECT_TRUE(all_close(c3, expected, 1e-5, 1e-5));
}

// compute = bf16 means: the operands rounded to bf16, the products summed in f32. So the
// result equals the double reference on the rounded operands to f32 accuracy, and stays
// within bf16's error of the reference on the operands as given (which, at this size,
// it does not equal to f32 accuracy: the rounding did happen). Both paths: oneDNN's bf16
// matmul where this CPU has one, and the rounded f32 GEMM of AVX2 machines.
std::vector<float> rounded_to_bf16(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = bf16_to_f32(f32_to_bf16(x[i]));
  return out;
}

void check_bf16(GemmEngine& engine, const Problem& p, DType b_dtype, std::uint32_t seed) {
  SCOPED_TRACE(describe(p) + " B " + std::string(dtype_name(b_dtype)));
  const auto a = random_values(extent(p.batch, p.stride_a, p.m * p.k), seed);
  auto b = random_values(extent(p.batch, p.stride_b, p.k * p.n), seed + 1);
  std::vector<std::uint16_t> b_half(b_dtype == DType::f32 ? 0 : b.size());
  for (std::size_t i = 0; i < b_half.size(); ++i) {  // B as stored, and its f32 value
    b_half[i] = b_dtype == DType::bf16 ? f32_to_bf16(b[i]) : f32_to_f16(b[i]);
    b[i] = b_dtype == DType::bf16 ? bf16_to_f32(b_half[i]) : f16_to_f32(b_half[i]);
  }
  const auto c0 = random_values(extent(p.batch, p.stride_c, p.m * p.n), seed + 2);
  std::vector<float> c = c0;
  GemmArgs g = args_for(p, a.data(),
                        b_dtype == DType::f32 ? static_cast<const void*>(b.data()) : b_half.data(),
                        b_dtype, c.data());
  g.compute = DType::bf16;
  engine.run(g, 2);
  const auto exact = reference(p, rounded_to_bf16(a), rounded_to_bf16(b), c0);
  EXPECT_TRUE(all_close(c, exact, 2e-5, 2e-5));
  // bf16 keeps 8 bits: each operand within 2^-9 relative, so |error| <= ~2^-8 sum |a b|;
  // with values in [-1, 1) and k terms, 2^-8 k / 4 bounds it loosely.
  const auto given = reference(p, a, b, c0);
  EXPECT_TRUE(all_close(c, given, 0.0, std::abs(p.alpha) * p.k / 1024.0));
  EXPECT_FALSE(all_close(c, given, 1e-6, 1e-6));
}

TEST(CpuGemm, Bf16ComputeRoundsTheOperandsAndSumsInF32OnBothPaths) {
  GemmEngine here;  // this CPU's path: oneDNN's bf16 matmul, native or emulated, or rounding
  GemmEngine avx2(Bf16Gemm{false, false, "no AVX512-BF16 or AMX-BF16"});
  const std::int64_t m = 13, n = 29, k = 37;
  std::uint32_t seed = 500;
  for (GemmEngine* engine : {&here, &avx2}) {
    SCOPED_TRACE(engine == &here ? "this CPU (" + here.bf16().isa + ")" : "AVX2 path");
    for (const Layout& layout : layouts(m, n, k)) {
      SCOPED_TRACE(layout.name);
      for (bool trans_a : {false, true}) {
        for (bool trans_b : {false, true}) {
          for (bool accumulate : {false, true}) {
            const Problem p{m,         n,       k,       layout.batch, layout.sa, layout.sb,
                            layout.sc, trans_a, trans_b, accumulate,   -0.5f};
            for (DType b_dtype : {DType::f32, DType::bf16, DType::f16})
              check_bf16(*engine, p, b_dtype, seed += 3);
          }
        }
      }
    }
    check_bf16(*engine, Problem{67, 130, 150, 1, 0, 0, 0, false, true, false, 1.0f}, DType::f32,
               seed += 3);
  }
}

// A column block read and written in place (how the 4-bit tiles run) in bf16 too.
TEST(CpuGemm, Bf16ComputeOnRowStridedOperands) {
  const std::int64_t m = 9, n = 12, k = 20, lda = 31, ldc = 17;
  const auto a = random_values(m * lda, 40), b = random_values(k * n, 41);
  const auto c0 = random_values(m * ldc, 42);
  std::vector<float> a_packed(m * k), expected_in(m * n);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t q = 0; q < k; ++q) a_packed[i * k + q] = a[i * lda + q];
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) expected_in[i * n + j] = c0[i * ldc + j];
  const Problem p{m, n, k, 1, 0, 0, 0, false, false, true, 1.0f};
  const auto exact = reference(p, rounded_to_bf16(a_packed), rounded_to_bf16(b), expected_in);
  GemmEngine here;
  GemmEngine avx2(Bf16Gemm{false, false, "no AVX512-BF16 or AMX-BF16"});
  for (GemmEngine* engine : {&here, &avx2}) {
    std::vector<float> c = c0;
    GemmArgs g = args_for(p, a.data(), b.data(), DType::f32, c.data());
    g.compute = DType::bf16;
    engine->run_strided(g, lda, ldc, 2);
    std::vector<float> block(m * n);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) block[i * n + j] = c[i * ldc + j];
    EXPECT_TRUE(all_close(block, exact, 2e-5, 2e-5));
    for (std::int64_t i = 0; i < m; ++i)  // the columns past the block are untouched
      for (std::int64_t j = n; j < ldc; ++j) EXPECT_EQ(c[i * ldc + j], c0[i * ldc + j]);
  }
}

// Few rows times a transposed weight of 49 to 63 columns: the shapes where oneDNN 2.6's AMX
// bf16 kernel summed wrongly when an unbatched GEMM was described as a batch of one (a LoRA
// layer's 60 outputs, a small vocabulary's head). Both precisions, every width around them.
TEST(CpuGemm, FewRowsTimesANarrowTransposedWeight) {
  GemmEngine here;
  std::uint32_t seed = 900;
  for (const std::int64_t m : {1, 5, 31}) {
    for (std::int64_t n = 44; n <= 68; ++n) {
      const Problem p{m, n, 70, 1, 0, 0, 0, false, true, false, 1.0f};
      check_f32(p, seed += 3);
      check_bf16(here, p, DType::f32, seed += 3);
    }
  }
}

// Inner dimensions oneDNN 2.6's AMX bf16 matmul died on (an illegal instruction, the whole
// process), and odd ones around them: they must give the rounded operands' sums.
TEST(CpuGemm, Bf16ComputeOnOddInnerDimensions) {
  GemmEngine here;
  std::uint32_t seed = 1300;
  for (const std::int64_t k : {61, 62, 63, 65, 1215, 1247}) {
    check_bf16(here, Problem{152, 225, k, 1, 0, 0, 0, false, true, false, 1.0f}, DType::f32,
               seed += 3);
    check_bf16(here, Problem{34, 169, k, 1, 0, 0, 0, true, false, true, 1.0f}, DType::bf16,
               seed += 3);
  }
}

TEST(CpuGemm, ThePrimitiveCacheIsBoundedAndRebuildsWhatItDropped) {
  GemmEngine engine;
  std::vector<float> a(2 * 1100), b(4, 1.0f), c(2 * 1100);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7);
  const auto run = [&](std::int64_t m) {
    GemmArgs g;
    g.a = a.data();
    g.b = b.data();
    g.c = c.data();
    g.m = m, g.n = 2, g.k = 2;
    engine.run(g, 1);
  };
  for (std::int64_t m = 1; m <= 1100; ++m) run(m);
  EXPECT_EQ(engine.cached_primitives(), GemmEngine::kMaxPrimitives);
  run(1);  // evicted long ago: built again, and still right
  EXPECT_EQ(engine.cached_primitives(), GemmEngine::kMaxPrimitives);
  EXPECT_EQ(c[0], a[0] + a[1]);
  EXPECT_EQ(c[1], a[0] + a[1]);
}

TEST(CpuGemm, RejectsAnIntegerB) {
  std::vector<float> a(4), c(4);
  std::vector<std::int32_t> b(4);
  GemmArgs g;
  g.a = a.data();
  g.b = b.data();
  g.c = c.data();
  g.b_dtype = DType::i32;
  g.m = g.n = g.k = 2;
  EXPECT_THROW(backend().gemm(g), ft::Error);
}

}  // namespace
}  // namespace ft::backends::cpu::test
