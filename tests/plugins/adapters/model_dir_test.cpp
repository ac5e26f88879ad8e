// ft::io::write_model_directory: a model directory that transformers (and our llama plugin)
// load as the base was, with the model's current weights in the dtype asked for.
#include "ftengine/io/model_dir.hpp"

#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A copy of stories260K-hf with the companion files a real model directory has, and a
// config that spells the dtype both ways transformers has.
class ModelDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kStoriesDir / "model.safetensors"))
      GTEST_SKIP() << "test data absent: " << kStoriesDir.string();
    for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(kStoriesDir / f, base_ / f);
    json config = read_json(kStoriesDir / "config.json");
    config["dtype"] = "float32";
    write_bytes(base_ / "config.json", config.dump(2));
    write_bytes(base_ / "generation_config.json", R"({"bos_token_id": 1, "eos_token_id": 2})");
    write_bytes(base_ / "special_tokens_map.json", R"({"bos_token": "<s>"})");
    model_ = load_model(base_.path());
  }

  TempDir base_, out_;
  std::unique_ptr<Model> model_;
};

TEST_F(ModelDirectory, CopiesConfigTokenizerAndWritesEveryParameter) {
  io::write_model_directory(*model_, base_.path(), out_ / "model", DType::bf16);
  const fs::path dir = out_ / "model";

  json expected = read_json(base_ / "config.json");
  expected["torch_dtype"] = "bfloat16";
  expected["dtype"] = "bfloat16";
  EXPECT_EQ(read_json(dir / "config.json"), expected);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                        "special_tokens_map.json"})
    EXPECT_EQ(read_bytes(dir / f), read_bytes(base_ / f)) << f;
  EXPECT_FALSE(fs::exists(dir / "tokenizer.model")) << "copied a file the base does not have";
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));

  const io::SafetensorsFile file(dir / "model.safetensors");
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  const std::vector<Parameter> params = model_->parameters();
  ASSERT_EQ(file.tensors().size(), params.size());
  NoGrad no_grad;
  for (const Parameter& p : params) {
    const io::SafetensorsTensorInfo& t = file.at(p.name);
    EXPECT_EQ(t.dtype, "BF16") << p.name;
    EXPECT_EQ(t.shape, p.tensor.shape()) << p.name;
    EXPECT_EQ(max_abs_diff(file.load(t, backend()).to_vector(),
                           ops::cast(p.tensor, DType::bf16).to_vector()),
              0.0f)
        << p.name;
  }
}

TEST_F(ModelDirectory, ShardsAboveTheLimitAndLoadsBack) {
  io::write_model_directory(*model_, base_.path(), out_ / "model", DType::f32, 300'000);
  const fs::path dir = out_ / "model";
  ASSERT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  EXPECT_GE(read_json(dir / "model.safetensors.index.json")["weight_map"].size(),
            model_->parameters().size());
  EXPECT_EQ(max_abs_diff(logits_of(*load_model(dir)), logits_of(*model_)), 0.0f);
}

TEST_F(ModelDirectory, RefusesToOverwriteWeightsOrTheBase) {
  EXPECT_EQ(
      error_of([&] { io::write_model_directory(*model_, base_.path(), base_.path(), DType::f32); }),
      base_.path().string() + ": is the base model's directory; write the model elsewhere");
  io::write_model_directory(*model_, base_.path(), out_.path(), DType::f32);
  EXPECT_EQ(
      error_of([&] { io::write_model_directory(*model_, base_.path(), out_.path(), DType::f32); }),
      out_.path().string() +
          ": already holds model weights (model.safetensors); write the model into an "
          "empty directory");
}

}  // namespace
}  // namespace ft::testing
