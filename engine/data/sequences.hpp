// Rendered examples -> token rows of seq_len: tokenising with loss masks, what happens to
// examples longer than seq_len, and packing.
//
//   TokenizedExample e = tokenize(render(example, &t, tok, {}), tok, example.origin);
//   SequenceCounts counts;
//   TokenizedRows rows = build_rows(examples, {.seq_len = 512, .packing = true}, counts);
//
// Targets: input token i predicts token i + 1 when that token is trained (its template
// part carries loss), else kIgnoreTarget. An example's last token predicts nothing.
//
// Overflow (an example of more than seq_len tokens):
//   truncate  its first seq_len tokens (the last of them still predicts the next token)
//   split     consecutive pieces of seq_len tokens, each predicting into the next, so no
//             target is lost; positions restart in each piece. Pieces left with no target
//             (all prompt) are left out and counted.
//   drop      left out, counted
//   error     ft::Error naming the example (file:line) and its length
// An example with no trained token is left out and counted (as is a truncated one whose
// trained tokens were all cut off).
//
// Rows: without packing, one example (or piece) per row, padded. With packing, pieces go
// into rows best-fit, longest first; each keeps its own doc id and positions from 0, so
// attention never crosses pieces and the loss equals that of the pieces one by one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/job.hpp"
#include "engine/data/chat_template.hpp"
#include "engine/data/rows.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace ft::engine {

struct TokenizedExample {
  std::vector<std::int32_t> tokens;
  std::vector<std::uint8_t> trained;  // trained[i]: token i carries loss (is a target)
  std::string origin;                 // "file:line"
};

TokenizedExample tokenize(const std::vector<TemplatePart>& parts, const Tokenizer& tokenizer,
                          std::string origin);

struct SequenceOptions {
  std::int64_t seq_len = 0;
  bool packing = false;
  OverflowPolicy on_overflow = OverflowPolicy::truncate;
};

struct SequenceCounts {
  std::int64_t examples = 0;           // given
  std::int64_t kept = 0;               // with at least one row (or piece) in the result
  std::int64_t untrained = 0;          // left out: no trained token at all
  std::int64_t truncated = 0;          // cut to seq_len
  std::int64_t truncated_away = 0;     // left out: every trained token was past seq_len
  std::int64_t split = 0;              // cut into pieces
  std::int64_t split_pieces = 0;       // pieces those gave, kept
  std::int64_t untrained_pieces = 0;   // pieces left out for want of a target
  std::int64_t too_long_dropped = 0;   // left out by on_overflow = "drop"
  std::int64_t input_tokens = 0;       // non-padding input slots in the rows
  std::int64_t slots = 0;              // rows x seq_len
};

// Rows in a fixed order (the order of `examples`, or for packing the packer's); ft::Error
// for on_overflow = "error" and an example longer than seq_len.
TokenizedRows build_rows(const std::vector<TokenizedExample>& examples,
                         const SequenceOptions& options, SequenceCounts& counts);

}  // namespace ft::engine
