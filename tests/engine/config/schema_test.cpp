// The schema against itself (defaults valid, pairs consistent) and against
// docs/job-file.md (every section's table appears there exactly as generated).
#include "engine/config/schema.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "engine/config/check.hpp"
#include "test_util.hpp"

namespace ft::engine {
namespace {

using schema::Key;
using schema::Section;

TEST(Schema, HasTheDocumentedSections) {
  std::vector<std::string_view> names;
  for (const Section& s : schema::sections()) names.push_back(s.name);
  EXPECT_EQ(names,
            (std::vector<std::string_view>{"job", "model", "adapter", "optimizer", "schedule",
                                           "data", "train", "backend", "engine", "output"}));
  ASSERT_NE(schema::find_section("adapter"), nullptr);
  EXPECT_NE(schema::find_section("adapter")->find("block_size"), nullptr);
  EXPECT_EQ(schema::find_section("adapter")->find("rank"), nullptr);
  EXPECT_EQ(schema::find_section("adapters"), nullptr);
}

TEST(Schema, EveryDefaultIsAValidValueOfItsKey) {
  for (const Section& section : schema::sections()) {
    for (const Key& key : section.keys) {
      if (key.default_value.empty()) continue;
      SCOPED_TRACE(fmt::format("{}.{} = {}", section.name, key.name, key.default_value));
      toml::table t = toml::parse(fmt::format("v = {}", key.default_value));
      detail::ProblemList problems("schema", {});
      EXPECT_TRUE(detail::check_value(key, "v", *t.get("v"), problems));
      for (const Problem& p : problems.sorted()) ADD_FAILURE() << p.to_string();
    }
  }
}

TEST(Schema, KeysAreConsistent) {
  for (const Section& section : schema::sections()) {
    std::set<std::string_view> seen;
    EXPECT_FALSE(section.doc.empty()) << section.name;
    for (const Key& key : section.keys) {
      SCOPED_TRACE(fmt::format("{}.{}", section.name, key.name));
      EXPECT_TRUE(seen.insert(key.name).second) << "duplicate key";
      EXPECT_FALSE(key.doc.empty());
      EXPECT_EQ(key.doc.find('\n'), std::string_view::npos) << "doc is one line";
      EXPECT_EQ(key.doc.find('|'), std::string_view::npos) << "doc goes in a markdown table";
      // A required key has no default, a key with a computed default documents it.
      if (key.required != schema::Required::no) {
        EXPECT_TRUE(key.default_value.empty());
      }
      // Pairs that exclude each other name each other.
      if (!key.excludes.empty()) {
        const Key* other = section.find(key.excludes);
        ASSERT_NE(other, nullptr);
        EXPECT_EQ(other->excludes, key.name);
      }
      // Plugin-specific keys name built-in plugins of their section.
      for (std::string_view plugin : key.plugins)
        EXPECT_NE(std::find(section.builtin_plugins.begin(), section.builtin_plugins.end(), plugin),
                  section.builtin_plugins.end())
            << plugin;
      if (key.length > 0) {
        EXPECT_EQ(key.type, schema::Type::number_array);
      }
    }
    // An open section needs a plugin key to decide whether it is open.
    if (!section.builtin_plugins.empty()) {
      EXPECT_NE(section.find("plugin"), nullptr);
    }
  }
}

TEST(Schema, OpenOnlyForPluginsThatAreNotBuiltIn) {
  const Section& adapter = *schema::find_section("adapter");
  EXPECT_FALSE(adapter.is_open_for("lora"));
  EXPECT_FALSE(adapter.is_open_for("qlora"));
  EXPECT_FALSE(adapter.is_open_for("full"));
  EXPECT_TRUE(adapter.is_open_for("dora"));
  EXPECT_FALSE(schema::find_section("train")->is_open_for("anything"));
  EXPECT_FALSE(schema::find_section("model")->is_open_for("mistral"));
}

TEST(Schema, DescribesWhatItExpects) {
  auto expected = [](std::string_view section, std::string_view key) {
    return schema::describe_expected(*schema::find_section(section)->find(key));
  };
  EXPECT_EQ(expected("train", "batch_size"), "an integer >= 1");
  EXPECT_EQ(expected("optimizer", "lr"), "a number > 0");
  EXPECT_EQ(expected("adapter", "dropout"), "a number in [0, 1)");
  EXPECT_EQ(expected("schedule", "min_lr_ratio"), "a number in [0, 1]");
  EXPECT_EQ(expected("adapter", "block_size"), "an integer in [32, 256]");
  EXPECT_EQ(expected("model", "dtype"), "one of \"f32\", \"bf16\"");
  EXPECT_EQ(expected("model", "path"), "a string");
  EXPECT_EQ(expected("adapter", "plugin"), "a string");  // open choices: any name
  EXPECT_EQ(expected("optimizer", "betas"), "an array of 2 numbers in [0, 1)");
  EXPECT_EQ(expected("data", "train"), "a string or an array of strings");
  EXPECT_EQ(expected("engine", "plugin_dirs"), "an array of strings");
  EXPECT_EQ(expected("train", "checkpointing"), "a boolean (true or false)");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// docs/job-file.md holds, for each section, its heading, its one-line doc and the table
// generated from the schema, verbatim. On failure the expected block is printed: paste it.
TEST(Schema, DocsListEveryKeyAsTheSchemaSays) {
  const std::string doc = read_file(test::source_dir() / "docs/job-file.md");
  ASSERT_FALSE(doc.empty()) << "docs/job-file.md is missing";
  for (const Section& section : schema::sections()) {
    const std::string block = fmt::format("### `[{}]`\n\n{}\n\n{}", section.name, section.doc,
                                          schema::markdown_table(section));
    EXPECT_NE(doc.find(block), std::string::npos)
        << "docs/job-file.md does not have this block as generated from the schema:\n"
        << block;
    for (const Key& key : section.keys)
      EXPECT_NE(doc.find(fmt::format("| `{}` |", key.name)), std::string::npos) << key.name;
  }
  // And no section the schema does not have.
  const std::regex heading(R"(### `\[([a-z_]+)\]`)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), heading);
       it != std::sregex_iterator(); ++it)
    EXPECT_NE(schema::find_section((*it)[1].str()), nullptr) << (*it)[0].str();
}

}  // namespace
}  // namespace ft::engine
