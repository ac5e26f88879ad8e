#include "engine/export/gguf_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/tokenizer_model.hpp"
#include "ftengine/dtype.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

namespace fs = std::filesystem;
using nlohmann::json;

GgmlType parse_gguf_type(const std::string& name) {
  if (name == "f32") return GgmlType::f32;
  if (name == "f16") return GgmlType::f16;
  if (name == "bf16") return GgmlType::bf16;
  if (name == "q8_0") return GgmlType::q8_0;
  if (name == "q4_0") return GgmlType::q4_0;
  throw Error(fmt::format("GGUF type \"{}\": choose f32, f16, bf16, q8_0 or q4_0", name));
}

const char* gguf_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::f32:
      return "f32";
    case GgmlType::f16:
      return "f16";
    case GgmlType::bf16:
      return "bf16";
    case GgmlType::q8_0:
      return "q8_0";
    case GgmlType::q4_0:
      return "q4_0";
  }
  return "?";
}

std::vector<float> permute_for_ggml_rope(const std::vector<float>& rows, std::int64_t heads,
                                         std::int64_t head_dim, std::int64_t row_length) {
  std::vector<float> out(rows.size());
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t j = 0; j < half; ++j)
      for (std::int64_t i = 0; i < 2; ++i) {
        const std::int64_t to = h * head_dim + 2 * j + i, from = h * head_dim + i * half + j;
        std::copy_n(rows.begin() + from * row_length, row_length, out.begin() + to * row_length);
      }
  return out;
}

namespace {

// llama.cpp's name for a tensor, by its role: the export's one table of names (llama.cpp's
// llama-arch.cpp, LLM_TENSOR_NAMES), "blk.<layer>." in front of those inside a layer.
std::string gguf_name(const TensorSpec& t, const fs::path& model_dir) {
  using R = TensorRole;
  const char* in_layer = nullptr;
  switch (t.role) {
    case R::token_embedding:
      return "token_embd.weight";
    case R::final_norm:
      return "output_norm.weight";
    case R::lm_head:
      return "output.weight";
    case R::attn_norm:
      in_layer = "attn_norm.weight";
      break;
    case R::q_proj:
      in_layer = "attn_q.weight";
      break;
    case R::k_proj:
      in_layer = "attn_k.weight";
      break;
    case R::v_proj:
      in_layer = "attn_v.weight";
      break;
    case R::o_proj:
      in_layer = "attn_output.weight";
      break;
    case R::q_bias:
      in_layer = "attn_q.bias";
      break;
    case R::k_bias:
      in_layer = "attn_k.bias";
      break;
    case R::v_bias:
      in_layer = "attn_v.bias";
      break;
    case R::o_bias:
      in_layer = "attn_output.bias";
      break;
    case R::q_norm:
      in_layer = "attn_q_norm.weight";
      break;
    case R::k_norm:
      in_layer = "attn_k_norm.weight";
      break;
    case R::ffn_norm:
      in_layer = "ffn_norm.weight";
      break;
    case R::gate_proj:
      in_layer = "ffn_gate.weight";
      break;
    case R::up_proj:
      in_layer = "ffn_up.weight";
      break;
    case R::down_proj:
      in_layer = "ffn_down.weight";
      break;
    case R::gate_bias:
      in_layer = "ffn_gate.bias";
      break;
    case R::up_bias:
      in_layer = "ffn_up.bias";
      break;
    case R::down_bias:
      in_layer = "ffn_down.bias";
      break;
  }
  if (in_layer == nullptr || t.layer < 0)
    throw Error(
        fmt::format("{}: tensor \"{}\" (role {}, layer {}) has no llama.cpp tensor name "
                    "the GGUF export knows",
                    model_dir.string(), t.name, static_cast<int>(t.role), t.layer));
  return fmt::format("blk.{}.{}", t.layer, in_layer);
}

// llama.cpp's architecture for a Hugging Face model_type, and whether its q and k rows go
// from Hugging Face's rotate-half rope layout to ggml's interleaved one.
struct GgufArch {
  std::string name;
  bool permute_qk = false;
};

GgufArch gguf_arch(const ModelInfo& info, const fs::path& model_dir) {
  if (info.model_type == "llama" || info.model_type == "mistral") return {"llama", true};
  if (info.model_type == "qwen2" || info.model_type == "qwen3") return {info.model_type, false};
  throw Error(
      fmt::format("{}: model_type \"{}\": the GGUF export writes llama, mistral, qwen2 and qwen3 "
                  "models",
                  (model_dir / "config.json").string(), info.model_type));
}

// values (f32) as `type` bytes; rows of `row_length` values (q8_0 blocks run along them).
std::vector<std::uint8_t> encode(const std::vector<float>& values, GgmlType type) {
  std::vector<std::uint8_t> out(ggml_nbytes(type, values.size()));
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out.data(), values.data(), out.size());
      break;
    case GgmlType::f16:
    case GgmlType::bf16:
      for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint16_t h =
            type == GgmlType::f16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case GgmlType::q8_0:
      // ggml's quantize_row_q8_0: d = amax / 127, q = round(x / d), d stored as f16.
      for (std::size_t b = 0; b < values.size() / 32; ++b) {
        const float* x = values.data() + 32 * b;
        float amax = 0.0f;
        for (int k = 0; k < 32; ++k) amax = std::max(amax, std::abs(x[k]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        std::uint8_t* block = out.data() + 34 * b;
        const std::uint16_t dh = f32_to_f16(d);
        std::memcpy(block, &dh, 2);
        for (int k = 0; k < 32; ++k)
          block[2 + k] =
              static_cast<std::uint8_t>(static_cast<std::int8_t>(std::lround(x[k] * id)));
      }
      break;
    case GgmlType::q4_0:
      // ggml's quantize_row_q4_0: d = m / -8 for m the value of largest magnitude,
      // q = min(15, trunc(x / d + 8.5)); value k in the low nibble of byte k, value k + 16
      // in its high nibble; d stored as f16.
      for (std::size_t b = 0; b < values.size() / 32; ++b) {
        const float* x = values.data() + 32 * b;
        float m = 0.0f;
        for (int k = 0; k < 32; ++k)
          if (std::abs(x[k]) > std::abs(m)) m = x[k];
        const float d = m / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        std::uint8_t* block = out.data() + 18 * b;
        const std::uint16_t dh = f32_to_f16(d);
        std::memcpy(block, &dh, 2);
        const auto code = [&](float v) {
          return static_cast<std::uint8_t>(std::min(15, static_cast<int>(v * id + 8.5f)));
        };
        for (int k = 0; k < 16; ++k)
          block[2 + k] = static_cast<std::uint8_t>(code(x[k]) | (code(x[k + 16]) << 4));
      }
      break;
  }
  return out;
}

// tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
std::int32_t token_type(const tok::TokenizerModel& m, std::size_t id) {
  switch (m.kinds[id]) {
    case tok::TokenKind::normal:
      return 1;
    case tok::TokenKind::byte:
      return 6;
    case tok::TokenKind::special:
      return m.unk && static_cast<std::size_t>(*m.unk) == id ? 2 : 3;
    case tok::TokenKind::added:
      return 4;
    case tok::TokenKind::unused:
      return 5;
  }
  return 1;
}

}  // namespace

void add_gguf_tokenizer(GgufWriter& w, const Tokenizer& tokenizer, const fs::path& model_dir,
                        std::int64_t rows) {
  const tok::TokenizerModel& m = tokenizer.model();
  const std::size_t n = m.pieces.size();
  const std::size_t total = rows > 0 ? static_cast<std::size_t>(rows) : n;
  if (total < n)
    throw Error(fmt::format("{}: {} tokens, but the model's embeddings have only {} rows", m.source,
                            n, total));
  std::vector<std::int32_t> types(total, 5);  // padding: unused
  for (std::size_t id = 0; id < n; ++id) types[id] = token_type(m, id);
  const auto padded = [&](std::vector<std::string> tokens) {
    for (std::size_t id = n; id < total; ++id) tokens.push_back(fmt::format("[PAD{}]", id));
    return tokens;
  };

  // Merges in rank order.
  std::vector<std::pair<std::int32_t, std::pair<std::int32_t, std::int32_t>>> merges;
  std::vector<std::int32_t> produced_by(n, -1);  // the rank of the merge making each token
  m.merges.for_each([&](std::int32_t left, std::int32_t right, const tok::Merge& merge) {
    merges.push_back({merge.rank, {left, right}});
    auto& rank = produced_by[static_cast<std::size_t>(merge.id)];
    if (rank < 0 || merge.rank < rank) rank = merge.rank;
  });
  std::sort(merges.begin(), merges.end());

  if (m.family == "sentencepiece-bpe") {
    // llama.cpp's SentencePiece tokenizer merges the adjacent pair whose concatenation
    // scores highest: a token's score is minus the rank of the merge that makes it, so it
    // merges in the merge list's order. Tokens no merge makes (characters, bytes, specials,
    // padding) score below every merge.
    w.add("tokenizer.ggml.model", std::string("llama"));
    w.add("tokenizer.ggml.tokens", padded(m.pieces));
    std::vector<float> scores(total, -static_cast<float>(merges.size() + 1));
    for (std::size_t id = 0; id < n; ++id)
      if (produced_by[id] >= 0) scores[id] = -static_cast<float>(produced_by[id]);
    w.add("tokenizer.ggml.scores", std::move(scores));
    w.add("tokenizer.ggml.token_type", std::move(types));
    // Whether "▁" goes in front of the text: what encoding one letter does.
    const std::vector<std::int32_t> a = tokenizer.encode("a", false, false);
    const bool space_prefix =
        !a.empty() && m.pieces[static_cast<std::size_t>(a.front())].starts_with("\xE2\x96\x81");
    w.add("tokenizer.ggml.add_space_prefix", space_prefix);
  } else {
    static const std::map<std::string, std::string, std::less<>> pre = {
        {"gpt2", "gpt-2"}, {"llama3", "llama-bpe"}, {"qwen2", "qwen2"}};
    const auto it = pre.find(m.family);
    if (it == pre.end())
      throw Error(
          fmt::format("{}: a byte-level tokenizer with a pre-tokenizer of its own "
                      "(\"{}\"): the GGUF export writes GPT-2, Llama 3 and Qwen2 ones",
                      m.source, m.family));
    w.add("tokenizer.ggml.model", std::string("gpt2"));
    w.add("tokenizer.ggml.pre", it->second);
    // Vocabulary pieces are raw bytes here; GGUF keeps them as GPT-2's byte-to-unicode
    // text, added tokens as written.
    std::vector<std::string> written(n);
    for (std::size_t id = 0; id < n; ++id)
      written[id] = m.kinds[id] == tok::TokenKind::normal || m.kinds[id] == tok::TokenKind::byte
                        ? tok::bytes_to_unicode(m.pieces[id])
                        : m.pieces[id];
    std::vector<std::string> merge_text;
    merge_text.reserve(merges.size());
    for (const auto& [rank, pair] : merges)
      merge_text.push_back(written[static_cast<std::size_t>(pair.first)] + " " +
                           written[static_cast<std::size_t>(pair.second)]);
    w.add("tokenizer.ggml.tokens", padded(std::move(written)));
    w.add("tokenizer.ggml.token_type", std::move(types));
    w.add("tokenizer.ggml.merges", std::move(merge_text));
  }
  if (m.bos) w.add("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(*m.bos));
  if (m.eos) w.add("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(*m.eos));
  if (m.unk) w.add("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(*m.unk));
  const auto holds = [](const std::vector<std::int32_t>& ids, std::optional<std::int32_t> id) {
    return id && std::find(ids.begin(), ids.end(), *id) != ids.end();
  };
  w.add("tokenizer.ggml.add_bos_token", holds(m.prefix, m.bos));
  w.add("tokenizer.ggml.add_eos_token", holds(m.suffix, m.eos));

  if (model_dir.empty()) return;
  std::ifstream config_in(model_dir / "tokenizer_config.json");
  if (config_in) {
    const json config = json::parse(config_in, nullptr, /*allow_exceptions=*/false);
    if (config.is_object() && config.contains("chat_template") &&
        config["chat_template"].is_string())
      w.add("tokenizer.chat_template", config["chat_template"].get<std::string>());
  }
}

void export_gguf(const Model& model, const fs::path& model_dir, const Tokenizer& tokenizer,
                 const fs::path& out, const GgufExportOptions& options) {
  const ModelInfo info = model.info();
  const GgufArch arch = gguf_arch(info, model_dir);
  const std::string& rope_type = info.rope_scaling.type;
  if (rope_type != "default" && rope_type != "linear" && rope_type != "llama3")
    throw Error(fmt::format(
        "{}: rope_scaling type \"{}\" is not exported to GGUF yet (linear and llama3 are)",
        (model_dir / "config.json").string(), rope_type));

  // The tensors to write, each with its GGUF name, before anything is written.
  std::map<std::string, Tensor, std::less<>> by_name;
  for (const Parameter& p : model.parameters()) by_name.emplace(p.name, p.tensor);
  struct Written {
    std::string name;
    TensorRole role;
    Tensor tensor;
  };
  std::vector<Written> tensors;
  for (const TensorSpec& t : model.tensor_layout()) {
    const auto it = by_name.find(t.name);
    if (it == by_name.end() || it->second.shape() != t.shape)
      throw InternalError(fmt::format(
          "{}: the model plugin lays out tensor \"{}\" {} but has {} among its parameters",
          model_dir.string(), t.name, shape_str(t.shape),
          it == by_name.end() ? std::string("no such tensor") : shape_str(it->second.shape())));
    tensors.push_back({gguf_name(t, model_dir), t.role, it->second});
  }

  const std::string& a = arch.name;
  GgufWriter w;
  // llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_BF16 32.
  const std::uint32_t file_type = options.type == GgmlType::f32    ? 0
                                  : options.type == GgmlType::f16  ? 1
                                  : options.type == GgmlType::q4_0 ? 2
                                  : options.type == GgmlType::q8_0 ? 7
                                                                   : 32;
  w.add("general.architecture", a);
  w.add("general.name", options.name.empty() ? model_dir.filename().string() : options.name);
  w.add("general.file_type", file_type);
  if (options.type == GgmlType::q8_0 || options.type == GgmlType::q4_0)
    w.add("general.quantization_version", std::uint32_t{2});
  const auto u32 = [](std::int64_t v) { return static_cast<std::uint32_t>(v); };
  w.add(a + ".vocab_size", u32(info.vocab_size));
  w.add(a + ".context_length", u32(info.max_position_embeddings));
  w.add(a + ".embedding_length", u32(info.hidden_size));
  w.add(a + ".block_count", u32(info.num_layers));
  w.add(a + ".feed_forward_length", u32(info.intermediate_size));
  w.add(a + ".attention.head_count", u32(info.num_heads));
  w.add(a + ".attention.head_count_kv", u32(info.num_kv_heads));
  w.add(a + ".attention.key_length", u32(info.head_dim));
  w.add(a + ".attention.value_length", u32(info.head_dim));
  w.add(a + ".rope.dimension_count", u32(info.head_dim));
  w.add(a + ".rope.freq_base", info.rope_theta);
  w.add(a + ".attention.layer_norm_rms_epsilon", info.rms_norm_eps);
  if (rope_type == "linear") {
    w.add(a + ".rope.scaling.type", std::string("linear"));
    w.add(a + ".rope.scaling.factor", info.rope_scaling.factor);
  }
  add_gguf_tokenizer(w, tokenizer, model_dir, info.vocab_size);

  if (rope_type == "llama3") {
    // llama.cpp divides each rope frequency by rope_freqs[i]: the ratio of the plain
    // frequencies to the llama3-scaled ones, as ops::rope_inv_freq computes both.
    const std::vector<float> plain = ops::rope_inv_freq(info.head_dim, info.rope_theta);
    const std::vector<float> scaled =
        ops::rope_inv_freq(info.head_dim, info.rope_theta, info.rope_scaling);
    std::vector<float> factors(plain.size());
    for (std::size_t i = 0; i < plain.size(); ++i) factors[i] = plain[i] / scaled[i];
    w.add_tensor("rope_freqs.weight", GgmlType::f32, {factors.size()},
                 [factors] { return encode(factors, GgmlType::f32); });
  }

  for (const Written& t : tensors) {
    const Shape shape = t.tensor.shape();
    std::vector<std::uint64_t> dims(shape.rbegin(), shape.rend());  // ggml: innermost first
    const bool vector = shape.size() == 1;
    GgmlType type = vector ? GgmlType::f32 : options.type;
    if ((type == GgmlType::q8_0 || type == GgmlType::q4_0) && dims[0] % 32 != 0)
      type = GgmlType::f16;  // as llama.cpp does
    // Which rows to permute: q and k (weights and biases) of Llama-layout models.
    std::int64_t permute_heads = 0;
    if (arch.permute_qk && (t.role == TensorRole::q_proj || t.role == TensorRole::q_bias))
      permute_heads = info.num_heads;
    if (arch.permute_qk && (t.role == TensorRole::k_proj || t.role == TensorRole::k_bias))
      permute_heads = info.num_kv_heads;
    const Tensor tensor = t.tensor;
    w.add_tensor(t.name, type, dims, [tensor, type, permute_heads, head_dim = info.head_dim] {
      std::vector<float> values = tensor.to_vector();  // widened to f32
      if (permute_heads > 0)
        values = permute_for_ggml_rope(values, permute_heads, head_dim,
                                       tensor.ndim() == 2 ? tensor.dim(1) : 1);
      return encode(values, type);
    });
  }
  w.write(out);
}

}  // namespace ft::engine
