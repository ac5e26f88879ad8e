// Tokenizer::from_gguf: the vocabulary llama.cpp stores in GGUF metadata.
//
//   tokenizer.ggml.model   "llama": SentencePiece BPE; tokens + scores, merges by score
//                          "gpt2":  byte-level BPE; tokens + merges, tokenizer.ggml.pre
//                                   names the pre-tokenizer regex
//   tokenizer.ggml.token_type  1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
//                              6 byte (llama.cpp llama_token_type)
//   tokenizer.ggml.{bos,eos,unknown}_token_id, add_bos_token, add_eos_token,
//   add_space_prefix (SentencePiece: "▁" in front of the text, default true)
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/gguf.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/tokenizer_model.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

using tok::TokenizerModel;
using tok::TokenKind;

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁" U+2581

std::optional<std::int32_t> optional_id(const GgufFile& f, std::string_view key,
                                        std::size_t vocab_size) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return std::nullopt;
  const std::int64_t id = v->as_int(key);
  if (id < 0 || static_cast<std::size_t>(id) >= vocab_size) {
    // llama.cpp writes -1 (as u32 0xFFFFFFFF) for "none".
    if (id == 0xFFFFFFFF || id == -1) return std::nullopt;
    throw Error(fmt::format("{}: {} = {} is outside the vocabulary (0..{})", f.path.string(), key,
                            id, vocab_size - 1));
  }
  return static_cast<std::int32_t>(id);
}

bool optional_bool(const GgufFile& f, std::string_view key, bool fallback) {
  const GgufValue* v = f.find(key);
  return v ? v->as_bool(key) : fallback;
}

TokenKind kind_of(std::int64_t token_type) {
  switch (token_type) {
    case 2:
      return TokenKind::special;  // unknown: HF marks <unk> special too
    case 3:
      return TokenKind::special;  // control
    case 4:
      return TokenKind::added;  // user-defined
    case 5:
      return TokenKind::unused;
    case 6:
      return TokenKind::byte;
    default:
      return TokenKind::normal;
  }
}

// Reads tokens and token types into the model; byte-level pieces are converted from
// GPT-2's stand-in alphabet to raw bytes. Returns the tokens as written.
std::vector<std::string> read_vocabulary(const GgufFile& f, TokenizerModel& m) {
  const auto& tokens = f.require("tokenizer.ggml.tokens").as_array("tokenizer.ggml.tokens");
  const GgufValue* types_value = f.find("tokenizer.ggml.token_type");
  const std::vector<GgufValue>* types =
      types_value ? &types_value->as_array("tokenizer.ggml.token_type") : nullptr;
  if (types && types->size() != tokens.size())
    throw Error(fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens",
                            f.path.string(), types->size(), tokens.size()));
  std::vector<std::string> written;
  written.reserve(tokens.size());
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    const std::string& text = tokens[id].as_string("tokenizer.ggml.tokens");
    const std::int64_t type = types ? (*types)[id].as_int("tokenizer.ggml.token_type") : 1;
    const TokenKind kind = kind_of(type);
    std::string piece = text;
    if (m.byte_level && (kind == TokenKind::normal || kind == TokenKind::byte))
      if (auto bytes = tok::unicode_to_bytes(text)) piece = std::move(*bytes);
    m.set_token(static_cast<std::int32_t>(id), std::move(piece), kind);
    if (type == 2 && !m.unk) m.unk = static_cast<std::int32_t>(id);
    // Control, user-defined and unknown tokens are matched in the text (llama.cpp's
    // special-token partition; HF's added tokens).
    if (type == 2 || type == 3 || type == 4)
      m.added.add({text, static_cast<std::int32_t>(id), kind == TokenKind::special});
    written.push_back(text);
  }
  return written;
}

void load_sentencepiece(const GgufFile& f, TokenizerModel& m) {
  m.family = "sentencepiece-bpe";
  m.byte_level = false;
  read_vocabulary(f, m);
  const auto& scores = f.require("tokenizer.ggml.scores").as_array("tokenizer.ggml.scores");
  if (scores.size() != m.pieces.size())
    throw Error(fmt::format("{}: tokenizer.ggml.scores has {} entries for {} tokens",
                            f.path.string(), scores.size(), m.pieces.size()));
  m.finish();
  m.byte_fallback =
      std::any_of(m.byte_ids.begin(), m.byte_ids.end(), [](auto id) { return id >= 0; });

  // Merge priority: higher score first; equal scores share a rank, so the leftmost pair
  // wins among them, as in llama.cpp's llm_bigram_spm queue.
  std::map<double, std::int32_t, std::greater<>> rank_of_score;
  for (const GgufValue& s : scores) rank_of_score.emplace(s.as_float("tokenizer.ggml.scores"), 0);
  std::int32_t next = 0;
  for (auto& entry : rank_of_score) entry.second = next++;
  tok::merges_from_vocabulary(m, [&](std::int32_t id) {
    return rank_of_score.at(scores[static_cast<std::size_t>(id)].as_float("tokenizer.ggml.scores"));
  });

  const bool space_prefix = optional_bool(f, "tokenizer.ggml.add_space_prefix", true);
  if (space_prefix) m.normalizer.add_prepend(std::string(kSpace));
  m.normalizer.add_replace(" ", std::string(kSpace));
  using Step = tok::Decoder::Step;
  m.decoder.add({Step::Kind::replace, std::string(kSpace), " "});
  m.decoder.add({Step::Kind::byte_fallback, {}, {}});
  m.decoder.add({Step::Kind::fuse, {}, {}});
  if (space_prefix) m.decoder.add({Step::Kind::strip, " ", {}, 1, 0});
}

void load_byte_level(const GgufFile& f, TokenizerModel& m) {
  m.byte_level = true;
  const std::vector<std::string> written = read_vocabulary(f, m);
  m.finish();

  const GgufValue* pre_value = f.find("tokenizer.ggml.pre");
  const std::string pre = pre_value ? pre_value->as_string("tokenizer.ggml.pre") : "gpt-2";
  std::string_view pattern;
  if (pre == "gpt-2" || pre == "gpt2") {
    m.family = "gpt2";
    pattern = tok::kGpt2Pattern;
  } else if (pre == "llama-bpe" || pre == "llama3") {
    m.family = "llama3";
    pattern = tok::kLlama3Pattern;
    m.ignore_merges = true;  // llama.cpp sets ignore_merges for the Llama 3 pre-tokenizer
  } else if (pre == "qwen2") {
    m.family = "qwen2";
    pattern = tok::kQwen2Pattern;
  } else {
    throw Error(
        fmt::format("{}: tokenizer.ggml.pre \"{}\" is not supported; ftengine knows "
                    "\"gpt-2\", \"llama-bpe\" and \"qwen2\"",
                    f.path.string(), pre));
  }
  m.pre_tokenizer.add(tok::SplitStep{
      std::make_shared<const tok::Regex>(pattern, f.path.string() + ": tokenizer.ggml.pre"),
      tok::SplitBehavior::isolated, false});

  tok::StringMap<std::int32_t> id_of_written;
  for (std::size_t id = 0; id < written.size(); ++id)
    id_of_written.try_emplace(written[id], static_cast<std::int32_t>(id));
  const auto& merges = f.require("tokenizer.ggml.merges").as_array("tokenizer.ggml.merges");
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& merge = merges[rank].as_string("tokenizer.ggml.merges");
    const std::size_t space = merge.find(' ');
    auto find = [&](std::string_view s) {
      const auto it = id_of_written.find(s);
      return it == id_of_written.end() ? -1 : it->second;
    };
    const std::int32_t left = space == std::string::npos ? -1 : find(merge.substr(0, space));
    const std::int32_t right = space == std::string::npos ? -1 : find(merge.substr(space + 1));
    const std::int32_t merged =
        space == std::string::npos ? -1 : find(merge.substr(0, space) + merge.substr(space + 1));
    if (left < 0 || right < 0 || merged < 0)
      throw Error(
          fmt::format("{}: tokenizer.ggml.merges[{}] \"{}\" is not two tokens whose "
                      "concatenation is a token",
                      f.path.string(), rank, merge));
    m.merges.insert(left, right, {static_cast<std::int32_t>(rank), merged});
  }
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const std::filesystem::path& path) {
  const GgufFile f = read_gguf(path);
  const std::string& model = f.require("tokenizer.ggml.model").as_string("tokenizer.ggml.model");
  auto m = std::make_shared<TokenizerModel>();
  m->source = path.string();
  if (model == "llama") {
    load_sentencepiece(f, *m);
  } else if (model == "gpt2") {
    load_byte_level(f, *m);
  } else {
    throw Error(
        fmt::format("{}: tokenizer.ggml.model \"{}\" is not supported; ftengine reads "
                    "\"llama\" (SentencePiece BPE) and \"gpt2\" (byte-level BPE)",
                    path.string(), model));
  }
  const std::size_t n = m->pieces.size();
  m->bos = optional_id(f, "tokenizer.ggml.bos_token_id", n);
  m->eos = optional_id(f, "tokenizer.ggml.eos_token_id", n);
  if (auto unk = optional_id(f, "tokenizer.ggml.unknown_token_id", n)) m->unk = unk;
  // Defaults as llama.cpp's: SentencePiece vocabularies and Llama 3 add BOS.
  const bool add_bos =
      optional_bool(f, "tokenizer.ggml.add_bos_token", model == "llama" || m->family == "llama3");
  const bool add_eos = optional_bool(f, "tokenizer.ggml.add_eos_token", false);
  if (add_bos && m->bos) m->prefix.push_back(*m->bos);
  if (add_eos && m->eos) m->suffix.push_back(*m->eos);
  return Tokenizer(std::move(m));
}

}  // namespace ft::engine
