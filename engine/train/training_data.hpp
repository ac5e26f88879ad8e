// The rows a job trains and evaluates on, from data/dataset.hpp, and the data report.
//
//   TrainingData data = load_training_data(job, tokenizer);
//   data.train.rows ... ; if (data.eval) evaluate_rows(..., *data.eval, ...);
//
// Evaluation rows: with data.eval, that file cut into windows exactly as `ftengine eval
// --data FILE --seq-len <data.seq_len>` cuts it (window_documents), so the eval loss a run
// reports is the number `ftengine eval --adapter` gives for its output. With
// data.val_split, that fraction of the training examples, held out. An eval file of another
// format goes through the training data's template and masks. Otherwise there is nothing
// to evaluate on.
#pragma once

#include <optional>
#include <string>

#include "engine/config/job.hpp"
#include "engine/data/dataset.hpp"
#include "engine/eval/evaluate.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace ft::engine {

struct TrainingData {
  TokenizedRows train;
  std::optional<TokenizedRows> eval;
  std::string eval_source;  // for the log: the eval file, or the val_split it came from
  DataReport report;
};

// ft::Error for unreadable data, or data that gives nothing to train on.
TrainingData load_training_data(const Job& job, const Tokenizer& tokenizer);

// Each document cut into windows of at most seq_len inputs that do not overlap, one row per
// window, as evaluate() (eval/evaluate.hpp) reads them: window k of a document has inputs
// [kL, kL + L) and predicts [kL + 1, kL + L + 1), positions from 0, the rest padding.
// Documents with fewer than two tokens give no row.
TokenizedRows window_documents(const std::vector<Document>& documents, std::int64_t seq_len);

}  // namespace ft::engine
