#include "plugins/models/llama/config.hpp"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "ftengine/error.hpp"

namespace ft::plugins::llama {

namespace {

using nlohmann::json;

struct Architecture {
  std::string_view model_type;
  std::string_view class_name;
};
constexpr std::array<Architecture, 4> kArchitectures{{
    {"llama", "LlamaForCausalLM"},
    {"mistral", "MistralForCausalLM"},
    {"qwen2", "Qwen2ForCausalLM"},
    {"qwen3", "Qwen3ForCausalLM"},
}};

std::string supported_list() {
  return "llama, mistral, qwen2, qwen3 (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
         "Qwen3ForCausalLM)";
}

class Reader {
 public:
  Reader(const json& j, const std::string& file) : j_(j), file_(file) {}

  const json* find(std::string_view key) const {
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  [[noreturn]] void fail(std::string_view key, std::string_view expected, const json& found) const {
    throw Error(
        fmt::format("{}: key \"{}\": expected {}, found {}", file_, key, expected, found.dump()));
  }
  [[noreturn]] void fail(std::string_view key, const std::string& what) const {
    throw Error(fmt::format("{}: key \"{}\": {}", file_, key, what));
  }

  std::int64_t positive(std::string_view key, std::int64_t fallback = -1) const {
    const json* v = find(key);
    if (!v) {
      if (fallback >= 0) return fallback;
      throw Error(fmt::format("{}: missing required key \"{}\"", file_, key));
    }
    if (!v->is_number_integer() || v->get<std::int64_t>() <= 0) fail(key, "a positive integer", *v);
    return v->get<std::int64_t>();
  }
  std::int64_t non_negative(std::string_view key, std::int64_t fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number_integer() || v->get<std::int64_t>() < 0)
      fail(key, "a non-negative integer", *v);
    return v->get<std::int64_t>();
  }
  float number(std::string_view key, float fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) fail(key, "a number", *v);
    return v->get<float>();
  }
  bool boolean(std::string_view key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(key, "true or false", *v);
    return v->get<bool>();
  }
  std::string string(std::string_view key, std::string fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) fail(key, "a string", *v);
    return v->get<std::string>();
  }
  // A token id, or a list of them (eos_token_id may be either).
  std::vector<std::int32_t> token_ids(std::string_view key) const {
    const json* v = find(key);
    std::vector<std::int32_t> ids;
    if (!v) return ids;
    const auto one = [&](const json& x) {
      if (!x.is_number_integer() || x.get<std::int64_t>() < 0 || x.get<std::int64_t>() > INT32_MAX)
        fail(key, "a token id or a list of token ids", *v);
      ids.push_back(static_cast<std::int32_t>(x.get<std::int64_t>()));
    };
    if (v->is_array()) {
      for (const json& x : *v) one(x);
    } else {
      one(*v);
    }
    return ids;
  }
  const std::string& file() const { return file_; }

 private:
  const json& j_;
  const std::string& file_;
};

std::string check_architecture(const Reader& r) {
  const auto type_of_class = [](std::string_view cls) -> std::string_view {
    for (const Architecture& a : kArchitectures)
      if (a.class_name == cls) return a.model_type;
    return {};
  };
  std::string model_type = r.string("model_type", "");
  if (!model_type.empty()) {
    bool known = false;
    for (const Architecture& a : kArchitectures) known = known || a.model_type == model_type;
    if (!known)
      throw Error(
          fmt::format("{}: model_type \"{}\" is not a Llama-family architecture; supported: {}",
                      r.file(), model_type, supported_list()));
  }
  if (const json* archs = r.find("architectures")) {
    if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string())
      r.fail("architectures", "a list of class names", *archs);
    for (const json& a : *archs) {
      const std::string cls = a.is_string() ? a.get<std::string>() : a.dump();
      const std::string_view type = type_of_class(cls);
      if (type.empty())
        throw Error(
            fmt::format("{}: architecture \"{}\" is not a Llama-family causal LM; supported: {}",
                        r.file(), cls, supported_list()));
      if (model_type.empty()) model_type = type;
    }
  }
  if (model_type.empty())
    throw Error(fmt::format("{}: names neither model_type nor architectures; supported: {}",
                            r.file(), supported_list()));
  return model_type;
}

// rope_scaling (or transformers 5's rope_parameters): {"rope_type" | "type": ..., ...}
ops::RopeScaling read_rope_scaling(const Reader& r, std::string_view key, const json& s,
                                   std::int64_t max_positions) {
  ops::RopeScaling scaling;
  if (!s.is_object()) r.fail(key, "an object", s);
  std::string type;
  if (s.contains("rope_type") && s["rope_type"].is_string())
    type = s["rope_type"].get<std::string>();
  else if (s.contains("type") && s["type"].is_string())
    type = s["type"].get<std::string>();
  else
    r.fail(key, "an object with \"rope_type\" (or \"type\")", s);
  const auto number = [&](const char* name, float fallback) {
    if (!s.contains(name) || s[name].is_null()) return fallback;
    if (!s[name].is_number()) r.fail(key, fmt::format("\"{}\" must be a number", name));
    return s[name].get<float>();
  };
  if (type == "default") return scaling;
  if (type != "linear" && type != "llama3")
    r.fail(key,
           fmt::format("rope type \"{}\" is not supported (supported: default, linear, llama3)",
                       type));
  scaling.type = type;
  if (!s.contains("factor")) r.fail(key, fmt::format("\"{}\" scaling needs \"factor\"", type));
  scaling.factor = number("factor", 1.0f);
  if (type == "llama3") {
    scaling.low_freq_factor = number("low_freq_factor", 1.0f);
    scaling.high_freq_factor = number("high_freq_factor", 4.0f);
    scaling.original_max_position_embeddings = static_cast<std::int64_t>(
        number("original_max_position_embeddings", static_cast<float>(max_positions)));
  }
  return scaling;
}

}  // namespace

LlamaConfig parse_config(const json& j, const std::string& file) {
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", file));
  const Reader r(j, file);
  LlamaConfig c;
  c.model_type = check_architecture(r);

  c.hidden_size = r.positive("hidden_size");
  c.intermediate_size = r.positive("intermediate_size");
  c.num_layers = r.positive("num_hidden_layers");
  c.num_heads = r.positive("num_attention_heads");
  c.num_kv_heads = r.positive("num_key_value_heads", c.num_heads);
  c.vocab_size = r.positive("vocab_size");
  c.max_position_embeddings = r.positive("max_position_embeddings", 2048);
  if (c.num_heads % c.num_kv_heads != 0)
    r.fail("num_key_value_heads",
           fmt::format("{} does not divide num_attention_heads ({})", c.num_kv_heads, c.num_heads));
  if (r.find("head_dim")) {
    c.head_dim = r.positive("head_dim");
  } else {
    if (c.hidden_size % c.num_heads != 0)
      r.fail("num_attention_heads", fmt::format("{} does not divide hidden_size ({}) and there is "
                                                "no head_dim",
                                                c.num_heads, c.hidden_size));
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0)
    r.fail("head_dim", fmt::format("{} is odd: RoPE needs pairs", c.head_dim));

  c.rms_norm_eps = r.number("rms_norm_eps", 1e-6f);
  if (!(c.rms_norm_eps > 0.0f)) r.fail("rms_norm_eps", "must be > 0");
  c.rope_theta = r.number("rope_theta", 10000.0f);
  if (const json* s = r.find("rope_scaling"))
    c.rope_scaling = read_rope_scaling(r, "rope_scaling", *s, c.max_position_embeddings);
  if (const json* p = r.find("rope_parameters")) {
    c.rope_scaling = read_rope_scaling(r, "rope_parameters", *p, c.max_position_embeddings);
    if (p->contains("rope_theta") && (*p)["rope_theta"].is_number())
      c.rope_theta = (*p)["rope_theta"].get<float>();
  }
  if (!(c.rope_theta > 0.0f)) r.fail("rope_theta", "must be > 0");

  const std::string act = r.string("hidden_act", "silu");
  if (act != "silu")
    r.fail("hidden_act", fmt::format("\"{}\" is not supported: the Llama family uses \"silu\" "
                                     "(SwiGLU)",
                                     act));

  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  const bool attention_bias = r.boolean("attention_bias", false);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2Attention: q/k/v always biased, o_proj never
  } else if (c.model_type != "mistral") {
    c.qkv_bias = c.o_bias = attention_bias;
  }
  c.mlp_bias = c.model_type == "llama" && r.boolean("mlp_bias", false);
  c.qk_norm = c.model_type == "qwen3";

  // Sliding-window attention, per layer.
  c.sliding_window.assign(static_cast<std::size_t>(c.num_layers), 0);
  std::int64_t window = 0;
  if (const json* w = r.find("sliding_window")) {
    if (!w->is_number_integer() || w->get<std::int64_t>() < 0)
      r.fail("sliding_window", "a positive integer or null", *w);
    window = w->get<std::int64_t>();
  }
  if (c.model_type == "mistral") {
    std::fill(c.sliding_window.begin(), c.sliding_window.end(), window);
  } else if (c.model_type == "qwen2" || c.model_type == "qwen3") {
    if (r.boolean("use_sliding_window", false) && window > 0) {
      if (const json* types = r.find("layer_types")) {
        if (!types->is_array() || static_cast<std::int64_t>(types->size()) != c.num_layers)
          r.fail("layer_types", fmt::format("a list of {} layer types", c.num_layers), *types);
        for (std::int64_t i = 0; i < c.num_layers; ++i) {
          const json& t = (*types)[static_cast<std::size_t>(i)];
          if (t == "sliding_attention")
            c.sliding_window[static_cast<std::size_t>(i)] = window;
          else if (t != "full_attention")
            r.fail("layer_types", "\"full_attention\" or \"sliding_attention\" entries", t);
        }
      } else {
        // Qwen2Config: layers from max_window_layers on use the window.
        const std::int64_t first = r.non_negative("max_window_layers", 28);
        for (std::int64_t i = first; i < c.num_layers; ++i)
          c.sliding_window[static_cast<std::size_t>(i)] = window;
      }
    }
  }

  const std::vector<std::int32_t> bos = r.token_ids("bos_token_id");
  if (bos.size() > 1) r.fail("bos_token_id", "a single token id", j["bos_token_id"]);
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  c.eos_token_ids = r.token_ids("eos_token_id");
  return c;
}

LlamaConfig read_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(fmt::format("{}: cannot open (a Hugging Face model directory has a config.json)",
                            path.string()));
  std::stringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
  return parse_config(j, path.string());
}

}  // namespace ft::plugins::llama
