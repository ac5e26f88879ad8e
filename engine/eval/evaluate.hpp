// Evaluation: mean next-token cross-entropy and perplexity of a model over documents.
//
//   auto docs = read_documents("data/val.jsonl", tokenizer);
//   EvalResult r = evaluate(*model, docs, {.seq_len = 256});   // r.loss, r.perplexity
//
// Each document is cut into windows of seq_len input tokens that do not overlap: window k
// reads tokens [k·L, k·L + L) and predicts tokens [k·L + 1, k·L + L + 1), so every token
// but a document's first is predicted exactly once, with up to L - 1 tokens of context
// (like Hugging Face's run_clm evaluation, without dropping the last partial window).
// Windows never span two documents.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

using Document = std::vector<std::int32_t>;

// A text file is one document; a .jsonl file (or .json with one object per line) has one
// document per record, its `text_field` string. Documents are encoded with the tokenizer's
// special tokens (BOS first when tokenizer_config.json says so). Errors (ft::Error) name the
// file and line: invalid JSON, a record that is not an object, a missing or non-string field.
std::vector<Document> read_documents(const std::filesystem::path& file,
                                     const Tokenizer& tokenizer,
                                     const std::string& text_field = "text");

struct EvalOptions {
  std::int64_t seq_len = 512;    // input tokens per window
  std::int64_t batch_size = 4;   // windows per forward pass
};

struct EvalResult {
  double loss = 0.0;        // mean cross-entropy per predicted token, in nats
  double perplexity = 0.0;  // exp(loss)
  std::int64_t tokens = 0;  // predicted tokens
  std::int64_t windows = 0;
  std::int64_t documents = 0;
};

// Throws ft::Error when seq_len < 1, or when no document has two tokens (nothing to predict).
EvalResult evaluate(Model& model, const std::vector<Document>& documents,
                    const EvalOptions& options);

}  // namespace ft::engine
