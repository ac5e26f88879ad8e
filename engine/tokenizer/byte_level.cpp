#include "engine/tokenizer/byte_level.hpp"

#include <array>
#include <cstdint>

#include "engine/tokenizer/utf8.hpp"

namespace ft::engine::tok {

namespace {

struct Alphabet {
  std::array<std::string, 256> to_unicode;  // byte -> UTF-8 of its stand-in
  std::array<std::int16_t, 324> to_byte;    // code point (< 256 + 68) -> byte, -1 if none

  Alphabet() {
    to_byte.fill(-1);
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const auto cp = static_cast<std::uint32_t>(printable ? b : 256 + shifted++);
      utf8_append(to_unicode[b], cp);
      to_byte[cp] = static_cast<std::int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

std::string_view byte_to_unicode(unsigned char byte) { return alphabet().to_unicode[byte]; }

std::optional<std::string> unicode_to_bytes(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c0 = static_cast<unsigned char>(text[i]);
    std::uint32_t cp = 0;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < text.size()) {
      cp = ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return std::nullopt;  // all stand-ins are below U+0800
    }
    if (cp >= a.to_byte.size() || a.to_byte[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(a.to_byte[cp]));
  }
  return out;
}

std::string bytes_to_unicode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out.append(byte_to_unicode(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace ft::engine::tok
