// What every loader (tokenizer.json, GGUF, tiktoken) builds and Tokenizer runs: the
// vocabulary, the merge table, the text pipeline (added tokens, normaliser,
// pre-tokenizer) and the decoder. Internal to engine/tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/added_tokens.hpp"
#include "engine/tokenizer/bpe.hpp"
#include "engine/tokenizer/decoder.hpp"
#include "engine/tokenizer/pre_tokenizer.hpp"

namespace ft::engine::tok {

enum class TokenKind : std::uint8_t {
  normal,   // an ordinary piece: BPE can start from it and produce it
  byte,     // "<0xNN>" byte-fallback piece
  special,  // control / special tokens (<s>, <|eot_id|>, <unk>): skipped by skip_special
  added,    // user-defined added token that is not special
  unused,   // an id with no token
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// Pre-token -> ids. Real text repeats its words, so most pieces are found here and skip
// BPE altogether. Readers share a lock; when full it starts over (a cheap bound on memory
// that keeps the words of the text at hand).
class EncodeCache {
 public:
  static constexpr std::size_t kMaxPieceBytes = 64;
  static constexpr std::size_t kMaxEntries = std::size_t{1} << 17;

  // Appends the cached ids of `piece` to `out`; false when absent.
  bool lookup(std::string_view piece, std::vector<std::int32_t>& out) const;
  void store(std::string_view piece, const std::int32_t* ids, std::size_t count);

 private:
  mutable std::shared_mutex mutex_;
  StringMap<std::vector<std::int32_t>> entries_;
};

struct TokenizerModel {
  std::string family;  // "gpt2", "llama3", "qwen2", "byte-level-bpe", "sentencepiece-bpe"
  std::string source;  // the file it came from, for messages

  // By id. Byte-level vocabularies keep raw bytes; SentencePiece-style ones the piece as
  // written ("▁Hello", "<0x0A>"); added tokens their content.
  std::vector<std::string> pieces;
  std::vector<TokenKind> kinds;

  // Symbols: byte-level BPE starts from one token per byte; SentencePiece-style BPE from
  // one token per character, unknown characters falling back to <0xNN> tokens or unk.
  bool byte_level = false;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;  // a pre-token that is itself a token is not merged (Llama 3)
  std::optional<std::int32_t> unk;
  StringMap<std::int32_t> piece_ids;         // normal and byte pieces -> id (built by finish())
  std::array<std::int32_t, 256> byte_ids{};  // byte -> its token (byte-level) or <0xNN>; -1
  MergeTable merges;

  AddedTokens added;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Decoder decoder;

  std::optional<std::int32_t> bos, eos;
  std::vector<std::int32_t> prefix, suffix;  // what encode(add_special = true) adds

  mutable EncodeCache cache;  // a cache, not state: encode stays const and thread-safe

  // Puts a token at `id`, growing the vocabulary as needed.
  void set_token(std::int32_t id, std::string piece, TokenKind kind);
  // Builds piece_ids and byte_ids once the vocabulary is complete.
  void finish();
  std::optional<std::int32_t> find_piece(std::string_view piece) const;
};

// For vocabularies without a merges list (tiktoken ranks, SentencePiece scores): every
// way to cut a token into two tokens is a merge of rank `rank_of(id)`. Cuts go at every
// byte (byte-level) or at character boundaries. Only tokens with rank_of >= 0 take part.
void merges_from_vocabulary(TokenizerModel& model,
                            const std::function<std::int32_t(std::int32_t)>& rank_of);

}  // namespace ft::engine::tok
