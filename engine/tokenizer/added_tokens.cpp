#include "engine/tokenizer/added_tokens.hpp"

#include <algorithm>
#include <cctype>

namespace ft::engine::tok {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A word character for single_word: ASCII alphanumerics and '_', plus any non-ASCII byte
// (letters of other scripts), which is close to Rust's char::is_alphanumeric used by HF.
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

}  // namespace

void AddedTokens::add(AddedToken token) {
  if (token.content.empty()) return;  // cannot be matched
  auto same = std::find_if(tokens_.begin(), tokens_.end(),
                           [&](const AddedToken& t) { return t.content == token.content; });
  if (same != tokens_.end())
    *same = std::move(token);
  else
    tokens_.push_back(std::move(token));
  index();
}

const AddedToken* AddedTokens::find(std::string_view content) const {
  if (content.empty()) return nullptr;
  for (std::uint32_t i : by_first_byte_[static_cast<unsigned char>(content[0])])
    if (tokens_[i].content == content) return &tokens_[i];
  return nullptr;
}

void AddedTokens::index() {
  for (auto& list : by_first_byte_) list.clear();
  for (std::uint32_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [&](std::uint32_t a, std::uint32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
}

void AddedTokens::split(std::string_view text, std::vector<Segment>& out) const {
  std::size_t text_begin = 0;  // start of the plain text not yet emitted
  auto emit_text = [&](std::size_t end) {
    if (end > text_begin) out.push_back({text.substr(text_begin, end - text_begin), text_begin});
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto& candidates = by_first_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (std::uint32_t c : candidates) {
      const AddedToken& t = tokens_[c];
      if (text.compare(i, t.content.size(), t.content) != 0) continue;
      const std::size_t end = i + t.content.size();
      if (t.single_word &&
          ((i > 0 && is_word_byte(text[i - 1])) || (end < text.size() && is_word_byte(text[end]))))
        continue;
      hit = &t;
      break;
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    std::size_t begin = i, end = i + hit->content.size();
    if (hit->lstrip)
      while (begin > text_begin && is_space(text[begin - 1])) --begin;
    if (hit->rstrip)
      while (end < text.size() && is_space(text[end])) ++end;
    emit_text(begin);
    out.push_back({text.substr(begin, end - begin), begin, hit->id});
    text_begin = i = end;
  }
  emit_text(text.size());
}

}  // namespace ft::engine::tok
