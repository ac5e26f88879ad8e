// UTF-8 helpers for the tokenizer: character lengths, validity, and the two ways decoders
// turn arbitrary bytes into text (lossy replacement, and holding back an incomplete tail
// while tokens are still arriving).
//
// Validity follows RFC 3629 (no overlongs, no surrogates, nothing above U+10FFFF). The
// lossy conversion replaces each maximal invalid subpart with one U+FFFD, which is what
// Rust's String::from_utf8_lossy (used by HF tokenizers' ByteLevel decoder) and Python's
// bytes.decode(errors="replace") do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ft::engine::tok {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the character a lead byte starts (1..4), or 1 for a byte that cannot lead
// (so scanning always advances).
inline std::size_t utf8_char_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;
}

// Number of bytes at the start of `s` that form one valid character; 0 when the first
// bytes are invalid or the character is cut off by the end of `s`.
std::size_t utf8_valid_char(std::string_view s);

bool utf8_valid(std::string_view s);

// `s` with every maximal invalid subpart replaced by U+FFFD.
std::string utf8_lossy(std::string_view s);

// Length of the longest prefix of `s` that does not end inside a character that could
// still be completed by more bytes. Bytes after it are a valid but unfinished sequence.
std::size_t utf8_complete_prefix(std::string_view s);

// Appends the UTF-8 encoding of `code_point` (assumed valid) to `out`.
void utf8_append(std::string& out, std::uint32_t code_point);

}  // namespace ft::engine::tok
