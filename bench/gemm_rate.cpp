// ftengine-bench-gemm-rate: what this machine's GEMMs reach through oneDNN, in f32 and bf16,
// so that a training benchmark can state its MFU against a rate measured in the same run.
//
//   build/bin/ftengine-bench-gemm-rate [--threads N] [--repeats N]
//
// Times C[M,N] = A[M,K] Bᵀ (B stored [N, K], as an HF weight [out, in]) at the shapes of a
// training step's linear layers, 1024x1536x512 and 1024x2048x768 (M x N x K, 2 M N K FLOPs),
// as f32 x f32 -> f32 and bf16 x bf16 -> f32 (f32 accumulate), on random values. Prints one
// line per shape and precision, then one `rate` line per precision: the faster shape's GFLOP/s
// (the median of --repeats runs). bf16 prints n/a where oneDNN cannot create the primitive
// (AVX2-only machines; ONEDNN_MAX_CPU_ISA=AVX2 makes any machine one).
//
//   gemm f32 1024x1536x512 212.4 GFLOP/s brg:avx512_core
//   rate f32 215.0
//   rate bf16 n/a
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <dnnl.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Shape {
  std::int64_t m, n, k;
};

struct Timed {
  double gflops;
  std::string kernel;  // the implementation oneDNN chose
};

// Median GFLOP/s of `repeats` runs of one matmul, after two warm-up runs; nullopt where
// oneDNN has no implementation for this data type on this machine.
std::optional<Timed> time_matmul(const dnnl::engine& engine, Shape s, dt in_type, int repeats) {
  dnnl::memory::desc a_md({s.m, s.k}, in_type, tag::ab);
  dnnl::memory::desc b_md({s.k, s.n}, in_type, tag::ba);  // [N, K] row-major read as Bᵀ
  dnnl::memory::desc c_md({s.m, s.n}, dt::f32, tag::ab);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), engine);
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
  dnnl::matmul prim(pd);
  dnnl::stream stream(engine);
  dnnl::memory a(a_md, engine), b(b_md, engine), c(c_md, engine);
  // Random values (each bf16, or the high half of each f32, of magnitude 2^-7 to 2^-5): AMX runs
  // about 13% faster on zeros than on real data, so zeros would overstate the rate.
  std::mt19937 rng(1);
  for (auto* mem : {&a, &b}) {
    const std::size_t bytes = mem->get_desc().get_size();
    auto* p = static_cast<std::uint16_t*>(mem->get_data_handle());
    const bool is_f32 = in_type == dt::f32;
    for (std::size_t i = 0; i < bytes / 2; ++i) {
      const auto bits = static_cast<std::uint16_t>(0x3c00u | (rng() & 0x80ffu));  // +-[2^-7, 2^-5)
      p[i] = is_f32 && i % 2 == 0 ? static_cast<std::uint16_t>(rng()) : bits;     // low half: any
    }
  }
  std::memset(c.get_data_handle(), 0, c.get_desc().get_size());
  std::vector<double> seconds;
  for (int i = 0; i < repeats + 2; ++i) {
    const auto start = Clock::now();
    prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
    if (i >= 2) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double flops =
      2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  return Timed{flops / seconds[seconds.size() / 2] / 1e9, pd.impl_info_str()};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = omp_get_max_threads();
  int repeats = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  omp_set_num_threads(threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const std::vector<Shape> shapes = {{1024, 1536, 512}, {1024, 2048, 768}};
  fmt::print("threads {}\n", threads);
  for (const auto& [name, type] : {std::pair{"f32", dt::f32}, std::pair{"bf16", dt::bf16}}) {
    std::optional<double> best;
    for (const Shape& s : shapes) {
      const std::optional<Timed> t = time_matmul(engine, s, type, repeats);
      if (!t) {
        fmt::print("gemm {} {}x{}x{} n/a (oneDNN has no {} matmul here)\n", name, s.m, s.n, s.k,
                   name);
        continue;
      }
      fmt::print("gemm {} {}x{}x{} {:.1f} GFLOP/s {}\n", name, s.m, s.n, s.k, t->gflops, t->kernel);
      best = std::max(best.value_or(0.0), t->gflops);
    }
    if (best)
      fmt::print("rate {} {:.1f}\n", name, *best);
    else
      fmt::print("rate {} n/a\n", name);
  }
  return 0;
}
