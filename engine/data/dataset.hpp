// A job's data from files to rows, with the counts the data report
// prints: read every training file (examples.hpp), hold out data.val_split of the
// examples, apply the mixing weights, render each with the chat template
// (chat_template.hpp), tokenise with loss masks and cut or pack into rows of seq_len
// (sequences.hpp). The eval file goes the same way (never weighted).
//
//   PreparedData d = prepare_data(job, tokenizer);
//   fmt::print("{}", format_report(d.report));   // what `ftengine data` and `run` print
//   trainer uses d.train, d.eval
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/job.hpp"
#include "engine/data/examples.hpp"
#include "engine/data/sequences.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace ft::engine {

struct FileReport {
  std::filesystem::path file;
  std::int64_t records = 0;  // read, good and bad
  std::int64_t examples = 0;
  std::int64_t skipped = 0;  // bad records, with skip_bad_records
  double weight = 1.0;
  std::int64_t used = 0;  // examples per epoch after weighting
};

struct LengthStats {
  std::int64_t min = 0, median = 0, p95 = 0, max = 0;
};

struct DataReport {
  DataFormat format = DataFormat::text;
  std::string format_reason;    // "given" or what the first record showed
  std::string template_name;    // "" for text and completion data
  std::string template_reason;  // "given", or why auto picked it
  bool train_on_inputs = false;
  std::int64_t seq_len = 0;
  bool packing = false;
  std::string packing_reason;  // "data.packing", "the default for alpaca data"
  OverflowPolicy on_overflow = OverflowPolicy::truncate;
  std::vector<FileReport> files;
  std::vector<BadRecord> skipped;  // every bad record skipped
  std::int64_t held_out = 0;       // examples held out by val_split
  std::int64_t examples = 0;       // after holding out and weighting: what was tokenised
  LengthStats lengths;             // tokens per example, after the template
  SequenceCounts counts;           // overflow, drops, rows
  std::int64_t rows = 0;
  std::int64_t target_tokens = 0;
};

struct PreparedData {
  TokenizedRows train;
  std::optional<TokenizedRows> eval;
  std::string eval_source;  // for the log: the eval file, or the split it came from
  DataReport report;
  // The first `show` training examples (file order, before weighting), for --show.
  std::vector<TokenizedExample> shown;
};

struct PrepareOptions {
  std::int64_t show = 0;  // examples to keep in PreparedData::shown
  // false: leave a `text` format data.eval to the caller (the trainer cuts it as
  // `ftengine eval` does).
  bool text_eval = true;
};

// ft::Error for unreadable or bad data (file and line), a weights list that does not match
// the files, or data that leaves nothing to train on.
PreparedData prepare_data(const Job& job, const Tokenizer& tokenizer,
                          const PrepareOptions& options = {});

// The report as lines of text: records read, kept, dropped and why, token lengths,
// trainable-token fraction, packing efficiency.
std::string format_report(const DataReport& report);

// An example as text, its trained tokens marked: green on a terminal (`colour`), else in
// [[double brackets]]. Special tokens are shown as they are written ("<|im_end|>").
std::string show_example(const TokenizedExample& example, const Tokenizer& tokenizer, bool colour);

}  // namespace ft::engine
