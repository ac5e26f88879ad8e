// The trainer: `ftengine run JOB` from the loaded job to the exported adapter (plugins,
// model, data, training, export).
//
//   const Job job = load_job("job.toml");
//   const int code = train(job, {.resume = true});   // 0, or 130/143 when interrupted
//
// Setup (setup.hpp), data (training_data.hpp), then optimizer steps (train_step.hpp) with
// evaluation every train.eval_every steps, checkpoints every train.save_every steps
// (checkpoint.hpp), metrics and progress, and at the end a last evaluation and checkpoint
// and the export (export.hpp). Problems are ft::Error (exit 2), including a NaN or Inf
// loss or gradient; SIGINT and SIGTERM save a checkpoint and return 128 + the signal.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/config/job.hpp"

namespace ft::engine {

struct TrainOptions {
  std::vector<std::filesystem::path> plugin_dirs;  // --plugin-dir
  std::vector<std::string> overrides;              // --set, to repeat in the resume command
  bool resume = false;                             // --resume
  bool force = false;                              // --force: resume a changed job
};

int train(const Job& job, const TrainOptions& options);

// "ftengine run JOB [--set K=V ...] --resume": how to continue this run.
std::string resume_command(const Job& job, const std::vector<std::string>& overrides);

}  // namespace ft::engine
