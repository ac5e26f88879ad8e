// Where a run starts: afresh, refusing to write over an earlier run's checkpoints, or
// (`ftengine run JOB --resume`) from the newest complete checkpoint, after checking that
// the job and the training data are the ones it was trained with.
//
//   if (!resume) refuse_to_overwrite(job, hint);
//   ResumePoint from = find_resume_point(job, train_rows, force, hint);
//   restore_checkpoint(from, setup);    // adapter weights and optimizer state
#pragma once

#include <cstdint>
#include <string>

#include "engine/config/job.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/setup.hpp"

namespace ft::engine {

struct ResumePoint {
  Checkpoint checkpoint;
  TrainerState state;
};

// ft::Error when output.dir already holds checkpoints: continue it or start elsewhere.
// `resume_command` is the command line that would continue it, for the message.
void refuse_to_overwrite(const Job& job, const std::string& resume_command);

// The newest complete checkpoint. ft::Error when there is none, or when the job (its
// resume-relevant keys, job_fingerprint.hpp) or the count of training rows differ from the
// checkpoint's, unless `force`, which logs the differences as a warning instead.
ResumePoint find_resume_point(const Job& job, std::int64_t train_rows, bool force);

// Copies the checkpoint's trainable tensors and optimizer state into the live ones.
void restore_checkpoint(const ResumePoint& point, TrainingSetup& setup);

}  // namespace ft::engine
