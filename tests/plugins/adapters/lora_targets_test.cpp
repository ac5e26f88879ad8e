// target_modules as PEFT reads it: names (a layer's name or its dotted suffix), "all-linear"
// (without the LM head), or one string as a regular expression over the whole name; and the
// option checks of configure().
#include "tests/plugins/adapters/adapter_test_util.hpp"

namespace ft::testing {
namespace {

std::vector<std::string> hooked_layers(Model& model) {
  std::vector<std::string> names;
  for (Linear* l : model.linear_layers())
    if (l->hook()) names.push_back(l->name());
  return names;
}

// A model that is only a list of linear layers, to show what "all-linear" leaves out when
// a model does list its LM head.
class LinearsOnlyModel final : public Model {
 public:
  explicit LinearsOnlyModel(const std::vector<std::string>& names) {
    for (const std::string& n : names)
      layers_.emplace_back(n, Tensor::zeros({4, 4}, DType::f32, backend()));
  }
  void load(const ModelLoadOptions&, Backend&) override {}
  Tensor forward(const ModelInput&) override { return Tensor(); }
  Tensor lm_head() const override { return Tensor(); }
  std::vector<Parameter> parameters() const override { return {}; }
  std::vector<Linear*> linear_layers() override {
    std::vector<Linear*> out;
    for (Linear& l : layers_) out.push_back(&l);
    return out;
  }
  ModelInfo info() const override { return {}; }
  Tensor logits(const ModelInput&) override { return Tensor(); }
  void set_activation_checkpointing(bool) override {}
  std::unique_ptr<DecodeState> begin_decode(std::int64_t) override { return nullptr; }
  Tensor decode(DecodeState&, const std::vector<std::int32_t>&) override { return Tensor(); }

 private:
  std::vector<Linear> layers_;
};

TEST(LoraTargets, NamesMatchTheLastComponentOrADottedSuffix) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  make_adapter("lora", lora_options({"q_proj", "v_proj"}))->attach(*model, backend());
  const std::vector<std::string> hooked = hooked_layers(*model);
  ASSERT_EQ(hooked.size(), 10u);
  EXPECT_EQ(hooked[0], "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(hooked[1], "model.layers.0.self_attn.v_proj");
  EXPECT_EQ(hooked[9], "model.layers.4.self_attn.v_proj");

  const std::unique_ptr<Model> other = load_model(kStoriesDir);
  make_adapter("lora", lora_options({"mlp.down_proj"}))->attach(*other, backend());
  const std::vector<std::string> down = hooked_layers(*other);
  ASSERT_EQ(down.size(), 5u);
  for (const std::string& n : down) EXPECT_TRUE(n.ends_with(".mlp.down_proj")) << n;
}

TEST(LoraTargets, AllLinearTakesEveryLayerButTheLmHead) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  Options all = lora_options({});
  all.set("target_modules", std::string("all-linear"));
  make_adapter("lora", all)->attach(*model, backend());
  EXPECT_EQ(hooked_layers(*model).size(), 35u);

  LinearsOnlyModel with_head(
      {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "lm_head"});
  const std::unique_ptr<Adapter> lora = make_adapter("lora", all);
  lora->attach(with_head, backend());
  EXPECT_EQ(hooked_layers(with_head), (std::vector<std::string>{"model.layers.0.self_attn.q_proj",
                                                                "model.layers.0.mlp.down_proj"}));
  EXPECT_EQ(lora->trainable_parameters().size(), 4u);

  // The job file reader hands one string over as a list of one: the same shorthand.
  LinearsOnlyModel listed({"model.layers.0.mlp.up_proj", "lm_head"});
  make_adapter("lora", lora_options({"all-linear"}))->attach(listed, backend());
  EXPECT_EQ(hooked_layers(listed), (std::vector<std::string>{"model.layers.0.mlp.up_proj"}));
}

TEST(LoraTargets, OneStringIsARegexOverTheWholeName) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  Options o = lora_options({});
  o.set("target_modules", std::string(R"(model\.layers\.[13]\.self_attn\.(q|v)_proj)"));
  make_adapter("lora", o)->attach(*model, backend());
  EXPECT_EQ(hooked_layers(*model),
            (std::vector<std::string>{
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj",
                "model.layers.3.self_attn.q_proj", "model.layers.3.self_attn.v_proj"}));

  // "q_proj" as one string is a pattern that matches no whole name (PEFT's fullmatch).
  const std::unique_ptr<Model> fresh = load_model(kStoriesDir);
  o.set("target_modules", std::string("q_proj"));
  EXPECT_EQ(error_of([&] { make_adapter("lora", o)->attach(*fresh, backend()); }),
            "adapter.target_modules: the regular expression \"q_proj\" matches no linear layer "
            "name in full (names look like \"model.layers.0.self_attn.q_proj\"); to adapt layers "
            "by their short names give a list, such as [\"q_proj\"]");
  o.set("target_modules", std::string("(q_proj"));
  EXPECT_TRUE(error_of([&] { make_adapter("lora", o)->attach(*fresh, backend()); })
                  .starts_with("adapter.target_modules: \"(q_proj\" is not a valid regular "
                               "expression"));
  EXPECT_TRUE(hooked_layers(*fresh).empty());
}

TEST(LoraTargets, AnUnknownNameListsTheLayerNames) {
  REQUIRE_STORIES();
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  EXPECT_EQ(error_of([&] {
              make_adapter("lora", lora_options({"q_proj", "qkv_proj"}))->attach(*model, backend());
            }),
            "adapter.target_modules: \"qkv_proj\" matches no linear layer of the model; its "
            "linear layers are named q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
            "down_proj");
  EXPECT_TRUE(hooked_layers(*model).empty()) << "a failed attach left hooks behind";
}

TEST(LoraTargets, ConfigureRefusesValuesLoraCannotUse) {
  EXPECT_EQ(error_of([] { make_adapter("lora", lora_options({"q_proj"}, 0)); }),
            "adapter.r: the LoRA rank must be at least 1, found 0");
  EXPECT_EQ(error_of([] { make_adapter("lora", lora_options({"q_proj"}).set("dropout", 1.0)); }),
            "adapter.dropout: must be in [0, 1), found 1");
  EXPECT_EQ(error_of([] { make_adapter("lora", lora_options({"q_proj"}, 8, -2.0)); }),
            "adapter.alpha: must be a positive number, found -2");
  EXPECT_EQ(error_of([] { make_adapter("lora", lora_options({"q_proj"}).set("r", 2.5)); }),
            "adapter.r: expected an integer, found a number");
}

}  // namespace
}  // namespace ft::testing
