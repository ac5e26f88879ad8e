// The "lora" adapter plugin: LoRA on the model's linear layers, saved and loaded in PEFT's
// format (adapter_config.json + adapter_model.safetensors) so that PEFT, vLLM and
// llama.cpp's convert_lora_to_gguf.py take our adapters, and we take theirs.
//
// Tensors carry PEFT's names: "base_model.model.<layer>.lora_A.weight" [r, in] and
// "...lora_B.weight" [out, r], f32 whatever the dtype of the frozen base weights.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ftengine/adapter.hpp"
#include "plugins/adapters/lora/lora_config.hpp"
#include "plugins/adapters/lora/lora_hook.hpp"

namespace ft::plugins::lora {

// PEFT's key of an adapted layer's A or B ("lora_A" / "lora_B").
std::string peft_tensor_name(const std::string& layer_name, const char* which);

class LoraAdapter : public Adapter {
 public:
  // `quantize_base`: QLoRA (plugin "qlora"): the adapted layers' base weights are
  // quantised to 4 bits when the adapter attaches.
  explicit LoraAdapter(bool quantize_base = false) : quantize_base_(quantize_base) {}

  void configure(const Options& options) override;
  void attach(Model& model, Backend& backend) override;
  std::vector<Parameter> trainable_parameters() const override;
  void set_forward_state(const AdapterForwardState& state) override;
  void save(const std::filesystem::path& dir, const AdapterSaveInfo& info) const override;
  void load(const std::filesystem::path& dir, Model& model, Backend& backend) override;
  void merge() override;
  std::optional<Quant4bitOptions> base_quantization() const override;

 private:
  struct Adapted {
    Linear* layer;
    std::shared_ptr<LoraHook> hook;
  };
  // Hooks the chosen layers (indices into `layers`) with weights from make_ab(index, layer).
  template <typename MakeAB>
  void hook_layers(const std::vector<Linear*>& layers, const std::vector<std::size_t>& chosen,
                   MakeAB make_ab);
  void require_detached(const char* what) const;
  // QLoRA: the adapted layers' weights in 4 bits (already so when Model::load quantised
  // them), and the log line of the base's bytes.
  void quantize_bases(Model& model);

  bool quantize_base_;
  Model* model_ = nullptr;  // the model attached to (merge() makes its 4-bit layers dense)

  LoraSettings settings_;
  std::string targets_key_ = "adapter.target_modules";  // names target_modules in messages
  std::vector<Adapted> adapted_;
  std::shared_ptr<AdapterForwardState> state_ = std::make_shared<AdapterForwardState>();
};

// The "qlora" plugin: LoRA on a 4-bit NF4/FP4 base (ftengine/quant.hpp).
class QloraAdapter final : public LoraAdapter {
 public:
  QloraAdapter() : LoraAdapter(/*quantize_base=*/true) {}
};

}  // namespace ft::plugins::lora
