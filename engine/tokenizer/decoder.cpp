#include "engine/tokenizer/decoder.hpp"

#include "engine/tokenizer/utf8.hpp"

namespace ft::engine::tok {

namespace {

std::string replaced(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (std::size_t at = 0;;) {
    const std::size_t hit = from.empty() ? std::string_view::npos : text.find(from, at);
    if (hit == std::string_view::npos) return out.append(text.substr(at));
    out.append(text.substr(at, hit - at)).append(to);
    at = hit + from.size();
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void byte_fallback(std::vector<std::string>& pieces) {
  std::vector<std::string> out;
  std::string bytes;
  auto flush = [&] {
    if (bytes.empty()) return;
    if (utf8_valid(bytes)) {
      out.push_back(bytes);
    } else {
      for (std::size_t i = 0; i < bytes.size(); ++i) out.emplace_back(kReplacementChar);
    }
    bytes.clear();
  };
  for (std::string& piece : pieces) {
    const int byte = byte_fallback_value(piece);
    if (byte >= 0) {
      bytes.push_back(static_cast<char>(byte));
    } else {
      flush();
      out.push_back(std::move(piece));
    }
  }
  flush();
  pieces = std::move(out);
}

void strip(std::string& piece, std::string_view c, std::size_t start, std::size_t stop) {
  std::size_t front = 0;
  for (std::size_t i = 0; i < start && piece.compare(front, c.size(), c) == 0; ++i)
    front += c.size();
  piece.erase(0, front);
  for (std::size_t i = 0; i < stop && piece.size() >= c.size() &&
                          piece.compare(piece.size() - c.size(), c.size(), c) == 0;
       ++i)
    piece.resize(piece.size() - c.size());
}

}  // namespace

int byte_fallback_value(std::string_view piece) {
  // HF ByteFallback: exactly "<0x" + two hex digits + ">".
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return -1;
  const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string Decoder::decode(std::vector<std::string> pieces) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::replace:
        for (std::string& p : pieces) p = replaced(p, step.from, step.to);
        break;
      case Step::Kind::byte_fallback:
        byte_fallback(pieces);
        break;
      case Step::Kind::fuse: {
        std::string all;
        for (const std::string& p : pieces) all += p;
        pieces.assign(1, std::move(all));
        break;
      }
      case Step::Kind::strip:
        for (std::string& p : pieces) strip(p, step.from, step.start, step.stop);
        break;
      case Step::Kind::metaspace:
        // HF Metaspace decoder: the replacement becomes a space, except in the first piece,
        // where it is dropped altogether when the encoder prepends one.
        for (std::size_t i = 0; i < pieces.size(); ++i)
          pieces[i] = replaced(pieces[i], step.from, i == 0 && step.prepend ? "" : " ");
        break;
    }
  }
  std::string text;
  for (const std::string& p : pieces) text += p;
  return utf8_valid(text) ? text : utf8_lossy(text);
}

std::string Decoder::piece_text(std::string_view piece) const {
  std::string text(piece);
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::replace) {
      text = replaced(text, step.from, step.to);
    } else if (step.kind == Step::Kind::metaspace) {
      text = replaced(text, step.from, " ");
    } else if (step.kind == Step::Kind::byte_fallback) {
      if (const int byte = byte_fallback_value(text); byte >= 0)
        text.assign(1, static_cast<char>(byte));
    }
  }
  return text;
}

std::size_t Decoder::leading_spaces_stripped() const {
  std::size_t n = 0;
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::strip && step.from == " ") n += step.start;
    if (step.kind == Step::Kind::metaspace && step.prepend) n += 1;
  }
  return n;
}

}  // namespace ft::engine::tok
