// The llama plugin against the stories260K references (computed in float64 by transformers'
// Llama implementation, see testdata PROVENANCE.md): logits, loss and greedy generation,
// from the F32 file and from BF16 and sharded copies of it.
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

struct Reference {
  std::vector<std::int32_t> ids;  // the `loss` story, = reference_logits input_ids
  double loss = 0;
  std::vector<std::int32_t> prompt;  // greedy prompt (with BOS)
  std::vector<std::int32_t> greedy;  // the 40 tokens after it
};

Reference reference() {
  const nlohmann::json j = read_json(kStoriesDir / "reference.json");
  Reference r;
  r.ids = j["loss"]["ids"].get<std::vector<std::int32_t>>();
  r.loss = j["loss"]["mean_next_token_cross_entropy"].get<double>();
  r.prompt = j["greedy"]["prompt_ids"].get<std::vector<std::int32_t>>();
  r.greedy = j["greedy"]["ids"].get<std::vector<std::int32_t>>();
  return r;
}

// Greedy generation through the KV cache: the prompt in one call, then a token at a time.
std::vector<std::int32_t> greedy_decode(Model& model, const std::vector<std::int32_t>& prompt,
                                        int steps) {
  const std::int64_t vocab = model.info().vocab_size;
  std::unique_ptr<DecodeState> state =
      model.begin_decode(static_cast<std::int64_t>(prompt.size()) + steps);
  std::vector<float> logits = model.decode(*state, prompt).to_vector();
  std::vector<std::int32_t> out;
  for (int step = 0; step < steps; ++step) {
    out.push_back(argmax(logits.data(), vocab));
    if (step + 1 < steps) logits = model.decode(*state, {out.back()}).to_vector();
  }
  EXPECT_EQ(state->length(), static_cast<std::int64_t>(prompt.size()) + steps - 1);
  return out;
}

// Greedy generation recomputing the whole sequence every step (no cache).
std::vector<std::int32_t> greedy_recompute(Model& model, std::vector<std::int32_t> seq, int steps) {
  const std::int64_t vocab = model.info().vocab_size;
  std::vector<std::int32_t> out;
  for (int step = 0; step < steps; ++step) {
    NoGrad no_grad;
    ModelInput input;
    input.tokens = ids_tensor(seq);
    const std::vector<float> logits = model.logits(input).to_vector();
    out.push_back(argmax(logits.data() + (seq.size() - 1) * vocab, vocab));
    seq.push_back(out.back());
  }
  return out;
}

TEST(LlamaReference, LogitsMatchTransformers) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const io::SafetensorsFile ref(kStoriesDir / "reference_logits.safetensors");
  ModelInput input;
  input.tokens = ids_tensor(ref.load("input_ids", backend()).to_ints());
  const Tensor logits = model->logits(input);
  ASSERT_EQ(logits.shape(), (Shape{1, 42, 512}));
  const float err = max_abs_diff(logits.to_vector(), ref.load("logits", backend()).to_vector());
  std::printf("stories260K logits: max abs error %.3g vs the float64 reference\n", err);
  EXPECT_LT(err, 1e-4f);
}

TEST(LlamaReference, LossMatchesTransformers) {
  REQUIRE_STORIES();
  const Reference r = reference();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  ModelInput input;
  input.tokens = ids_tensor(r.ids);
  // Position t predicts ids[t + 1]; the last position predicts nothing.
  std::vector<std::int32_t> targets(r.ids.begin() + 1, r.ids.end());
  targets.push_back(-100);
  const Tensor loss =
      ops::cross_entropy(model->forward(input), model->lm_head(), ids_tensor(targets));
  const double rel = std::abs(loss.item() - r.loss) / r.loss;
  std::printf("stories260K loss: %.9f vs %.9f, relative error %.3g\n", loss.item(), r.loss, rel);
  EXPECT_LT(rel, 1e-5);
}

TEST(LlamaReference, GreedyDecodeWithKvCacheMatches) {
  REQUIRE_STORIES();
  const Reference r = reference();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  EXPECT_EQ(greedy_decode(*model, r.prompt, 40), r.greedy);
}

TEST(LlamaReference, GreedyRecomputingTheSequenceMatches) {
  REQUIRE_STORIES();
  const Reference r = reference();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  EXPECT_EQ(greedy_recompute(*model, r.prompt, 40), r.greedy);
}

TEST(LlamaReference, DecodeLogitsEqualFullForwardLogits) {
  REQUIRE_STORIES();
  const Reference r = reference();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  ModelInput input;
  input.tokens = ids_tensor(r.ids);
  const std::vector<float> full = model->logits(input).to_vector();
  const std::int64_t vocab = 512;
  // The prompt in one call, a chunk of 3 against a non-empty cache, then one at a time.
  std::unique_ptr<DecodeState> state = model->begin_decode(64);
  float worst = 0.0f;
  std::size_t pos = 0;
  for (std::size_t chunk :
       {std::size_t{5}, std::size_t{3}, std::size_t{1}, std::size_t{1}, std::size_t{1}}) {
    const std::vector<std::int32_t> tokens(r.ids.begin() + pos, r.ids.begin() + pos + chunk);
    const std::vector<float> got = model->decode(*state, tokens).to_vector();
    pos += chunk;
    const std::vector<float> want(full.begin() + (pos - 1) * vocab, full.begin() + pos * vocab);
    worst = std::max(worst, max_abs_diff(got, want));
  }
  EXPECT_EQ(state->length(), 11);
  EXPECT_LT(worst, 1e-4f);
  EXPECT_NE(ft::testing::error_of([&] { model->decode(*state, std::vector<std::int32_t>(54, 1)); }),
            "");
  EXPECT_EQ(ft::testing::error_of([&] { model->decode(*state, {512}); }),
            "llama: decode: token id 512 is outside the vocabulary [0, 512)");
}

TEST(LlamaReference, Bf16AndShardedCopiesGiveTheSameGreedyTokens) {
  REQUIRE_STORIES();
  const Reference r = reference();
  TempDir dir;
  const ModelFiles files = ModelFiles::read(kStoriesDir);
  files.write(dir / "bf16", DType::bf16);
  files.write(dir / "sharded", DType::f32, 600'000);
  ASSERT_TRUE(fs::exists(dir / "sharded" / "model-00002-of-00002.safetensors"));
  ASSERT_TRUE(fs::exists(dir / "sharded" / "model.safetensors.index.json"));
  EXPECT_EQ(io::SafetensorsFile(dir / "bf16" / "model.safetensors").at("model.norm.weight").dtype,
            "BF16");

  const std::unique_ptr<Model> sharded = load_model(dir / "sharded");
  EXPECT_EQ(greedy_decode(*sharded, r.prompt, 40), r.greedy);
  // BF16 weights, stored as BF16 (widened inside the kernels).
  const std::unique_ptr<Model> bf16 = load_model(dir / "bf16", DType::bf16);
  EXPECT_EQ(bf16->lm_head().dtype(), DType::bf16);
  EXPECT_EQ(greedy_decode(*bf16, r.prompt, 40), r.greedy);
  EXPECT_EQ(greedy_recompute(*bf16, r.prompt, 40), r.greedy);
  // The F32 file loaded as BF16 is the same model.
  const std::unique_ptr<Model> narrowed = load_model(kStoriesDir, DType::bf16);
  EXPECT_EQ(greedy_decode(*narrowed, r.prompt, 40), r.greedy);
}

TEST(LlamaReference, PackedDocumentsEqualSeparateSequences) {
  REQUIRE_STORIES();
  const Reference r = reference();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<std::int32_t> a(r.ids.begin(), r.ids.begin() + 10);
  const std::vector<std::int32_t> b(r.ids.begin() + 10, r.ids.begin() + 25);
  const auto logits_of = [&](const std::vector<std::int32_t>& ids) {
    ModelInput input;
    input.tokens = ids_tensor(ids);
    return model->logits(input).to_vector();
  };
  std::vector<float> separate = logits_of(a);
  const std::vector<float> lb = logits_of(b);
  separate.insert(separate.end(), lb.begin(), lb.end());

  std::vector<std::int32_t> packed = a, positions, docs;
  packed.insert(packed.end(), b.begin(), b.end());
  for (int i = 0; i < 10; ++i) positions.push_back(i), docs.push_back(0);
  for (int i = 0; i < 15; ++i) positions.push_back(i), docs.push_back(1);
  ModelInput input;
  input.tokens = ids_tensor(packed);
  input.positions = ids_tensor(positions);
  input.doc_ids = ids_tensor(docs);
  EXPECT_LT(max_abs_diff(model->logits(input).to_vector(), separate), 1e-4f);

  // A batch of two equal-length rows equals the rows one by one.
  const std::vector<std::int32_t> c(r.ids.begin() + 25, r.ids.begin() + 35);
  ModelInput batch;
  std::vector<std::int32_t> both = a;
  both.insert(both.end(), c.begin(), c.end());
  batch.tokens = Tensor::from_ints(both, {2, 10}, backend());
  std::vector<float> expected = logits_of(a);
  const std::vector<float> lc = logits_of(c);
  expected.insert(expected.end(), lc.begin(), lc.end());
  EXPECT_LT(max_abs_diff(model->logits(batch).to_vector(), expected), 1e-4f);
}

TEST(LlamaReference, DescribesItself) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const ModelInfo info = model->info();
  EXPECT_EQ(info.model_type, "llama");
  EXPECT_EQ(info.vocab_size, 512);
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.num_layers, 5);
  EXPECT_EQ(info.max_position_embeddings, 512);
  EXPECT_EQ(info.bos_token_id, 1);
  EXPECT_EQ(info.eos_token_ids, std::vector<std::int32_t>{2});
  EXPECT_TRUE(info.tie_word_embeddings);

  // Tied: the LM head is the embedding table, listed once.
  EXPECT_TRUE(model->lm_head().same_as(model->parameters().front().tensor));
  std::int64_t count = 0;
  for (const Parameter& p : model->parameters()) count += p.tensor.numel();
  // embed 512*64; per layer q 64*64, k, v 32*64, o 64*64, gate, up 172*64, down 64*172,
  // two norms 64; final norm 64.
  EXPECT_EQ(count, 512 * 64 + 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64 + 2 * 64) + 64);
  EXPECT_EQ(model->parameters().size(), 2u + 5u * 9u);

  const std::vector<Linear*> linears = model->linear_layers();
  ASSERT_EQ(linears.size(), 5u * 7u);
  EXPECT_EQ(linears[0]->name(), "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(linears[3]->name(), "model.layers.0.self_attn.o_proj");
  EXPECT_EQ(linears[6]->name(), "model.layers.0.mlp.down_proj");
  EXPECT_EQ(linears[7 * 3 + 1]->name(), "model.layers.3.self_attn.k_proj");
  EXPECT_EQ(linears[7 * 3 + 1]->out_features(), 32);
}

// An adapter's hook on a linear layer is what forward() calls.
TEST(LlamaReference, LinearHooksAreCalled) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  struct ZeroOut : LinearHook {
    int calls = 0;
    Tensor forward(const Linear& layer, const Tensor& x) override {
      ++calls;
      return ops::scale(layer.base_forward(x), 0.0f);
    }
  };
  auto hook = std::make_shared<ZeroOut>();
  ModelInput input;
  input.tokens = ids_tensor({1, 403, 407});
  const std::vector<float> before = model->logits(input).to_vector();
  for (Linear* l : model->linear_layers())
    if (l->name().ends_with("o_proj") || l->name().ends_with("down_proj")) l->set_hook(hook);
  // Every residual branch is zeroed: the logits are those of the embeddings alone.
  const std::vector<float> after = model->logits(input).to_vector();
  EXPECT_EQ(hook->calls, 10);
  EXPECT_GT(max_abs_diff(before, after), 1e-2f);
  const Tensor hidden =
      ops::rmsnorm(ops::embedding(input.tokens, model->lm_head()),
                   model->parameters()[model->parameters().size() - 1].tensor, 1e-5f);
  EXPECT_LT(max_abs_diff(after, ops::linear(hidden, model->lm_head()).to_vector()), 1e-5f);
}

}  // namespace
}  // namespace ft::testing
