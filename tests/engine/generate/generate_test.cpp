// The generation loop on the real stories260K model: greedy output equals the reference,
// sampling repeats per seed, and each stop condition ends it where it should.
#include "engine/generate/generate.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ftengine/error.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

namespace fs = std::filesystem;
using ft::testing::kStoriesDir;

struct Reference {
  std::string prompt;
  std::vector<std::int32_t> prompt_ids;
  std::vector<std::int32_t> greedy_ids;
};

Reference read_reference() {
  const nlohmann::json j = ft::testing::read_json(kStoriesDir / "reference.json");
  return {j["greedy"]["prompt"], j["greedy"]["prompt_ids"], j["greedy"]["ids"]};
}

GenerationOptions greedy(std::int64_t max_new_tokens) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  options.sampling.temperature = 0.0f;
  return options;
}

TEST(Generate, GreedyMatchesTheReferenceAndStreamsItsText) {
  REQUIRE_STORIES();
  const Reference ref = read_reference();
  auto model = ft::testing::load_model(kStoriesDir);
  const Tokenizer tokenizer = Tokenizer::from_directory(kStoriesDir);

  std::string streamed;
  int chunks = 0;
  const GenerationResult r =
      generate(*model, tokenizer, ref.prompt,
               greedy(static_cast<std::int64_t>(ref.greedy_ids.size())),
               [&](std::string_view text) {
                 streamed += text;
                 ++chunks;
               });
  EXPECT_EQ(r.prompt_tokens, ref.prompt_ids);
  EXPECT_EQ(r.new_tokens, ref.greedy_ids);
  EXPECT_EQ(r.stop, StopReason::max_new_tokens);
  EXPECT_EQ(r.text, tokenizer.decode(ref.greedy_ids, /*skip_special=*/true));
  EXPECT_EQ(streamed, r.text);
  EXPECT_GT(chunks, 10);  // streamed piece by piece, not at the end
}

TEST(Generate, SamplingRepeatsForASeedAndChangesWithIt) {
  REQUIRE_STORIES();
  auto model = ft::testing::load_model(kStoriesDir);
  const Tokenizer tokenizer = Tokenizer::from_directory(kStoriesDir);
  GenerationOptions options;
  options.max_new_tokens = 48;
  options.sampling = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 11};
  const GenerationResult a = generate(*model, tokenizer, "Once upon a time", options);
  const GenerationResult b = generate(*model, tokenizer, "Once upon a time", options);
  options.sampling.seed = 12;
  const GenerationResult c = generate(*model, tokenizer, "Once upon a time", options);
  EXPECT_EQ(a.new_tokens.size(), 48u);
  EXPECT_EQ(a.new_tokens, b.new_tokens);
  EXPECT_NE(a.new_tokens, c.new_tokens);
  EXPECT_NE(a.new_tokens, read_reference().greedy_ids);  // it did sample
}

// A copy of stories260K-hf whose config.json lists `extra_eos` as a second EOS id.
fs::path copy_with_extra_eos(const fs::path& dir, std::int32_t extra_eos) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* name : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(kStoriesDir / name, dir / name);
  nlohmann::json config = ft::testing::read_json(kStoriesDir / "config.json");
  config["eos_token_id"] = {2, extra_eos};
  std::ofstream(dir / "config.json") << config.dump(2);
  return dir;
}

TEST(Generate, StopsBeforeAnyEosIdOfTheModel) {
  REQUIRE_STORIES();
  const Reference ref = read_reference();
  // Declare the greedy path's 8th token an EOS: generation must stop just before it.
  const std::int32_t stop_token = ref.greedy_ids[7];
  const auto first = std::find(ref.greedy_ids.begin(), ref.greedy_ids.end(), stop_token);
  const std::vector<std::int32_t> expected(ref.greedy_ids.begin(), first);
  const fs::path dir = copy_with_extra_eos(
      fs::temp_directory_path() / ("ftengine-generate-eos-" + std::to_string(::getpid())),
      stop_token);
  auto model = ft::testing::load_model(dir);
  const Tokenizer tokenizer = Tokenizer::from_directory(dir);

  const GenerationResult stopped = generate(*model, tokenizer, ref.prompt, greedy(40));
  EXPECT_EQ(stopped.stop, StopReason::eos);
  EXPECT_EQ(stopped.new_tokens, expected);

  GenerationOptions through = greedy(40);
  through.stop_at_eos = false;
  EXPECT_EQ(generate(*model, tokenizer, ref.prompt, through).new_tokens, ref.greedy_ids);
  fs::remove_all(dir);
}

TEST(Generate, StopsWhenTheContextIsFull) {
  REQUIRE_STORIES();
  auto model = ft::testing::load_model(kStoriesDir);
  const Tokenizer tokenizer = Tokenizer::from_directory(kStoriesDir);
  const std::int64_t context = model->info().max_position_embeddings;
  ASSERT_EQ(context, 512);
  GenerationOptions options = greedy(10'000);
  options.stop_at_eos = false;
  const GenerationResult r = generate(*model, tokenizer, "Once upon a time", options);
  EXPECT_EQ(r.stop, StopReason::context);
  EXPECT_EQ(static_cast<std::int64_t>(r.prompt_tokens.size() + r.new_tokens.size()), context);
  // The greedy path is the same however much room it was given.
  const std::vector<std::int32_t> head(r.new_tokens.begin(), r.new_tokens.begin() + 40);
  EXPECT_EQ(head, read_reference().greedy_ids);
}

TEST(Generate, RefusesPromptsItCannotRun) {
  REQUIRE_STORIES();
  auto model = ft::testing::load_model(kStoriesDir);
  const Tokenizer tokenizer = Tokenizer::from_directory(kStoriesDir);
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "Once upon a time ";
  try {
    generate(*model, tokenizer, long_prompt, greedy(4));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fills the model's context of 512"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(generate(*model, tokenizer, "Hi", greedy(-1)), Error);
  GenerationOptions bad = greedy(4);
  bad.sampling.temperature = 0.5f;
  bad.sampling.top_p = 0.0f;
  EXPECT_THROW(generate(*model, tokenizer, "Hi", bad), Error);
  EXPECT_TRUE(generate(*model, tokenizer, "Hi", greedy(0)).new_tokens.empty());
}

}  // namespace
}  // namespace ft::engine
