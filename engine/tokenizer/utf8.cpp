#include "engine/tokenizer/utf8.hpp"

namespace ft::engine::tok {

namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The allowed range of the second byte depends on the lead byte (RFC 3629 table).
bool second_byte_ok(unsigned char lead, unsigned char second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;  // no overlongs
    case 0xED:
      return second >= 0x80 && second <= 0x9F;  // no surrogates
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;  // no overlongs
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;  // <= U+10FFFF
    default:
      return is_continuation(second);
  }
}

// How many bytes at the start of `s` are a valid (possibly unfinished) prefix of one
// character, and whether that character is complete.
struct Prefix {
  std::size_t valid = 0;
  bool complete = false;
};

Prefix scan_char(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  if (lead < 0x80) return {1, true};
  const std::size_t need = utf8_char_length(lead);
  if (need == 1) return {0, false};  // a continuation byte or an impossible lead byte
  std::size_t have = 1;
  while (have < need && have < s.size()) {
    const auto c = static_cast<unsigned char>(s[have]);
    if (have == 1 ? !second_byte_ok(lead, c) : !is_continuation(c)) return {have, false};
    ++have;
  }
  return {have, have == need};
}

}  // namespace

std::size_t utf8_valid_char(std::string_view s) {
  if (s.empty()) return 0;
  const Prefix p = scan_char(s);
  return p.complete ? p.valid : 0;
}

bool utf8_valid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_valid_char(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const Prefix p = scan_char(s.substr(i));
    if (p.complete) {
      out.append(s.substr(i, p.valid));
      i += p.valid;
    } else {
      out.append(kReplacementChar);
      i += p.valid == 0 ? 1 : p.valid;  // one U+FFFD per maximal invalid subpart
    }
  }
  return out;
}

std::size_t utf8_complete_prefix(std::string_view s) {
  // An unfinished character is at most 3 bytes long, so only the tail needs a look.
  const std::size_t from = s.size() > 3 ? s.size() - 3 : 0;
  for (std::size_t start = from; start < s.size(); ++start) {
    const Prefix p = scan_char(s.substr(start));
    if (!p.complete && p.valid > 0 && start + p.valid == s.size()) return start;
  }
  return s.size();
}

void utf8_append(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace ft::engine::tok
