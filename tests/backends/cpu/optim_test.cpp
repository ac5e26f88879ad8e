// Fused AdamW and SGD steps against scalar double-precision references over several steps.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

// One tensor through the multi-tensor kernels.
void adamw(float* p, const float* g, float* m, float* v, std::int64_t n, float lr, float b1,
           float b2, float eps, float wd, std::int64_t step) {
  const AdamWTensor t{
      .param = p, .grad = g, .m = m, .v = v, .n = n, .weight_decay = wd, .step = step};
  backend().adamw_step({.tensors = &t, .count = 1, .lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps});
}
void sgd(float* p, const float* g, float* buf, std::int64_t n, float lr, float momentum, float wd,
         bool nesterov, bool first) {
  const SgdTensor t{.param = p,
                    .grad = g,
                    .momentum_buffer = buf,
                    .n = n,
                    .weight_decay = wd,
                    .first_step = first};
  backend().sgd_step(
      {.tensors = &t, .count = 1, .lr = lr, .momentum = momentum, .nesterov = nesterov});
}

TEST(CpuOptimizer, AdamWMatchesTheScalarReferenceOverSeveralSteps) {
  const std::int64_t n = 20011;
  std::vector<float> p = random_values(n, 41), m(n, 0.0f), v(n, 0.0f);
  std::vector<double> pr(p.begin(), p.end()), mr(n, 0.0), vr(n, 0.0);
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
  for (std::int64_t step = 1; step <= 5; ++step) {
    const auto g = random_values(n, 100 + static_cast<std::uint32_t>(step), -2.0f, 2.0f);
    adamw(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, step);
    for (std::int64_t i = 0; i < n; ++i) {
      mr[i] = b1 * mr[i] + (1.0 - b1) * g[i];
      vr[i] = b2 * vr[i] + (1.0 - b2) * double(g[i]) * g[i];
      pr[i] -= double(lr) * wd * pr[i];
      const double mhat = mr[i] / (1.0 - std::pow(double(b1), step));
      const double vhat = vr[i] / (1.0 - std::pow(double(b2), step));
      pr[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
    SCOPED_TRACE("step " + std::to_string(step));
    ASSERT_TRUE(all_close(m, mr, 1e-5, 1e-7));
    ASSERT_TRUE(all_close(v, vr, 1e-5, 1e-7));
    ASSERT_TRUE(all_close(p, pr, 1e-5, 1e-6));
  }
  EXPECT_THROW(adamw(p.data(), p.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, 0), ft::Error);
}

TEST(CpuOptimizer, SgdWithAndWithoutMomentumAndNesterov) {
  const std::int64_t n = 20011;
  struct Case {
    float momentum;
    bool nesterov;
    float weight_decay;
  };
  for (const Case& c :
       {Case{0.0f, false, 0.01f}, Case{0.9f, false, 0.0f}, Case{0.9f, true, 0.05f}}) {
    SCOPED_TRACE("momentum " + std::to_string(c.momentum) + " nesterov " +
                 std::to_string(c.nesterov));
    std::vector<float> p = random_values(n, 51),
                       buf(n, 123.0f);  // stale buffer: first step resets it
    std::vector<double> pr(p.begin(), p.end()), br(n, 0.0);
    const float lr = 0.05f;
    for (int step = 0; step < 4; ++step) {
      const auto g = random_values(n, 200 + step);
      sgd(p.data(), g.data(), c.momentum > 0 ? buf.data() : nullptr, n, lr, c.momentum,
          c.weight_decay, c.nesterov, step == 0);
      for (std::int64_t i = 0; i < n; ++i) {
        double d = g[i] + double(c.weight_decay) * pr[i];
        if (c.momentum > 0) {
          br[i] = step == 0 ? d : c.momentum * br[i] + d;
          d = c.nesterov ? d + c.momentum * br[i] : br[i];
        }
        pr[i] -= lr * d;
      }
      SCOPED_TRACE("step " + std::to_string(step));
      ASSERT_TRUE(all_close(p, pr, 1e-5, 1e-6));
      if (c.momentum > 0) {
        ASSERT_TRUE(all_close(buf, br, 1e-5, 1e-6));
      }
    }
  }
  std::vector<float> p(4), g(4);
  EXPECT_THROW(sgd(p.data(), g.data(), nullptr, 4, 0.1f, 0.9f, 0.0f, false, true), ft::Error);
}

// Several tensors in one call step each as its own call would, with its own decay and step.
TEST(CpuOptimizer, OneMultiTensorCallEqualsOneCallPerTensor) {
  const std::int64_t n0 = 37, n1 = 20011;
  std::vector<float> p0 = random_values(n0, 1), p1 = random_values(n1, 2);
  const std::vector<float> g0 = random_values(n0, 3), g1 = random_values(n1, 4);
  std::vector<float> m0(n0, 0.1f), v0(n0, 0.2f), m1(n1, 0.3f), v1(n1, 0.4f);
  std::vector<float> q0 = p0, q1 = p1, mm0 = m0, vv0 = v0, mm1 = m1, vv1 = v1;
  adamw(q0.data(), g0.data(), mm0.data(), vv0.data(), n0, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.1f, 3);
  adamw(q1.data(), g1.data(), mm1.data(), vv1.data(), n1, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.0f, 7);
  const AdamWTensor tensors[] = {{.param = p0.data(),
                                  .grad = g0.data(),
                                  .m = m0.data(),
                                  .v = v0.data(),
                                  .n = n0,
                                  .weight_decay = 0.1f,
                                  .step = 3},
                                 {.param = p1.data(),
                                  .grad = g1.data(),
                                  .m = m1.data(),
                                  .v = v1.data(),
                                  .n = n1,
                                  .weight_decay = 0.0f,
                                  .step = 7}};
  backend().adamw_step(
      {.tensors = tensors, .count = 2, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f});
  EXPECT_EQ(p0, q0);
  EXPECT_EQ(p1, q1);
  EXPECT_EQ(m1, mm1);
  EXPECT_EQ(v0, vv0);
}

}  // namespace
}  // namespace ft::backends::cpu::test
