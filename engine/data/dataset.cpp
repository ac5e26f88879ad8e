#include "engine/data/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/data/chat_template.hpp"
#include "engine/data/permutation.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace {

ReadOptions read_options(const DataConfig& data, DataFormat format) {
  return {.format = format, .fields = data.fields, .skip_bad_records = data.skip_bad_records};
}

// The template for alpaca and chat data (resolved against the tokenizer), else none.
std::optional<ChatTemplate> template_for(const Job& job, const Tokenizer& tokenizer,
                                         DataFormat format, DataReport& report) {
  if (format == DataFormat::text || format == DataFormat::completion) return std::nullopt;
  std::string name = job.data.chat_template;
  report.template_reason = "data.template";
  if (name == "auto") {
    const TemplateChoice choice = auto_template(tokenizer, job.model.path, format);
    name = choice.name;
    report.template_reason = "auto: " + choice.reason;
  }
  report.template_name = name;
  ChatTemplate t =
      name == "custom" ? custom_template(job.data.custom_template) : builtin_template(name);
  return resolve_template(std::move(t), tokenizer);
}

LengthStats length_stats(std::vector<std::int64_t> lengths) {
  if (lengths.empty()) return {};
  std::sort(lengths.begin(), lengths.end());
  const auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(lengths.size())));
    return lengths[std::min(lengths.size() - 1, i == 0 ? 0 : i - 1)];
  };
  return {lengths.front(), at(0.5), at(0.95), lengths.back()};
}

// Each example `weight` times: the whole part as copies, the fraction as a seeded subset.
std::vector<const Example*> weighted(const std::vector<const Example*>& examples, double weight,
                                     std::uint64_t seed, std::uint32_t file_index) {
  std::vector<const Example*> out;
  const auto whole = static_cast<std::int64_t>(std::floor(weight));
  for (std::int64_t k = 0; k < whole; ++k) out.insert(out.end(), examples.begin(), examples.end());
  const double fraction = weight - static_cast<double>(whole);
  const auto extra = static_cast<std::size_t>(
      std::llround(fraction * static_cast<double>(examples.size())));
  if (extra > 0) {
    std::vector<std::int64_t> order = seeded_permutation(
        static_cast<std::int64_t>(examples.size()), seed, PermutationUse::mix_file, file_index);
    order.resize(extra);
    std::sort(order.begin(), order.end());  // file order
    for (const std::int64_t i : order) out.push_back(examples[static_cast<std::size_t>(i)]);
  }
  return out;
}

std::vector<TokenizedExample> tokenize_all(const std::vector<const Example*>& examples,
                                           const ChatTemplate* t, const Tokenizer& tokenizer,
                                           bool train_on_inputs) {
  std::vector<TokenizedExample> out;
  out.reserve(examples.size());
  for (const Example* e : examples)
    out.push_back(tokenize(render(*e, t, tokenizer, {.train_on_inputs = train_on_inputs}),
                           tokenizer, e->origin));
  return out;
}

}  // namespace

PreparedData prepare_data(const Job& job, const Tokenizer& tokenizer,
                          const PrepareOptions& options) {
  const DataConfig& data = job.data;
  const auto seed = static_cast<std::uint64_t>(job.train.seed);
  if (!data.weights.empty() && data.weights.size() != data.train.size())
    throw Error(fmt::format("data.weights has {} weight(s) for {} training file(s); give one "
                            "per file, in the order of data.train",
                            data.weights.size(), data.train.size()));
  PreparedData out;
  DataReport& report = out.report;

  // Read every file, all of one format: the first file's (given or detected).
  std::vector<ReadResult> files;
  DataFormat format = data.format;
  for (std::size_t f = 0; f < data.train.size(); ++f) {
    ReadResult r = read_examples(data.train[f], read_options(data, format));
    if (f == 0) {
      report.format_reason = data.format == DataFormat::auto_detect ? r.detected : "data.format";
      format = r.format;
    }
    FileReport& file = report.files.emplace_back();
    file.file = data.train[f];
    file.records = r.records;
    file.examples = static_cast<std::int64_t>(r.examples.size());
    file.skipped = static_cast<std::int64_t>(r.skipped.size());
    file.weight = data.weights.empty() ? 1.0 : data.weights[f];
    report.skipped.insert(report.skipped.end(), r.skipped.begin(), r.skipped.end());
    files.push_back(std::move(r));
  }
  report.format = format;
  report.train_on_inputs = data.train_on_inputs;
  report.seq_len = data.seq_len;
  // Packing is exact (doc ids keep examples apart), so examples pack unless asked not to;
  // text keeps one piece per row, its pieces being seq_len long already.
  report.packing = data.packing.value_or(format != DataFormat::text);
  report.packing_reason =
      data.packing ? "data.packing" : fmt::format("the default for {} data", to_string(format));
  report.on_overflow = data.on_overflow.value_or(
      format == DataFormat::text ? OverflowPolicy::split : OverflowPolicy::truncate);
  const std::optional<ChatTemplate> chat = template_for(job, tokenizer, format, report);
  const ChatTemplate* t = chat ? &*chat : nullptr;

  // Hold out val_split of all examples (before weighting, so none is on both sides).
  std::vector<std::vector<const Example*>> kept(files.size());
  std::vector<const Example*> held;
  {
    std::vector<std::pair<std::size_t, std::size_t>> all;  // (file, example)
    for (std::size_t f = 0; f < files.size(); ++f)
      for (std::size_t i = 0; i < files[f].examples.size(); ++i) all.emplace_back(f, i);
    std::vector<bool> is_held(all.size(), false);
    if (data.val_split > 0 && !all.empty()) {
      const auto count = std::max<std::size_t>(
          1, static_cast<std::size_t>(std::llround(data.val_split * static_cast<double>(all.size()))));
      if (count >= all.size())
        throw Error(fmt::format("data.val_split = {} would hold out all {} example(s); use more "
                                "data or a smaller fraction",
                                data.val_split, all.size()));
      const std::vector<std::int64_t> order = seeded_permutation(
          static_cast<std::int64_t>(all.size()), seed, PermutationUse::hold_out, 0);
      for (std::size_t k = 0; k < count; ++k) is_held[static_cast<std::size_t>(order[k])] = true;
    }
    for (std::size_t k = 0; k < all.size(); ++k) {
      const Example* e = &files[all[k].first].examples[all[k].second];
      (is_held[k] ? held : kept[all[k].first]).push_back(e);
    }
    report.held_out = static_cast<std::int64_t>(held.size());
  }

  std::vector<const Example*> train;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::vector<const Example*> used =
        weighted(kept[f], report.files[f].weight, seed, static_cast<std::uint32_t>(f));
    report.files[f].used = static_cast<std::int64_t>(used.size());
    train.insert(train.end(), used.begin(), used.end());
  }
  report.examples = static_cast<std::int64_t>(train.size());

  const SequenceOptions sequences{
      .seq_len = data.seq_len, .packing = report.packing, .on_overflow = report.on_overflow};
  std::vector<TokenizedExample> tokenized = tokenize_all(train, t, tokenizer, data.train_on_inputs);
  {
    std::vector<std::int64_t> lengths;
    for (const TokenizedExample& e : tokenized)
      lengths.push_back(static_cast<std::int64_t>(e.tokens.size()));
    report.lengths = length_stats(std::move(lengths));
  }
  for (std::size_t f = 0, shown = 0; f < files.size() && shown < static_cast<std::size_t>(options.show); ++f)
    for (std::size_t i = 0; i < files[f].examples.size() && shown < static_cast<std::size_t>(options.show); ++i, ++shown) {
      const Example& e = files[f].examples[i];
      out.shown.push_back(tokenize(render(e, t, tokenizer, {.train_on_inputs = data.train_on_inputs}),
                                   tokenizer, e.origin));
    }

  out.train = build_rows(tokenized, sequences, report.counts);
  report.rows = static_cast<std::int64_t>(out.train.rows.size());
  report.target_tokens = out.train.target_tokens;
  if (out.train.rows.empty())
    throw Error(fmt::format(
        "no training data left: {} example(s) read, none with a trained token within "
        "data.seq_len = {} (see the data report: `ftengine data {}`)",
        report.examples, data.seq_len, job.file.string()));

  if (!held.empty()) {
    SequenceCounts eval_counts;
    out.eval = build_rows(tokenize_all(held, t, tokenizer, data.train_on_inputs), sequences,
                          eval_counts);
    out.eval_source = fmt::format("data.val_split = {}: {} held-out example(s)", data.val_split,
                                  held.size());
  } else if (data.eval && (options.text_eval || format != DataFormat::text)) {
    ReadResult r = read_examples(*data.eval, read_options(data, format));
    std::vector<const Example*> examples;
    for (const Example& e : r.examples) examples.push_back(&e);
    SequenceCounts eval_counts;
    out.eval = build_rows(tokenize_all(examples, t, tokenizer, data.train_on_inputs), sequences,
                          eval_counts);
    if (out.eval->rows.empty())
      throw Error(fmt::format("data.eval {}: nothing to evaluate: no example has a trained token",
                              data.eval->string()));
    out.eval_source = data.eval->string();
  }
  return out;
}

namespace {

std::string percent(std::int64_t part, std::int64_t whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) /
                                                static_cast<double>(whole))
                   : "-";
}

}  // namespace

std::string format_report(const DataReport& r) {
  std::string out;
  const auto line = [&](const std::string& text) { out += text + "\n"; };
  line(fmt::format("format: {} ({})", to_string(r.format), r.format_reason));
  if (!r.template_name.empty())
    line(fmt::format("template: {} ({}); loss on {}", r.template_name, r.template_reason,
                     r.train_on_inputs ? "every token (train_on_inputs)" : "responses only"));
  else
    line(fmt::format("template: none ({} data); loss on {}", to_string(r.format),
                     r.format == DataFormat::completion && !r.train_on_inputs ? "completions only"
                                                                               : "every token"));
  std::int64_t records = 0, read = 0, bad = 0;
  for (const FileReport& f : r.files) {
    line(fmt::format("  {}: {} records, {} examples{}{}", f.file.string(), f.records, f.examples,
                     f.skipped ? fmt::format(", {} bad records skipped", f.skipped) : "",
                     f.weight != 1.0 ? fmt::format(", weight {} -> {} per epoch", f.weight, f.used)
                                     : ""));
    records += f.records;
    read += f.examples;
    bad += f.skipped;
  }
  const SequenceCounts& c = r.counts;
  line(fmt::format("records: {} read, {} examples{}{}", records, read,
                   bad ? fmt::format(", {} bad records skipped", bad) : "",
                   r.held_out ? fmt::format(", {} held out for eval", r.held_out) : ""));
  for (std::size_t i = 0; i < std::min<std::size_t>(r.skipped.size(), 5); ++i)
    line(fmt::format("  skipped {}: {}", r.skipped[i].origin, r.skipped[i].reason));
  if (r.skipped.size() > 5) line(fmt::format("  ... and {} more", r.skipped.size() - 5));
  line(fmt::format("examples: {} to train, {} kept, {} dropped", c.examples, c.kept,
                   c.examples - c.kept));
  const auto count = [&](std::int64_t n, const std::string& what) {
    if (n > 0) line(fmt::format("  {} {}", n, what));
  };
  count(c.untrained, "dropped: no trained token (no response)");
  count(c.too_long_dropped, fmt::format("dropped: longer than seq_len {} (on_overflow = drop)",
                                        r.seq_len));
  count(c.truncated_away,
        fmt::format("dropped: every trained token past seq_len {} (truncated away)", r.seq_len));
  count(c.truncated, fmt::format("truncated to seq_len {}", r.seq_len));
  count(c.split, fmt::format("split into {} pieces of at most {} tokens", c.split_pieces,
                             r.seq_len));
  count(c.untrained_pieces, "split pieces left out: no trained token in them");
  line(fmt::format("tokens per example: min {}, median {}, p95 {}, max {} (seq_len {})",
                   r.lengths.min, r.lengths.median, r.lengths.p95, r.lengths.max, r.seq_len));
  line(fmt::format("trained tokens: {} of {} ({})", r.target_tokens, c.input_tokens,
                   percent(r.target_tokens, c.input_tokens)));
  line(
      fmt::format("sequences: {} of {} tokens, {} ({}); {} non-padding (packing efficiency; "
                  "each micro-batch runs only to its longest row)",
                  r.rows, r.seq_len, r.packing ? "packed" : "one example each", r.packing_reason,
                  percent(c.input_tokens, c.slots)));
  return out;
}

std::string show_example(const TokenizedExample& example, const Tokenizer& tokenizer,
                         bool colour) {
  const char* open = colour ? "\033[32m" : "[[";
  const char* close = colour ? "\033[0m" : "]]";
  std::string out = example.origin + ":\n";
  std::size_t i = 0;
  while (i < example.tokens.size()) {
    std::size_t j = i;
    while (j < example.tokens.size() && example.trained[j] == example.trained[i]) ++j;
    const std::string text = tokenizer.decode(
        std::vector<std::int32_t>(example.tokens.begin() + static_cast<std::ptrdiff_t>(i),
                                  example.tokens.begin() + static_cast<std::ptrdiff_t>(j)));
    out += example.trained[i] ? open + text + close : text;
    i = j;
  }
  return out + "\n";
}

}  // namespace ft::engine
