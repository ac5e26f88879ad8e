// Text -> pieces: the normalizer and pre-tokenizer stages of HF tokenizers, reduced to
// the steps that Llama-family BPE tokenizers use. Each piece is then BPE-encoded alone.
//
//   Normalizer: Prepend(s) (only to non-empty text), Replace(literal or regex, content),
//     applied in order to each stretch of text between added tokens.
//   PreTokenizer: a sequence of steps, each splitting every piece from the step before:
//     - Split(regex, behaviour, invert)   HF Split; also ByteLevel's use_regex (GPT-2
//                                         pattern, Isolated) and Digits
//     - PrefixSpace                       ByteLevel's add_prefix_space
//     - Metaspace(replacement, prepend, split)
//
// Pieces are views into the text or into `storage` (a deque, so they stay valid as it
// grows); the common byte-level case (one regex split) allocates nothing per piece.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/tokenizer/regex.hpp"

namespace ft::engine::tok {

class Normalizer {
 public:
  void add_prepend(std::string prefix);
  void add_replace(std::string literal, std::string content);
  void add_replace_regex(std::shared_ptr<const Regex> pattern, std::string content);
  bool empty() const { return steps_.empty(); }

  // The normalised text: `text` itself when there is nothing to do, else a view of
  // `storage`. `continuation`: `text` continues text already encoded (encode_parts), so
  // nothing is prepended to it.
  std::string_view apply(std::string_view text, std::string& storage,
                         bool continuation = false) const;

 private:
  struct Step {
    enum class Kind { prepend, replace, replace_regex } kind;
    std::string a, b;  // prepend: a; replace: a -> b
    std::shared_ptr<const Regex> regex;
  };
  std::vector<Step> steps_;
};

// How a Split step treats the delimiters it finds (HF SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// When Metaspace adds its replacement character in front (HF PrependScheme).
enum class PrependScheme { always, first, never };

struct SplitStep {
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::isolated;
  bool invert = false;
};
struct PrefixSpaceStep {};
struct MetaspaceStep {
  std::string replacement = "\xE2\x96\x81";  // U+2581 "▁"
  PrependScheme prepend = PrependScheme::always;
  bool split = true;
};

class PreTokenizer {
 public:
  using Step = std::variant<SplitStep, PrefixSpaceStep, MetaspaceStep>;
  void add(Step step) { steps_.push_back(std::move(step)); }
  bool empty() const { return steps_.empty(); }

  // Appends the pieces of `text` to `pieces`. `at_start`: `text` starts the input (for
  // Metaspace's "first" scheme). `continuation`: `text` continues text already encoded,
  // so no prefix space or "▁" goes in front of it.
  void split(std::string_view text, bool at_start, std::vector<std::string_view>& pieces,
             std::deque<std::string>& storage, bool continuation = false) const;

 private:
  std::vector<Step> steps_;
};

}  // namespace ft::engine::tok
