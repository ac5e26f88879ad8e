// Tokenizer::from_hf_json / from_directory: Hugging Face tokenizer.json (the `tokenizers`
// library's serialisation) plus tokenizer_config.json (transformers' settings: bos/eos
// tokens, add_bos_token, add_eos_token).
//
// Supported, by the "type" fields of tokenizer.json:
//   model          BPE (vocab; merges as "a b" strings or ["a", "b"] pairs; unk_token,
//                  byte_fallback, fuse_unk, ignore_merges). Unigram, WordPiece and
//                  WordLevel are refused by name.
//   normalizer     Sequence, Prepend, Replace, NFC (taken as identity: input text is
//                  assumed to be NFC already, as nearly all text is), Precompiled with an
//                  empty charsmap
//   pre_tokenizer  Sequence, ByteLevel, Split, Metaspace, Digits
//   decoder        Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace
//   post_processor TemplateProcessing, ByteLevel, Sequence, RobertaProcessing,
//                  BertProcessing (what add_special adds around a sequence)
// Anything else is refused with an error that names the file, the field and the type.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/tokenizer_model.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

using json = nlohmann::json;
using tok::TokenizerModel;
using tok::TokenKind;

namespace {

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the file", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line L, column C: ..."
    std::string message = e.what();
    if (const std::size_t cut = message.find("] "); cut != std::string::npos)
      message.erase(0, cut + 2);
    throw Error(fmt::format("{}: malformed JSON: {}", path.string(), message));
  }
}

// Reads one tokenizer.json with error messages that name the file and the field.
class Loader {
 public:
  Loader(const std::filesystem::path& path, TokenizerModel& m) : file_(path.string()), m_(m) {}

  [[noreturn]] void fail(std::string_view field, std::string_view what) const {
    throw Error(fmt::format("{}: {}: {}", file_, field, what));
  }

  const json* member(const json& object, const char* key) const {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string_of(const json& object, const char* key, std::string_view field) const {
    const json* v = member(object, key);
    if (v == nullptr || !v->is_string())
      fail(fmt::format("{}.{}", field, key), "expected a string");
    return v->get<std::string>();
  }
  bool bool_of(const json& object, const char* key, bool fallback, std::string_view field) const {
    const json* v = member(object, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(fmt::format("{}.{}", field, key), "expected true or false");
    return v->get<bool>();
  }
  std::string type_of(const json& object, std::string_view field) const {
    if (!object.is_object()) fail(field, "expected an object");
    return string_of(object, "type", field);
  }
  [[noreturn]] void unsupported(std::string_view field, std::string_view type,
                                std::string_view supported) const {
    fail(field, fmt::format("type \"{}\" is not supported (ftengine reads {})", type, supported));
  }

  // {"String": "..."} or {"Regex": "..."}, as a compiled regex.
  std::shared_ptr<const tok::Regex> pattern_of(const json& object, std::string_view field) const {
    const json* p = member(object, "pattern");
    const std::string where = fmt::format("{}.pattern", field);
    if (p != nullptr && p->is_object()) {
      if (const json* re = member(*p, "Regex"); re && re->is_string())
        return std::make_shared<const tok::Regex>(re->get<std::string>(), file_ + ": " + where);
      if (const json* s = member(*p, "String"); s && s->is_string()) {
        std::string escaped;  // a literal: escape everything PCRE2 could read as syntax
        for (char c : s->get<std::string>()) {
          if (static_cast<unsigned char>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c)))
            escaped.push_back('\\');
          escaped.push_back(c);
        }
        return std::make_shared<const tok::Regex>(escaped, file_ + ": " + where);
      }
    }
    fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
  }

  std::string literal_pattern_of(const json& object, std::string_view field) const {
    const json* p = member(object, "pattern");
    if (p != nullptr && p->is_object())
      if (const json* s = member(*p, "String"); s && s->is_string()) return s->get<std::string>();
    fail(fmt::format("{}.pattern", field), "expected {\"String\": ...}");
  }

  bool uses_byte_level(const json* node) const {
    if (node == nullptr || !node->is_object()) return false;
    if (node->value("type", "") == "ByteLevel") return true;
    for (const char* list : {"pretokenizers", "decoders"})
      if (const json* items = member(*node, list); items && items->is_array())
        for (const json& item : *items)
          if (uses_byte_level(&item)) return true;
    return false;
  }

  void model(const json& root);
  void added_tokens(const json& root);
  void normalizer(const json& node, const std::string& field);
  void pre_tokenizer(const json& node, const std::string& field);
  void decoder(const json& node, const std::string& field);
  void post_processor(const json& node, const std::string& field);

  std::int32_t id_of(const std::string& token, std::string_view field) const {
    if (const tok::AddedToken* a = m_.added.find(token)) return a->id;
    const auto it = written_.find(token);
    if (it == written_.end())
      fail(field, fmt::format("token \"{}\" is not in the vocabulary", token));
    return it->second;
  }

 private:
  std::string file_;
  TokenizerModel& m_;
  tok::StringMap<std::int32_t> written_;  // the vocabulary as written in the file
};

void Loader::model(const json& root) {
  const json* model = member(root, "model");
  if (model == nullptr || !model->is_object()) fail("model", "missing");
  const std::string type = model->contains("type") ? type_of(*model, "model") : "BPE";
  if (type != "BPE") unsupported("model.type", type, "BPE models");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json* v = member(*model, key);
        v && !(v->is_string() && v->get<std::string>().empty()))
      fail(fmt::format("model.{}", key), "is not supported (Llama-family BPE does not use it)");
  // model.dropout is a training-time regulariser; encoding here is deterministic.

  const json* vocab = member(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object())
    fail("model.vocab", "expected an object token -> id");
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > 100'000'000)
      fail("model.vocab", fmt::format("\"{}\": expected a non-negative integer id", token));
    const auto i = static_cast<std::int32_t>(id.get<std::int64_t>());
    written_.try_emplace(token, i);
    std::string piece = token;
    if (m_.byte_level) {
      if (auto bytes = tok::unicode_to_bytes(token)) piece = std::move(*bytes);
    }
    const bool byte = !m_.byte_level && tok::byte_fallback_value(token) >= 0;
    m_.set_token(i, std::move(piece), byte ? TokenKind::byte : TokenKind::normal);
  }
  m_.byte_fallback = bool_of(*model, "byte_fallback", false, "model");
  m_.fuse_unk = bool_of(*model, "fuse_unk", false, "model");
  m_.ignore_merges = bool_of(*model, "ignore_merges", false, "model");
  if (const json* unk = member(*model, "unk_token")) {
    if (!unk->is_string()) fail("model.unk_token", "expected a string");
    m_.unk = id_of(unk->get<std::string>(), "model.unk_token");
  }

  const json* merges = member(*model, "merges");
  if (merges == nullptr) return;  // a vocabulary of whole words: nothing to merge
  if (!merges->is_array()) fail("model.merges", "expected an array");
  for (std::size_t rank = 0; rank < merges->size(); ++rank) {
    const json& merge = (*merges)[rank];
    std::string left, right;
    if (merge.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = merge.get<std::string>();
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        fail(fmt::format("model.merges[{}]", rank),
             fmt::format("\"{}\" is not two tokens separated by one space", s));
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();  // ["a", "b"] (tokenizers >= 0.20)
      right = merge[1].get<std::string>();
    } else {
      fail(fmt::format("model.merges[{}]", rank), "expected \"a b\" or [\"a\", \"b\"]");
    }
    const std::string field = fmt::format("model.merges[{}]", rank);
    auto find = [&](const std::string& token) {
      const auto it = written_.find(token);
      if (it == written_.end()) fail(field, fmt::format("\"{}\" is not in model.vocab", token));
      return it->second;
    };
    const std::int32_t left_id = find(left);
    const std::int32_t right_id = find(right);
    m_.merges.insert(left_id, right_id, {static_cast<std::int32_t>(rank), find(left + right)});
  }
}

void Loader::added_tokens(const json& root) {
  const json* list = member(root, "added_tokens");
  if (list == nullptr) return;
  if (!list->is_array()) fail("added_tokens", "expected an array");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& t = (*list)[i];
    const std::string field = fmt::format("added_tokens[{}]", i);
    const json* id = member(t, "id");
    if (id == nullptr || !id->is_number_integer() || id->get<std::int64_t>() < 0)
      fail(field + ".id", "expected a non-negative integer");
    tok::AddedToken a;
    a.content = string_of(t, "content", field);
    a.id = static_cast<std::int32_t>(id->get<std::int64_t>());
    a.special = bool_of(t, "special", false, field);
    a.lstrip = bool_of(t, "lstrip", false, field);
    a.rstrip = bool_of(t, "rstrip", false, field);
    a.single_word = bool_of(t, "single_word", false, field);
    std::string piece = a.content;
    if (m_.byte_level)  // HF's ByteLevel decoder maps added tokens' text through the alphabet too
      if (auto bytes = tok::unicode_to_bytes(a.content)) piece = std::move(*bytes);
    m_.set_token(a.id, std::move(piece), a.special ? TokenKind::special : TokenKind::added);
    m_.added.add(std::move(a));
  }
}

void Loader::normalizer(const json& node, const std::string& field) {
  const std::string type = type_of(node, field);
  if (type == "Sequence") {
    const json* items = member(node, "normalizers");
    if (items == nullptr || !items->is_array()) fail(field + ".normalizers", "expected an array");
    for (std::size_t i = 0; i < items->size(); ++i)
      normalizer((*items)[i], fmt::format("{}.normalizers[{}]", field, i));
  } else if (type == "Prepend") {
    m_.normalizer.add_prepend(string_of(node, "prepend", field));
  } else if (type == "Replace") {
    const json* p = member(node, "pattern");
    if (p && p->is_object() && member(*p, "Regex"))
      m_.normalizer.add_replace_regex(pattern_of(node, field), string_of(node, "content", field));
    else
      m_.normalizer.add_replace(literal_pattern_of(node, field), string_of(node, "content", field));
  } else if (type == "NFC") {
    // Taken as identity (see the top of this file).
  } else if (type == "Precompiled") {
    const json* map = member(node, "precompiled_charsmap");
    if (map != nullptr && !(map->is_string() && map->get<std::string>().empty()))
      fail(field, "a Precompiled normalizer with a charsmap is not supported");
  } else {
    unsupported(field + ".type", type, "Sequence, Prepend, Replace, NFC");
  }
}

void Loader::pre_tokenizer(const json& node, const std::string& field) {
  const std::string type = type_of(node, field);
  if (type == "Sequence") {
    const json* items = member(node, "pretokenizers");
    if (items == nullptr || !items->is_array()) fail(field + ".pretokenizers", "expected an array");
    for (std::size_t i = 0; i < items->size(); ++i)
      pre_tokenizer((*items)[i], fmt::format("{}.pretokenizers[{}]", field, i));
  } else if (type == "ByteLevel") {
    // HF defaults: add_prefix_space = true, use_regex = true.
    if (bool_of(node, "add_prefix_space", true, field))
      m_.pre_tokenizer.add(tok::PrefixSpaceStep{});
    if (bool_of(node, "use_regex", true, field))
      m_.pre_tokenizer.add(tok::SplitStep{
          std::make_shared<const tok::Regex>(tok::kGpt2Pattern, file_ + ": " + field),
          tok::SplitBehavior::isolated, false});
  } else if (type == "Split") {
    const std::string behavior = string_of(node, "behavior", field);
    tok::SplitStep step{pattern_of(node, field), tok::SplitBehavior::isolated,
                        bool_of(node, "invert", false, field)};
    if (behavior == "Removed")
      step.behavior = tok::SplitBehavior::removed;
    else if (behavior == "Isolated")
      step.behavior = tok::SplitBehavior::isolated;
    else if (behavior == "MergedWithPrevious")
      step.behavior = tok::SplitBehavior::merged_with_previous;
    else if (behavior == "MergedWithNext")
      step.behavior = tok::SplitBehavior::merged_with_next;
    else if (behavior == "Contiguous")
      step.behavior = tok::SplitBehavior::contiguous;
    else
      fail(field + ".behavior", fmt::format("unknown behavior \"{}\"", behavior));
    m_.pre_tokenizer.add(std::move(step));
  } else if (type == "Metaspace") {
    tok::MetaspaceStep step;
    step.replacement = string_of(node, "replacement", field);
    step.split = bool_of(node, "split", true, field);
    // Older files have add_prefix_space, newer ones prepend_scheme.
    step.prepend = bool_of(node, "add_prefix_space", true, field) ? tok::PrependScheme::always
                                                                  : tok::PrependScheme::never;
    if (const json* scheme = member(node, "prepend_scheme")) {
      const std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
      if (s == "always")
        step.prepend = tok::PrependScheme::always;
      else if (s == "first")
        step.prepend = tok::PrependScheme::first;
      else if (s == "never")
        step.prepend = tok::PrependScheme::never;
      else
        fail(field + ".prepend_scheme", "expected \"always\", \"first\" or \"never\"");
    }
    m_.pre_tokenizer.add(std::move(step));
  } else if (type == "Digits") {
    const bool individual = bool_of(node, "individual_digits", false, field);
    m_.pre_tokenizer.add(
        tok::SplitStep{std::make_shared<const tok::Regex>(individual ? R"(\p{N})" : R"(\p{N}+)",
                                                          file_ + ": " + field),
                       tok::SplitBehavior::isolated, false});
  } else {
    unsupported(field + ".type", type, "Sequence, ByteLevel, Split, Metaspace, Digits");
  }
}

void Loader::decoder(const json& node, const std::string& field) {
  using Step = tok::Decoder::Step;
  const std::string type = type_of(node, field);
  if (type == "Sequence") {
    const json* items = member(node, "decoders");
    if (items == nullptr || !items->is_array()) fail(field + ".decoders", "expected an array");
    for (std::size_t i = 0; i < items->size(); ++i)
      decoder((*items)[i], fmt::format("{}.decoders[{}]", field, i));
  } else if (type == "ByteLevel") {
    // Byte-level pieces are raw bytes already.
  } else if (type == "Replace") {
    m_.decoder.add(
        {Step::Kind::replace, literal_pattern_of(node, field), string_of(node, "content", field)});
  } else if (type == "ByteFallback") {
    m_.decoder.add({Step::Kind::byte_fallback, {}, {}});
  } else if (type == "Fuse") {
    m_.decoder.add({Step::Kind::fuse, {}, {}});
  } else if (type == "Strip") {
    auto count = [&](const char* key) {
      const json* v = member(node, key);
      return v && v->is_number_unsigned() ? v->get<std::size_t>() : std::size_t{0};
    };
    m_.decoder.add(
        {Step::Kind::strip, string_of(node, "content", field), {}, count("start"), count("stop")});
  } else if (type == "Metaspace") {
    Step step{Step::Kind::metaspace, string_of(node, "replacement", field), " "};
    step.prepend = bool_of(node, "add_prefix_space", true, field);
    if (const json* scheme = member(node, "prepend_scheme"); scheme && scheme->is_string())
      step.prepend = scheme->get<std::string>() != "never";
    m_.decoder.add(std::move(step));
  } else {
    unsupported(field + ".type", type,
                "Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace");
  }
}

void Loader::post_processor(const json& node, const std::string& field) {
  const std::string type = type_of(node, field);
  if (type == "Sequence") {
    const json* items = member(node, "processors");
    if (items == nullptr || !items->is_array()) fail(field + ".processors", "expected an array");
    for (std::size_t i = 0; i < items->size(); ++i)
      post_processor((*items)[i], fmt::format("{}.processors[{}]", field, i));
  } else if (type == "ByteLevel") {
    // Adjusts offsets only.
  } else if (type == "TemplateProcessing") {
    const json* single = member(node, "single");
    if (single == nullptr || !single->is_array()) fail(field + ".single", "expected an array");
    m_.prefix.clear();
    m_.suffix.clear();
    bool after_sequence = false;
    for (const json& item : *single) {
      if (member(item, "Sequence")) {
        after_sequence = true;
      } else if (const json* special = member(item, "SpecialToken")) {
        const std::string name = string_of(*special, "id", field + ".single");
        const json* entry = member(node, "special_tokens");
        entry = entry ? member(*entry, name.c_str()) : nullptr;
        const json* ids = entry ? member(*entry, "ids") : nullptr;
        if (ids == nullptr || !ids->is_array())
          fail(field + ".special_tokens", fmt::format("no ids for \"{}\"", name));
        for (const json& id : *ids)
          (after_sequence ? m_.suffix : m_.prefix).push_back(id.get<std::int32_t>());
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto id_of_pair = [&](const char* key) {  // "cls": ["<s>", 0]
      const json* pair = member(node, key);
      if (pair == nullptr || !pair->is_array() || pair->size() != 2 ||
          !(*pair)[1].is_number_integer())
        fail(fmt::format("{}.{}", field, key), "expected [token, id]");
      return (*pair)[1].get<std::int32_t>();
    };
    m_.prefix = {id_of_pair("cls")};
    m_.suffix = {id_of_pair("sep")};
  } else {
    unsupported(field + ".type", type,
                "TemplateProcessing, ByteLevel, Sequence, RobertaProcessing, BertProcessing");
  }
}

std::string family_of(const TokenizerModel& m, const json& root) {
  if (!m.byte_level) return "sentencepiece-bpe";
  const std::string text = root.contains("pre_tokenizer") ? root["pre_tokenizer"].dump() : "";
  auto has = [&](std::string_view pattern) {
    return text.find(json(pattern).dump()) != std::string::npos;
  };
  if (has(tok::kLlama3Pattern)) return "llama3";
  if (has(tok::kQwen2Pattern)) return "qwen2";
  if (text.find("\"use_regex\":false") == std::string::npos) return "gpt2";
  return "byte-level-bpe";
}

// tokenizer_config.json: "bos_token": "<s>" or {"content": "<s>", ...}.
std::optional<std::int32_t> config_token(const json& config, const char* key, const Tokenizer& t,
                                         const std::string& file) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  const json& v = it->is_object() && it->contains("content") ? (*it)["content"] : *it;
  if (!v.is_string())
    throw Error(fmt::format("{}: {}: expected a string or {{\"content\": ...}}", file, key));
  if (auto id = t.token_to_id(v.get<std::string>())) return id;
  throw Error(fmt::format("{}: {}: \"{}\" is not a token of the tokenizer", file, key,
                          v.get<std::string>()));
}

}  // namespace

namespace {

Tokenizer load_hf_json(const std::filesystem::path& path,
                       const std::filesystem::path& config_path) {
  const json root = read_json(path);
  if (!root.is_object()) throw Error(fmt::format("{}: expected a JSON object", path.string()));
  auto m = std::make_shared<TokenizerModel>();
  m->source = path.string();
  Loader load(path, *m);
  const json* pre = load.member(root, "pre_tokenizer");
  const json* dec = load.member(root, "decoder");
  m->byte_level = load.uses_byte_level(pre) || load.uses_byte_level(dec);
  load.model(root);
  load.added_tokens(root);
  if (const json* n = load.member(root, "normalizer")) load.normalizer(*n, "normalizer");
  if (pre) load.pre_tokenizer(*pre, "pre_tokenizer");
  if (dec) load.decoder(*dec, "decoder");
  if (const json* p = load.member(root, "post_processor"))
    load.post_processor(*p, "post_processor");
  m->family = family_of(*m, root);
  m->finish();
  for (const auto* ids : {&m->prefix, &m->suffix})
    for (std::int32_t id : *ids)
      if (id < 0 || static_cast<std::size_t>(id) >= m->pieces.size())
        load.fail("post_processor", fmt::format("token id {} is not in the vocabulary", id));
  if (!m->prefix.empty()) m->bos = m->prefix.front();

  if (!config_path.empty()) {
    const json config = read_json(config_path);
    const std::string file = config_path.string();
    if (!config.is_object()) throw Error(fmt::format("{}: expected a JSON object", file));
    const Tokenizer view(m);  // for token_to_id; the model is still ours to finish
    if (auto bos = config_token(config, "bos_token", view, file)) m->bos = bos;
    if (auto eos = config_token(config, "eos_token", view, file)) m->eos = eos;
    // transformers' Llama tokenizers rebuild the post-processor from these two flags.
    auto flag = [&](const char* key) -> std::optional<bool> {
      const auto it = config.find(key);
      if (it == config.end() || it->is_null()) return std::nullopt;
      if (!it->is_boolean()) throw Error(fmt::format("{}: {}: expected true or false", file, key));
      return it->get<bool>();
    };
    if (auto add_bos = flag("add_bos_token")) {
      if (*add_bos && !m->bos)
        throw Error(fmt::format("{}: add_bos_token is true but there is no bos_token", file));
      m->prefix = *add_bos ? std::vector<std::int32_t>{*m->bos} : std::vector<std::int32_t>{};
    }
    if (auto add_eos = flag("add_eos_token")) {
      if (*add_eos && !m->eos)
        throw Error(fmt::format("{}: add_eos_token is true but there is no eos_token", file));
      m->suffix = *add_eos ? std::vector<std::int32_t>{*m->eos} : std::vector<std::int32_t>{};
    }
  }
  return Tokenizer(std::move(m));
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::filesystem::path& path,
                                  const std::filesystem::path& config_path) {
  try {
    return load_hf_json(path, config_path);
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    std::string message = e.what();
    if (const std::size_t cut = message.find("] "); cut != std::string::npos)
      message.erase(0, cut + 2);
    throw Error(fmt::format("{}: unexpected JSON content: {}", path.string(), message));
  }
}

Tokenizer Tokenizer::from_directory(const std::filesystem::path& dir) {
  const std::filesystem::path json_path = dir / "tokenizer.json";
  if (!std::filesystem::is_regular_file(json_path))
    throw Error(
        fmt::format("{}: no tokenizer.json; ftengine reads Hugging Face tokenizer.json "
                    "(a GGUF or tiktoken tokenizer loads with from_gguf / from_tiktoken)",
                    dir.string()));
  const std::filesystem::path config = dir / "tokenizer_config.json";
  return from_hf_json(json_path,
                      std::filesystem::is_regular_file(config) ? config : std::filesystem::path{});
}

}  // namespace ft::engine
