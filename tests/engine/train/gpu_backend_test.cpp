// The same LoRA job on each GPU backend that has a device here gives the CPU's losses
// within tolerance (GPU kernels sum in another order, so not bit for bit), in f32 and in
// bf16. Without a device the test skips with each backend's reason, as `ftengine plugins`
// reports it.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/engine/train/train_test_util.hpp"

namespace ft::testing {
namespace {

std::vector<double> step_losses(const fs::path& run_dir) {
  std::vector<double> losses;
  for (const nlohmann::json& r : records_with(read_metrics(run_dir), "loss"))
    losses.push_back(r["loss"].get<double>());
  return losses;
}

// The GPU backends `ftengine plugins --json` says can run here (with "bf16" among their
// precisions when `bf16`), and why each other cannot.
struct Gpus {
  std::vector<std::string> names, reasons;
};
Gpus runnable_gpus(const CliResult& listing, bool bf16) {
  Gpus gpus;
  for (const nlohmann::json& p : nlohmann::json::parse(listing.out)["plugins"]) {
    if (p["kind"] != "backend" || p["name"] == "cpu") continue;
    const std::string name = p["name"];
    if (!p.value("available", false)) {
      gpus.reasons.push_back(name + ": " + p.value("reason", std::string("?")));
    } else if (bf16 && !p.contains("precisions")) {
      gpus.reasons.push_back(name + ": no precisions listed");
    } else if (bf16 && std::find(p["precisions"].begin(), p["precisions"].end(), "bf16") ==
                           p["precisions"].end()) {
      gpus.reasons.push_back(name + ": no fast bf16: " + p.value("bf16", std::string("?")));
    } else {
      gpus.names.push_back(name);
    }
  }
  return gpus;
}

class GpuLossesTest : public TrainTest {
 protected:
  // 10 steps of the LoRA job on the CPU (`cpu_flags`), then on each GPU backend
  // (`gpu_flags`): the same loss at each step within `tolerance` (relative).
  void expect_gpu_losses(const Gpus& gpus, const std::string& cpu_flags,
                         const std::string& gpu_flags, double tolerance) {
    const std::string steps = " --set train.max_steps=10";
    const CliResult cpu = train(out("cpu") + steps + " --set backend.plugin=cpu" + cpu_flags);
    ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
    const std::vector<double> want = step_losses(dir_ / "cpu");
    ASSERT_EQ(want.size(), 10u);
    for (const std::string& gpu : gpus.names) {
      const CliResult r = train(out(gpu) + steps + " --set backend.plugin=" + gpu + gpu_flags);
      ASSERT_EQ(r.exit_code, 0) << gpu << ": " << r.err;
      const std::vector<double> got = step_losses(dir_ / gpu);
      ASSERT_EQ(got.size(), want.size()) << gpu;
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], tolerance * want[i]) << gpu << ", step " << i + 1;
    }
  }
};

TEST_F(GpuLossesTest, GpuBackendsGiveTheCpuLosses) {
  const CliResult listing = run("plugins --json");
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  const Gpus gpus = runnable_gpus(listing, false);
  if (gpus.names.empty())
    GTEST_SKIP() << "no GPU backend can run here: " << ::testing::PrintToString(gpus.reasons);
  const std::string f32 = " --set train.precision=f32";
  expect_gpu_losses(gpus, f32, f32, 2e-3);
}

// bf16 GEMMs on the GPU (tensor cores) against the CPU computing the same bf16 products
// (emulated where it has no AVX512-BF16): both round the same operands, so what differs is
// the order of the sums, which bf16 training amplifies more than f32's: 2% a step.
TEST_F(GpuLossesTest, GpuBackendsGiveTheCpuLossesInBf16) {
  const CliResult listing = run("plugins --json");
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  const Gpus gpus = runnable_gpus(listing, true);
  if (gpus.names.empty())
    GTEST_SKIP() << "no GPU backend runs bf16 here: " << ::testing::PrintToString(gpus.reasons);
  const std::string bf16 = " --set train.precision=bf16";
  expect_gpu_losses(gpus, bf16 + " --set backend.emulate_bf16=true", bf16, 2e-2);
}

// `backend = "auto"` on a machine where a GPU backend has no device: the CPU runs the job,
// and the log says why each GPU backend was passed over.
TEST_F(TrainTest, AutoPassesOverABackendWithoutADevice) {
  const CliResult listing = run("plugins --json");
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  const nlohmann::json plugins = nlohmann::json::parse(listing.out)["plugins"];
  std::vector<std::string> expected;
  for (const nlohmann::json& p : plugins)
    if (p["kind"] == "backend" && !p["available"].get<bool>())
      expected.push_back(fmt::format("skipped {}: {}", p["name"].get<std::string>(),
                                     p["reason"].get<std::string>()));
  if (expected.empty()) GTEST_SKIP() << "every backend built can run here";
  const CliResult r = train(out("auto") + " --set train.max_steps=1 --set backend.plugin=auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("backend: auto picked cpu"), std::string::npos) << r.err;
  for (const std::string& line : expected) EXPECT_NE(r.err.find(line), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ft::testing
