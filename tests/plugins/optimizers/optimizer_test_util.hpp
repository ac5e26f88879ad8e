// Shared by the optimizer tests: the plugins as the engine finds them (the real registry over
// the build tree), a fixed set of named parameters with seeded gradients, and host helpers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/plugins/registry.hpp"
#include "ftengine/error.hpp"
#include "ftengine/optimizer.hpp"
#include "reference.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace ft::testing {

class Plugins {
 public:
  static Plugins& get() {
    static Plugins plugins;
    return plugins;
  }
  Backend& backend() { return *backend_; }
  std::unique_ptr<Optimizer> optimizer(const std::string& name) {
    return registry_.create_optimizer(name);
  }

 private:
  Plugins() {
    registry_.scan({FTENGINE_BUILD_PLUGIN_DIR});
    backend_ = registry_.create_backend("cpu");
  }
  engine::PluginRegistry registry_;
  std::unique_ptr<Backend> backend_;
};

inline Backend& backend() { return Plugins::get().backend(); }

inline std::unique_ptr<Optimizer> make_optimizer(const std::string& name, const Options& options) {
  std::unique_ptr<Optimizer> optimizer = Plugins::get().optimizer(name);
  optimizer->configure(options);
  return optimizer;
}

// What a model and a LoRA adapter hand the optimizer: matrices (decayed by default) and
// 1-D norm weights and biases (not). The embedding is large enough (> 2^14 elements) for
// the CPU kernels' OpenMP path.
struct ParamSpec {
  std::string name;
  Shape shape;
};
inline const std::vector<ParamSpec> kSpecs = {
    {"model.embed_tokens.weight", {160, 128}},
    {"model.layers.0.input_layernorm.weight", {12}},
    {"model.layers.0.self_attn.q_proj.weight", {8, 12}},
    {"model.layers.0.self_attn.q_proj.bias", {8}},
    {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {4, 12}},
};
inline constexpr std::size_t kLoraA = 4;  // index of the parameter that misses gradients

inline std::vector<float> initial_values(std::size_t i) {
  return random_values(shape_numel(kSpecs[i].shape), 100 + static_cast<std::uint32_t>(i));
}

// Fresh parameters on the backend, from host values (the specs' initial values by default).
inline std::vector<Parameter> make_parameters(const std::vector<std::vector<float>>& values = {}) {
  std::vector<Parameter> out;
  for (std::size_t i = 0; i < kSpecs.size(); ++i) {
    const std::vector<float> v = values.empty() ? initial_values(i) : values[i];
    Tensor t = Tensor::from_vector(v, kSpecs[i].shape, backend());
    t.set_requires_grad(true);
    out.push_back({kSpecs[i].name, t});
  }
  return out;
}

// A seeded gradient for optimizer step `step` (0-based) of parameter i.
inline std::vector<float> gradient(int step, std::size_t i) {
  return random_values(shape_numel(kSpecs[i].shape),
                       1000 * static_cast<std::uint32_t>(step + 1) + static_cast<std::uint32_t>(i));
}

// Sets every parameter's gradient for `step`, except where has_grad says no (undefined, as
// a frozen or unused parameter has after backward).
template <typename HasGrad>
void set_gradients(const std::vector<Parameter>& params, int step, HasGrad has_grad) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (has_grad(step, i))
      params[i].tensor.set_grad(Tensor::from_vector(gradient(step, i), kSpecs[i].shape, backend()));
    else
      params[i].tensor.zero_grad();
  }
}
inline bool always(int, std::size_t) { return true; }
// The LoRA A matrix has no gradient at steps 0 and 2 (as if frozen, then unused), so its
// step count falls behind the others'.
inline bool lora_a_skips(int step, std::size_t i) {
  return !(i == kLoraA && (step == 0 || step == 2));
}

// The learning rates of successive steps: varying, as a schedule makes them.
inline const std::vector<float> kLearningRates = {1e-2f, 3e-2f, 2e-2f, 5e-3f, 4e-2f, 1.5e-2f};

// Optimizer steps [first, last): gradients, then step(lr) at that step's learning rate.
template <typename HasGrad>
void run_steps(Optimizer& optimizer, const std::vector<Parameter>& params, int first, int last,
               HasGrad has_grad) {
  for (int step = first; step < last; ++step) {
    set_gradients(params, step, has_grad);
    optimizer.step(kLearningRates[step]);
  }
}

// Every step of kLearningRates on `params` (the LoRA A matrix skipping two, lora_a_skips),
// and the same steps on double references made from the same initial values, each updated
// by update(reference, gradient, lr) where the parameter had a gradient: the references
// after. Matrices are decayed; norms and biases when decay_norms_and_biases.
template <typename Update>
std::vector<ReferenceParameter> run_beside_reference(Optimizer& optimizer,
                                                     const std::vector<Parameter>& params,
                                                     bool decay_norms_and_biases, Update update) {
  std::vector<ReferenceParameter> ref;
  for (std::size_t i = 0; i < kSpecs.size(); ++i)
    ref.emplace_back(initial_values(i), kSpecs[i].shape.size() >= 2 || decay_norms_and_biases);
  const int steps = static_cast<int>(kLearningRates.size());
  run_steps(optimizer, params, 0, steps, lora_a_skips);
  for (int step = 0; step < steps; ++step)
    for (std::size_t i = 0; i < kSpecs.size(); ++i)
      if (lora_a_skips(step, i)) update(ref[i], gradient(step, i), kLearningRates[step]);
  return ref;
}

inline std::vector<std::uint32_t> bits(const Tensor& t) {
  std::vector<std::uint32_t> out(static_cast<std::size_t>(t.nbytes() / 4));
  t.copy_to_host(out.data());
  return out;
}

// name -> the named tensor of an optimizer's state(); fails the test on a duplicate name.
inline std::map<std::string, Tensor> state_by_name(const Optimizer& optimizer) {
  std::map<std::string, Tensor> out;
  for (const Parameter& s : optimizer.state())
    EXPECT_TRUE(out.emplace(s.name, s.tensor).second) << "duplicate state name " << s.name;
  return out;
}

inline void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                         double tolerance, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - want[i]) / std::max(1.0, std::abs(want[i]));
    if (!(err <= worst)) worst = err, at = i;  // NaN counts as worst
  }
  EXPECT_LE(worst, tolerance) << what << ": element " << at << " is " << got[at] << ", reference "
                              << want[at];
}

}  // namespace ft::testing
