// The SDK's conformance helpers as a plugin author uses them: a backend plugin loaded by
// name from beside the SDK library, ops run on it, and clear errors for what is not one.
#include "ftengine/conformance.hpp"

#include <gtest/gtest.h>

#include <string>

#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft {
namespace {

std::string error_of(const std::string& name_or_path) {
  try {
    conformance::load_backend(name_or_path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Conformance, LoadsTheCpuBackendPluginByNameAndRunsOpsOnIt) {
  conformance::LoadedBackend cpu = conformance::load_backend("cpu");
  EXPECT_EQ(cpu->name(), "cpu");
  const Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, *cpu);
  const Tensor b = Tensor::from_vector({10, 100}, {2}, *cpu);
  EXPECT_EQ(ops::mul(a, b).to_vector(), (std::vector<float>{10, 200, 30, 400}));
  const conformance::GradientReport report = conformance::check_gradients(
      [](const std::vector<Tensor>& in) { return ops::mul(in[0], in[1]); },
      {conformance::random_tensor({3, 5}, *cpu, 1), conformance::random_tensor({5}, *cpu, 2)});
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.checked, 15u + 5u);
  EXPECT_DOUBLE_EQ(conformance::max_abs_diff(a, Tensor::from_vector({1, 2, 3, 4.5f}, {2, 2}, *cpu)),
                   0.5);
}

TEST(Conformance, SaysWhySomethingIsNotALoadableBackend) {
  EXPECT_NE(error_of("nosuch").find("libftengine-backend-nosuch.so not found"), std::string::npos)
      << error_of("nosuch");
  const std::string lora = std::string(FTENGINE_BUILD_PLUGIN_DIR) + "/libftengine-adapter-lora.so";
  EXPECT_NE(error_of(lora).find("a plugin of kind adapter, not a backend"), std::string::npos)
      << error_of(lora);
}

}  // namespace
}  // namespace ft
