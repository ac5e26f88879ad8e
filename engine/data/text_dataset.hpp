// Training data for plain language modelling: documents from JSONL ({"text": ...}) or
// plain-text files, tokenised and packed into rows of seq_len tokens.
//
//   TokenizedRows rows = pack_documents(read_text_documents(files), tok, 256);
//   auto [train, held_out] = split_rows(std::move(rows), 0.1, seed);
//
// Packing: each document is encoded with the tokenizer's specials (BOS first when the
// tokenizer config says so) and EOS appended (unless the tokenizer already appends it),
// documents are concatenated into one stream, and the stream is cut into rows of seq_len
// inputs with their next-token targets. Every row carries doc_ids and positions so
// attention stays within a document and positions restart, as if each document ran alone.
// The last partial row is padded: pad inputs 0, targets -100 (no loss), positions 0,
// doc id -1.
//
// Targets at document boundaries: a document's EOS is the target of its last text token
// (the model learns to stop), and the EOS itself predicts nothing (-100): the next document
// is unrelated, so its BOS/first token is never a target.
//
// Rows do not overlap, and no target is lost at a cut: targets are taken from the stream,
// so a row's last input predicts the first token of the next row when both belong to one
// document. Every stream token is an input exactly once; target_tokens = tokens - documents.
// Positions restart at each document start and at each row start: a document continued
// from the previous row starts again at 0 because attention cannot see that row, and
// positions then stay below seq_len (a long document never runs past the model's context).
//
// The data issue (#5) adds instruction and chat formats with loss masking on this same
// row layout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.hpp"

namespace ft::engine {

inline constexpr std::int32_t kIgnoreTarget = -100;

// One training row. All four have seq_len entries.
struct TokenRow {
  std::vector<std::int32_t> tokens;
  std::vector<std::int32_t> targets;    // next token, or kIgnoreTarget
  std::vector<std::int32_t> positions;  // 0.. from the document's (or the row's) start
  std::vector<std::int32_t> doc_ids;    // index in the documents given; -1 for padding
};

struct TokenizedRows {
  std::int64_t seq_len = 0;
  std::vector<TokenRow> rows;
  std::int64_t documents = 0;
  std::int64_t tokens = 0;         // tokens in the stream (with BOS/EOS), before padding
  std::int64_t target_tokens = 0;  // targets that carry loss, over all rows
};

struct TextDocument {
  std::string text;
  std::string origin;  // "file.jsonl:12" or "file.txt", for messages
};

// A .jsonl/.json file: one {"text": ...} object per line (blank lines skipped); any other
// file: one document, its whole content. ft::Error naming file and line for invalid JSON, a
// record that is not an object, a missing or non-string or empty text field.
std::vector<TextDocument> read_text_documents(const std::vector<std::filesystem::path>& files,
                                              const std::string& text_field = "text");

// ft::Error when seq_len < 2 or there is nothing to train on.
TokenizedRows pack_documents(const std::vector<TextDocument>& documents, const Tokenizer& tokenizer,
                             std::int64_t seq_len);

// Holds out round(fraction × rows) rows, at least 1 when fraction > 0, chosen by a shuffle
// keyed by `seed` (Philox, so the same on every machine); the rest train. Both sides keep
// stream order; their counts (documents, tokens, target_tokens) are recounted. A document
// that spans a row cut may have rows on both sides, but no token is on both. fraction 0
// holds out nothing. ft::Error when fraction is outside [0, 1) or a held-out side would
// leave no training rows.
struct RowSplit {
  TokenizedRows train;
  TokenizedRows held_out;
};
RowSplit split_rows(TokenizedRows rows, double fraction, std::uint64_t seed);

}  // namespace ft::engine
