// The byte-level BPE tokenizer of `init-model` models, in the format Hugging Face tokenizers
// writes (tokenizer.json) and transformers reads (tokenizer_config.json).
#include <nlohmann/json.hpp>

#include "engine/model_init/model_init.hpp"

namespace ft::engine {

namespace {

using ordered_json = nlohmann::ordered_json;

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, every other
// byte b for U+0100 + (its rank among those). The vocabulary lists the bytes in GPT-2's
// order (the printable ones first), so ids 0..255 are GPT-2's.
std::vector<std::pair<int, char32_t>> byte_symbols() {
  std::vector<std::pair<int, char32_t>> out;
  const auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  for (int b = 0; b < 256; ++b)
    if (printable(b)) out.emplace_back(b, static_cast<char32_t>(b));
  char32_t next = 256;
  for (int b = 0; b < 256; ++b)
    if (!printable(b)) out.emplace_back(b, next++);
  return out;
}

std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

constexpr const char* kBos = "<|begin_of_text|>";
constexpr const char* kEos = "<|end_of_text|>";

ordered_json added_token(std::int32_t id, const char* content) {
  return ordered_json{{"id", id},        {"content", content}, {"single_word", false},
                      {"lstrip", false}, {"rstrip", false},    {"normalized", false},
                      {"special", true}};
}

ordered_json byte_level(bool add_prefix_space) {
  return ordered_json{{"type", "ByteLevel"},
                      {"add_prefix_space", add_prefix_space},
                      {"trim_offsets", true},
                      {"use_regex", true}};
}

}  // namespace

std::string byte_tokenizer_json() {
  ordered_json vocab = ordered_json::object();
  int id = 0;
  for (const auto& [byte, symbol] : byte_symbols()) vocab[utf8(symbol)] = id++;

  // BOS before every sequence, as Llama's tokenizer.json does (tokenizer_config.json says
  // add_bos_token as well, as Llama 2's does).
  const ordered_json bos_piece = {{"SpecialToken", {{"id", kBos}, {"type_id", 0}}}};
  ordered_json post = {
      {"type", "TemplateProcessing"},
      {"single", {bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair",
       {bos_piece,
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", kBos}, {"type_id", 1}}}},
        {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
      {"special_tokens",
       {{kBos, {{"id", kBos}, {"ids", {kByteTokenizerBos}}, {"tokens", {kBos}}}}}}};

  ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = {added_token(kByteTokenizerBos, kBos), added_token(kByteTokenizerEos, kEos)};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = byte_level(false);
  j["post_processor"] = std::move(post);
  j["decoder"] = byte_level(true);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", std::move(vocab)},
                {"merges", ordered_json::array()}};
  return j.dump(2) + "\n";
}

std::string byte_tokenizer_config_json(std::int64_t model_max_length) {
  ordered_json decoder = ordered_json::object();
  for (const auto& [id, content] :
       {std::pair{kByteTokenizerBos, kBos}, std::pair{kByteTokenizerEos, kEos}}) {
    ordered_json t = added_token(id, content);
    t.erase("id");
    decoder[std::to_string(id)] = std::move(t);
  }
  ordered_json j;
  j["add_bos_token"] = true;
  j["add_eos_token"] = false;
  j["added_tokens_decoder"] = std::move(decoder);
  j["bos_token"] = kBos;
  j["clean_up_tokenization_spaces"] = false;
  j["eos_token"] = kEos;
  j["model_max_length"] = model_max_length;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  return j.dump(2) + "\n";
}

}  // namespace ft::engine
