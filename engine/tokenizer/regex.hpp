// Pre-tokenizer regular expressions, compiled with PCRE2 (8-bit, UTF + Unicode properties,
// JIT). HF tokenizers runs these patterns with Oniguruma and tiktoken with fancy-regex;
// the patterns below use only syntax the three agree on (\p{L}, \p{N}, \s with Unicode
// semantics, (?i:...), (?!...)).
//
//   Regex re(kGpt2Pattern, "gpt-2 pre-tokenizer");
//   std::vector<Span> spans;
//   re.find_all(text, spans);   // non-overlapping matches, left to right
//
// Invalid UTF-8 in the subject is allowed (PCRE2_MATCH_INVALID_UTF): such bytes never
// match, so they end up in the gaps between matches.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine::tok {

// GPT-2: openai/gpt-2 encoder.py; also HF's ByteLevel pre-tokenizer with use_regex=true.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3: meta-llama/llama3 llama/tokenizer.py `pat_str` (the same pattern is the Split
// pre-tokenizer of Meta-Llama-3-8B's tokenizer.json); digits go in runs of at most three.
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2 / Qwen1.5: the Split pre-tokenizer of Qwen/Qwen1.5-7B's tokenizer.json; like Llama
// 3 but every digit on its own.
inline constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

class Regex {
 public:
  // Throws ft::Error naming `origin` and the position of the problem when the pattern
  // does not compile.
  Regex(std::string_view pattern, std::string_view origin);

  // Appends the non-overlapping matches of the pattern in `text`, left to right.
  void find_all(std::string_view text, std::vector<Span>& matches) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  std::string pattern_;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace ft::engine::tok
