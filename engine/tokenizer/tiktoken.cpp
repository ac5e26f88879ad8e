// Tokenizer::from_tiktoken: a tiktoken rank file, one token per line, "base64(bytes) rank",
// ranks = token ids (Llama 3's original/tokenizer.model). The file has neither the
// pre-tokenizer regex nor the special tokens; the family supplies them:
//
//   "llama3": meta-llama/llama3 llama/tokenizer.py: pat_str (kLlama3Pattern) and 256
//   special tokens after the 128000 ranks: <|begin_of_text|> = 128000,
//   <|end_of_text|> = 128001, <|reserved_special_token_0..3|>, <|start_header_id|> =
//   128006, <|end_header_id|> = 128007, <|reserved_special_token_4|>, <|eot_id|> = 128009,
//   then <|reserved_special_token_5..250|>. BOS = <|begin_of_text|>, EOS =
//   <|end_of_text|> (the instruct models end turns with <|eot_id|>); HF's
//   Meta-Llama-3-8B tokenizer.json adds BOS, as does llama.cpp for "llama-bpe".
//
// BPE over bytes merges the adjacent pair whose concatenation has the lowest rank, and a
// pre-token that is itself a token is taken whole (tiktoken's encode_ordinary), which is
// ignore_merges in HF terms.
#include <fmt/format.h>

#include <array>
#include <fstream>

#include "engine/tokenizer/tokenizer.hpp"
#include "engine/tokenizer/tokenizer_model.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

using tok::TokenizerModel;
using tok::TokenKind;

namespace {

// RFC 4648 base64 with padding; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text) {
  static const std::array<std::int8_t, 256> kValue = [] {
    std::array<std::int8_t, 256> v{};
    v.fill(-1);
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
      v[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return v;
  }();
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out;
  std::uint32_t bits = 0;
  int nbits = 0;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return std::nullopt;  // '=' only in the last two places
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;
    const int v = kValue[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xFF));
    }
  }
  return out;
}

std::vector<std::string> llama3_special_tokens() {
  std::vector<std::string> s = {
      "<|begin_of_text|>",
      "<|end_of_text|>",
      "<|reserved_special_token_0|>",
      "<|reserved_special_token_1|>",
      "<|reserved_special_token_2|>",
      "<|reserved_special_token_3|>",
      "<|start_header_id|>",
      "<|end_header_id|>",
      "<|reserved_special_token_4|>",
      "<|eot_id|>",
  };
  for (int i = 5; i < 256 - 5; ++i) s.push_back(fmt::format("<|reserved_special_token_{}|>", i));
  return s;  // 256
}

}  // namespace

Tokenizer Tokenizer::from_tiktoken(const std::filesystem::path& path, std::string_view family) {
  if (family != "llama3")
    throw Error(
        fmt::format("{}: tiktoken family \"{}\" is not supported; ftengine knows "
                    "\"llama3\"",
                    path.string(), family));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the tiktoken rank file", path.string()));

  auto m = std::make_shared<TokenizerModel>();
  m->source = path.string();
  m->family = "llama3";
  m->byte_level = true;
  m->ignore_merges = true;
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    auto fail = [&](std::string_view what) {
      return Error(fmt::format("{}:{}: {}; a tiktoken rank file has lines \"BASE64 RANK\"",
                               path.string(), line_no, what));
    };
    if (space == std::string::npos) throw fail("no space between token and rank");
    const std::optional<std::string> bytes = base64_decode(std::string_view(line).substr(0, space));
    if (!bytes) throw fail("the token is not valid base64");
    std::int64_t rank = -1;
    try {
      std::size_t used = 0;
      rank = std::stoll(line.substr(space + 1), &used);
      if (used != line.size() - space - 1) rank = -1;
    } catch (const std::exception&) {
      rank = -1;
    }
    if (rank < 0 || rank > 10'000'000) throw fail("the rank is not a number in 0..10000000");
    const auto id = static_cast<std::int32_t>(rank);
    if (static_cast<std::size_t>(id) < m->pieces.size() && m->kinds[id] != TokenKind::unused)
      throw fail(fmt::format("rank {} appears twice", rank));
    m->set_token(id, *bytes, TokenKind::normal);
  }
  if (m->pieces.empty())
    throw Error(fmt::format("{}: the tiktoken rank file is empty", path.string()));
  for (std::size_t id = 0; id < m->pieces.size(); ++id)
    if (m->kinds[id] == TokenKind::unused)
      throw Error(fmt::format("{}: rank {} is missing (ranks must be 0..{} without gaps)",
                              path.string(), id, m->pieces.size() - 1));
  m->finish();
  for (int b = 0; b < 256; ++b)
    if (m->byte_ids[b] < 0)
      throw Error(
          fmt::format("{}: no token for the single byte 0x{:02X}; a byte-level rank "
                      "file needs all 256",
                      path.string(), b));
  tok::merges_from_vocabulary(*m, [](std::int32_t id) { return id; });

  const auto first_special = static_cast<std::int32_t>(m->pieces.size());
  const std::vector<std::string> specials = llama3_special_tokens();
  for (std::size_t i = 0; i < specials.size(); ++i) {
    const auto id = first_special + static_cast<std::int32_t>(i);
    m->set_token(id, specials[i], TokenKind::special);
    m->added.add({specials[i], id, true});
  }
  m->pre_tokenizer.add(tok::SplitStep{
      std::make_shared<const tok::Regex>(tok::kLlama3Pattern, "Llama 3 pre-tokenizer"),
      tok::SplitBehavior::isolated, false});
  m->bos = first_special;      // <|begin_of_text|>
  m->eos = first_special + 1;  // <|end_of_text|>
  m->prefix = {*m->bos};
  return Tokenizer(std::move(m));
}

}  // namespace ft::engine
