// Plugin options from the resolved job, and the trainable-parameter line as PEFT prints it.
#include "engine/train/setup.hpp"

#include <gtest/gtest.h>

#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::engine {
namespace {

using ft::testing::backend;

TEST(Setup, OptionsKeepEveryKeyButThePluginWithItsType) {
  const toml::table resolved = toml::parse(R"(
[adapter]
plugin = "dora"
r = 8
alpha = 16.0
target_modules = "all-linear"
freeze = []
magnitude_lr = 1e-4
[optimizer]
plugin = "adamw"
betas = [0.9, 1]
)");
  const Options a = options_from_section(resolved, "adapter");
  EXPECT_EQ(a.section(), "adapter");
  EXPECT_FALSE(a.has("plugin"));
  EXPECT_EQ(a.integer("r", 0), 8);
  EXPECT_EQ(a.number("alpha", 0), 16.0);
  // One string stays a string (PEFT reads "all-linear" as a pattern, a list as names).
  EXPECT_TRUE(std::holds_alternative<std::string>(a.values().at("target_modules")));
  EXPECT_EQ(a.strings("freeze", {"x"}), std::vector<std::string>{});
  EXPECT_EQ(a.number("magnitude_lr", 0), 1e-4);
  EXPECT_EQ(options_from_section(resolved, "optimizer").numbers("betas", {}),
            (std::vector<double>{0.9, 1.0}));
}

TEST(Setup, ANestedTableIsNotAPluginOption) {
  const toml::table resolved = toml::parse("[adapter]\nplugin = \"x\"\nodd = { a = 1 }\n");
  EXPECT_NE(ft::testing::error_of([&] {
              options_from_section(resolved, "adapter");
            }).find("adapter.odd: a plugin option must be"),
            std::string::npos);
}

TEST(Setup, CountsEachTensorOnceAsPeftDoes) {
  const Tensor w = Tensor::zeros({100, 10}, DType::f32, backend());
  const Tensor e = Tensor::zeros({50, 10}, DType::f32, backend());
  const Tensor lora = Tensor::zeros({4, 10}, DType::f32, backend());
  // LoRA: the adapter's tensors are extra. Full: the model's own tensors train.
  const ParameterCounts lora_counts = count_parameters({{"w", w}, {"e", e}}, {{"A", lora}});
  EXPECT_EQ(lora_counts.trainable, 40);
  EXPECT_EQ(lora_counts.all, 1540);
  const ParameterCounts full = count_parameters({{"w", w}, {"e", e}}, {{"w", w}});
  EXPECT_EQ(full.trainable, 1000);
  EXPECT_EQ(full.all, 1500);
  EXPECT_EQ(trainable_parameters_line({12288, 816768}),
            "trainable params: 12,288 || all params: 816,768 || trainable%: 1.5045");
}

}  // namespace
}  // namespace ft::engine
