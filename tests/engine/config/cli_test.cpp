// The ftengine binary end to end: exit codes, one-line errors, validate's report. None of
// these needs a plugin to be installed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "support/cli.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

using Result = ft::testing::CliResult;
using ft::testing::lines_of;

class Cli : public ft::testing::CliTest {};

TEST_F(Cli, Version) {
  const Result r = run("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("ftengine 0.1.0", 0), 0u) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(Cli, Help) {
  Result r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: ftengine [OPTIONS] COMMAND"), std::string::npos) << r.out;
  for (const char* command : {"run", "validate", "generate", "eval", "init-model", "plugins"})
    EXPECT_NE(r.out.find(fmt::format("\n  {} ", command)), std::string::npos) << command;

  r = run("validate --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage: ftengine validate [OPTIONS] JOB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--show"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--set"), std::string::npos) << r.out;

  r = run("plugins --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos) << r.out;
}

TEST_F(Cli, UnknownCommandIsOneLineAndExit2) {
  Result r = run("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ftengine: error: unknown command \"frobnicate\" (see ftengine --help)\n");

  r = run("valdate configs/quickstart.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "ftengine: error: unknown command \"valdate\"; did you mean \"validate\"? (see "
            "ftengine --help)\n");
}

TEST_F(Cli, UsageErrorsAreOneLineAndExit2) {
  for (const char* args : {"--frobnicate", "validate --frobnicate configs/quickstart.toml",
                           "validate", "validate a.toml b.toml", "", "-v -q plugins"}) {
    SCOPED_TRACE(args);
    const Result r = run(args);
    EXPECT_EQ(r.exit_code, 2);
    ASSERT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("ftengine: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("(see ftengine"), std::string::npos) << r.err;
  }
}

TEST_F(Cli, ValidateGoodJob) {
  const Result r = run("validate configs/quickstart.toml");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "configs/quickstart.toml: ok");
  EXPECT_NE(r.out.find("  adapter    lora r=8 alpha=16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  backend    auto"), std::string::npos) << r.out;
}

TEST_F(Cli, ValidateShowPrintsTheResolvedJob) {
  const Result r = run("validate configs/quickstart.toml --show --set backend.plugin=cpu");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\n[backend]\nplugin = 'cpu'\n"), std::string::npos) << r.out;
}

TEST_F(Cli, ValidateBadJobListsEveryProblem) {
  const std::string file = "tests/engine/config/jobs/several_problems.toml";
  const Result r = run("validate " + file);
  EXPECT_EQ(r.exit_code, 2);
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 10u) << r.out;
  const std::regex located("^" + file + R"(:[0-9]+:[0-9]+: [a-z_.]+: .+$)");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i)
    EXPECT_TRUE(std::regex_match(lines[i], located)) << lines[i];
  EXPECT_EQ(lines[0], file +
                          ":6:9: model.dtype: expected one of \"f32\", \"bf16\", found \"f16\"; "
                          "did you mean \"bf16\"?");
  EXPECT_EQ(lines.back(), "9 problems in " + file);
}

TEST_F(Cli, GlobalOptionsGoBeforeOrAfterTheCommand) {
  for (const char* args : {"--set train.batch_size=0 validate configs/quickstart.toml",
                           "validate configs/quickstart.toml --set train.batch_size=0",
                           "validate --set=train.batch_size=0 configs/quickstart.toml"}) {
    SCOPED_TRACE(args);
    const Result r = run(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out,
              "--set train.batch_size=0: train.batch_size: expected an integer >= 1, found 0\n"
              "1 problem in configs/quickstart.toml\n");
  }
}

TEST_F(Cli, ValidateMissingFile) {
  const Result r = run("validate no/such/job.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "no/such/job.toml: job file not found\n1 problem in no/such/job.toml\n");
}

TEST_F(Cli, RunRefusesABadJobBeforeLoadingAnything) {
  const Result r = run("run tests/engine/config/jobs/unknown_key.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "ftengine: error: tests/engine/config/jobs/unknown_key.toml:7:1: adapter.rnak: unknown "
            "key; did you mean \"r\"?\n");
}

TEST_F(Cli, RunWithAnUnknownBackendIsBadInput) {
  // Whatever plugins there are, none is called this.
  const Result r =
      run(fmt::format("-q run configs/quickstart.toml --plugin-dir '{}' --set "
                      "backend.plugin=no_such_backend",
                      dir_.string()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  ASSERT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("ftengine: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("no_such_backend"), std::string::npos) << r.err;
}

TEST_F(Cli, PluginsJsonHasItsShape) {
  const Result r = run(fmt::format("plugins --json --plugin-dir '{}'", dir_.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["plugins"].is_array());
  ASSERT_TRUE(j["skipped"].is_array());
  ASSERT_TRUE(j["search_path"].is_array());
  ASSERT_FALSE(j["search_path"].empty());
  EXPECT_EQ(j["search_path"][0], dir_.string());  // --plugin-dir comes first
  for (const auto& p : j["plugins"])
    for (const char* field : {"kind", "name", "version", "abi", "description", "path"})
      EXPECT_TRUE(p[field].is_string()) << field;
}

TEST_F(Cli, PluginsReportsAFileThatIsNotAPlugin) {
  std::ofstream(dir_ / "libftengine-backend-fake.so") << "not a shared library";
  const Result r = run(fmt::format("plugins --json --plugin-dir '{}'", dir_.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;  // skipped files are not failures
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["skipped"].empty()) << r.out;
  EXPECT_EQ(j["skipped"][0]["path"], (dir_ / "libftengine-backend-fake.so").string());
  EXPECT_TRUE(j["skipped"][0]["reason"].is_string());
}

}  // namespace
}  // namespace ft::engine
