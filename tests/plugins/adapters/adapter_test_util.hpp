// Shared by the adapter tests: the lora and full plugins as the engine finds them (the real
// registry over the build tree), on top of the llama tests' model helpers and the
// safetensors tests' TempDir and error_of, plus small host-side helpers.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/plugins/registry.hpp"
#include "ftengine/adapter.hpp"
#include "ftengine/error.hpp"
#include "support/random.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"
#include "tests/sdk/io/test_util.hpp"

namespace ft::testing {

inline std::unique_ptr<Adapter> make_adapter(const std::string& name,
                                             const Options& options = Options("adapter")) {
  static engine::PluginRegistry registry;
  static const bool scanned = (registry.scan({FTENGINE_BUILD_PLUGIN_DIR}), true);
  EXPECT_TRUE(scanned);
  std::unique_ptr<Adapter> adapter = registry.create_adapter(name);
  adapter->configure(options);
  return adapter;
}

// Two rows of token ids from the stories vocabulary (512).
inline Tensor sample_tokens() {
  return Tensor::from_ints({1, 403, 17, 289, 65, 311, 42, 500, 1, 7, 250, 33, 498, 12, 64, 3},
                           {2, 8}, backend());
}

inline std::vector<float> logits_of(Model& model) {
  NoGrad no_grad;
  ModelInput input;
  input.tokens = sample_tokens();
  return model.logits(input).to_vector();
}

inline Linear* find_layer(Model& model, const std::string& name) {
  for (Linear* l : model.linear_layers())
    if (l->name() == name) return l;
  ADD_FAILURE() << "no layer " << name;
  return nullptr;
}

inline Tensor find_parameter(const std::vector<Parameter>& params, const std::string& name) {
  for (const Parameter& p : params)
    if (p.name == name) return p.tensor;
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

// Overwrites t with uniform values in [lo, hi) (its autograd state stays as it was).
inline void fill_random(const Tensor& t, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  const std::vector<float> v = random_values(static_cast<std::size_t>(t.numel()), seed, lo, hi);
  ASSERT_EQ(t.dtype(), DType::f32);
  t.copy_from_host(v.data());
}

// Gives every lora_B of `adapter` random values, so the adapter changes the model's output.
inline void randomize_b(const Adapter& adapter, std::uint32_t seed = 7, float range = 0.05f) {
  std::uint32_t s = seed;
  for (const Parameter& p : adapter.trainable_parameters())
    if (p.name.find("lora_B") != std::string::npos) fill_random(p.tensor, s++, -range, range);
}

inline Options lora_options(const std::vector<std::string>& targets, std::int64_t r = 8,
                            double alpha = 16.0) {
  Options o("adapter");
  o.set("r", r).set("alpha", alpha).set("target_modules", targets).set("seed", std::int64_t{42});
  return o;
}

}  // namespace ft::testing
