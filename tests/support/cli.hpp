// Runs the real `ftengine` binary, as a user would, and captures what it prints.
//
//   class MyTest : public ft::testing::CliTest {};
//   TEST_F(MyTest, X) { CliResult r = run("eval --model m --data d.txt"); ... }
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ft::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A fixture with a fresh scratch directory per test (dir_), removed afterwards.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("ftengine-cli-{}-{}-{}", ::getpid(), info->test_suite_name(), info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `ftengine ARGS` run from the source tree (so configs/... resolve), with no plugin path
  // from the environment; stdout and stderr captured apart.
  CliResult run(const std::string& args) const {
    const std::string command =
        fmt::format("cd '{}' && env -u FTENGINE_PLUGIN_PATH '{}' {} >'{}' 2>'{}'",
                    FTENGINE_SOURCE_DIR, FTENGINE_BINARY, args, (dir_ / "out").string(),
                    (dir_ / "err").string());
    const int status = std::system(command.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text_file(dir_ / "out");
    r.err = read_text_file(dir_ / "err");
    return r;
  }

  std::filesystem::path dir_;
};

}  // namespace ft::testing
