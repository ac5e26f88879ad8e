// The real CPU backend plugin, as the engine loads it from the build tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "engine/plugins/registry.hpp"
#include "ftengine/plugin.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

TEST(CpuPlugin, RegistersAsBackendCpuAndProbesAvailable) {
  const fs::path dir = FTENGINE_BUILD_PLUGIN_DIR;
  const fs::path file = dir / "libftengine-backend-cpu.so";
  if (!fs::exists(file)) GTEST_SKIP() << file.string() << " is not built";

  PluginRegistry registry;
  registry.scan({dir});
  for (const SkippedPlugin& skipped : registry.skipped())
    EXPECT_NE(skipped.path, file) << "skipped: " << skipped.reason;
  const PluginInfo* cpu = registry.find("backend", "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->path, file);
  EXPECT_EQ(cpu->abi_major, kAbiMajor);
  EXPECT_EQ(cpu->abi_minor, kAbiMinor);
  EXPECT_FALSE(cpu->version.empty());
  EXPECT_FALSE(cpu->description.empty());

  std::unique_ptr<Backend> backend = registry.select_backend("cpu");
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "cpu");
  const DeviceInfo device = backend->probe();
  EXPECT_TRUE(device.available) << device.reason;
  EXPECT_GE(device.device_count, 1);
  EXPECT_FALSE(device.device_name.empty());
}

}  // namespace
}  // namespace ft::engine
