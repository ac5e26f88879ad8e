#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/tokenizer/regex.hpp"

#include <fmt/format.h>
#include <pcre2.h>

#include "engine/tokenizer/utf8.hpp"
#include "ftengine/error.hpp"

namespace ft::engine::tok {

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  explicit Compiled(pcre2_code* c) : code(c) {}
  Compiled(const Compiled&) = delete;
  Compiled& operator=(const Compiled&) = delete;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (data == nullptr) throw std::bad_alloc();
  }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
  ~MatchData() { pcre2_match_data_free(data); }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

Regex::Regex(std::string_view pattern, std::string_view origin) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (code == nullptr)
    throw Error(
        fmt::format("{}: cannot compile the regular expression at offset {}: {} "
                    "(pattern: {})",
                    origin, offset, pcre2_message(error), pattern_));
  compiled_ = std::make_shared<const Compiled>(code);
  // Without JIT (a PCRE2 built without it) pcre2_match interprets: slower, still right.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
}

void Regex::find_all(std::string_view text, std::vector<Span>& matches) const {
  const pcre2_code* code = compiled_->code;
  MatchData match(code);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t at = 0;
  while (at < text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), at, 0, match.data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      throw Error(
          fmt::format("pre-tokenizer regex failed: {} (pattern: {})", pcre2_message(rc), pattern_));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end > begin) {
      matches.push_back({begin, end});
      at = end;
    } else {  // an empty match: step over one character so the scan always advances
      at = begin + utf8_char_length(static_cast<unsigned char>(text[begin]));
    }
  }
}

}  // namespace ft::engine::tok
