// LoRA's files and merging: save() writes PEFT's adapter_config.json and
// adapter_model.safetensors, load() reads them back (and refuses what does not fit the model
// or what PEFT features it cannot reproduce), merge() folds B·A into the weights.
#include <cstdlib>

#include "ftengine/io/model_dir.hpp"
#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

using nlohmann::json;

AdapterSaveInfo save_info() {
  AdapterSaveInfo info;
  info.base_model_dir = kStoriesDir;
  info.base_model_name_or_path = "stories260K-hf";
  return info;
}

Options all_linear() {
  Options o = lora_options({});
  o.set("target_modules", std::string("all-linear"));
  return o;
}

TEST(LoraSave, WritesPeftConfigAndTensorsUnderPeftNames) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> lora =
      make_adapter("lora", lora_options({"v_proj", "q_proj"}, 4, 8.0).set("dropout", 0.05));
  lora->attach(*model, backend());
  randomize_b(*lora);
  TempDir dir;
  lora->save(dir.path(), save_info());

  const json expected = json::parse(R"({
    "alpha_pattern": {}, "base_model_name_or_path": "stories260K-hf", "bias": "none",
    "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
    "layers_pattern": null, "layers_to_transform": null, "lora_alpha": 8,
    "lora_dropout": 0.05, "modules_to_save": null, "peft_type": "LORA", "r": 4,
    "rank_pattern": {}, "revision": null, "target_modules": ["q_proj", "v_proj"],
    "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false})");
  const json written = read_json(dir / "adapter_config.json");
  EXPECT_EQ(written, expected) << written.dump(2);
  EXPECT_TRUE(written["lora_alpha"].is_number_integer()) << "PEFT writes lora_alpha as an int";

  const io::SafetensorsFile file(dir / "adapter_model.safetensors");
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(file.tensors().size(), 20u);
  const std::vector<Parameter> params = lora->trainable_parameters();
  for (const Parameter& p : params) {
    const io::SafetensorsTensorInfo* t = file.find(p.name);
    ASSERT_NE(t, nullptr) << p.name;
    EXPECT_EQ(t->dtype, "F32");
    EXPECT_EQ(t->shape, p.tensor.shape()) << p.name;
    EXPECT_EQ(max_abs_diff(file.load(*t, backend()).to_vector(), p.tensor.to_vector()), 0.0f);
  }
  const io::SafetensorsTensorInfo* b =
      file.find("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (Shape{32, 4}));
  const io::SafetensorsTensorInfo* a =
      file.find("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (Shape{4, 64}));
}

TEST(LoraSave, TargetModulesResolveToTheSameLayersWhenRead) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", all_linear().set("use_rslora", true));
  lora->attach(*model, backend());
  TempDir dir;
  lora->save(dir.path(), save_info());
  const json config = read_json(dir / "adapter_config.json");
  EXPECT_EQ(config["target_modules"],
            json({"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"}));
  EXPECT_EQ(config["use_rslora"], true);

  // A pattern is kept as itself: its short names would widen it to every layer.
  const std::unique_ptr<Model> other = load_model(kStoriesDir);
  Options o = lora_options({});
  o.set("target_modules", std::string(R"(model\.layers\.2\.mlp\.up_proj)"));
  const std::unique_ptr<Adapter> one = make_adapter("lora", o);
  one->attach(*other, backend());
  randomize_b(*one);
  TempDir one_dir;
  one->save(one_dir.path(), save_info());
  EXPECT_EQ(read_json(one_dir / "adapter_config.json")["target_modules"],
            R"(model\.layers\.2\.mlp\.up_proj)");
  const std::unique_ptr<Model> reread = load_model(kStoriesDir);
  make_adapter("lora")->load(one_dir.path(), *reread, backend());
  EXPECT_EQ(max_abs_diff(logits_of(*reread), logits_of(*other)), 0.0f);
}

TEST(LoraSave, LoadGivesIdenticalLogits) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<float> base = logits_of(*model);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", all_linear());
  lora->attach(*model, backend());
  randomize_b(*lora);
  const std::vector<float> adapted = logits_of(*model);
  ASSERT_GT(max_abs_diff(adapted, base), 1e-3f) << "the adapter changes nothing to compare";
  TempDir dir;
  lora->save(dir.path(), save_info());

  const std::unique_ptr<Model> fresh = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> loaded = make_adapter("lora");
  loaded->load(dir.path(), *fresh, backend());
  EXPECT_EQ(max_abs_diff(logits_of(*fresh), adapted), 0.0f);
  EXPECT_EQ(loaded->trainable_parameters().size(), 70u);
}

TEST(LoraMerge, MergedWeightsComputeModelPlusAdapter) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<float> base = logits_of(*model);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", all_linear().set("alpha", 4.0));
  lora->attach(*model, backend());
  randomize_b(*lora, 13, 0.1f);
  const std::vector<float> adapted = logits_of(*model);
  ASSERT_GT(max_abs_diff(adapted, base), 1e-2f);

  const std::string q0 = "model.layers.0.self_attn.q_proj";
  const std::vector<float> w = find_layer(*model, q0)->weight().to_vector();
  const std::vector<Parameter> ab = lora->trainable_parameters();
  const std::vector<float> a =
      find_parameter(ab, "base_model.model." + q0 + ".lora_A.weight").to_vector();
  const std::vector<float> b =
      find_parameter(ab, "base_model.model." + q0 + ".lora_B.weight").to_vector();

  lora->merge();
  for (Linear* l : model->linear_layers()) EXPECT_EQ(l->hook(), nullptr) << l->name();
  EXPECT_TRUE(lora->trainable_parameters().empty());
  EXPECT_LE(max_abs_diff(logits_of(*model), adapted), 1e-4f);

  // parameters() gives the merged weight: W + (alpha / r)·B·A, alpha 4, r 8.
  const std::vector<float> merged = find_parameter(model->parameters(), q0 + ".weight").to_vector();
  float worst = 0;
  for (std::size_t o = 0; o < 64; ++o)
    for (std::size_t i = 0; i < 64; ++i) {
      double delta = 0;
      for (std::size_t k = 0; k < 8; ++k) delta += double(b[o * 8 + k]) * a[k * 64 + i];
      worst = std::max(worst, std::abs(merged[o * 64 + i] - float(w[o * 64 + i] + 0.5 * delta)));
    }
  EXPECT_LE(worst, 1e-6f);

  // The base model's file is untouched, and the merged model writes out as itself.
  EXPECT_EQ(max_abs_diff(logits_of(*load_model(kStoriesDir)), base), 0.0f);
  TempDir dir;
  io::write_model_directory(*model, kStoriesDir, dir / "merged", DType::f32);
  EXPECT_EQ(max_abs_diff(logits_of(*load_model(dir / "merged")), logits_of(*model)), 0.0f);
}

TEST(LoraMerge, Bf16WeightsStayBf16) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir, DType::bf16);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", lora_options({"o_proj"}, 8, 8.0));
  lora->attach(*model, backend());
  randomize_b(*lora, 17, 0.2f);
  const std::string o0 = "model.layers.0.self_attn.o_proj";
  const std::vector<float> w = find_layer(*model, o0)->weight().to_vector();
  const std::vector<Parameter> ab = lora->trainable_parameters();
  const std::vector<float> a =
      find_parameter(ab, "base_model.model." + o0 + ".lora_A.weight").to_vector();
  const std::vector<float> b =
      find_parameter(ab, "base_model.model." + o0 + ".lora_B.weight").to_vector();
  const std::vector<float> adapted = logits_of(*model);

  lora->merge();
  const Tensor merged = find_layer(*model, o0)->weight();
  EXPECT_EQ(merged.dtype(), DType::bf16);
  const std::vector<float> m = merged.to_vector();
  int off_by_more_than_rounding = 0;
  for (std::size_t o = 0; o < 64; ++o)
    for (std::size_t i = 0; i < 64; ++i) {
      double delta = 0;
      for (std::size_t k = 0; k < 8; ++k) delta += double(b[o * 8 + k]) * a[k * 64 + i];
      const double exact = w[o * 64 + i] + delta;  // scale 8 / 8
      if (std::abs(m[o * 64 + i] - exact) > std::abs(exact) / 256.0 + 1e-30)
        ++off_by_more_than_rounding;
    }
  EXPECT_EQ(off_by_more_than_rounding, 0);
  EXPECT_LE(max_abs_diff(logits_of(*model), adapted), 0.05f);
}

// ---- load() errors -------------------------------------------------------------------------

class LoraLoadErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kStoriesDir / "model.safetensors"))
      GTEST_SKIP() << "test data absent: " << kStoriesDir.string();
    model_ = load_model(kStoriesDir);
    const std::unique_ptr<Adapter> lora =
        make_adapter("lora", lora_options({"q_proj", "v_proj"}, 4));
    lora->attach(*model_, backend());
    lora->save(dir_.path(), save_info());
    fresh_ = load_model(kStoriesDir);
  }

  std::string load_error() {
    const std::string e =
        error_or_empty([&] { make_adapter("lora")->load(dir_.path(), *fresh_, backend()); });
    if (!e.empty()) {
      for (Linear* l : fresh_->linear_layers())
        EXPECT_EQ(l->hook(), nullptr) << "a failed load left a hook on " << l->name();
    }
    return e;
  }
  // Rewrites adapter_model.safetensors through edit(entries).
  void edit_tensors(const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    {
      const io::SafetensorsFile file(weights());
      for (const io::SafetensorsTensorInfo& t : file.tensors())
        tensors.emplace_back(t.name, file.load(t, backend()).clone());
    }
    edit(tensors);
    std::vector<io::SafetensorsEntry> entries;
    for (const auto& [name, t] : tensors)
      entries.push_back(io::SafetensorsEntry::from_tensor(name, t));
    io::write_safetensors(weights(), entries, {{"format", "pt"}});
  }
  void edit_config(const std::string& key, const json& value) {
    json config = read_json(dir_ / "adapter_config.json");
    config[key] = value;
    io::write_file_atomic(dir_ / "adapter_config.json", config.dump(2));
  }
  std::filesystem::path weights() const { return dir_ / "adapter_model.safetensors"; }
  std::string config_file() const { return (dir_ / "adapter_config.json").string(); }

  TempDir dir_;
  std::unique_ptr<Model> model_, fresh_;
};

const std::string kV4B = "base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight";
const std::string kQ0A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";

TEST_F(LoraLoadErrors, SavedAdapterLoads) {
  EXPECT_EQ(load_error(), "");
  int hooked = 0;
  for (Linear* l : fresh_->linear_layers()) hooked += l->hook() != nullptr;
  EXPECT_EQ(hooked, 10);
}

TEST_F(LoraLoadErrors, MissingTensor) {
  edit_tensors([](auto& t) { std::erase_if(t, [](const auto& e) { return e.first == kV4B; }); });
  EXPECT_EQ(load_error(), weights().string() + ": missing tensor \"" + kV4B +
                              "\" (shape [32, 4]) for layer model.layers.4.self_attn.v_proj, "
                              "which adapter_config.json's target_modules selects");
}

TEST_F(LoraLoadErrors, TensorOfTheWrongShape) {
  edit_tensors([](auto& t) {
    for (auto& [name, tensor] : t)
      if (name == kQ0A) tensor = Tensor::zeros({4, 32}, DType::f32, backend());
  });
  EXPECT_EQ(load_error(), weights().string() + ": tensor \"" + kQ0A +
                              "\" has shape [4, 32], but layer model.layers.0.self_attn.q_proj "
                              "([64, 64] weight) with r = 4 needs [4, 64]");
}

TEST_F(LoraLoadErrors, UnexpectedTensor) {
  // PEFT's in-memory names carry the adapter name (".default"); saved files never do.
  const std::string with_default =
      "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight";
  edit_tensors([&](auto& t) {
    t.emplace_back(with_default, Tensor::zeros({4, 64}, DType::f32, backend()));
  });
  EXPECT_EQ(load_error(), weights().string() + ": unexpected tensor \"" + with_default +
                              "\": not the lora_A or lora_B weight of a layer that "
                              "adapter_config.json's target_modules ([\"q_proj\",\"v_proj\"]) "
                              "selects");
}

TEST_F(LoraLoadErrors, RankThatDisagreesWithTheTensors) {
  edit_config("r", 8);
  EXPECT_EQ(load_error(), weights().string() + ": tensor \"" + kQ0A +
                              "\" has shape [4, 64], but layer model.layers.0.self_attn.q_proj "
                              "([64, 64] weight) with r = 8 needs [8, 64]");
}

struct Unsupported {
  const char* key;
  json value;
  const char* message;  // after "<config file>: "
};

TEST_F(LoraLoadErrors, PeftFeaturesItCannotReproduce) {
  const std::vector<Unsupported> cases = {
      {"peft_type", "IA3",
       "peft_type = \"IA3\" is not supported: this adapter plugin reads LoRA adapters "
       "(peft_type \"LORA\")"},
      {"use_dora", true,
       "use_dora = true is not supported: DoRA's magnitude vectors are not implemented; use a "
       "LoRA adapter"},
      {"bias", "lora_only",
       "bias = \"lora_only\" is not supported: only adapters without trained biases (bias = "
       "\"none\") are read"},
      {"fan_in_fan_out", true,
       "fan_in_fan_out = true is not supported: it is for GPT-2-style Conv1D weights; "
       "Llama-family layers are plain linear layers"},
      {"rank_pattern", json{{"q_proj", 16}},
       "rank_pattern = {\"q_proj\":16} is not supported: every adapted layer must have the same "
       "rank r"},
      {"alpha_pattern", json{{"v_proj", 32}},
       "alpha_pattern = {\"v_proj\":32} is not supported: every adapted layer must have the same "
       "lora_alpha"},
      {"modules_to_save", json{"lm_head"},
       "modules_to_save = [\"lm_head\"] is not supported: the adapter may hold only LoRA "
       "weights, not trained copies of whole modules"},
      {"layers_to_transform", json{0, 1},
       "layers_to_transform = [0,1] is not supported: target_modules must select the layers on "
       "its own"},
  };
  const json original = read_json(dir_ / "adapter_config.json");
  for (const Unsupported& c : cases) {
    edit_config(c.key, c.value);
    EXPECT_EQ(load_error(), config_file() + ": " + c.message);
    io::write_file_atomic(dir_ / "adapter_config.json", original.dump(2));
  }
}

TEST_F(LoraLoadErrors, MissingFiles) {
  std::filesystem::remove(weights());
  EXPECT_EQ(load_error(), weights().string() +
                              ": not found; a PEFT adapter directory holds adapter_config.json "
                              "and adapter_model.safetensors");
  write_bytes(dir_ / "adapter_model.bin", "pickle");
  EXPECT_TRUE(load_error().starts_with(weights().string() + ": not found, only adapter_model.bin"));
  std::filesystem::remove(dir_ / "adapter_config.json");
  EXPECT_EQ(load_error(), config_file() +
                              ": not found; a PEFT adapter directory holds adapter_config.json "
                              "and adapter_model.safetensors");
}

// The file as Python's safetensors reads it (when the project's venv has it).
TEST(LoraSave, PythonSafetensorsReadsTheAdapter) {
  REQUIRE_STORIES();
  const std::filesystem::path python =
      std::filesystem::path(FTENGINE_SOURCE_DIR) / ".venv/bin/python";
  if (!std::filesystem::exists(python) ||
      std::system((python.string() + " -c 'import safetensors.numpy' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "no Python safetensors: " << python.string() << " cannot import safetensors";
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::unique_ptr<Adapter> lora = make_adapter("lora", lora_options({"q_proj"}, 2));
  lora->attach(*model, backend());
  TempDir dir;
  lora->save(dir.path(), save_info());
  const std::string script =
      "import sys, safetensors.numpy as st\n"
      "t = st.load_file(sys.argv[1])\n"
      "print(' '.join(f'{k}:{list(v.shape)}:{v.dtype}' for k, v in sorted(t.items())))\n";
  write_bytes(dir / "read.py", script);
  const std::string out = (dir / "out.txt").string();
  ASSERT_EQ(std::system((python.string() + " " + (dir / "read.py").string() + " " +
                         (dir / "adapter_model.safetensors").string() + " > " + out)
                            .c_str()),
            0);
  const std::string text = read_bytes(out);
  EXPECT_NE(text.find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight:[2, 64]:"
                      "float32"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("base_model.model.model.layers.4.self_attn.q_proj.lora_B.weight:[64, 2]:"
                      "float32"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace ft::testing
