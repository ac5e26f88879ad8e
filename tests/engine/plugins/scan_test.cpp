// PluginRegistry::scan(): what loads, what is skipped and with which reason, and which of
// two plugins with the same kind/name wins (the first found).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/plugins/registry.hpp"
#include "tests/engine/plugins/loader_fixtures.hpp"

namespace ft::engine {
namespace {

using testing::fixture_dir;
using testing::fixture_file;

std::vector<std::string> ids(const PluginRegistry& registry) {
  std::vector<std::string> out;
  for (const PluginInfo& plugin : registry.plugins())
    out.push_back(plugin.kind + "/" + plugin.name);
  return out;
}

std::map<std::string, std::string> reasons_by_file(const PluginRegistry& registry) {
  std::map<std::string, std::string> out;
  for (const SkippedPlugin& skipped : registry.skipped())
    out[skipped.path.filename().string()] = skipped.reason;
  return out;
}

TEST(Scan, LoadsGoodPluginsInFileNameOrder) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});
  EXPECT_THAT(ids(registry), ::testing::ElementsAre("adapter/full", "adapter/lora", "backend/basic",
                                                    "backend/offline", "backend/turbo"));
  EXPECT_TRUE(registry.skipped().empty());

  const PluginInfo* turbo = registry.find("backend", "turbo");
  ASSERT_NE(turbo, nullptr);
  EXPECT_EQ(turbo->kind, "backend");
  EXPECT_EQ(turbo->name, "turbo");
  EXPECT_EQ(turbo->version, "1.0.0");
  EXPECT_EQ(turbo->description, "loader test fixture");
  EXPECT_EQ(turbo->abi_major, kAbiMajor);
  EXPECT_EQ(turbo->abi_minor, kAbiMinor);
  EXPECT_EQ(turbo->path, fixture_file("plugins_good", "backend", "turbo"));
  EXPECT_EQ(registry.find("backend", "lora"), nullptr);  // lora is an adapter
  EXPECT_EQ(registry.find("adapter", "nope"), nullptr);
}

TEST(Scan, GivesEachBrokenFileItsReason) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_broken")});

  // Loads (the descriptor is fine); that its object is no ft::Adapter shows on create.
  EXPECT_THAT(ids(registry), ::testing::ElementsAre("adapter/wrong_interface"));

  const std::map<std::string, std::string> reasons = reasons_by_file(registry);
  // README.txt, *.so.1 and the folder are not looked at.
  EXPECT_EQ(reasons.size(), 7u);
  EXPECT_EQ(reasons.at("libftengine-backend-text.so"), "not a shared library (no ELF header)");
  EXPECT_EQ(reasons.at("libftengine-backend-abi_major.so"),
            fmt::format("built for plugin ABI {}.{}, this ftengine speaks {}.{}: rebuild the "
                        "plugin against ftengine SDK {}.{}",
                        kAbiMajor + 1, kAbiMinor, kAbiMajor, kAbiMinor, kAbiMajor, kAbiMinor));
  EXPECT_EQ(reasons.at("libftengine-backend-abi_minor.so"),
            fmt::format("built for plugin ABI {}.{}, this ftengine speaks {}.{}: rebuild the "
                        "plugin against ftengine SDK {}.{}",
                        kAbiMajor, kAbiMinor + 1, kAbiMajor, kAbiMinor, kAbiMajor, kAbiMinor));
  EXPECT_EQ(reasons.at("libftengine-backend-abi_old.so"),
            fmt::format("built for plugin ABI {}.{}, but backend plugins need {}.1 or newer (the "
                        "backend interface changed since in ways older plugins cannot follow): "
                        "rebuild the plugin against ftengine SDK {}.{}",
                        kAbiMajor, kAbiMinor - 1, kAbiMajor, kAbiMajor, kAbiMinor));
  EXPECT_EQ(reasons.at("libftengine-backend-nodesc.so"),
            "not an ftengine plugin (no ftengine_plugin_descriptor export)");
  EXPECT_EQ(reasons.at("libftengine-backend-needs_dep.so"),
            "missing dependency libftengine_test_missing_dep.so: libftengine_test_missing_dep.so: "
            "cannot open shared object file: No such file or directory");
  EXPECT_EQ(reasons.at("libftengine-widget-thing.so"),
            "unknown plugin kind \"widget\" (this ftengine loads backend, model, adapter and "
            "optimizer plugins)");

  for (const SkippedPlugin& skipped : registry.skipped())
    EXPECT_EQ(skipped.path.parent_path(), fixture_dir("plugins_broken"));
  EXPECT_EQ(registry.find("backend", "abi_minor"), nullptr);
  EXPECT_EQ(registry.find("backend", "abi_old"), nullptr);
  EXPECT_EQ(registry.find("widget", "thing"), nullptr);
}

TEST(Scan, KeepsGoingPastBrokenFilesAndMissingDirectories) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_broken"), fixture_dir("no_such_directory"),
                 fixture_dir("plugins_good")});
  EXPECT_THAT(ids(registry),
              ::testing::ElementsAre("adapter/wrong_interface", "adapter/full", "adapter/lora",
                                     "backend/basic", "backend/offline", "backend/turbo"));
  EXPECT_EQ(registry.skipped().size(), 7u);  // the missing directory is not a skipped plugin
}

TEST(Scan, ScanningAgainAddsToWhatWasFound) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_none")});
  registry.scan({fixture_dir("plugins_good")});
  EXPECT_EQ(registry.plugins().size(), 8u);
  EXPECT_NE(registry.find("backend", "nodevice"), nullptr);
  EXPECT_NE(registry.find("adapter", "lora"), nullptr);
}

TEST(Scan, FirstFoundWinsAndTheDuplicateSaysWhere) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good"), fixture_dir("plugins_dup")});
  const PluginInfo* turbo = registry.find("backend", "turbo");
  ASSERT_NE(turbo, nullptr);
  EXPECT_EQ(turbo->version, "1.0.0");
  ASSERT_EQ(registry.skipped().size(), 1u);
  EXPECT_EQ(registry.skipped()[0].path, fixture_file("plugins_dup", "backend", "turbo"));
  EXPECT_EQ(registry.skipped()[0].reason,
            "duplicate of backend/turbo already loaded from " +
                fixture_file("plugins_good", "backend", "turbo").string());
}

TEST(Scan, DiscoveryOrderIsPriority) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_dup"), fixture_dir("plugins_good")});
  const PluginInfo* turbo = registry.find("backend", "turbo");
  ASSERT_NE(turbo, nullptr);
  EXPECT_EQ(turbo->version, "9.9.9-dup");
  EXPECT_EQ(turbo->path, fixture_file("plugins_dup", "backend", "turbo"));
  ASSERT_EQ(registry.skipped().size(), 1u);
  EXPECT_EQ(registry.skipped()[0].reason,
            "duplicate of backend/turbo already loaded from " +
                fixture_file("plugins_dup", "backend", "turbo").string());
}

TEST(Scan, TheSameFileTwiceIsNotADuplicate) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good"), fixture_dir("plugins_good") / "."});
  EXPECT_EQ(registry.plugins().size(), 5u);
  EXPECT_TRUE(registry.skipped().empty());
}

TEST(Scan, NothingToFind) {
  PluginRegistry registry;
  registry.scan({});
  registry.scan({fixture_dir("no_such_directory"), fixture_dir("plugins_broken") / "README.txt"});
  EXPECT_TRUE(registry.plugins().empty());
  EXPECT_TRUE(registry.skipped().empty());
}

}  // namespace
}  // namespace ft::engine
