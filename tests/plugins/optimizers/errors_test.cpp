// What a user can get wrong, and the exact message they see: option values out of range,
// options of the wrong type (the ft::Options accessors' text, through configure()), and
// parameters the optimizers cannot update.
#include <gtest/gtest.h>

#include "optimizer_test_util.hpp"

namespace ft::testing {
namespace {

std::string configure_error(const std::string& plugin, const std::string& key,
                            Options::Value value) {
  Options options("optimizer");
  options.set(key, std::move(value));
  std::unique_ptr<Optimizer> optimizer = Plugins::get().optimizer(plugin);
  return error_of([&] { optimizer->configure(options); });
}

TEST(OptimizerOptionErrors, AdamWRanges) {
  EXPECT_EQ(configure_error("adamw", "betas", std::vector<double>{0.9, 1.2}),
            "optimizer.betas: each beta must be in [0, 1), found 1.2");
  EXPECT_EQ(configure_error("adamw", "betas", std::vector<double>{-0.1, 0.999}),
            "optimizer.betas: each beta must be in [0, 1), found -0.1");
  EXPECT_EQ(configure_error("adamw", "betas", std::vector<double>{0.9}),
            "optimizer.betas: expected 2 numbers, found 1");
  EXPECT_EQ(configure_error("adamw", "eps", 0.0), "optimizer.eps: must be a number > 0, found 0");
  EXPECT_EQ(configure_error("adamw", "weight_decay", -0.5),
            "optimizer.weight_decay: must be a number >= 0, found -0.5");
}

TEST(OptimizerOptionErrors, SgdRanges) {
  EXPECT_EQ(configure_error("sgd", "momentum", -0.9),
            "optimizer.momentum: must be a number >= 0, found -0.9");
  EXPECT_EQ(configure_error("sgd", "weight_decay", -1.0),
            "optimizer.weight_decay: must be a number >= 0, found -1");
  EXPECT_EQ(configure_error("sgd", "nesterov", true),
            "optimizer.nesterov: Nesterov momentum needs optimizer.momentum > 0, found 0");
}

TEST(OptimizerOptionErrors, WrongTypesNameTheKey) {
  EXPECT_EQ(configure_error("adamw", "betas", std::string("0.9")),
            "optimizer.betas: expected a list of numbers, found a string");
  EXPECT_EQ(configure_error("adamw", "eps", true),
            "optimizer.eps: expected a number, found a boolean");
  EXPECT_EQ(configure_error("adamw", "decay_norms_and_biases", std::int64_t{1}),
            "optimizer.decay_norms_and_biases: expected a boolean, found an integer");
  EXPECT_EQ(configure_error("sgd", "momentum", std::string("high")),
            "optimizer.momentum: expected a number, found a string");
  EXPECT_EQ(configure_error("sgd", "nesterov", std::vector<std::string>{"yes"}),
            "optimizer.nesterov: expected a boolean, found a list of strings");
}

// Integers widen to numbers; keys of the other optimizer (a resolved job table holds every
// key) and lr (the schedule's) are left alone.
TEST(OptimizerOptionErrors, AcceptedValues) {
  Options adamw("optimizer");
  adamw.set("eps", std::int64_t{1}).set("weight_decay", std::int64_t{0});
  adamw.set("betas", std::vector<double>{0.0, 0.5}).set("momentum", 0.9).set("nesterov", false);
  adamw.set("lr", 2e-4);
  EXPECT_NO_THROW(Plugins::get().optimizer("adamw")->configure(adamw));
  Options sgd("optimizer");
  sgd.set("momentum", std::int64_t{1})
      .set("nesterov", true)
      .set("betas", std::vector<double>{2, 3});
  EXPECT_NO_THROW(Plugins::get().optimizer("sgd")->configure(sgd));
}

std::string init_error(const std::string& plugin, const std::vector<Parameter>& params) {
  std::unique_ptr<Optimizer> optimizer = make_optimizer(plugin, Options("optimizer"));
  return error_of([&] { optimizer->init(params, backend()); });
}

TEST(OptimizerParameterErrors, RefusedAtInit) {
  for (const std::string plugin : {"adamw", "sgd"}) {
    const Tensor bf16 = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, backend(), DType::bf16);
    EXPECT_EQ(init_error(plugin, {{"model.norm.weight", bf16}}),
              plugin +
                  ": parameter 'model.norm.weight' is bf16, but the optimizer updates f32 "
                  "master weights only (train it as f32, or freeze it)");
    EXPECT_EQ(init_error(plugin, {}),
              plugin + ": no parameters to optimize (is every weight frozen?)");
    const Tensor w = Tensor::from_vector({1, 2}, {2}, backend());
    EXPECT_EQ(init_error(plugin, {{"w", w}, {"w", w.clone()}}),
              plugin + ": parameter name 'w' appears twice; names key the optimizer state");
    EXPECT_EQ(init_error(plugin, {{"model.embed_tokens.weight", w}, {"lm_head.weight", w}}),
              plugin +
                  ": parameters 'model.embed_tokens.weight' and 'lm_head.weight' are the "
                  "same tensor (tied weights?); list it once");
  }
}

TEST(OptimizerParameterErrors, NegativeLearningRate) {
  for (const std::string plugin : {"adamw", "sgd"}) {
    std::unique_ptr<Optimizer> optimizer = make_optimizer(plugin, Options("optimizer"));
    const std::vector<Parameter> params = make_parameters();
    optimizer->init(params, backend());
    set_gradients(params, 0, always);
    const std::vector<std::uint32_t> before = bits(params[0].tensor);
    EXPECT_EQ(error_of([&] { optimizer->step(-0.01f); }),
              plugin + ": the learning rate must be a finite number >= 0, found -0.01");
    EXPECT_EQ(bits(params[0].tensor), before);
  }
}

}  // namespace
}  // namespace ft::testing
