// The adapter plugin interface (kind "adapter"): how a fine-tuning method attaches to a
// model. LoRA hooks the targeted ft::Linear layers and owns small trainable tensors;
// "full" marks the model's own weights trainable.
//
// Training:   configure(job's [adapter]) -> attach(model) -> trainable_parameters() ->
//             (set_forward_state, forward/backward, optimizer step)* -> save(dir)
// Inference:  load(dir, model) -> forward     (eval --adapter, generate --adapter)
// Merging:    load(dir, model) -> merge() -> the model's weights now include the adapter
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"
#include "ftengine/module.hpp"
#include "ftengine/options.hpp"
#include "ftengine/plugin.hpp"
#include "ftengine/quant.hpp"

namespace ft {

// Set by the trainer before every forward pass.
struct AdapterForwardState {
  bool training = false;          // dropout only while training
  std::uint64_t seed = 0;         // the job's seed
  std::uint64_t micro_batch = 0;  // counts training micro-batches from 0 over the whole run:
                                  // dropout masks differ per micro-batch, repeat on resume
};

// What save() records beside the adapter's own tensors.
struct AdapterSaveInfo {
  std::filesystem::path base_model_dir;  // the model directory the run loaded
  std::string base_model_name_or_path;   // for adapter_config.json
  DType dtype = DType::f32;              // dtype of saved weights (full fine-tuning)
};

class Adapter : public PluginObject {
 public:
  ~Adapter() override;

  // Attaches to the model: sets hooks, creates adapter weights, sets requires_grad.
  virtual void attach(Model& model, Backend& backend) = 0;
  // What the optimizer updates.
  virtual std::vector<Parameter> trainable_parameters() const = 0;

  // The job's [adapter] table; once, before attach(). ft::Error for a value it cannot use.
  virtual void configure(const Options& options) = 0;
  virtual void set_forward_state(const AdapterForwardState& state) = 0;
  // Writes the trained result into `dir` (exists, empty): a PEFT adapter directory
  // (adapter_config.json, adapter_model.safetensors) for LoRA-like methods, a Hugging Face
  // model directory for full fine-tuning.
  virtual void save(const std::filesystem::path& dir, const AdapterSaveInfo& info) const = 0;
  // Reads what save() wrote (its config and tensors) and attaches to the model with those
  // weights. ft::Error naming the file and tensor when something does not fit the model.
  virtual void load(const std::filesystem::path& dir, Model& model, Backend& backend) = 0;
  // Folds the adapter into the model's own weights (W += scale·B·A for LoRA) and detaches:
  // afterwards the model alone computes what model + adapter did.
  virtual void merge() = 0;

  // The 4-bit quantisation this adapter wants for the model's base linear layers
  // (QLoRA), which the engine passes to Model::load; none by default.
  virtual std::optional<Quant4bitOptions> base_quantization() const;
};

}  // namespace ft
