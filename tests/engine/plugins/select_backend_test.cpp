// PluginRegistry::select_backend(): "auto" takes the available backend of highest priority
// and says why it passed over the others; a named backend must be available.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/plugins/registry.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"
#include "support/errors.hpp"
#include "tests/engine/plugins/loader_fixtures.hpp"

namespace ft::engine {
namespace {

using ft::testing::error_of;
using testing::fixture_dir;
using testing::fixture_file;
using ::testing::HasSubstr;

class SelectBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = log::level();
    log::set_level(log::Level::info);
  }
  void TearDown() override { log::set_level(saved_level_); }

 private:
  log::Level saved_level_ = log::Level::info;
};

TEST_F(SelectBackend, AutoPicksTheAvailableBackendOfHighestPriority) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});
  ::testing::internal::CaptureStderr();
  std::unique_ptr<Backend> backend = registry.select_backend("auto");
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_NE(backend, nullptr);
  // basic (priority 1) is found first and offline (priority 50) has no device.
  EXPECT_EQ(backend->name(), "turbo");
  EXPECT_EQ(log,
            "ftengine: backend: auto picked turbo (fixture turbo device); skipped basic (fixture "
            "basic device): lower priority (1 < 10); skipped offline: no device (fixture)\n");
}

TEST_F(SelectBackend, AutoSurvivesBackendsThatThrow) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_none"), fixture_dir("plugins_good")});
  ::testing::internal::CaptureStderr();
  std::unique_ptr<Backend> backend = registry.select_backend("auto");
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(backend->name(), "turbo");
  EXPECT_THAT(log, HasSubstr("; skipped throws: plugin backend/throws ("));
  EXPECT_THAT(log, HasSubstr("): probe() failed: fixture probe failed"));
}

TEST_F(SelectBackend, AutoPrefersTheFirstFoundOfAKindAndName) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_dup"), fixture_dir("plugins_good")});
  ::testing::internal::CaptureStderr();
  std::unique_ptr<Backend> backend = registry.select_backend("auto");
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(backend->probe().priority, 100);  // the plugins_dup build of turbo
  // The duplicate file is not a reason to mention: turbo did load.
  EXPECT_THAT(log, ::testing::Not(HasSubstr("duplicate")));
}

TEST_F(SelectBackend, AutoWithNoneAvailableGivesEveryReason) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_none"), fixture_dir("plugins_broken")});
  const std::string message = error_of([&] { registry.select_backend("auto"); });
  EXPECT_THAT(message, ::testing::StartsWith(
                           "no backend is available here: nodevice: no device (fixture); "
                           "probe_fails: plugin backend/probe_fails (" +
                           fixture_file("plugins_none", "backend", "probe_fails").string() +
                           "): probe() failed: fixture probe failed; throws: plugin "
                           "backend/throws (" +
                           fixture_file("plugins_none", "backend", "throws").string() +
                           "): fixture constructor failed; "));
  // Backend files that did not load say why too (the ones of other kinds do not).
  EXPECT_THAT(message, HasSubstr(fixture_file("plugins_broken", "backend", "needs_dep").string() +
                                 " was skipped: missing dependency"));
  EXPECT_THAT(message, HasSubstr("libftengine-backend-abi_major.so was skipped: built for plugin "
                                 "ABI"));
  EXPECT_THAT(message, HasSubstr("libftengine-backend-text.so was skipped: not a shared library"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("widget")));
  EXPECT_THAT(message, ::testing::EndsWith("(search path: " + fixture_dir("plugins_none").string() +
                                           ", " + fixture_dir("plugins_broken").string() + ")"));
}

TEST_F(SelectBackend, AutoWithNoBackendPluginsSaysWhereItLooked) {
  PluginRegistry registry;
  registry.scan({fixture_dir("no_such_directory")});
  EXPECT_EQ(error_of([&] { registry.select_backend("auto"); }),
            "no backend plugins found (search path: " + fixture_dir("no_such_directory").string() +
                "); add the directory of libftengine-backend-cpu.so with --plugin-dir or "
                "FTENGINE_PLUGIN_PATH");
}

TEST_F(SelectBackend, ANamedBackendIsTakenEvenIfAnotherRanksHigher) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});
  ::testing::internal::CaptureStderr();
  std::unique_ptr<Backend> backend = registry.select_backend("basic");
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(backend->name(), "basic");
  EXPECT_EQ(log, "ftengine: backend: basic (fixture basic device)\n");
}

TEST_F(SelectBackend, ANamedBackendMustBeAvailable) {
  PluginRegistry registry;
  registry.scan({fixture_dir("plugins_good")});
  EXPECT_EQ(error_of([&] { registry.select_backend("offline"); }),
            "backend \"offline\" is not available here: no device (fixture) (" +
                fixture_file("plugins_good", "backend", "offline").string() +
                "); set backend = \"auto\" to use the best one that is");
  EXPECT_THAT(error_of([&] { registry.select_backend("trubo"); }),
              HasSubstr("no backend plugin named \"trubo\"; found: basic, offline, turbo"));
  EXPECT_THAT(error_of([&] { registry.select_backend("trubo"); }),
              HasSubstr("did you mean \"turbo\"?"));
}

}  // namespace
}  // namespace ft::engine
