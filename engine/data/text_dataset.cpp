#include "engine/data/text_dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <set>

#include "engine/data/jsonl.hpp"
#include "ftengine/error.hpp"
#include "ftengine/philox.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

std::vector<TextDocument> read_text_documents(const std::vector<fs::path>& files,
                                              const std::string& text_field) {
  std::vector<TextDocument> documents;
  for (const fs::path& file : files) {
    if (!fs::is_regular_file(file))
      throw Error(fmt::format("{}: no such data file", file.string()));
    if (!is_json_lines(file)) {
      std::string text = read_whole_file(file);
      if (text.empty()) throw Error(fmt::format("{}: the data file is empty", file.string()));
      documents.push_back({std::move(text), file.string()});
      continue;
    }
    for_each_json_line(file, [&](const nlohmann::json& record, const std::string& at) {
      const std::string& text = string_field(record, text_field, at);
      // An empty document would train only BOS -> EOS: almost surely a broken record.
      if (text.empty())
        throw Error(fmt::format("{}: \"{}\" is empty; give the record some text or remove the line",
                                at, text_field));
      documents.push_back({text, at});
    });
  }
  return documents;
}

namespace {

// Counts of a set of rows, as TokenizedRows reports them.
void recount(TokenizedRows& rows) {
  std::set<std::int32_t> docs;
  rows.tokens = 0;
  rows.target_tokens = 0;
  for (const TokenRow& row : rows.rows)
    for (std::size_t t = 0; t < row.tokens.size(); ++t) {
      if (row.doc_ids[t] < 0) continue;
      docs.insert(row.doc_ids[t]);
      ++rows.tokens;
      rows.target_tokens += row.targets[t] != kIgnoreTarget;
    }
  rows.documents = static_cast<std::int64_t>(docs.size());
}

}  // namespace

TokenizedRows pack_documents(const std::vector<TextDocument>& documents, const Tokenizer& tokenizer,
                             std::int64_t seq_len) {
  if (seq_len < 2) throw Error(fmt::format("seq_len must be at least 2, found {}", seq_len));
  const std::optional<std::int32_t> eos = tokenizer.eos_id();

  // The stream: every document's tokens, and for each the document it belongs to.
  std::vector<std::int32_t> stream, stream_doc;
  for (std::size_t d = 0; d < documents.size(); ++d) {
    std::vector<std::int32_t> ids = tokenizer.encode(documents[d].text);
    // add_eos_token tokenizers already end with EOS; don't train a double stop.
    if (eos && (ids.empty() || ids.back() != *eos)) ids.push_back(*eos);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream_doc.insert(stream_doc.end(), ids.size(), static_cast<std::int32_t>(d));
  }

  TokenizedRows out;
  out.seq_len = seq_len;
  out.documents = static_cast<std::int64_t>(documents.size());
  out.tokens = static_cast<std::int64_t>(stream.size());
  const std::size_t L = static_cast<std::size_t>(seq_len);
  for (std::size_t start = 0; start < stream.size(); start += L) {
    TokenRow row;
    row.tokens.assign(L, 0);
    row.targets.assign(L, kIgnoreTarget);
    row.positions.assign(L, 0);
    row.doc_ids.assign(L, -1);
    for (std::size_t t = 0; t < L && start + t < stream.size(); ++t) {
      const std::size_t i = start + t;
      row.tokens[t] = stream[i];
      row.doc_ids[t] = stream_doc[i];
      // Counting restarts where the document or the row starts.
      row.positions[t] = t > 0 && stream_doc[i - 1] == stream_doc[i] ? row.positions[t - 1] + 1 : 0;
      // The next token, also when it lies in the next row; none across documents.
      if (i + 1 < stream.size() && stream_doc[i + 1] == stream_doc[i]) {
        row.targets[t] = stream[i + 1];
        ++out.target_tokens;
      }
    }
    out.rows.push_back(std::move(row));
  }
  if (out.target_tokens == 0)
    throw Error(fmt::format("nothing to train on: {} document(s) give no token to predict",
                            documents.size()));
  return out;
}

RowSplit split_rows(TokenizedRows rows, double fraction, std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw Error(fmt::format("the held-out fraction must be in [0, 1), found {}", fraction));
  const std::size_t n = rows.rows.size();
  const std::size_t held =
      fraction > 0.0
          ? std::max<std::size_t>(
                1, static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n))))
          : 0;
  if (held > 0 && held >= n)
    throw Error(fmt::format(
        "cannot hold out {} of {} row(s) (fraction {}) and still train: use more data, a "
        "smaller fraction or a shorter seq_len",
        held, n, fraction));

  // Fisher-Yates on Philox words keyed by the seed: the same permutation everywhere.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = n; i-- > 1;) {
    const Philox4x32 r = philox4x32(i, seed);
    const std::uint64_t word = (static_cast<std::uint64_t>(r.v[1]) << 32) | r.v[0];
    std::swap(order[i], order[word % (i + 1)]);
  }
  std::vector<bool> is_held(n, false);
  for (std::size_t k = 0; k < held; ++k) is_held[order[k]] = true;

  RowSplit split;
  split.train.seq_len = split.held_out.seq_len = rows.seq_len;
  for (std::size_t i = 0; i < n; ++i)
    (is_held[i] ? split.held_out : split.train).rows.push_back(std::move(rows.rows[i]));
  recount(split.train);
  recount(split.held_out);
  return split;
}

}  // namespace ft::engine
