#include "engine/data/sequences.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "ftengine/error.hpp"

namespace ft::engine {

TokenizedExample tokenize(const std::vector<TemplatePart>& parts, const Tokenizer& tokenizer,
                          std::string origin) {
  std::vector<std::string_view> texts;
  texts.reserve(parts.size());
  for (const TemplatePart& p : parts) texts.push_back(p.text);
  const std::vector<std::vector<std::int32_t>> ids = tokenizer.encode_parts(texts);
  TokenizedExample out;
  out.origin = std::move(origin);
  for (std::size_t k = 0; k < parts.size(); ++k) {
    out.tokens.insert(out.tokens.end(), ids[k].begin(), ids[k].end());
    out.trained.insert(out.trained.end(), ids[k].size(), parts[k].trainable ? 1 : 0);
  }
  return out;
}

namespace {

// Inputs [begin, end) of one example: one piece of a row.
struct Piece {
  const TokenizedExample* example;
  std::int64_t begin, end;
  std::int64_t size() const { return end - begin; }
};

std::int32_t target_of(const TokenizedExample& e, std::int64_t i) {
  const auto next = static_cast<std::size_t>(i + 1);
  return next < e.tokens.size() && e.trained[next] ? e.tokens[next] : kIgnoreTarget;
}

std::int64_t targets_in(const Piece& p) {
  std::int64_t n = 0;
  for (std::int64_t i = p.begin; i < p.end; ++i) n += target_of(*p.example, i) != kIgnoreTarget;
  return n;
}

TokenRow empty_row(std::int64_t seq_len) {
  const auto n = static_cast<std::size_t>(seq_len);
  return TokenRow{std::vector<std::int32_t>(n, 0), std::vector<std::int32_t>(n, kIgnoreTarget),
                  std::vector<std::int32_t>(n, 0), std::vector<std::int32_t>(n, -1)};
}

// Writes the piece into the row at `at`, as document `doc`.
void place(const Piece& p, std::int32_t doc, std::int64_t at, TokenRow& row,
           TokenizedRows& rows) {
  for (std::int64_t i = p.begin; i < p.end; ++i, ++at) {
    const auto slot = static_cast<std::size_t>(at);
    row.tokens[slot] = p.example->tokens[static_cast<std::size_t>(i)];
    row.targets[slot] = target_of(*p.example, i);
    row.positions[slot] = static_cast<std::int32_t>(i - p.begin);
    row.doc_ids[slot] = doc;
    rows.target_tokens += row.targets[slot] != kIgnoreTarget;
  }
  rows.tokens += p.size();
}

}  // namespace

TokenizedRows build_rows(const std::vector<TokenizedExample>& examples,
                         const SequenceOptions& options, SequenceCounts& counts) {
  const std::int64_t L = options.seq_len;
  if (L < 2) throw Error(fmt::format("data.seq_len must be at least 2, found {}", L));

  std::vector<Piece> pieces;
  for (const TokenizedExample& e : examples) {
    ++counts.examples;
    const auto n = static_cast<std::int64_t>(e.tokens.size());
    const Piece whole{&e, 0, n};
    if (targets_in(whole) == 0) {
      ++counts.untrained;
      continue;
    }
    if (n <= L) {
      pieces.push_back(whole);
      ++counts.kept;
      continue;
    }
    switch (options.on_overflow) {
      case OverflowPolicy::error:
        throw Error(fmt::format(
            "{}: the example is {} tokens, longer than data.seq_len = {} (data.on_overflow = "
            "\"error\"); raise seq_len, or set on_overflow to \"truncate\", \"split\" or \"drop\"",
            e.origin, n, L));
      case OverflowPolicy::drop:
        ++counts.too_long_dropped;
        break;
      case OverflowPolicy::truncate: {
        const Piece head{&e, 0, L};
        if (targets_in(head) == 0) {
          ++counts.truncated_away;
        } else {
          pieces.push_back(head);
          ++counts.truncated;
          ++counts.kept;
        }
        break;
      }
      case OverflowPolicy::split: {
        ++counts.split;
        bool any = false;
        for (std::int64_t begin = 0; begin < n; begin += L) {
          const Piece piece{&e, begin, std::min(n, begin + L)};
          if (targets_in(piece) == 0) {
            ++counts.untrained_pieces;
            continue;
          }
          pieces.push_back(piece);
          ++counts.split_pieces;
          any = true;
        }
        counts.kept += any;
        break;
      }
    }
  }

  TokenizedRows rows;
  rows.seq_len = L;
  rows.documents = static_cast<std::int64_t>(pieces.size());
  if (!options.packing) {
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      TokenRow row = empty_row(L);
      place(pieces[k], static_cast<std::int32_t>(k), 0, row, rows);
      rows.rows.push_back(std::move(row));
    }
  } else {
    // Best fit, longest first: each piece into the row with the least room that holds it.
    std::vector<std::size_t> order(pieces.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return pieces[a].size() > pieces[b].size();
    });
    std::multimap<std::int64_t, std::size_t> room;  // free slots -> row
    std::vector<std::int64_t> used;
    for (std::size_t k : order) {
      const Piece& p = pieces[k];
      std::size_t r;
      const auto fit = room.lower_bound(p.size());
      if (fit == room.end()) {
        r = rows.rows.size();
        rows.rows.push_back(empty_row(L));
        used.push_back(0);
      } else {
        r = fit->second;
        room.erase(fit);
      }
      place(p, static_cast<std::int32_t>(k), used[r], rows.rows[r], rows);
      used[r] += p.size();
      if (used[r] < L) room.emplace(L - used[r], r);
    }
  }
  counts.input_tokens += rows.tokens;
  counts.slots += static_cast<std::int64_t>(rows.rows.size()) * L;
  return rows;
}

}  // namespace ft::engine
