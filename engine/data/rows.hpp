// Token rows: what one training or evaluation sequence holds, as the trainer feeds it to
// the model. Built by sequences.hpp (training data) and by the trainer's window_documents
// (plain-text evaluation).
//
// Each row has seq_len slots. A slot is an input token, the target it predicts (or
// kIgnoreTarget: no loss there), its position (from 0 at the start of its example or
// piece) and its doc id (slots attend only to earlier slots of the same doc id; -1 marks
// padding).
#pragma once

#include <cstdint>
#include <vector>

namespace ft::engine {

inline constexpr std::int32_t kIgnoreTarget = -100;

struct TokenRow {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> targets;
  std::vector<std::int32_t> positions;
  std::vector<std::int32_t> doc_ids;
};

// The row's slots up to and including its last token: padding (doc id -1) only follows it.
inline std::int64_t filled_length(const TokenRow& row) {
  auto n = static_cast<std::int64_t>(row.doc_ids.size());
  while (n > 0 && row.doc_ids[static_cast<std::size_t>(n - 1)] < 0) --n;
  return n;
}

struct TokenizedRows {
  std::int64_t seq_len = 0;
  std::vector<TokenRow> rows;
  std::int64_t documents = 0;      // examples (or pieces of them) in the rows
  std::int64_t tokens = 0;         // input tokens, padding not counted
  std::int64_t target_tokens = 0;  // targets that carry loss
};

}  // namespace ft::engine
