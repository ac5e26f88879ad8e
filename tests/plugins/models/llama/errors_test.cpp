// Model directories the plugin must refuse, each with a message naming the file and what is
// wrong, and the near misses it must accept.
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

class LlamaErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kStoriesDir / "model.safetensors"))
      GTEST_SKIP() << "test data absent: " << kStoriesDir.string();
    files_ = ModelFiles::read(kStoriesDir);
  }
  // Writes the (modified) model and returns the message loading it throws ("" if none).
  std::string load_error(const ModelFiles& files) {
    files.write(dir_.path());
    return error_or_empty([&] { load_model(dir_.path()); });
  }
  std::string weights() const { return (dir_ / "model.safetensors").string(); }
  std::string config() const { return (dir_ / "config.json").string(); }

  TempDir dir_;
  ModelFiles files_;
  const std::string summary_ =
      "(llama: hidden 64, intermediate 172, 5 layers, 8 heads, 4 kv heads, head_dim 8, vocab 512)";
};

TEST_F(LlamaErrors, MissingTensor) {
  files_.erase("model.layers.2.mlp.up_proj.weight");
  EXPECT_EQ(load_error(files_), weights() +
                                    ": missing tensor \"model.layers.2.mlp.up_proj.weight\" "
                                    "(shape [172, 64]) that config.json implies " +
                                    summary_);
}

TEST_F(LlamaErrors, ExtraTensor) {
  files_.set("model.layers.0.self_attn.extra.weight", Tensor::zeros({4}, DType::f32, backend()));
  files_.set("model.layers.0.self_attn.rotary_emb.inv_freq",
             Tensor::zeros({4}, DType::f32, backend()));
  EXPECT_EQ(load_error(files_), weights() +
                                    ": unexpected tensor "
                                    "\"model.layers.0.self_attn.extra.weight\": not part of "
                                    "the model config.json describes " +
                                    summary_);
}

TEST_F(LlamaErrors, WrongShape) {
  files_.set("model.norm.weight", Tensor::zeros({63}, DType::f32, backend()));
  EXPECT_EQ(load_error(files_), weights() +
                                    ": tensor \"model.norm.weight\" has shape [63], but "
                                    "config.json implies [64] " +
                                    summary_);
  // Sharded: the message names the shard that holds the tensor.
  files_.write(dir_ / "sharded", DType::f32, 300'000);
  const std::string message = error_of([&] { load_model(dir_ / "sharded"); });
  EXPECT_NE(message.find((dir_ / "sharded" / "model-0000").string()), std::string::npos) << message;
  EXPECT_NE(message.find("tensor \"model.norm.weight\" has shape [63]"), std::string::npos);
}

TEST_F(LlamaErrors, UnsupportedArchitecture) {
  files_.config["model_type"] = "gpt2";
  files_.config["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_EQ(load_error(files_),
            config() +
                ": model_type \"gpt2\" is not a Llama-family architecture; supported: "
                "llama, mistral, qwen2, qwen3 (LlamaForCausalLM, MistralForCausalLM, "
                "Qwen2ForCausalLM, Qwen3ForCausalLM)");
  files_.config.erase("model_type");
  EXPECT_EQ(load_error(files_),
            config() +
                ": architecture \"GPT2LMHeadModel\" is not a Llama-family causal LM; "
                "supported: llama, mistral, qwen2, qwen3 (LlamaForCausalLM, "
                "MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
}

TEST_F(LlamaErrors, UnsupportedConfigValues) {
  files_.config["hidden_act"] = "gelu";
  EXPECT_EQ(load_error(files_), config() +
                                    ": key \"hidden_act\": \"gelu\" is not supported: the "
                                    "Llama family uses \"silu\" (SwiGLU)");
  files_.config["hidden_act"] = "silu";
  files_.config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(load_error(files_), config() +
                                    ": key \"rope_scaling\": rope type \"yarn\" is not "
                                    "supported (supported: default, linear, llama3)");
  files_.config["rope_scaling"] = nullptr;
  files_.config.erase("hidden_size");
  EXPECT_EQ(load_error(files_), config() + ": missing required key \"hidden_size\"");
  files_.config["hidden_size"] = "64";
  EXPECT_EQ(load_error(files_),
            config() + ": key \"hidden_size\": expected a positive integer, found \"64\"");
  files_.config["hidden_size"] = 64;
  files_.config["num_key_value_heads"] = 3;
  EXPECT_EQ(load_error(files_), config() +
                                    ": key \"num_key_value_heads\": 3 does not divide "
                                    "num_attention_heads (8)");
}

TEST_F(LlamaErrors, PickleOnlyDirectory) {
  write_bytes(dir_ / "config.json", files_.config.dump());
  write_bytes(dir_ / "pytorch_model.bin", std::string("PK\x03\x04", 4) + std::string(100, '\0'));
  const std::string message = error_of([&] { load_model(dir_.path()); });
  EXPECT_EQ(message.rfind((dir_ / "pytorch_model.bin").string() +
                              ": PyTorch pickle checkpoints are not loaded, because unpickling "
                              "can run arbitrary code. Convert the model to safetensors first",
                          0),
            0u)
      << message;
}

TEST_F(LlamaErrors, NoConfig) {
  files_.write(dir_.path());
  fs::remove(dir_ / "config.json");
  EXPECT_EQ(error_of([&] { load_model(dir_.path()); }),
            config() + ": cannot open (a Hugging Face model directory has a config.json)");
  EXPECT_EQ(error_of([&] { load_model(dir_ / "nope"); }),
            (dir_ / "nope").string() +
                ": not a model directory (expected config.json and *.safetensors in a directory)");
}

TEST_F(LlamaErrors, AcceptsNearMisses) {
  // Saved RoPE buffers are ignored; a tied model that still carries lm_head.weight loads
  // (transformers ties it to the embeddings and so do we); architectures alone identify it.
  files_.set("model.layers.0.self_attn.rotary_emb.inv_freq",
             Tensor::zeros({4}, DType::f32, backend()));
  files_.set("lm_head.weight", Tensor::zeros({512, 64}, DType::f32, backend()));
  files_.config.erase("model_type");
  files_.config["eos_token_id"] = {2, 7};
  files_.config["bos_token_id"] = nullptr;
  EXPECT_EQ(load_error(files_), "");
  const std::unique_ptr<Model> model = load_model(dir_.path());
  EXPECT_EQ(model->info().eos_token_ids, (std::vector<std::int32_t>{2, 7}));
  EXPECT_EQ(model->info().bos_token_id, -1);
  EXPECT_EQ(model->lm_head().name(), "model.embed_tokens.weight");
}

TEST_F(LlamaErrors, RefusesIntegerWeightsAndDtypes) {
  files_.set("model.norm.weight",
             Tensor::from_ints(std::vector<std::int32_t>(64, 1), {64}, backend()));
  EXPECT_EQ(load_error(files_), weights() +
                                    ": tensor \"model.norm.weight\" is I32; model weights "
                                    "must be F32, BF16 or F16");
  const std::unique_ptr<Model> model = Plugins::get().model();
  ModelLoadOptions options;
  options.path = kStoriesDir;
  options.dtype = DType::i32;
  EXPECT_EQ(error_of([&] { model->load(options, backend()); }),
            "llama: the model dtype must be f32, bf16 or f16, not i32");
}

}  // namespace
}  // namespace ft::testing
