// The generated quickstart dataset and `ftengine init-data`.
#include "engine/data/synthetic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "engine/data/examples.hpp"
#include "support/cli.hpp"
#include "tests/engine/data/data_test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using ft::testing::error_of;

class Synthetic : public ft::testing::DataTest {};

TEST_F(Synthetic, QuickstartIsDeterministicPerSeed) {
  const SyntheticDataset a = make_synthetic_dataset("quickstart", 7);
  const SyntheticDataset b = make_synthetic_dataset("quickstart", 7);
  const SyntheticDataset c = make_synthetic_dataset("quickstart", 8);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_NE(a.train, c.train);
  EXPECT_NE(a.val, c.val);
}

TEST_F(Synthetic, QuickstartHasNewValidationLinesOfShortSentences) {
  const SyntheticDataset d = make_synthetic_dataset("quickstart", 0);
  ASSERT_EQ(d.train.size(), 2000u);
  ASSERT_EQ(d.val.size(), 200u);
  const std::set<std::string> train(d.train.begin(), d.train.end());
  for (const std::string& v : d.val) EXPECT_EQ(train.count(v), 0u) << v;
  EXPECT_GT(train.size(), 1900u);  // few repeats: the grammar has many combinations

  // Sentences: upper-case start, full stop at the end, printable ASCII, a few per line.
  std::size_t bytes = 0;
  for (const std::string& text : d.train) {
    ASSERT_FALSE(text.empty());
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(text[0]))) << text;
    EXPECT_EQ(text.back(), '.') << text;
    for (char ch : text) EXPECT_TRUE(ch >= ' ' && ch <= '~') << text;
    bytes += text.size();
  }
  const double mean = static_cast<double>(bytes) / static_cast<double>(d.train.size());
  EXPECT_GT(mean, 40.0);
  EXPECT_LT(mean, 200.0);
}

TEST_F(Synthetic, FixedPairingsHoldEverywhere) {
  // An animal always makes its own sound: what makes the data learnable.
  const std::map<std::string, std::string> sound = {
      {"fox", "yip"},    {"dog", "woof"},  {"cat", "meow"},   {"cow", "moo"}, {"duck", "quack"},
      {"frog", "croak"}, {"sheep", "baa"}, {"bird", "tweet"}, {"pig", "oink"}};
  const std::regex says("The (\\w+) says (\\w+)\\.");
  int seen = 0;
  for (const std::string& text : make_synthetic_dataset("quickstart", 1).train)
    for (std::sregex_iterator m(text.begin(), text.end(), says), end; m != end; ++m, ++seen) {
      ASSERT_TRUE(sound.count((*m)[1])) << text;
      EXPECT_EQ(sound.at((*m)[1]), (*m)[2]) << text;
    }
  EXPECT_GT(seen, 500);
}

TEST_F(Synthetic, AFewBytesOfContextPredictTheNext) {
  // A model of the next byte given the previous three, counted on train and scored on val,
  // must be far below the 5.55 nats of a uniform guess over 258 tokens: the regularity a
  // tiny model picks up first. Random text over the same letters stays near ln(27) = 3.3.
  const SyntheticDataset d = make_synthetic_dataset("quickstart", 0);
  std::map<std::string, std::map<char, double>> counts;
  for (const std::string& text : d.train)
    for (std::size_t i = 3; i < text.size(); ++i) counts[text.substr(i - 3, 3)][text[i]] += 1;
  double nats = 0;
  std::size_t n = 0;
  for (const std::string& text : d.val)
    for (std::size_t i = 3; i < text.size(); ++i, ++n) {
      const auto& next = counts[text.substr(i - 3, 3)];
      double total = 0;
      for (const auto& [ch, c] : next) total += c;
      // Add-one smoothing over 95 printable characters: unseen events stay finite.
      const auto it = next.find(text[i]);
      nats -= std::log(((it == next.end() ? 0.0 : it->second) + 1.0) / (total + 95.0));
    }
  const double per_byte = nats / static_cast<double>(n);
  EXPECT_LT(per_byte, 1.0);
}

TEST_F(Synthetic, UnknownPresetsAreNamed) {
  EXPECT_EQ(error_of([] { make_synthetic_dataset("huge", 0); }),
            "unknown dataset preset \"huge\"; presets: quickstart");
}

TEST_F(Synthetic, WrittenFilesReadBackAsTheDataset) {
  const WrittenDataset w = write_synthetic_dataset("quickstart", dir_ / "q", 5);
  EXPECT_EQ(w.train_lines, 2000);
  EXPECT_EQ(w.val_lines, 200);
  ASSERT_EQ(w.files.size(), 2u);
  const SyntheticDataset d = make_synthetic_dataset("quickstart", 5);
  std::vector<std::string> train, val;
  for (const Example& e : read_examples(dir_ / "q" / "train.jsonl", {}).examples)
    train.push_back(e.messages.at(0).content);
  for (const Example& e : read_examples(dir_ / "q" / "val.jsonl", {}).examples)
    val.push_back(e.messages.at(0).content);
  EXPECT_EQ(train, d.train);
  EXPECT_EQ(val, d.val);

  // Nothing is overwritten; a file in the way is named.
  EXPECT_EQ(error_of([&] { write_synthetic_dataset("quickstart", dir_ / "q", 5); }),
            (dir_ / "q").string() +
                ": directory is not empty; init-data writes into a new or empty directory so "
                "it overwrites nothing");
  write("file", "x");
  EXPECT_EQ(error_of([&] { write_synthetic_dataset("quickstart", dir_ / "file", 5); }),
            (dir_ / "file").string() + ": exists and is not a directory");
}

class InitDataCommand : public ft::testing::CliTest {};

TEST_F(InitDataCommand, WritesTheSameFilesForTheSameSeed) {
  ft::testing::CliResult r =
      run(fmt::format("init-data --preset quickstart --out '{}' --seed 3", (dir_ / "a").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("{}: quickstart dataset, 2000 train and 200 validation lines, "
                               "seed 3\n  train.jsonl\n  val.jsonl\n",
                               (dir_ / "a").string()));
  r = run(fmt::format("init-data --preset quickstart --out '{}' --seed 3", (dir_ / "b").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run(fmt::format("init-data --preset quickstart --out '{}' --seed 4", (dir_ / "c").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"train.jsonl", "val.jsonl"}) {
    const std::string a = ft::testing::read_text_file(dir_ / "a" / file);
    EXPECT_EQ(ft::testing::lines_of(a).size(), std::string(file) == "val.jsonl" ? 200u : 2000u);
    EXPECT_EQ(a, ft::testing::read_text_file(dir_ / "b" / file)) << file;
    EXPECT_NE(a, ft::testing::read_text_file(dir_ / "c" / file)) << file;
  }
  EXPECT_NE(ft::testing::read_text_file(dir_ / "a" / "train.jsonl"),
            ft::testing::read_text_file(dir_ / "a" / "val.jsonl"));
}

TEST_F(InitDataCommand, BadArgumentsAreOneLineAndExitTwo) {
  fs::create_directories(dir_ / "full");
  std::ofstream(dir_ / "full" / "x") << "x";
  const struct {
    std::string args, error;
  } cases[] = {
      {"init-data --out x",
       "\"init-data\" needs --preset NAME --out DIR: ftengine init-data --preset NAME --out DIR "
       "(see ftengine init-data --help)"},
      {"init-data --preset quickstart",
       "\"init-data\" needs --preset NAME --out DIR: ftengine init-data --preset NAME --out DIR "
       "(see ftengine init-data --help)"},
      {"init-data --preset huge --out x", "unknown dataset preset \"huge\"; presets: quickstart"},
      {"init-data --preset quickstart --out '" + (dir_ / "full").string() + "'",
       (dir_ / "full").string() +
           ": directory is not empty; init-data writes into a new or empty directory so it "
           "overwrites nothing"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    const ft::testing::CliResult r = run(c.args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "ftengine: error: " + c.error + "\n");
  }
  EXPECT_FALSE(fs::exists(fs::path(FTENGINE_SOURCE_DIR) / "x"));  // nothing written on error
}

}  // namespace
}  // namespace ft::engine
