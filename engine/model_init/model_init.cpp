#include "engine/model_init/model_init.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "engine/model_init/output_dir.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "ftengine/philox.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny", "4 layers, hidden 128: for tests and smoke runs", 128, 352, 4, 4, 2,
       kByteTokenizerVocab, 2048},
      {"bench-25m", "6 layers, hidden 512, vocab 8192 (~26M parameters): benchmarks", 512, 1408, 6,
       8, 4, 8192, 2048},
      {"bench-125m", "12 layers, hidden 768, vocab 32000 (~125M parameters): benchmarks", 768, 2048,
       12, 12, 4, 32000, 2048},
      {"bench-1b", "TinyLlama-1.1B's shape: 22 layers, hidden 2048, vocab 32000: memory at scale",
       2048, 5632, 22, 32, 4, 32000, 2048},
  };
  return presets;
}

const ModelPreset& model_preset(std::string_view name) {
  std::vector<std::string> names;
  for (const ModelPreset& p : model_presets()) {
    if (p.name == name) return p;
    names.push_back(p.name);
  }
  throw Error(
      fmt::format("unknown model preset \"{}\"; presets: {}", name, fmt::join(names, ", ")));
}

namespace {

// transformers' LlamaPreTrainedModel._init_weights: RMSNorm weights ones, biases zeros,
// every other weight normal(0, initializer_range = 0.02).
enum class Init { ones, zeros, normal };

Init init_of(TensorRole role) {
  using R = TensorRole;
  switch (role) {
    case R::attn_norm:
    case R::ffn_norm:
    case R::q_norm:
    case R::k_norm:
    case R::final_norm:
      return Init::ones;
    case R::q_bias:
    case R::k_bias:
    case R::v_bias:
    case R::o_bias:
    case R::gate_bias:
    case R::up_bias:
    case R::down_bias:
      return Init::zeros;
    case R::token_embedding:
    case R::q_proj:
    case R::k_proj:
    case R::v_proj:
    case R::o_proj:
    case R::gate_proj:
    case R::up_proj:
    case R::down_proj:
    case R::lm_head:
      return Init::normal;
  }
  return Init::normal;
}

// normal(0, std) by Box-Muller on Philox words: element e of tensor t comes from counter
// (t << 40) + e / 4, so each tensor is its own stream and the result is independent of
// everything but (seed, tensor index, element index).
// f32 math with 24-bit uniforms: draws reach 5.8 standard deviations, plenty for an init.
void fill_normal(std::vector<float>& out, float stddev, std::uint64_t seed, std::uint64_t tensor) {
  constexpr float kTwoPi = 2.0f * std::numbers::pi_v<float>;
  constexpr float kInv24 = 1.0f / 16777216.0f;
  const std::size_t n = out.size();
  for (std::size_t block = 0; block * 4 < n; ++block) {
    const Philox4x32 r = philox4x32((tensor << 40) + block, seed);
    float z[4];
    for (int pair = 0; pair < 2; ++pair) {
      const float u1 = static_cast<float>((r.v[2 * pair] >> 8) + 1) * kInv24;  // (0, 1]
      const float u2 = static_cast<float>(r.v[2 * pair + 1] >> 8) * kInv24;    // [0, 1)
      const float radius = std::sqrt(-2.0f * std::log(u1));
      z[2 * pair] = radius * std::cos(kTwoPi * u2);
      z[2 * pair + 1] = radius * std::sin(kTwoPi * u2);
    }
    for (std::size_t k = 0; k < 4 && block * 4 + k < n; ++k) out[block * 4 + k] = stddev * z[k];
  }
}

}  // namespace

std::string preset_config_json(const ModelPreset& p, DType dtype) {
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["bos_token_id"] = kByteTokenizerBos;
  j["eos_token_id"] = kByteTokenizerEos;
  j["head_dim"] = p.hidden_size / p.num_heads;
  j["hidden_act"] = "silu";
  j["hidden_size"] = p.hidden_size;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = p.intermediate_size;
  j["max_position_embeddings"] = p.max_position_embeddings;
  j["mlp_bias"] = false;
  j["model_type"] = "llama";
  j["num_attention_heads"] = p.num_heads;
  j["num_hidden_layers"] = p.num_layers;
  j["num_key_value_heads"] = p.num_kv_heads;
  j["pretraining_tp"] = 1;
  j["rms_norm_eps"] = 1e-5;
  j["rope_scaling"] = nullptr;
  j["rope_theta"] = 10000.0;
  j["tie_word_embeddings"] = false;
  j["torch_dtype"] = dtype == DType::bf16  ? "bfloat16"
                     : dtype == DType::f16 ? "float16"
                                           : "float32";
  j["use_cache"] = true;
  j["vocab_size"] = p.vocab_size;
  return j.dump(2) + "\n";
}

namespace {

std::string generation_config_json() {
  nlohmann::ordered_json j;
  j["bos_token_id"] = kByteTokenizerBos;
  j["eos_token_id"] = kByteTokenizerEos;
  return j.dump(2) + "\n";
}

}  // namespace

std::int64_t parameter_count(const std::vector<TensorSpec>& layout) {
  std::int64_t total = 0;
  for (const TensorSpec& t : layout) total += shape_numel(t.shape);
  return total;
}

std::vector<TensorSpec> preset_layout(Model& model, const ModelPreset& preset, const fs::path& dir,
                                      DType dtype) {
  io::write_file_atomic(dir / "config.json", preset_config_json(preset, dtype));
  model.describe(dir);
  return model.tensor_layout();
}

RandomModel write_random_model(Model& model, std::string_view preset_name, const fs::path& out_dir,
                               std::uint64_t seed, DType dtype) {
  const ModelPreset& preset = model_preset(preset_name);
  if (!is_floating(dtype))
    throw Error(fmt::format("init-model: dtype {} is not a weight dtype; use f32, bf16 or f16",
                            dtype_name(dtype)));
  create_empty_directory(out_dir, "init-model");

  RandomModel result;
  result.dir = out_dir;
  // The model plugin lays the tensors out from the config.json written here; tensor i of the
  // layout draws from Philox stream i.
  const std::vector<TensorSpec> layout = preset_layout(model, preset, out_dir, dtype);
  result.files.push_back(out_dir / "config.json");
  std::vector<std::vector<float>> data(layout.size());
  std::vector<std::vector<std::uint16_t>> narrowed(layout.size());
  std::vector<io::SafetensorsEntry> entries;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const TensorSpec& t = layout[i];
    data[i].resize(static_cast<std::size_t>(shape_numel(t.shape)));
    switch (init_of(t.role)) {
      case Init::ones:
        std::fill(data[i].begin(), data[i].end(), 1.0f);
        break;
      case Init::zeros:
        std::fill(data[i].begin(), data[i].end(), 0.0f);
        break;
      case Init::normal:
        fill_normal(data[i], 0.02f, seed, i);
        break;
    }
    if (dtype == DType::f32) {
      entries.push_back(io::SafetensorsEntry::from_host(t.name, "F32", t.shape, data[i].data()));
    } else {
      narrowed[i].resize(data[i].size());
      for (std::size_t j = 0; j < data[i].size(); ++j)
        narrowed[i][j] = dtype == DType::bf16 ? f32_to_bf16(data[i][j]) : f32_to_f16(data[i][j]);
      std::vector<float>().swap(data[i]);  // one copy of the weights, not two
      entries.push_back(io::SafetensorsEntry::from_host(
          t.name, dtype == DType::bf16 ? "BF16" : "F16", t.shape, narrowed[i].data()));
    }
    result.parameters += shape_numel(t.shape);
  }

  const auto write = [&](const char* name, const std::string& text) {
    io::write_file_atomic(out_dir / name, text);
    result.files.push_back(out_dir / name);
  };
  write("generation_config.json", generation_config_json());
  io::write_safetensors(out_dir / "model.safetensors", entries, {{"format", "pt"}});
  result.files.push_back(out_dir / "model.safetensors");
  write("tokenizer.json", byte_tokenizer_json());
  write("tokenizer_config.json", byte_tokenizer_config_json(preset.max_position_embeddings));
  return result;
}

}  // namespace ft::engine
