// runs/<name>/metrics.jsonl: one JSON object per line, flushed as written, so a crashed or
// interrupted run keeps everything up to its last step.
//
//   {"step": 3, "loss": 2.41, "lr": 0.001, "grad_norm": 0.83, "tokens": 512,
//    "tokens_per_second": 2210.5, "elapsed_s": 0.71}
//   {"step": 50, "eval_loss": 1.93, "eval_perplexity": 6.89}
//
// A resumed run keeps the records up to the checkpoint's step and drops the rest (steps
// trained after the checkpoint, which the resume trains again), so the file reads as if
// the run had never stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>

#include "engine/train/evaluation.hpp"

namespace ft::engine {

struct StepMetrics {
  std::int64_t step = 0;
  double loss = 0.0;
  double lr = 0.0;
  double grad_norm = 0.0;  // before clipping
  std::int64_t tokens = 0;
  double tokens_per_second = 0.0;
  double elapsed_s = 0.0;
};

class MetricsLog {
 public:
  // A fresh run truncates the file; resume_step keeps the records with step <= it.
  MetricsLog(const std::filesystem::path& file, std::optional<std::int64_t> resume_step);

  void write_step(const StepMetrics& m);
  void write_eval(std::int64_t step, const EvalFigures& e);

 private:
  void write_line(const std::string& line);

  std::filesystem::path file_;
  std::ofstream out_;
};

}  // namespace ft::engine
