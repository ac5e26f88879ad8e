// The progress of a run on stderr: step/total, loss, lr, grad norm, tokens/s, elapsed,
// ETA and peak memory. On a terminal one line updates in place (\r); otherwise (a log
// file, CI) a plain line every tenth of the run, and at least every 30 s. --quiet hides it.
//
//   Progress progress(total_steps, first_step);
//   progress.step({...}, backend);      // after each optimizer step
//   progress.note("eval: loss 1.93");   // a line of its own, never overwritten
//   progress.finish();
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ftengine/backend.hpp"

namespace ft::engine {

struct StepProgress {
  std::int64_t step = 0;
  double loss = 0.0;
  double lr = 0.0;
  double grad_norm = 0.0;
  double tokens_per_second = 0.0;
  double elapsed_s = 0.0;  // over every session of the run
};

// "0:42", "1:02:03".
std::string format_duration(double seconds);
// "512 KiB", "1.5 GiB".
std::string format_bytes(std::size_t bytes);
// The process's peak resident set size (getrusage), in bytes.
std::size_t peak_rss_bytes();

class Progress {
 public:
  // first_step: steps already done when this session starts (a resume); the ETA is
  // measured on this session's steps only.
  Progress(std::int64_t total_steps, std::int64_t first_step);
  ~Progress();

  void step(const StepProgress& p, Backend& backend);
  void note(const std::string& line);
  // Ends the updating line (a terminal), so what follows starts on a fresh line.
  void finish();

 private:
  std::string line_for(const StepProgress& p, Backend& backend) const;

  std::int64_t total_;
  std::int64_t first_step_;
  bool terminal_;
  bool line_open_ = false;  // an updating line is on screen
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_line_ = start_;
};

}  // namespace ft::engine
