// Packing changes where examples sit, not what the model sees: the stories260K model gives
// a packed batch the same summed loss as the same examples each in a row of its own, since
// attention stays within each example (doc ids) and positions restart.
#include <gtest/gtest.h>

#include "engine/data/chat_template.hpp"
#include "engine/data/sequences.hpp"
#include "engine/train/micro_batch.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/ops.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

double summed_loss(Model& model, const engine::TokenizedRows& rows) {
  std::vector<std::int64_t> all(rows.rows.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const engine::MicroBatch batch = engine::make_micro_batch(rows.rows, all, backend());
  NoGrad no_grad;
  const Tensor hidden = model.forward(batch.input);
  return ops::cross_entropy(hidden, model.lm_head(), batch.targets,
                            {.reduction = ops::Reduction::sum})
      .item();
}

TEST(Packing, APackedBatchHasTheLossOfItsExamplesOneByOne) {
  if (!fs::exists(kStoriesDir / "model.safetensors"))
    GTEST_SKIP() << kStoriesDir.string() << " is absent (../shared/testdata)";
  const engine::Tokenizer tok = engine::Tokenizer::from_directory(kStoriesDir);
  const engine::ChatTemplate t =
      engine::resolve_template(engine::builtin_template("zephyr"), tok);
  std::vector<engine::TokenizedExample> examples;
  const char* const replies[] = {"Once upon a time there was a cat.", "The dog ran.",
                                 "Lily liked the big red ball very much.", "Yes.",
                                 "Tom and Sam went to the park to play."};
  for (const char* reply : replies) {
    const engine::Example e{.format = engine::DataFormat::chat,
                            .messages = {{engine::Role::user, "Tell me a story.", ""},
                                         {engine::Role::assistant, reply, ""}},
                            .tools = "",
                            .origin = "x"};
    examples.push_back(engine::tokenize(engine::render(e, &t, tok, {}), tok, e.origin));
  }
  engine::SequenceCounts one, packed_counts;
  const engine::TokenizedRows single = engine::build_rows(examples, {.seq_len = 160}, one);
  const engine::TokenizedRows packed =
      engine::build_rows(examples, {.seq_len = 160, .packing = true}, packed_counts);
  ASSERT_EQ(single.rows.size(), 5u);
  ASSERT_LT(packed.rows.size(), single.rows.size());  // it did pack
  ASSERT_EQ(packed.target_tokens, single.target_tokens);

  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const double a = summed_loss(*model, single), b = summed_loss(*model, packed);
  EXPECT_NEAR(a, b, 1e-5 * a);
  // And the mask matters: training on the prompts too changes the loss.
  engine::SequenceCounts unused;
  std::vector<engine::TokenizedExample> everything = examples;
  for (auto& e : everything) std::fill(e.trained.begin(), e.trained.end(), 1);
  EXPECT_GT(summed_loss(*model, engine::build_rows(everything, {.seq_len = 160}, unused)), a * 1.5);
}

}  // namespace
}  // namespace ft::testing
