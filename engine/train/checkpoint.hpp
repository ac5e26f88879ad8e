// Checkpoints: what a run needs to continue exactly where it stopped.
//
//   <run>/checkpoints/step-N/
//     trainable.safetensors   the adapter's trainable tensors, by name
//     optimizer.safetensors   the optimizer's state() tensors, by name
//     trainer_state.json      step, data cursor, micro-batch counter, seed, job hash, ...
//     job.toml                the resolved job it was trained under (to say what changed)
//
// A checkpoint is written into checkpoints/.tmp-step-N, each file and then the directory
// fsynced, and renamed to step-N: a step-N directory is complete or absent, whatever
// happens while it is written.
//
//   write_checkpoint(run_dir, state, adapter->trainable_parameters(), optimizer->state(), toml);
//   const Checkpoint newest = list_checkpoints(run_dir).back();
//   load_checkpoint_tensors(newest.dir / kTrainableFile, adapter->trainable_parameters());
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/train/row_sampler.hpp"
#include "ftengine/module.hpp"

namespace ft::engine {

inline constexpr const char* kTrainableFile = "trainable.safetensors";
inline constexpr const char* kOptimizerFile = "optimizer.safetensors";
inline constexpr const char* kTrainerStateFile = "trainer_state.json";
inline constexpr const char* kCheckpointJobFile = "job.toml";

struct TrainerState {
  std::int64_t step = 0;  // optimizer steps done; also the learning-rate schedule's step
  std::int64_t total_steps = 0;
  DataCursor cursor;              // the next training row
  std::uint64_t micro_batch = 0;  // training micro-batches done: keys the adapter's dropout
  // Every random stream (shuffle, dropout) is Philox keyed by the seed and the counters
  // above, so they are the whole RNG state.
  std::uint64_t seed = 0;
  std::int64_t train_rows = 0;  // to notice changed training data on resume
  std::int64_t tokens = 0;      // input tokens trained on so far
  double elapsed_s = 0.0;       // training time so far, over every session
  std::string job_hash;         // job_fingerprint.hpp
};

struct Checkpoint {
  std::int64_t step = 0;
  std::filesystem::path dir;
};

std::filesystem::path checkpoints_dir(const std::filesystem::path& run_dir);

// The complete checkpoints (step-N directories holding trainer_state.json), oldest first.
std::vector<Checkpoint> list_checkpoints(const std::filesystem::path& run_dir);

// Writes checkpoints/step-<state.step> atomically (replacing one of that step).
void write_checkpoint(const std::filesystem::path& run_dir, const TrainerState& state,
                      const std::vector<Parameter>& trainable,
                      const std::vector<Parameter>& optimizer_state, std::string_view job_toml);

// Deletes all but the newest `keep` checkpoints (0 keeps all) and any .tmp-step-* left by
// an interrupted write.
void prune_checkpoints(const std::filesystem::path& run_dir, std::int64_t keep);

// ft::Error naming the file when it is missing or malformed.
TrainerState read_trainer_state(const std::filesystem::path& checkpoint_dir);

// Copies a checkpoint file's tensors into `live` (matched by name): the optimizer and the
// adapter keep using their own tensors. ft::Error naming file and tensor for a tensor that
// is missing, extra, or of another shape or dtype.
void load_checkpoint_tensors(const std::filesystem::path& file, const std::vector<Parameter>& live);

}  // namespace ft::engine
