// Packing and trimming change where examples sit and how much padding is computed, not what
// the model sees: the stories260K model gives a packed batch the same summed loss as the
// same examples each in a row of its own, since attention stays within each example (doc
// ids) and positions restart; and a micro-batch cut to its longest row the same loss and
// gradients as the padded rows it came from.
#include <gtest/gtest.h>

#include <set>

#include "engine/data/chat_template.hpp"
#include "engine/data/sequences.hpp"
#include "engine/train/micro_batch.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/ops.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

std::vector<engine::TokenizedExample> story_examples(const engine::Tokenizer& tok) {
  const engine::ChatTemplate t = engine::resolve_template(engine::builtin_template("zephyr"), tok);
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
  return examples;
}

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
  const std::vector<engine::TokenizedExample> examples = story_examples(tok);
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

TEST(Padding, TrimmedLengthsAreFewAndWasteLittle) {
  EXPECT_EQ(engine::trimmed_length(1, 512), 8);
  EXPECT_EQ(engine::trimmed_length(93, 512), 96);
  EXPECT_EQ(engine::trimmed_length(128, 512), 128);
  EXPECT_EQ(engine::trimmed_length(237, 512), 240);
  EXPECT_EQ(engine::trimmed_length(1000, 1024), 1024);
  EXPECT_EQ(engine::trimmed_length(1000, 1000), 1000);  // never past the rows
  EXPECT_EQ(engine::trimmed_length(60, 50), 50);
  std::set<std::int64_t> lengths;
  for (std::int64_t longest = 1; longest <= 4096; ++longest) {
    const std::int64_t cut = engine::trimmed_length(longest, 4096);
    EXPECT_GE(cut, longest);
    EXPECT_LE(cut - longest, std::max<std::int64_t>(7, longest / 8)) << longest;
    lengths.insert(cut);
  }
  EXPECT_LE(lengths.size(), 80u);
}

// The rows as they are, padding and all: what a micro-batch was before it was trimmed.
engine::MicroBatch padded_batch(const engine::TokenizedRows& rows) {
  std::vector<std::int32_t> tokens, positions, docs, targets;
  for (const engine::TokenRow& r : rows.rows) {
    tokens.insert(tokens.end(), r.tokens.begin(), r.tokens.end());
    positions.insert(positions.end(), r.positions.begin(), r.positions.end());
    docs.insert(docs.end(), r.doc_ids.begin(), r.doc_ids.end());
    targets.insert(targets.end(), r.targets.begin(), r.targets.end());
  }
  const Shape shape{static_cast<std::int64_t>(rows.rows.size()), rows.seq_len};
  engine::MicroBatch b;
  b.input.tokens = Tensor::from_ints(tokens, shape, backend());
  b.input.positions = Tensor::from_ints(positions, shape, backend());
  b.input.doc_ids = Tensor::from_ints(docs, shape, backend());
  b.targets = Tensor::from_ints(targets, shape, backend());
  return b;
}

TEST(Padding, ATrimmedBatchHasThePaddedBatchsLossAndGradients) {
  if (!fs::exists(kStoriesDir / "model.safetensors"))
    GTEST_SKIP() << kStoriesDir.string() << " is absent (../shared/testdata)";
  const engine::Tokenizer tok = engine::Tokenizer::from_directory(kStoriesDir);
  engine::SequenceCounts counts;
  const engine::TokenizedRows rows =
      engine::build_rows(story_examples(tok), {.seq_len = 160}, counts);
  std::vector<std::int64_t> all(rows.rows.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const engine::MicroBatch trimmed = engine::make_micro_batch(rows.rows, all, backend());
  ASSERT_LT(trimmed.input.tokens.dim(1), 64);  // cut from 160 to its longest row, rounded

  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<Parameter> params = model->parameters();
  const auto loss_and_grads = [&](const engine::MicroBatch& batch) {
    for (const Parameter& p : params) {
      Tensor t = p.tensor;
      t.set_requires_grad(true);
      t.zero_grad();
    }
    const Tensor loss = ops::cross_entropy(model->forward(batch.input), model->lm_head(),
                                           batch.targets, {.reduction = ops::Reduction::sum});
    loss.backward();
    std::vector<std::vector<float>> grads;
    for (const Parameter& p : params) grads.push_back(p.tensor.grad().to_vector());
    return std::pair{loss.item(), grads};
  };
  const auto [padded_loss, padded_grads] = loss_and_grads(padded_batch(rows));
  const auto [trimmed_loss, trimmed_grads] = loss_and_grads(trimmed);
  EXPECT_NEAR(trimmed_loss, padded_loss, 1e-6 * std::abs(padded_loss));
  for (std::size_t i = 0; i < params.size(); ++i) {
    float scale = 0;
    for (float g : padded_grads[i]) scale = std::max(scale, std::abs(g));
    // Not 1e-6: oneDNN's AVX2 f32 kernels block the two row counts differently (seen: 1.3e-6).
    EXPECT_LE(max_abs_diff(trimmed_grads[i], padded_grads[i]), 1e-5f * scale) << params[i].name;
  }
}

}  // namespace
}  // namespace ft::testing
