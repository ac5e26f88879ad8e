// One optimizer step: grad_accum micro-batches of batch_size rows,
// forward and backward each, every micro-batch's summed loss divided by the target tokens
// of the whole step (so grad_accum = k computes what batch_size × k does, up to float
// rounding), gradients all-reduced across ranks (data_parallel.hpp), their global norm
// measured and clipped, and the optimizer stepped.
//
//   StepOutcome out = train_step(setup, job, data.train.rows, sampler.take(rows_per_step),
//                                step, lr, micro_batch);
#pragma once

#include <cstdint>
#include <vector>

#include "engine/config/job.hpp"
#include "engine/data/rows.hpp"
#include "engine/train/setup.hpp"
#include "ftengine/error.hpp"

namespace ft::engine {

struct StepOutcome {
  double loss = 0.0;               // mean cross-entropy per target token over the step
  double grad_norm = 0.0;          // global norm before clipping
  std::int64_t tokens = 0;         // real input tokens
  std::int64_t target_tokens = 0;  // tokens the loss was taken over
};

// A NaN or Inf loss or gradient. The weights and optimizer state are as they were before
// the step (nothing was updated), and the message names the step and what went wrong.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
  ~TrainingDiverged() override;
};

// `step` is the step's number, from 1, for messages; `micro_batch` counts training
// micro-batches over the run (it keys the adapter's dropout) and is advanced here.
StepOutcome train_step(TrainingSetup& setup, const Job& job, const std::vector<TokenRow>& rows,
                       const std::vector<std::int64_t>& step_rows, std::int64_t step, double lr,
                       std::uint64_t& micro_batch);

}  // namespace ft::engine
