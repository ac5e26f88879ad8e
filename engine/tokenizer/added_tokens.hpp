// Added and special tokens ("<s>", "<|eot_id|>", "<|endoftext|>"): found in the input text
// before anything else, and encoded as their own id, as HF tokenizers does for its added
// vocabulary. Matching is leftmost-longest (HF uses an Aho-Corasick LeftmostLongest
// automaton); lstrip / rstrip absorb the whitespace beside a match, and single_word
// matches only when neither neighbour is a word character.
//
// The text between matches is normalised and pre-tokenized on its own, which is why a
// SentencePiece-style tokenizer gives "▁Hello" for "<s>Hello".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft::engine::tok {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = true;  // skipped by decode(skip_special = true)
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

class AddedTokens {
 public:
  // A token with the same content replaces the earlier one.
  void add(AddedToken token);
  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;

  // One stretch of the input: plain text (id < 0) or an added token.
  struct Segment {
    std::string_view text;
    std::size_t offset = 0;  // where `text` starts in the input
    std::int32_t id = -1;
  };
  // Splits `text` into segments, in order; empty text segments are left out.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  std::vector<AddedToken> tokens_;
  // Candidates by first byte, longest first, so the first hit is the longest match.
  std::array<std::vector<std::uint32_t>, 256> by_first_byte_;
  void index();
};

}  // namespace ft::engine::tok
