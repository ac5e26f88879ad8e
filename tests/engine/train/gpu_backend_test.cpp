// The same LoRA job on each GPU backend that has a device here gives the CPU's losses
// within tolerance (GPU kernels sum in another order, so not bit for bit). Without a
// device the test skips with each backend's reason, as `ftengine plugins` reports it.
#include <gtest/gtest.h>

#include "tests/engine/train/train_test_util.hpp"

namespace ft::testing {
namespace {

std::vector<double> step_losses(const fs::path& run_dir) {
  std::vector<double> losses;
  for (const nlohmann::json& r : records_with(read_metrics(run_dir), "loss"))
    losses.push_back(r["loss"].get<double>());
  return losses;
}

TEST_F(TrainTest, GpuBackendsGiveTheCpuLosses) {
  const CliResult listing = run("plugins --json");
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  std::vector<std::string> gpus, reasons;
  const nlohmann::json plugins = nlohmann::json::parse(listing.out)["plugins"];
  for (const nlohmann::json& p : plugins) {
    if (p["kind"] != "backend" || p["name"] == "cpu") continue;
    ASSERT_TRUE(p.contains("available")) << p.dump();
    if (p["available"].get<bool>())
      gpus.push_back(p["name"]);
    else
      reasons.push_back(p["name"].get<std::string>() + ": " + p["reason"].get<std::string>());
  }
  if (gpus.empty())
    GTEST_SKIP() << "no GPU backend can run here: " << ::testing::PrintToString(reasons);

  const CliResult cpu = train(out("cpu") + " --set train.max_steps=10 --set backend.plugin=cpu");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  const std::vector<double> want = step_losses(dir_ / "cpu");
  ASSERT_EQ(want.size(), 10u);
  for (const std::string& gpu : gpus) {
    const CliResult r = train(out(gpu) + " --set train.max_steps=10 --set backend.plugin=" + gpu);
    ASSERT_EQ(r.exit_code, 0) << gpu << ": " << r.err;
    const std::vector<double> got = step_losses(dir_ / gpu);
    ASSERT_EQ(got.size(), want.size()) << gpu;
    for (std::size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2e-3 * want[i]) << gpu << ", step " << i + 1;
  }
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
