// The backend conformance suite: every op, forward and backward, on each backend plugin
// built (libftengine-backend-*.so in the build's plugin directory) against the CPU backend
// this binary links, within per-op tolerances. A backend without a device here (cuda on a
// machine with no GPU) skips every test with the reason its probe() gives.
//
// The cpu plugin runs it too: the same kernels through the plugin boundary, which keeps the
// suite itself exercised on machines without a GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/conformance.hpp"
#include "ftengine/ops.hpp"
#include "ftengine/quant.hpp"
#include "support/backends.hpp"

namespace ft {
namespace {

namespace fs = std::filesystem;
using Inputs = std::vector<Tensor>;
using Make = std::function<Inputs(Backend&)>;  // the inputs, from fixed host values
using Op = std::function<Tensor(const Inputs&)>;

std::vector<std::string> backend_plugins() {
  std::vector<std::string> paths;
  for (const fs::directory_entry& e : fs::directory_iterator(FTENGINE_BUILD_PLUGIN_DIR)) {
    const std::string file = e.path().filename().string();
    if (file.starts_with("libftengine-backend-") && file.ends_with(".so"))
      paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string backend_of(const std::string& path) {
  const std::string file = fs::path(path).stem().string();  // libftengine-backend-cuda
  return file.substr(std::string("libftengine-backend-").size());
}

// f32 values on `be`, trainable or not.
Tensor values(Backend& be, const Shape& shape, std::uint32_t seed, bool grad = true, float lo = -1,
              float hi = 1) {
  Tensor t = conformance::random_tensor(shape, be, seed, lo, hi);
  if (grad) t.set_requires_grad(true);
  return t;
}
Tensor ints(Backend& be, const std::vector<std::int32_t>& v, const Shape& shape) {
  return Tensor::from_ints(v, shape, be);
}

struct Result {
  std::vector<float> out;
  std::vector<std::vector<float>> grads;  // per input; empty when it has none
};

Result run(Backend& be, const Make& make, const Op& op) {
  Inputs in = make(be);
  Tensor y = op(in);
  Result r{y.to_vector(), {}};
  if (y.requires_grad()) {
    const std::vector<float> cotangent =
        conformance::random_values(static_cast<std::size_t>(y.numel()), 99);
    y.backward(Tensor::from_vector(cotangent, y.shape(), be));
  }
  for (const Tensor& t : in)
    r.grads.push_back(t.requires_grad() && t.grad().defined() ? t.grad().to_vector()
                                                              : std::vector<float>{});
  return r;
}

void expect_close(const std::vector<float>& want, const std::vector<float>& got, double tol,
                  const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == got[i] || (std::isnan(want[i]) && std::isnan(got[i]))) continue;  // and ±Inf
    const double limit = tol * (1.0 + std::abs(static_cast<double>(want[i])));
    if (!(std::abs(static_cast<double>(want[i]) - got[i]) <= limit) && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: cpu " << want[i] << ", backend " << got[i];
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << want.size() << " differ";
}

class BackendConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_.emplace(conformance::load_backend(GetParam()));
    const DeviceInfo device = (*backend_)->probe();
    if (!device.available) GTEST_SKIP() << backend_of(GetParam()) << ": " << device.reason;
  }
  Backend& test() { return **backend_; }

  // The op on the CPU and on the backend under test: the output and every gradient agree
  // to tol (relative, with an absolute floor of tol).
  void expect_matches(const Make& make, const Op& op, double tol = 1e-4) {
    const Result want = run(testing::cpu(), make, op);
    const Result got = run(test(), make, op);
    expect_close(want.out, got.out, tol, "output");
    ASSERT_EQ(want.grads.size(), got.grads.size());
    for (std::size_t i = 0; i < want.grads.size(); ++i)
      expect_close(want.grads[i], got.grads[i], tol, "gradient of input " + std::to_string(i));
  }

 private:
  std::optional<conformance::LoadedBackend> backend_;
};

TEST_P(BackendConformance, LinearAndMatmul) {
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {5, 7}, 1), values(be, {6, 7}, 2), values(be, {6}, 3)};
      },
      [](const Inputs& in) { return ops::linear(in[0], in[1], in[2]); });
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {2, 3, 4}, 4), values(be, {2, 4, 5}, 5)};
      },
      [](const Inputs& in) { return ops::matmul(in[0], in[1]); });
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {2, 3, 4}, 6), values(be, {4, 5}, 7)};
      },
      [](const Inputs& in) { return ops::matmul(in[0], in[1]); });
}

// A bf16/f16 weight at compute f32 (no GemmPrecision scope) is widened to f32 on every
// backend, never multiplied in half precision (the job asked for f32): the GPU must give the
// CPU's f32 result, up to the order of the sums.
TEST_P(BackendConformance, LinearOnAFrozenHalfPrecisionWeight) {
  for (const DType dtype : {DType::bf16, DType::f16}) {
    // 600 x 2048 is more than one CPU tile: both tiled paths run.
    for (const Shape& w_shape : {Shape{6, 7}, Shape{600, 2048}}) {
      expect_matches(
          [&](Backend& be) {
            const Tensor w = ops::cast(values(be, w_shape, 8, false), dtype);
            return Inputs{values(be, {3, w_shape[1]}, 9), w};
          },
          [](const Inputs& in) { return ops::linear(in[0], in[1]); }, 1e-4);
    }
  }
}

TEST_P(BackendConformance, Linear4bit) {
  for (const Quant4bitOptions q :
       {Quant4bitOptions{QuantType::nf4, 64, true}, Quant4bitOptions{QuantType::fp4, 32, false}}) {
    expect_matches(
        [](Backend& be) {
          return Inputs{values(be, {4, 96}, 10), values(be, {40, 96}, 11, false)};
        },
        [q](const Inputs& in) { return ops::linear_4bit(in[0], ops::quantize_4bit(in[1], q)); });
  }
}

TEST_P(BackendConformance, Embedding) {
  expect_matches(
      [](Backend& be) {
        return Inputs{ints(be, {3, 1, 3, 0, 7}, {5}), values(be, {8, 6}, 12)};
      },
      [](const Inputs& in) { return ops::embedding(in[0], in[1]); });
  expect_matches(
      [](Backend& be) {
        return Inputs{ints(be, {2, 2, 5}, {3}),
                      ops::cast(values(be, {8, 6}, 13, false), DType::bf16)};
      },
      [](const Inputs& in) { return ops::embedding(in[0], in[1]); });
}

TEST_P(BackendConformance, RmsNormAndRope) {
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {4, 3, 40}, 14), values(be, {40}, 15)};
      },
      [](const Inputs& in) { return ops::rmsnorm(in[0], in[1], 1e-5f); });
  const std::vector<float> inv_freq = ops::rope_inv_freq(16, 10000.0f);
  expect_matches(
      [&](Backend& be) {
        return Inputs{values(be, {2, 5, 3, 16}, 16),
                      ints(be, {0, 1, 2, 3, 4, 7, 8, 9, 100, 2047}, {2, 5}),
                      Tensor::from_vector(inv_freq, {8}, be)};
      },
      [](const Inputs& in) { return ops::rope(in[0], in[1], in[2]); });
}

TEST_P(BackendConformance, Attention) {
  const auto make = [](Backend& be) {
    return Inputs{values(be, {2, 9, 4, 16}, 17), values(be, {2, 9, 2, 16}, 18),
                  values(be, {2, 9, 2, 16}, 19),
                  ints(be, {0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 3, 3, 3, 3}, {2, 9})};
  };
  expect_matches(
      make, [](const Inputs& in) { return ops::attention(in[0], in[1], in[2]); }, 2e-4);
  expect_matches(
      make,
      [](const Inputs& in) {
        ops::AttentionOptions o;
        o.doc_ids = in[3];
        o.window = 3;
        return ops::attention(in[0], in[1], in[2], o);
      },
      2e-4);
}

TEST_P(BackendConformance, SwigluAndElementwise) {
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {3, 50}, 20, true, -4, 4), values(be, {3, 50}, 21)};
      },
      [](const Inputs& in) { return ops::swiglu(in[0], in[1]); });
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {3, 4}, 22), values(be, {3, 4}, 23), values(be, {4}, 24)};
      },
      [](const Inputs& in) {
        return ops::mul(ops::scale(ops::mul(ops::add(in[0], in[1]), in[1]), -1.5f), in[2]);
      });
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {7, 5}, 25)};
      },
      [](const Inputs& in) { return ops::sum(in[0]); });
}

TEST_P(BackendConformance, DropoutMasksAgreeExactly) {
  expect_matches([](Backend& be) { return Inputs{values(be, {1000}, 26)}; },
                 [](const Inputs& in) { return ops::dropout(in[0], 0.3f, 42, 7); }, 0.0);
}

// Narrowing rounds to nearest even on every backend: normal values, overflow to Inf (f16),
// and subnormals.
TEST_P(BackendConformance, CastsRoundTheSameWay) {
  for (const DType dtype : {DType::bf16, DType::f16}) {
    for (const auto& [lo, hi] : {std::pair{-70000.0f, 70000.0f}, std::pair{-1e-6f, 1e-6f}}) {
      expect_matches(
          [lo, hi](Backend& be) { return Inputs{values(be, {999}, 27, true, lo, hi)}; },
          [dtype](const Inputs& in) { return ops::cast(ops::cast(in[0], dtype), DType::f32); },
          0.0);
    }
  }
}

TEST_P(BackendConformance, CrossEntropyFusedWithTheHead) {
  for (const ops::Reduction reduction : {ops::Reduction::mean, ops::Reduction::sum}) {
    expect_matches(
        [](Backend& be) {
          return Inputs{values(be, {2, 5, 8}, 30), values(be, {50, 8}, 31),
                        ints(be, {3, -100, 49, 0, 7, 7, -100, 12, 1, 2}, {2, 5})};
        },
        [reduction](const Inputs& in) {
          ops::CrossEntropyOptions o;
          o.reduction = reduction;
          o.chunk_rows = 3;
          return ops::cross_entropy(in[0], in[1], in[2], o);
        },
        2e-4);
  }
}

// Every GEMM op with bf16 operands (ops::GemmPrecision): the backend rounds the same
// operands to bf16 and sums in f32 as the CPU does, so only the order of the sums differs.
// (A result that skipped the rounding would be off by about 2^-8, far beyond the tolerance.)
TEST_P(BackendConformance, GemmOpsWithBf16Operands) {
  const ops::GemmPrecision bf16(DType::bf16);
  const double tol = 2e-4;
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {5, 70}, 40), values(be, {60, 70}, 41), values(be, {60}, 42)};
      },
      [](const Inputs& in) { return ops::linear(in[0], in[1], in[2]); }, tol);
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {3, 70}, 43),
                      ops::cast(values(be, {600, 70}, 44, false), DType::bf16)};
      },
      [](const Inputs& in) { return ops::linear(in[0], in[1]); }, tol);
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {2, 9, 40}, 45), values(be, {2, 40, 11}, 46)};
      },
      [](const Inputs& in) { return ops::matmul(in[0], in[1]); }, tol);
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {2, 9, 40}, 47), values(be, {40, 11}, 48)};
      },
      [](const Inputs& in) { return ops::matmul(in[0], in[1]); }, tol);
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {4, 96}, 49), values(be, {40, 96}, 50, false)};
      },
      [](const Inputs& in) {
        return ops::linear_4bit(in[0], ops::quantize_4bit(in[1], Quant4bitOptions{}));
      },
      tol);
  expect_matches(
      [](Backend& be) {
        return Inputs{values(be, {2, 5, 48}, 51), values(be, {50, 48}, 52),
                      ints(be, {3, -100, 49, 0, 7, 7, -100, 12, 1, 2}, {2, 5})};
      },
      [](const Inputs& in) {
        ops::CrossEntropyOptions o;
        o.chunk_rows = 3;
        return ops::cross_entropy(in[0], in[1], in[2], o);
      },
      tol);
}

// ft::GemmArgs called directly, at both precisions and each B dtype, on the layouts ops
// reach only some of: batch items sharing A, B or C (stride 0), alpha with accumulate, both
// transposes, k = 0, and one frozen weight as linear layers use it (the GPU's tiled path).
TEST_P(BackendConformance, GemmStridesAlphaAndSharedOperands) {
  struct Case {
    std::int64_t m, n, k, batch, stride_a, stride_b, stride_c;
    bool trans_a, trans_b;
    float alpha;
    bool accumulate;
  };
  const Case cases[] = {
      {5, 7, 9, 3, 5 * 9, 0, 5 * 7, false, true, 0.5f, true},  // one B for every item
      {4, 6, 8, 3, 8 * 4, 8 * 6, 0, true, false, 1.0f, true},  // every item into one C
      {3, 5, 7, 2, 0, 5 * 7, 3 * 5, true, true, 2.0f, false},  // one A for every item
      {6, 5, 4, 1, 0, 0, 0, false, false, 1.0f, true},         // a linear layer's dx
      {6, 5, 4, 1, 0, 0, 0, false, true, 1.0f, false},         // a linear layer's y
      {2, 3, 0, 1, 0, 0, 0, false, true, 1.0f, false},         // k = 0: C = 0
  };
  const auto elements = [](std::int64_t batch, std::int64_t stride, std::int64_t matrix) {
    return std::max<std::int64_t>(
        1, batch > 1 && stride != 0 ? stride * (batch - 1) + matrix : matrix);
  };
  for (const DType compute : {DType::f32, DType::bf16}) {
    for (const DType b_dtype : {DType::f32, DType::bf16, DType::f16}) {
      for (const Case& c : cases) {
        const auto product = [&](Backend& be) {
          const Tensor a = values(be, {elements(c.batch, c.stride_a, c.m * c.k)}, 70, false);
          const Tensor b =
              ops::cast(values(be, {elements(c.batch, c.stride_b, c.k * c.n)}, 71, false), b_dtype);
          Tensor out = values(be, {elements(c.batch, c.stride_c, c.m * c.n)}, 72, false);
          be.gemm({.a = a.f32(),
                   .b = b.data(),
                   .c = out.f32(),
                   .b_dtype = b_dtype,
                   .trans_a = c.trans_a,
                   .trans_b = c.trans_b,
                   .m = c.m,
                   .n = c.n,
                   .k = c.k,
                   .batch = c.batch,
                   .stride_a = c.stride_a,
                   .stride_b = c.stride_b,
                   .stride_c = c.stride_c,
                   .alpha = c.alpha,
                   .accumulate = c.accumulate,
                   .compute = compute});
          return out.to_vector();
        };
        expect_close(product(testing::cpu()), product(test()), compute == DType::bf16 ? 2e-4 : 1e-4,
                     fmt::format("gemm {}x{}x{} batch {}, B {}, compute {}", c.m, c.n, c.k, c.batch,
                                 dtype_name(b_dtype), dtype_name(compute)));
      }
    }
  }
}

// Weights past one GPU tile (64 MiB of f32: 4100 rows of 4096), forward and backward, at
// both precisions: bf16 and 4-bit weights, whose f32 and emulated-bf16 GEMMs widen them a
// tile of rows at a time (A's and C's rows then strided), and which tensor cores read in
// place (bf16) or a dequantised tile at a time (4-bit).
TEST_P(BackendConformance, LinearOnWeightsLargerThanATile) {
  const Shape w_shape{4100, 4096};
  for (const DType compute : {DType::f32, DType::bf16}) {
    const ops::GemmPrecision precision(compute);
    const double tol = compute == DType::bf16 ? 2e-4 : 1e-4;
    expect_matches(
        [&](Backend& be) {
          return Inputs{values(be, {2, w_shape[1]}, 80),
                        ops::cast(values(be, w_shape, 81, false), DType::bf16)};
        },
        [](const Inputs& in) { return ops::linear(in[0], in[1]); }, tol);
    expect_matches(
        [&](Backend& be) {
          return Inputs{values(be, {2, w_shape[1]}, 82), values(be, w_shape, 83, false)};
        },
        [](const Inputs& in) {
          return ops::linear_4bit(in[0], ops::quantize_4bit(in[1], Quant4bitOptions{}));
        },
        tol);
  }
}

// The optimizer kernels and reductions, called directly: the same state after two steps,
// two tensors (with and without weight decay) in each multi-tensor call.
TEST_P(BackendConformance, OptimizerStepsAndReductions) {
  const auto steps = [](Backend& be) {
    Tensor p = values(be, {300}, 32, false), g = values(be, {300}, 33, false);
    Tensor m = Tensor::zeros({300}, DType::f32, be), v = Tensor::zeros({300}, DType::f32, be);
    Tensor buf = Tensor::zeros({300}, DType::f32, be), q = values(be, {300}, 34, false);
    for (std::int64_t step = 1; step <= 2; ++step) {
      const AdamWTensor adamw[] = {{.param = p.f32(),
                                    .grad = g.f32(),
                                    .m = m.f32(),
                                    .v = v.f32(),
                                    .n = 200,
                                    .weight_decay = 0.1f,
                                    .step = step},
                                   {.param = p.f32() + 200,
                                    .grad = g.f32() + 200,
                                    .m = m.f32() + 200,
                                    .v = v.f32() + 200,
                                    .n = 100,
                                    .weight_decay = 0.0f,
                                    .step = step + 3}};
      be.adamw_step({.tensors = adamw, .count = 2, .lr = 1e-2f});
      const SgdTensor sgd[] = {{.param = q.f32(),
                                .grad = g.f32(),
                                .momentum_buffer = buf.f32(),
                                .n = 100,
                                .weight_decay = 0.01f,
                                .first_step = step == 1},
                               {.param = q.f32() + 100,
                                .grad = g.f32() + 100,
                                .momentum_buffer = buf.f32() + 100,
                                .n = 200,
                                .weight_decay = 0.0f,
                                .first_step = step == 1}};
      be.sgd_step({.tensors = sgd, .count = 2, .lr = 0.1f, .momentum = 0.9f, .nesterov = true});
    }
    std::vector<float> out = p.to_vector();
    for (const Tensor& t : {m, v, q, buf})
      for (float x : t.to_vector()) out.push_back(x);
    out.push_back(static_cast<float>(be.sum(g.f32(), 300)));
    out.push_back(static_cast<float>(be.sum_squares(g.f32(), 300)));
    out.push_back(static_cast<float>(be.count_nonfinite(g.f32(), 300)));
    return out;
  };
  expect_close(steps(testing::cpu()), steps(test()), 1e-5, "optimizer state");
}

// Every fused kernel's SDK default (a qualified call: Backend::name) on the backend under
// test against the CPU backend's own fused kernel, so a backend that keeps a default, and
// one that overrides it, are both held to the same results.
enum class Path { fused, default_ };
std::vector<float> fused_kernels(Backend& be, Path path) {
  const bool fused = path == Path::fused;
  std::vector<float> out;
  const auto keep = [&](const Tensor& t) {
    for (float x : t.to_vector()) out.push_back(x);
  };
  const std::int64_t rows = 6, cols = 37;
  Tensor x = values(be, {rows, cols}, 60, false, -3, 3), dy = values(be, {rows, cols}, 61, false);
  {  // masked softmax, in place and not
    std::vector<float> mask_host(cols, 0.0f);
    for (std::int64_t j = 0; j < cols; j += 3) mask_host[j] = -INFINITY;
    Tensor mask = Tensor::from_vector(mask_host, {cols}, be);
    Tensor y = Tensor::zeros({rows, cols}, DType::f32, be), z = x.clone();
    const MaskedSoftmaxArgs a{
        .x = x.f32(), .mask = mask.f32(), .y = y.f32(), .rows = rows, .cols = cols, .scale = 0.7f};
    const MaskedSoftmaxArgs b{.x = z.f32(), .y = z.f32(), .rows = rows, .cols = cols};
    if (fused)
      be.masked_softmax(a), be.masked_softmax(b);
    else
      be.Backend::masked_softmax(a), be.Backend::masked_softmax(b);
    keep(y), keep(z);
  }
  for (const DType wdtype : {DType::f32, DType::bf16}) {  // RMSNorm forward and backward
    Tensor w = Tensor::from_vector(values(be, {cols}, 62, false).to_vector(), {cols}, be, wdtype);
    Tensor y = Tensor::zeros({rows, cols}, DType::f32, be),
           rstd = Tensor::zeros({rows}, DType::f32, be);
    Tensor dx = Tensor::zeros({rows, cols}, DType::f32, be);
    Tensor dw = values(be, {cols}, 63, false);  // accumulated into
    const RmsNormForwardArgs f{.x = x.f32(),
                               .weight = w.data(),
                               .weight_dtype = wdtype,
                               .y = y.f32(),
                               .rstd = rstd.f32(),
                               .rows = rows,
                               .dim = cols,
                               .eps = 1e-5f};
    const RmsNormBackwardArgs b{.x = x.f32(),
                                .weight = w.data(),
                                .weight_dtype = wdtype,
                                .rstd = rstd.f32(),
                                .dy = dy.f32(),
                                .dx = dx.f32(),
                                .d_weight = dw.f32(),
                                .rows = rows,
                                .dim = cols};
    if (fused)
      be.rmsnorm_forward(f), be.rmsnorm_backward(b);
    else
      be.Backend::rmsnorm_forward(f), be.Backend::rmsnorm_backward(b);
    keep(y), keep(rstd), keep(dx), keep(dw);
  }
  {  // SwiGLU forward and backward
    const std::int64_t n = rows * cols;
    Tensor up = values(be, {n}, 64, false, -3, 3);
    Tensor o = Tensor::zeros({n}, DType::f32, be), dg = Tensor::zeros({n}, DType::f32, be),
           du = Tensor::zeros({n}, DType::f32, be);
    const SwigluForwardArgs f{.gate = x.f32(), .up = up.f32(), .out = o.f32(), .n = n};
    const SwigluBackwardArgs b{.gate = x.f32(),
                               .up = up.f32(),
                               .d_out = dy.f32(),
                               .d_gate = dg.f32(),
                               .d_up = du.f32(),
                               .n = n};
    if (fused)
      be.swiglu_forward(f), be.swiglu_backward(b);
    else
      be.Backend::swiglu_forward(f), be.Backend::swiglu_backward(b);
    keep(o), keep(dg), keep(du);
  }
  {  // AdamW and SGD (with and without momentum), two steps of two tensors
    Tensor p = values(be, {300}, 65, false), g = values(be, {300}, 66, false);
    Tensor m = Tensor::zeros({300}, DType::f32, be), v = Tensor::zeros({300}, DType::f32, be);
    Tensor q = p.clone(), r = p.clone(), buf = Tensor::zeros({300}, DType::f32, be);
    for (std::int64_t step = 1; step <= 2; ++step) {
      const AdamWTensor adamw[] = {{.param = p.f32(),
                                    .grad = g.f32(),
                                    .m = m.f32(),
                                    .v = v.f32(),
                                    .n = 120,
                                    .weight_decay = 0.1f,
                                    .step = step},
                                   {.param = p.f32() + 120,
                                    .grad = g.f32() + 120,
                                    .m = m.f32() + 120,
                                    .v = v.f32() + 120,
                                    .n = 180,
                                    .weight_decay = 0.0f,
                                    .step = step + 2}};
      const AdamWStepArgs a{.tensors = adamw, .count = 2, .lr = 1e-2f, .beta2 = 0.95f};
      const SgdTensor momentum[] = {{.param = q.f32(),
                                     .grad = g.f32(),
                                     .momentum_buffer = buf.f32(),
                                     .n = 300,
                                     .weight_decay = 0.01f,
                                     .first_step = step == 1}};
      const SgdTensor plain[] = {
          {.param = r.f32(), .grad = g.f32(), .n = 300, .weight_decay = 0.01f}};
      const SgdStepArgs s1{
          .tensors = momentum, .count = 1, .lr = 0.1f, .momentum = 0.9f, .nesterov = step == 2};
      const SgdStepArgs s2{.tensors = plain, .count = 1, .lr = 0.1f};
      if (fused)
        be.adamw_step(a), be.sgd_step(s1), be.sgd_step(s2);
      else
        be.Backend::adamw_step(a), be.Backend::sgd_step(s1), be.Backend::sgd_step(s2);
    }
    keep(p), keep(m), keep(v), keep(q), keep(r), keep(buf);
  }
  return out;
}

TEST_P(BackendConformance, FusedKernelsAndTheirDefaults) {
  const std::vector<float> want = fused_kernels(testing::cpu(), Path::fused);
  expect_close(want, fused_kernels(test(), Path::fused), 2e-5, "the backend's fused kernels");
  expect_close(want, fused_kernels(test(), Path::default_), 2e-5, "the SDK's defaults");
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  return backend_of(info.param);
}

INSTANTIATE_TEST_SUITE_P(Plugins, BackendConformance, ::testing::ValuesIn(backend_plugins()),
                         test_name);

}  // namespace
}  // namespace ft
