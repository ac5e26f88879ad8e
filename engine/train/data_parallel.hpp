// The three places data parallelism will change the trainer (a `comm` plugin, launched as
// `mpirun -np N ftengine run job.toml`). With one process, as today, they are the
// identity, a no-op and "yes"; keeping them as named functions keeps that change here.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/train/flat_parameters.hpp"

namespace ft::engine {

// The rows of an optimizer step this process computes. With N ranks: its 1/N share of
// `step_rows` (and the loss divisor then counts target tokens over every rank's share).
inline std::vector<std::int64_t> rows_for_this_rank(std::vector<std::int64_t> step_rows) {
  return step_rows;
}

// Called between backward and clipping: with N ranks, sums the trainable gradients (one
// flat buffer, one collective) over every rank, so each then clips and steps on the same
// numbers.
inline void all_reduce_gradients(const FlatParameters& /*trainable*/) {}

// Only rank 0 writes checkpoints, metrics and outputs.
inline bool writes_outputs() { return true; }

}  // namespace ft::engine
