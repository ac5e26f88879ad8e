// `ftengine generate`, `eval` and `init-model` end to end, through the real binary.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/tokenizer/tokenizer.hpp"
#include "support/cli.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;

const fs::path kStories = fs::path(FTENGINE_SHARED_TESTDATA) / "models" / "stories260K-hf";

class Commands : public ft::testing::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (!fs::exists(kStories / "model.safetensors"))
      GTEST_SKIP() << "test data absent: " << kStories.string();
    reference_ = nlohmann::json::parse(ft::testing::read_text_file(kStories / "reference.json"));
  }
  nlohmann::json reference_;
};

TEST_F(Commands, GenerateGreedyPrintsTheReferenceContinuation) {
  const ft::testing::CliResult r =
      run(fmt::format("generate --model '{}' --prompt 'Once upon a time' --temperature 0 "
                      "--max-new-tokens 40 --backend cpu",
                      kStories.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tokenizer tokenizer = Tokenizer::from_directory(kStories);
  const std::vector<std::int32_t> ids = reference_["greedy"]["ids"];
  EXPECT_EQ(r.out, tokenizer.decode(ids, true) + "\n");
  EXPECT_NE(r.err.find("ftengine: generated 40 tokens in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens/s), stopped at max_new_tokens; prompt 5 tokens"),
            std::string::npos)
      << r.err;
}

TEST_F(Commands, GenerateSamplesRepeatablyPerSeed) {
  const std::string args = fmt::format(
      "-q generate --model '{}' --prompt 'Lily' --temperature 1.2 --top-k 20 --top-p 0.9 "
      "--max-new-tokens 30 --seed ",
      kStories.string());
  const ft::testing::CliResult a = run(args + "5");
  const ft::testing::CliResult b = run(args + "5");
  const ft::testing::CliResult c = run(args + "6");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST_F(Commands, EvalJsonGivesTheReferenceLoss) {
  const fs::path data = dir_ / "story.txt";
  std::ofstream(data) << reference_["loss"]["text"].get<std::string>();
  const ft::testing::CliResult r =
      run(fmt::format("eval --model '{}' --data '{}' --json", kStories.string(), data.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double expected = reference_["loss"]["mean_next_token_cross_entropy"];
  EXPECT_NEAR(j["loss"].get<double>(), expected, 1e-5 * expected);
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(expected), 1e-5 * std::exp(expected));
  EXPECT_EQ(j["tokens"], 41);
  EXPECT_EQ(j.size(), 3u);
}

TEST_F(Commands, BadArgumentsAreOneLineAndExit2) {
  const std::string model = fmt::format("--model '{}'", kStories.string());
  const struct {
    std::string args;
    std::string error;
  } cases[] = {
      {"generate " + model,
       "\"generate\" needs --model DIR --prompt TEXT: ftengine generate --model DIR --prompt "
       "TEXT (see ftengine generate --help)"},
      {"generate --model /no/such/dir --prompt x",
       "--model /no/such/dir: no such directory (a Hugging Face model directory with "
       "config.json and *.safetensors)"},
      {"generate " + model + " --prompt x --temperature -1",
       "temperature must be >= 0 (0 is greedy), found -1.000000"},
      {"generate " + model + " --prompt x --dtype i32",
       "--dtype i32: weights are stored as f32 or bf16"},
      {"generate " + model + " --prompt x --adapter some/adapter",
       "some/adapter: no such adapter directory (a PEFT adapter directory with "
       "adapter_config.json and adapter_model.safetensors)"},
      {"eval " + model + " --data /no/such.txt", "/no/such.txt: no such data file"},
      {"init-model --preset huge --out x",
       "unknown model preset \"huge\"; presets: tiny, bench-25m, bench-125m, bench-1b"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const ft::testing::CliResult r = run(c.args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    const std::vector<std::string> lines = ft::testing::lines_of(r.err);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), "ftengine: error: " + c.error);
  }
}

TEST_F(Commands, ExportGgufWritesTheFileItNames) {
  const fs::path out = dir_ / "s.gguf";
  const ft::testing::CliResult r =
      run(fmt::format("-q export-gguf --model {} --out {} --type q8_0", kStories.string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("{}: {} as GGUF (q8_0)\n", out.string(), kStories.string()));
  EXPECT_TRUE(fs::exists(out));
  const ft::testing::CliResult bad =
      run(fmt::format("-q export-gguf --model {} --out {} --type q4", kStories.string(), out.string()));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("GGUF type \"q4\": choose f32, f16, bf16, q8_0 or q4_0"), std::string::npos)
      << bad.err;
}

TEST_F(Commands, InitModelWritesAModelThatRuns) {
  const fs::path out = dir_ / "tiny";
  ft::testing::CliResult r = run(fmt::format("init-model --preset tiny --out '{}' --seed 3",
                                             out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(fmt::format("{}: tiny model, 804480 parameters (0.8M), f32, seed 3\n",
                                    out.string()),
                        0),
            0u)
      << r.out;
  for (const char* file : {"config.json", "generation_config.json", "model.safetensors",
                           "tokenizer.json", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(out / file)) << file;

  r = run(fmt::format("-q generate --model '{}' --prompt 'hello' --max-new-tokens 5 "
                      "--temperature 0 --ignore-eos",
                      out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generated 5 tokens"), std::string::npos) << r.err;

  // Random weights over 258 tokens: the loss is near ln(258) = 5.55.
  std::ofstream(dir_ / "text.txt") << "The quick brown fox jumps over the lazy dog.";
  r = run(fmt::format("eval --model '{}' --data '{}' --json", out.string(),
                      (dir_ / "text.txt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double loss = nlohmann::json::parse(r.out)["loss"];
  EXPECT_NEAR(loss, std::log(258.0), 0.1);

  // Nothing is overwritten.
  r = run(fmt::format("init-model --preset tiny --out '{}'", out.string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, fmt::format("ftengine: error: {}: directory is not empty; init-model writes "
                               "into a new or empty directory so it overwrites nothing\n",
                               out.string()));
}

}  // namespace
}  // namespace ft::engine
