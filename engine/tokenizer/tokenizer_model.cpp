#include "engine/tokenizer/tokenizer_model.hpp"

#include <mutex>

#include "engine/tokenizer/utf8.hpp"

namespace ft::engine::tok {

bool EncodeCache::lookup(std::string_view piece, std::vector<std::int32_t>& out) const {
  std::shared_lock lock(mutex_);
  const auto it = entries_.find(piece);
  if (it == entries_.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void EncodeCache::store(std::string_view piece, const std::int32_t* ids, std::size_t count) {
  std::unique_lock lock(mutex_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.try_emplace(std::string(piece), ids, ids + count);
}

void TokenizerModel::set_token(std::int32_t id, std::string piece, TokenKind kind) {
  const auto index = static_cast<std::size_t>(id);
  if (index >= pieces.size()) {
    pieces.resize(index + 1);
    kinds.resize(index + 1, TokenKind::unused);
  }
  pieces[index] = std::move(piece);
  kinds[index] = kind;
}

void TokenizerModel::finish() {
  piece_ids.clear();
  piece_ids.reserve(pieces.size());
  for (std::size_t id = 0; id < pieces.size(); ++id)
    if (kinds[id] == TokenKind::normal || kinds[id] == TokenKind::byte)
      piece_ids.try_emplace(pieces[id], static_cast<std::int32_t>(id));  // first id wins

  byte_ids.fill(-1);
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    // Byte-level: the token of the byte itself. Otherwise the byte-fallback piece, spelt
    // as HF formats it: format!("<{:#04X}>", b) = "<0x0A>".
    const std::string key = byte_level
                                ? std::string(1, static_cast<char>(b))
                                : std::string{'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    if (auto id = find_piece(key)) byte_ids[b] = *id;
  }
}

std::optional<std::int32_t> TokenizerModel::find_piece(std::string_view piece) const {
  const auto it = piece_ids.find(piece);
  if (it == piece_ids.end()) return std::nullopt;
  return it->second;
}

void merges_from_vocabulary(TokenizerModel& model,
                            const std::function<std::int32_t(std::int32_t)>& rank_of) {
  for (std::size_t id = 0; id < model.pieces.size(); ++id) {
    if (model.kinds[id] != TokenKind::normal) continue;
    const std::int32_t rank = rank_of(static_cast<std::int32_t>(id));
    if (rank < 0) continue;
    const std::string_view piece = model.pieces[id];
    if (piece.empty()) continue;
    std::size_t cut = model.byte_level ? 1 : utf8_char_length(static_cast<unsigned char>(piece[0]));
    while (cut < piece.size()) {
      const auto left = model.find_piece(piece.substr(0, cut));
      const auto right = model.find_piece(piece.substr(cut));
      if (left && right && model.kinds[*left] == TokenKind::normal &&
          model.kinds[*right] == TokenKind::normal)
        model.merges.insert(*left, *right, {rank, static_cast<std::int32_t>(id)});
      cut += model.byte_level ? 1 : utf8_char_length(static_cast<unsigned char>(piece[cut]));
    }
  }
}

}  // namespace ft::engine::tok
