// ftengine-bench-ops: speed of the CPU backend's hot ops against raw oneDNN, in one run.
//
//   build/bin/ftengine-bench-ops [--threads N] [--repeats N]
//
// Linear forward and backward at [tokens=1024] x (512->1536, 1536->512, 2048->2048): the
// op through ft::ops and autograd, and the same GEMMs as raw oneDNN matmuls, in GFLOP/s.
// Attention forward and backward at T=256 and T=1024, 8 heads of 64, in ms and GFLOP/s
// (causal FLOPs: 2*T^2*D per head forward, 2.5x that backward), as a fraction of the
// machine's sgemm GFLOP/s (2048^3 through oneDNN). Medians of --repeats runs.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <dnnl.hpp>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/ops.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median_seconds(int repeats, const std::function<void()>& setup, const std::function<void()>& run) {
  std::vector<double> times;
  for (int i = 0; i < repeats + 2; ++i) {  // two warm-up runs
    setup();
    const auto start = Clock::now();
    run();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (i >= 2) times.push_back(s);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// One raw oneDNN f32 matmul C[M,N] (+)= op(A) op(B), as a peer would call it.
struct RawMatmul {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::matmul prim;
  dnnl::memory a, b, c;

  RawMatmul(std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a, bool trans_b, bool accumulate) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    dnnl::memory::desc a_md({m, k}, dt::f32, trans_a ? tag::ba : tag::ab);
    dnnl::memory::desc b_md({k, n}, dt::f32, trans_b ? tag::ba : tag::ab);
    dnnl::memory::desc c_md({m, n}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), attr, engine));
    a = dnnl::memory(a_md, engine);
    b = dnnl::memory(b_md, engine);
    c = dnnl::memory(c_md, engine);
    for (auto* mem : {&a, &b, &c}) std::memset(mem->get_data_handle(), 0, mem->get_desc().get_size());
  }
  void run() {
    prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
  }
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  ft::backends::cpu::CpuBackend backend;
  backend.set_threads(threads);
  const int used_threads = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(used_threads);
  fmt::print("machine: {}, {} threads; medians of {} runs\n\n", cpu_model(), used_threads, repeats);

  const double sgemm_s = [&] {
    RawMatmul raw(2048, 2048, 2048, false, false, false);
    return median_seconds(repeats, [] {}, [&] { raw.run(); });
  }();
  const double sgemm_gflops = 2.0 * 2048 * 2048 * 2048 / sgemm_s / 1e9;
  fmt::print("sgemm 2048^3 (raw oneDNN): {:.1f} GFLOP/s\n\n", sgemm_gflops);

  fmt::print("{:<28} {:>12} {:>14} {:>8}\n", "linear [1024 tokens]", "ftengine", "raw oneDNN", "ratio");
  const std::int64_t tokens = 1024;
  for (auto [in, out] : std::vector<std::pair<std::int64_t, std::int64_t>>{{512, 1536}, {1536, 512}, {2048, 2048}}) {
    const double flops = 2.0 * tokens * in * out;
    ft::Tensor x = ft::Tensor::zeros({tokens, in}, ft::DType::f32, backend);
    ft::Tensor w = ft::Tensor::zeros({out, in}, ft::DType::f32, backend);
    ft::Tensor dy = ft::Tensor::zeros({tokens, out}, ft::DType::f32, backend);
    x.set_requires_grad(true);
    w.set_requires_grad(true);

    const double op_fwd = median_seconds(repeats, [] {}, [&] {
      ft::NoGrad no_grad;
      ft::ops::linear(x, w);
    });
    RawMatmul raw_fwd(tokens, out, in, false, true, false);
    const double raw_fwd_s = median_seconds(repeats, [] {}, [&] { raw_fwd.run(); });

    // Backward: dx = dy·W and dW += dyᵀ·x (the weight's .grad exists after the first run).
    ft::Tensor y;
    const double op_bwd = median_seconds(
        repeats, [&] { y = ft::ops::linear(x, w); x.zero_grad(); }, [&] { y.backward(dy); });
    RawMatmul raw_dx(tokens, in, out, false, false, false);
    RawMatmul raw_dw(out, in, tokens, true, false, true);
    const double raw_bwd_s = median_seconds(repeats, [] {}, [&] {
      raw_dx.run();
      raw_dw.run();
    });
    const std::string shape = fmt::format("{}->{}", in, out);
    fmt::print("{:<28} {:>12.1f} {:>14.1f} {:>8.2f}\n", "forward " + shape + " GFLOP/s",
               flops / op_fwd / 1e9, flops / raw_fwd_s / 1e9, raw_fwd_s / op_fwd);
    fmt::print("{:<28} {:>12.1f} {:>14.1f} {:>8.2f}\n", "backward " + shape + " GFLOP/s",
               2 * flops / op_bwd / 1e9, 2 * flops / raw_bwd_s / 1e9, raw_bwd_s / op_bwd);
  }

  fmt::print("\n{:<30} {:>10} {:>12} {:>14}\n", "attention (8 heads x 64)", "ms", "GFLOP/s", "of sgemm");
  for (std::int64_t seq : {256, 1024}) {
    const std::int64_t heads = 8, dim = 64;
    ft::Tensor q = ft::Tensor::zeros({1, seq, heads, dim}, ft::DType::f32, backend);
    ft::Tensor k = ft::Tensor::zeros({1, seq, heads, dim}, ft::DType::f32, backend);
    ft::Tensor v = ft::Tensor::zeros({1, seq, heads, dim}, ft::DType::f32, backend);
    ft::Tensor dout = ft::Tensor::zeros({1, seq, heads, dim}, ft::DType::f32, backend);
    for (ft::Tensor* t : {&q, &k, &v}) t->set_requires_grad(true);
    const double fwd_flops = 2.0 * seq * seq * dim * heads;
    const double bwd_flops = 2.5 * fwd_flops;
    const double fwd = median_seconds(repeats, [] {}, [&] {
      ft::NoGrad no_grad;
      ft::ops::attention(q, k, v);
    });
    ft::Tensor out;
    const double bwd = median_seconds(
        repeats, [&] { out = ft::ops::attention(q, k, v); for (ft::Tensor* t : {&q, &k, &v}) t->zero_grad(); },
        [&] { out.backward(dout); });
    auto row = [&](const std::string& what, double s, double flops) {
      fmt::print("{:<30} {:>10.2f} {:>12.1f} {:>13.0f}%\n", what, s * 1e3, flops / s / 1e9,
                 100.0 * flops / s / 1e9 / sgemm_gflops);
    };
    row(fmt::format("forward T={}", seq), fwd, fwd_flops);
    row(fmt::format("backward T={}", seq), bwd, bwd_flops);
    row(fmt::format("forward+backward T={}", seq), fwd + bwd, fwd_flops + bwd_flops);
  }
  return 0;
}
