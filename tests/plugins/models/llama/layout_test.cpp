// The llama plugin's tensor layout (Model::tensor_layout after describe() or load()): for
// stories260K exactly the tensors of its checkpoint, and of its GGUF export under llama.cpp's
// names; for Qwen2, Qwen3, untied and biased configs the tensors transformers gives those
// classes, written out here by hand.
#include <fmt/format.h>

#include <map>
#include <set>
#include <utility>

#include "engine/export/gguf_export.hpp"
#include "engine/tokenizer/gguf.hpp"
#include "tests/plugins/models/llama/llama_test_util.hpp"

namespace ft::testing {
namespace {

using R = TensorRole;

std::unique_ptr<Model> described(const fs::path& dir) {
  std::unique_ptr<Model> model = Plugins::get().model();
  model->describe(dir);
  return model;
}

// A directory holding only `config`, as config.json.
void write_config(const fs::path& dir, const nlohmann::json& config) {
  fs::create_directories(dir);
  io::write_file_atomic(dir / "config.json", config.dump(2));
}

std::map<std::string, Shape> by_name(const std::vector<TensorSpec>& layout) {
  std::map<std::string, Shape> out;
  for (const TensorSpec& t : layout) EXPECT_TRUE(out.emplace(t.name, t.shape).second) << t.name;
  return out;
}

// Hugging Face's names in one Llama-family decoder layer, with their shapes.
struct LayerShapes {
  std::int64_t hidden, q, kv, intermediate, head_dim;
  bool qkv_bias = false, o_bias = false, mlp_bias = false, qk_norm = false;
};

void add_layer(std::map<std::string, Shape>& out, int i, const LayerShapes& s) {
  const std::string p = fmt::format("model.layers.{}.", i);
  out[p + "input_layernorm.weight"] = {s.hidden};
  out[p + "post_attention_layernorm.weight"] = {s.hidden};
  out[p + "self_attn.q_proj.weight"] = {s.q, s.hidden};
  out[p + "self_attn.k_proj.weight"] = {s.kv, s.hidden};
  out[p + "self_attn.v_proj.weight"] = {s.kv, s.hidden};
  out[p + "self_attn.o_proj.weight"] = {s.hidden, s.q};
  out[p + "mlp.gate_proj.weight"] = {s.intermediate, s.hidden};
  out[p + "mlp.up_proj.weight"] = {s.intermediate, s.hidden};
  out[p + "mlp.down_proj.weight"] = {s.hidden, s.intermediate};
  if (s.qkv_bias) {
    out[p + "self_attn.q_proj.bias"] = {s.q};
    out[p + "self_attn.k_proj.bias"] = {s.kv};
    out[p + "self_attn.v_proj.bias"] = {s.kv};
  }
  if (s.o_bias) out[p + "self_attn.o_proj.bias"] = {s.hidden};
  if (s.mlp_bias) {
    out[p + "mlp.gate_proj.bias"] = {s.intermediate};
    out[p + "mlp.up_proj.bias"] = {s.intermediate};
    out[p + "mlp.down_proj.bias"] = {s.hidden};
  }
  if (s.qk_norm) {
    out[p + "self_attn.q_norm.weight"] = {s.head_dim};
    out[p + "self_attn.k_norm.weight"] = {s.head_dim};
  }
}

std::map<std::string, Shape> expected_tensors(int layers, std::int64_t vocab, const LayerShapes& s,
                                              bool tied) {
  std::map<std::string, Shape> out;
  out["model.embed_tokens.weight"] = {vocab, s.hidden};
  out["model.norm.weight"] = {s.hidden};
  if (!tied) out["lm_head.weight"] = {vocab, s.hidden};
  for (int i = 0; i < layers; ++i) add_layer(out, i, s);
  return out;
}

TEST(Layout, Stories260KIsExactlyItsCheckpointsTensors) {
  REQUIRE_STORIES();
  const std::vector<TensorSpec> layout = described(kStoriesDir)->tensor_layout();
  std::map<std::string, Shape> file;
  const io::SafetensorsFile checkpoint(kStoriesDir / "model.safetensors");
  for (const io::SafetensorsTensorInfo& t : checkpoint.tensors()) file[t.name] = t.shape;
  EXPECT_EQ(by_name(layout), file);
  // hidden 64, 8 heads and 4 kv heads of 8, MLP 172, vocab 512, 5 layers, tied.
  EXPECT_EQ(by_name(layout), expected_tensors(5, 512, {64, 64, 32, 172, 8}, true));
  ASSERT_EQ(layout.size(), 47u);

  // Roles and layers: the embeddings first and the final norm last, outside the layers; each
  // layer once each of the nine roles of a Llama layer, and its tensors carry its number.
  EXPECT_EQ(layout.front().role, R::token_embedding);
  EXPECT_EQ(layout.front().layer, -1);
  EXPECT_EQ(layout.back().role, R::final_norm);
  EXPECT_EQ(layout.back().layer, -1);
  const std::set<R> llama_layer = {R::attn_norm, R::q_proj,    R::k_proj,  R::v_proj,   R::o_proj,
                                   R::ffn_norm,  R::gate_proj, R::up_proj, R::down_proj};
  std::map<std::int64_t, std::set<R>> roles;
  for (const TensorSpec& t : layout) {
    if (t.layer < 0) continue;
    EXPECT_TRUE(roles[t.layer].insert(t.role).second) << t.name;
    EXPECT_TRUE(t.name.starts_with(fmt::format("model.layers.{}.", t.layer))) << t.name;
  }
  ASSERT_EQ(roles.size(), 5u);
  for (const auto& [layer, set] : roles) EXPECT_EQ(set, llama_layer) << "layer " << layer;
  for (const char* name :
       {"model.layers.3.self_attn.k_proj.weight", "model.layers.3.mlp.up_proj.weight",
        "model.layers.3.post_attention_layernorm.weight"}) {
    const auto it = std::find_if(layout.begin(), layout.end(),
                                 [&](const TensorSpec& t) { return t.name == name; });
    ASSERT_NE(it, layout.end()) << name;
    EXPECT_EQ(it->layer, 3) << name;
  }

  // What load() then holds: parameters() are the layout, in its order.
  const std::unique_ptr<Model> model = load_model(kStoriesDir);
  const std::vector<Parameter> params = model->parameters();
  ASSERT_EQ(params.size(), layout.size());
  for (std::size_t i = 0; i < layout.size(); ++i) {
    EXPECT_EQ(params[i].name, layout[i].name);
    EXPECT_EQ(params[i].tensor.shape(), layout[i].shape) << layout[i].name;
  }
  EXPECT_EQ(model->tensor_layout().size(), layout.size());
}

// What describe() reads is what load() reads: the architecture facts exporters write out.
TEST(Layout, DescribeReadsTheConfigAsLoadDoesWithoutTheWeights) {
  REQUIRE_STORIES();
  TempDir dir;
  write_config(dir / "m", read_json(kStoriesDir / "config.json"));  // no weights at all
  const ModelInfo info = described(dir / "m")->info();
  EXPECT_EQ(info.model_type, "llama");
  EXPECT_EQ(info.num_layers, 5);
  EXPECT_EQ(info.hidden_size, 64);
  EXPECT_EQ(info.intermediate_size, 172);
  EXPECT_EQ(info.num_heads, 8);
  EXPECT_EQ(info.num_kv_heads, 4);
  EXPECT_EQ(info.head_dim, 8);
  EXPECT_EQ(info.vocab_size, 512);
  EXPECT_EQ(info.max_position_embeddings, 512);
  EXPECT_FLOAT_EQ(info.rms_norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(info.rope_theta, 10000.0f);
  EXPECT_EQ(info.rope_scaling.type, "default");
  EXPECT_TRUE(info.tie_word_embeddings);
  EXPECT_FALSE(info.qkv_bias || info.o_bias || info.mlp_bias || info.qk_norm);
  EXPECT_EQ(info.sliding_window, std::vector<std::int64_t>(5, 0));

  const ModelInfo loaded = load_model(kStoriesDir)->info();
  EXPECT_EQ(loaded.intermediate_size, info.intermediate_size);
  EXPECT_EQ(loaded.head_dim, info.head_dim);
  EXPECT_EQ(loaded.rope_theta, info.rope_theta);
  EXPECT_EQ(loaded.eos_token_ids, info.eos_token_ids);

  // The config's errors are load()'s.
  nlohmann::json bad = read_json(kStoriesDir / "config.json");
  bad.erase("hidden_size");
  write_config(dir / "bad", bad);
  const std::string expected =
      (dir / "bad" / "config.json").string() + ": missing required key \"hidden_size\"";
  EXPECT_EQ(error_of([&] { described(dir / "bad"); }), expected);
  EXPECT_EQ(error_of([&] { load_model(dir / "bad"); }), expected);
  // Nothing to answer before a config was read.
  EXPECT_THROW(Plugins::get().model()->tensor_layout(), InternalError);
}

TEST(Layout, VariantsAddTheirBiasesNormsAndLmHead) {
  TempDir dir;
  const nlohmann::json base = {{"architectures", {"LlamaForCausalLM"}},
                               {"model_type", "llama"},
                               {"hidden_size", 64},
                               {"intermediate_size", 96},
                               {"num_hidden_layers", 2},
                               {"num_attention_heads", 4},
                               {"num_key_value_heads", 2},
                               {"vocab_size", 100}};
  struct Case {
    const char* name;
    nlohmann::json changes;
    LayerShapes layer;
    bool tied;
  };
  // head_dim 16 (64 / 4): q 64 rows, k and v 32.
  const std::vector<Case> cases = {
      {"llama", nlohmann::json::object(), {64, 64, 32, 96, 16}, false},
      {"llama-tied", {{"tie_word_embeddings", true}}, {64, 64, 32, 96, 16}, true},
      // LlamaAttention: attention_bias biases q, k, v and o; mlp_bias gate, up and down.
      {"llama-biased",
       {{"attention_bias", true}, {"mlp_bias", true}},
       {64, 64, 32, 96, 16, true, true, true},
       false},
      // Qwen2Attention: q, k, v always biased, o never, whatever attention_bias says.
      {"qwen2",
       {{"model_type", "qwen2"},
        {"architectures", {"Qwen2ForCausalLM"}},
        {"tie_word_embeddings", true}},
       {64, 64, 32, 96, 16, true},
       true},
      // Qwen3: per-head q/k norms of head_dim, which need not be hidden / heads.
      {"qwen3",
       {{"model_type", "qwen3"}, {"architectures", {"Qwen3ForCausalLM"}}, {"head_dim", 24}},
       {64, 96, 48, 96, 24, false, false, false, true},
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::json config = base;
    config.merge_patch(c.changes);
    write_config(dir / c.name, config);
    const std::unique_ptr<Model> model = described(dir / c.name);
    const std::vector<TensorSpec> layout = model->tensor_layout();
    EXPECT_EQ(by_name(layout), expected_tensors(2, 100, c.layer, c.tied));
    const bool has_lm_head = std::any_of(layout.begin(), layout.end(), [](const TensorSpec& t) {
      return t.role == R::lm_head && t.name == "lm_head.weight" && t.layer == -1;
    });
    EXPECT_EQ(has_lm_head, !c.tied);
    const ModelInfo info = model->info();
    EXPECT_EQ(info.qkv_bias, c.layer.qkv_bias);
    EXPECT_EQ(info.o_bias, c.layer.o_bias);
    EXPECT_EQ(info.mlp_bias, c.layer.mlp_bias);
    EXPECT_EQ(info.qk_norm, c.layer.qk_norm);
    EXPECT_EQ(info.head_dim, c.layer.head_dim);

    // Each bias and norm carries the role of what it belongs to.
    const std::vector<std::pair<std::string, R>> suffixes = {
        {"q_proj.bias", R::q_bias},       {"k_proj.bias", R::k_bias},
        {"v_proj.bias", R::v_bias},       {"o_proj.bias", R::o_bias},
        {"gate_proj.bias", R::gate_bias}, {"up_proj.bias", R::up_bias},
        {"down_proj.bias", R::down_bias}, {"q_norm.weight", R::q_norm},
        {"k_norm.weight", R::k_norm}};
    for (const TensorSpec& t : layout) {
      for (const auto& [suffix, role] : suffixes) {
        if (t.name.ends_with(suffix)) {
          EXPECT_EQ(t.role, role) << t.name;
        }
      }
    }
  }
}

// The GGUF export writes one tensor per entry of the layout, under llama.cpp's name for its
// role (llama-arch.cpp's LLM_TENSOR_NAMES), in ggml's dimension order.
TEST(Layout, TheGgufExportWritesEveryTensorUnderLlamaCppsName) {
  REQUIRE_STORIES();
  TempDir dir;
  ModelFiles files = ModelFiles::read(kStoriesDir);
  files.config["tie_word_embeddings"] = false;  // and so an output.weight
  files.set("lm_head.weight", *files.find("model.embed_tokens.weight"));
  files.write(dir / "m");
  const std::unique_ptr<Model> model = load_model(dir / "m");
  engine::export_gguf(*model, dir / "m", engine::Tokenizer::from_directory(kStoriesDir),
                      dir / "m.gguf", {.type = engine::GgmlType::f32, .name = ""});
  const engine::GgufFile gguf = engine::read_gguf(dir / "m.gguf");

  std::map<std::string, std::vector<std::uint64_t>> want;
  want["token_embd.weight"] = {64, 512};
  want["output_norm.weight"] = {64};
  want["output.weight"] = {64, 512};
  for (int i = 0; i < 5; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    want[b + "attn_norm.weight"] = {64};
    want[b + "attn_q.weight"] = {64, 64};
    want[b + "attn_k.weight"] = {64, 32};
    want[b + "attn_v.weight"] = {64, 32};
    want[b + "attn_output.weight"] = {64, 64};
    want[b + "ffn_norm.weight"] = {64};
    want[b + "ffn_gate.weight"] = {64, 172};
    want[b + "ffn_up.weight"] = {64, 172};
    want[b + "ffn_down.weight"] = {172, 64};
  }
  std::map<std::string, std::vector<std::uint64_t>> got;
  for (const engine::GgufTensorInfo& t : gguf.tensors) got[t.name] = t.shape;
  EXPECT_EQ(got, want);
  EXPECT_EQ(gguf.tensors.size(), model->tensor_layout().size());
}

}  // namespace
}  // namespace ft::testing
