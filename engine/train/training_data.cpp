#include "engine/train/training_data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "ftengine/error.hpp"

namespace ft::engine {

TokenizedRows window_documents(const std::vector<Document>& documents, std::int64_t seq_len) {
  TokenizedRows out;
  out.seq_len = seq_len;
  const auto length = static_cast<std::size_t>(seq_len);
  for (std::size_t d = 0; d < documents.size(); ++d) {
    const Document& doc = documents[d];
    const auto size = static_cast<std::int64_t>(doc.size());
    if (size >= 2) ++out.documents;
    out.tokens += size;
    for (std::int64_t start = 0; start + 1 < size; start += seq_len) {
      TokenRow row{std::vector<std::int32_t>(length, 0),
                   std::vector<std::int32_t>(length, kIgnoreTarget),
                   std::vector<std::int32_t>(length, 0), std::vector<std::int32_t>(length, -1)};
      const std::int64_t n = std::min(seq_len, size - 1 - start);
      for (std::int64_t t = 0; t < n; ++t) {
        const auto at = static_cast<std::size_t>(t);
        row.tokens[at] = doc[static_cast<std::size_t>(start + t)];
        row.targets[at] = doc[static_cast<std::size_t>(start + t + 1)];
        row.positions[at] = static_cast<std::int32_t>(t);
        row.doc_ids[at] = static_cast<std::int32_t>(d);
      }
      out.target_tokens += n;
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

TrainingData load_training_data(const Job& job, const Tokenizer& tokenizer) {
  const DataConfig& data = job.data;
  // A plain-text eval file is cut as `ftengine eval --data FILE` cuts it, so the eval loss
  // a run reports is the one `ftengine eval --adapter` gives for its output.
  PreparedData prepared = prepare_data(job, tokenizer, {.text_eval = false});
  TrainingData out;
  out.train = std::move(prepared.train);
  out.report = std::move(prepared.report);
  out.eval = std::move(prepared.eval);
  out.eval_source = std::move(prepared.eval_source);
  if (data.eval && out.report.format == DataFormat::text) {
    out.eval = window_documents(read_documents(*data.eval, tokenizer), data.seq_len);
    if (out.eval->rows.empty())
      throw Error(fmt::format("data.eval {}: nothing to evaluate: no document has two tokens",
                              data.eval->string()));
    out.eval_source = data.eval->string();
  }
  return out;
}

}  // namespace ft::engine
