// The "full" adapter plugin: full fine-tuning. Every model parameter trains, except those
// whose Hugging Face name contains one of the `freeze` substrings ("embed_tokens", "norm").
// The result is a Hugging Face model directory (ft::io::write_model_directory), used
// afterwards with --model like any other model.
#pragma once

#include <string>
#include <vector>

#include "ftengine/adapter.hpp"

namespace ft::plugins::full {

class FullAdapter final : public Adapter {
 public:
  void configure(const Options& options) override;
  // ft::Error unless the model holds f32 weights: they are the master weights the
  // optimizer updates in place.
  void attach(Model& model, Backend& backend) override;
  std::vector<Parameter> trainable_parameters() const override { return trainable_; }
  void set_forward_state(const AdapterForwardState&) override {}  // no adapter layers
  void save(const std::filesystem::path& dir, const AdapterSaveInfo& info) const override;
  // ft::Error: the output of full fine-tuning is a model directory, not an adapter.
  void load(const std::filesystem::path& dir, Model& model, Backend& backend) override;
  void merge() override {}  // the weights already are the model's

 private:
  std::vector<std::string> freeze_;
  Model* model_ = nullptr;
  std::vector<Parameter> trainable_;
};

}  // namespace ft::plugins::full
