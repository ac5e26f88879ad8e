#include "engine/train/resume.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/train/job_fingerprint.hpp"
#include "ftengine/error.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

// What differs between the checkpoint and now, one entry per key.
std::vector<std::string> differences(const Job& job, const ResumePoint& point,
                                     std::int64_t train_rows) {
  std::vector<std::string> out;
  if (point.state.job_hash != job_hash(job.resolved)) {
    const fs::path saved_job = point.checkpoint.dir / kCheckpointJobFile;
    try {
      out = job_differences(toml::parse_file(saved_job.string()), job.resolved);
    } catch (const toml::parse_error&) {
      out.push_back(fmt::format("the job's hash ({} unreadable)", saved_job.string()));
    }
    if (out.empty()) out.push_back("the job's hash");
  }
  if (point.state.train_rows != train_rows)
    out.push_back(fmt::format("the training data: {} rows of data.seq_len tokens, now {}",
                              point.state.train_rows, train_rows));
  return out;
}

}  // namespace

void refuse_to_overwrite(const Job& job, const std::string& resume_command) {
  const std::vector<Checkpoint> existing = list_checkpoints(job.output.dir);
  if (existing.empty()) return;
  throw Error(
      fmt::format("{} already holds a run (its newest checkpoint is step-{}): continue it "
                  "with `{}`, or delete that directory (or set output.dir) to start afresh",
                  job.output.dir.string(), existing.back().step, resume_command));
}

ResumePoint find_resume_point(const Job& job, std::int64_t train_rows, bool force) {
  const std::vector<Checkpoint> all = list_checkpoints(job.output.dir);
  if (all.empty())
    throw Error(fmt::format("--resume: no checkpoint in {}; run without --resume to start",
                            checkpoints_dir(job.output.dir).string()));
  ResumePoint point{all.back(), read_trainer_state(all.back().dir)};
  const std::vector<std::string> changed = differences(job, point, train_rows);
  if (changed.empty()) return point;
  const std::string list = fmt::format("{}", fmt::join(changed, "; "));
  if (!force)
    throw Error(
        fmt::format("--resume: the job differs from the one {} was trained with ({}); "
                    "resuming would not continue that run. Undo the change to continue it "
                    "exactly, or add --force to continue with the changed job",
                    point.checkpoint.dir.string(), list));
  log::warn("--force: resuming {} with a changed job ({})", point.checkpoint.dir.string(), list);
  return point;
}

void restore_checkpoint(const ResumePoint& point, TrainingSetup& setup) {
  load_checkpoint_tensors(point.checkpoint.dir / kTrainableFile, setup.trainable);
  load_checkpoint_tensors(point.checkpoint.dir / kOptimizerFile, setup.optimizer->state());
}

}  // namespace ft::engine
