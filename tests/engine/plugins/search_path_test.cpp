// plugin_search_path(): --plugin-dir, FTENGINE_PLUGIN_PATH, the job's plugin_dirs, then the
// directory next to the executable; never the current directory unless named; each
// directory once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/plugins/registry.hpp"
#include "tests/engine/plugins/loader_fixtures.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnv;

// A directory of our own under the build tree, with subdirectories a..f.
class SearchPath : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::fixture_dir("search_path_dirs");
    for (const char* name : {"a", "b", "c", "d", "e", "f"}) fs::create_directories(root_ / name);
  }
  fs::path dir(const char* name) const { return root_ / name; }
  fs::path exe_dir() const { return fs::weakly_canonical(FTENGINE_BUILD_PLUGIN_DIR); }

  fs::path root_;
};

bool contains(const std::vector<fs::path>& dirs, const fs::path& dir) {
  return std::find(dirs.begin(), dirs.end(), dir) != dirs.end();
}

TEST_F(SearchPath, FlagsThenEnvironmentThenJobThenNextToTheExecutable) {
  ScopedEnv env("FTENGINE_PLUGIN_PATH", dir("c").string() + ":" + dir("d").string());
  const std::vector<fs::path> dirs = plugin_search_path({dir("a"), dir("b")}, {dir("e")});
  EXPECT_THAT(dirs,
              ::testing::ElementsAre(dir("a"), dir("b"), dir("c"), dir("d"), dir("e"), exe_dir()));
}

TEST_F(SearchPath, EndsWithThePluginDirectoryNextToTheExecutable) {
  ScopedEnv env("FTENGINE_PLUGIN_PATH", std::nullopt);
  // The test runs from build/bin, so that is build/lib/ftengine/plugins.
  EXPECT_THAT(plugin_search_path({}, {}), ::testing::ElementsAre(exe_dir()));
  EXPECT_THAT(plugin_search_path({dir("a")}, {}), ::testing::ElementsAre(dir("a"), exe_dir()));
}

TEST_F(SearchPath, EmptyEntriesNeverMeanTheCurrentDirectory) {
  ScopedEnv env("FTENGINE_PLUGIN_PATH", "::" + dir("c").string() + ":::");
  const std::vector<fs::path> dirs = plugin_search_path({""}, {""});
  EXPECT_THAT(dirs, ::testing::ElementsAre(dir("c"), exe_dir()));
  EXPECT_FALSE(contains(dirs, fs::current_path()));
}

TEST_F(SearchPath, ADotThatTheUserWroteIsTheCurrentDirectory) {
  ScopedEnv env("FTENGINE_PLUGIN_PATH", ".");
  EXPECT_THAT(plugin_search_path({}, {}), ::testing::ElementsAre(fs::current_path(), exe_dir()));
}

TEST_F(SearchPath, RelativeDirectoriesBecomeAbsolute) {
  ScopedEnv env("FTENGINE_PLUGIN_PATH", std::nullopt);
  const fs::path cwd = fs::current_path();
  EXPECT_THAT(plugin_search_path({"plugins/x", "./y/../z"}, {}),
              ::testing::ElementsAre(cwd / "plugins/x", cwd / "z", exe_dir()));
}

TEST_F(SearchPath, EachDirectoryOnceAtItsFirstPlace) {
  fs::remove(dir("link"));
  fs::create_directory_symlink(dir("a"), dir("link"));
  ScopedEnv env("FTENGINE_PLUGIN_PATH", dir("b").string() + "/:" + dir("a").string());
  const std::vector<fs::path> dirs =
      plugin_search_path({dir("a"), dir("b"), dir("f") / ".." / "a", dir("link")},
                         {dir("b"), fs::path(FTENGINE_BUILD_PLUGIN_DIR) / "."});
  EXPECT_THAT(dirs, ::testing::ElementsAre(dir("a"), dir("b"), exe_dir()));
}

}  // namespace
}  // namespace ft::engine
