// What a checkpoint and the job resuming it must agree on: every key of the resolved job
// that changes the numbers training computes. Left out, so they may change on resume:
// job.name, train.eval_every, train.save_every, train.keep_checkpoints,
// train.checkpointing (recomputation gives the same numbers), and the [backend], [engine]
// and [output] sections (where and how the run computes and writes, not what).
//
//   trainer_state.job_hash = job_hash(job.resolved);
//   for (auto& line : job_differences(checkpoint_job, job.resolved)) ...  // "optimizer.lr: 0.001
//   -> 0.002"
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

namespace ft::engine {

// The resolved job without the keys above.
toml::table resume_relevant_keys(const toml::table& resolved);

// "fnv1a64:<16 hex digits>" of resume_relevant_keys() as canonical TOML text.
std::string job_hash(const toml::table& resolved);

// "section.key: <before> -> <now>" for each resume-relevant key that differs (or is only
// on one side), in key order.
std::vector<std::string> job_differences(const toml::table& before, const toml::table& now);

}  // namespace ft::engine
