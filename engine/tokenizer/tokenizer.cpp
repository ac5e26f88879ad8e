#include "engine/tokenizer/tokenizer.hpp"

#include <fmt/format.h>

#include <deque>

#include "engine/tokenizer/byte_level.hpp"
#include "engine/tokenizer/tokenizer_model.hpp"
#include "engine/tokenizer/utf8.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

using tok::TokenizerModel;
using tok::TokenKind;

namespace {

// The ids BPE starts from: one per byte, or one per character with fallbacks for
// characters the vocabulary lacks (HF BPE::merge_word).
void initial_symbols(const TokenizerModel& m, std::string_view piece,
                     std::vector<std::int32_t>& symbols) {
  bool last_was_unk = false;
  auto push_unknown = [&] {
    if (!m.unk) return;  // no unk token: HF drops the character
    if (m.fuse_unk && last_was_unk) return;
    symbols.push_back(*m.unk);
    last_was_unk = true;
  };
  if (m.byte_level) {
    for (char c : piece) {
      const std::int32_t id = m.byte_ids[static_cast<unsigned char>(c)];
      if (id >= 0) {
        symbols.push_back(id);
        last_was_unk = false;
      } else {
        push_unknown();
      }
    }
    return;
  }
  for (std::size_t i = 0; i < piece.size();) {
    std::size_t n = tok::utf8_valid_char(piece.substr(i));
    if (n == 0) n = 1;  // an invalid byte stands alone
    const std::string_view ch = piece.substr(i, n);
    i += n;
    if (auto id = m.find_piece(ch)) {
      symbols.push_back(*id);
      last_was_unk = false;
      continue;
    }
    bool bytes_ok = m.byte_fallback;
    for (char c : ch) bytes_ok = bytes_ok && m.byte_ids[static_cast<unsigned char>(c)] >= 0;
    if (bytes_ok) {
      for (char c : ch) symbols.push_back(m.byte_ids[static_cast<unsigned char>(c)]);
      last_was_unk = false;
    } else {
      push_unknown();
    }
  }
}

void encode_piece(const TokenizerModel& m, std::string_view piece, std::vector<std::int32_t>& out) {
  if (piece.empty()) return;
  const bool cacheable = piece.size() <= tok::EncodeCache::kMaxPieceBytes;
  if (cacheable && m.cache.lookup(piece, out)) return;
  const std::size_t start = out.size();
  std::optional<std::int32_t> whole;
  if (m.ignore_merges) whole = m.find_piece(piece);
  if (whole) {
    out.push_back(*whole);
  } else {
    thread_local std::vector<std::int32_t> symbols;
    symbols.clear();
    initial_symbols(m, piece, symbols);
    tok::bpe_merge(m.merges, symbols);
    out.insert(out.end(), symbols.begin(), symbols.end());
  }
  if (cacheable) m.cache.store(piece, out.data() + start, out.size() - start);
}

// Plain text between added tokens: normalise, pre-tokenize, BPE each piece.
// `continuation`: the text goes on from plain text already encoded (encode_parts).
void encode_text(const TokenizerModel& m, std::string_view text, bool at_start,
                 std::vector<std::int32_t>& out, bool continuation = false) {
  std::string normalized_storage;
  const std::string_view normalized = m.normalizer.apply(text, normalized_storage, continuation);
  thread_local std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  pieces.clear();
  m.pre_tokenizer.split(normalized, at_start, pieces, storage, continuation);
  for (std::string_view piece : pieces) encode_piece(m, piece, out);
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerModel> model) : model_(std::move(model)) {}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
  const TokenizerModel& m = *model_;
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), m.prefix.begin(), m.prefix.end());
  if (!parse_special || m.added.empty()) {
    encode_text(m, text, true, out);
  } else {
    std::vector<tok::AddedTokens::Segment> segments;
    m.added.split(text, segments);
    for (const auto& s : segments) {
      if (s.id >= 0)
        out.push_back(s.id);
      else
        encode_text(m, s.text, s.offset == 0, out);
    }
  }
  if (add_special) out.insert(out.end(), m.suffix.begin(), m.suffix.end());
  return out;
}

std::vector<std::vector<std::int32_t>> Tokenizer::encode_parts(
    const std::vector<std::string_view>& parts) const {
  const TokenizerModel& m = *model_;
  std::vector<std::vector<std::int32_t>> out(parts.size());
  bool at_start = true;     // nothing encoded yet
  bool after_text = false;  // the text so far ends in plain text, not an added token
  std::vector<tok::AddedTokens::Segment> segments;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    segments.clear();
    if (m.added.empty()) {
      if (!parts[k].empty()) segments.push_back({parts[k], 0, -1});
    } else {
      m.added.split(parts[k], segments);
    }
    for (const auto& s : segments) {
      if (s.id >= 0) {
        out[k].push_back(s.id);
        after_text = false;
      } else {
        const bool continues = s.offset == 0 && after_text;
        encode_text(m, s.text, at_start && s.offset == 0, out[k], continues);
        after_text = true;
      }
      at_start = false;
    }
  }
  return out;
}

void Tokenizer::check_id(std::int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error(fmt::format("{}: token id {} is out of range: the vocabulary has ids 0..{}",
                            model_->source, id, vocab_size() - 1));
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids, bool skip_special) const {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (std::int32_t id : ids) {
    check_id(id);
    if (skip_special && is_special(id)) continue;
    pieces.push_back(model_->pieces[static_cast<std::size_t>(id)]);
  }
  return model_->decoder.decode(std::move(pieces));
}

std::string Tokenizer::token_text(std::int32_t id) const {
  check_id(id);
  return model_->decoder.piece_text(model_->pieces[static_cast<std::size_t>(id)]);
}

std::int32_t Tokenizer::vocab_size() const {
  return static_cast<std::int32_t>(model_->pieces.size());
}

std::optional<std::int32_t> Tokenizer::bos_id() const { return model_->bos; }
std::optional<std::int32_t> Tokenizer::eos_id() const { return model_->eos; }
const std::string& Tokenizer::family() const { return model_->family; }

bool Tokenizer::is_special(std::int32_t id) const {
  check_id(id);
  return model_->kinds[static_cast<std::size_t>(id)] == TokenKind::special;
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const TokenizerModel& m = *model_;
  if (const tok::AddedToken* added = m.added.find(token)) return added->id;
  if (!m.byte_level) return m.find_piece(token);
  // Byte-level vocabularies are written in GPT-2's stand-in alphabet ("Ġthe").
  const std::optional<std::string> bytes = tok::unicode_to_bytes(token);
  return bytes ? m.find_piece(*bytes) : std::nullopt;
}

StreamDecoder::StreamDecoder(Tokenizer tokenizer, bool skip_special)
    : tokenizer_(std::move(tokenizer)),
      skip_special_(skip_special),
      strip_left_(tokenizer_.model_->decoder.leading_spaces_stripped()) {}

std::string StreamDecoder::push(std::int32_t id) {
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  std::string text = tokenizer_.token_text(id);
  if (!started_) {
    // decode() strips from the start of the whole text, so strip until text comes out.
    std::size_t n = 0;
    while (n < text.size() && n < strip_left_ && text[n] == ' ') ++n;
    text.erase(0, n);
    strip_left_ -= n;
    started_ = !text.empty();
  }
  pending_ += text;
  const std::size_t complete = tok::utf8_complete_prefix(pending_);
  std::string out = tok::utf8_lossy(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = tok::utf8_lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace ft::engine
