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

void require_supported_format(const DataConfig& data) {
  if (data.format != DataFormat::auto_detect && data.format != DataFormat::text)
    throw Error(
        fmt::format("data.format = \"{}\": this build trains on plain text only (JSONL "
                    "records with a \"text\" field, or text files); instruction and chat "
                    "formats land with the data issue (#5). Set data.format = \"text\"",
                    to_string(data.format)));
}

TrainingData load_training_data(const Job& job, const Tokenizer& tokenizer) {
  const DataConfig& data = job.data;
  require_supported_format(data);

  TrainingData out;
  out.train = pack_documents(read_text_documents(data.train), tokenizer, data.seq_len);
  if (data.eval) {
    out.eval = window_documents(read_documents(*data.eval, tokenizer), data.seq_len);
    if (out.eval->rows.empty())
      throw Error(fmt::format("data.eval {}: nothing to evaluate: no document has two tokens",
                              data.eval->string()));
    out.eval_source = data.eval->string();
  } else if (data.val_split > 0) {
    RowSplit split = split_rows(std::move(out.train), data.val_split,
                                static_cast<std::uint64_t>(job.train.seed));
    out.train = std::move(split.train);
    out.eval = std::move(split.held_out);
    out.eval_source =
        fmt::format("data.val_split = {} of the packed training rows", data.val_split);
  }
  return out;
}

}  // namespace ft::engine
