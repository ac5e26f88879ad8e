// How long a run is, and the learning rate at each of its optimizer steps.
//
//   const std::int64_t total = total_steps(job.train, rows.size());
//   const double lr = learning_rate(job.schedule, job.optimizer.lr, step, total);
//
// The shapes are Hugging Face's get_constant/linear/cosine_schedule_with_warmup, with the
// floor of get_cosine_with_min_lr_schedule_with_warmup: linear warmup from 0 to the peak,
// then constant, or a linear or half-cosine decay from the peak to peak × min_lr_ratio.
// `step` counts the optimizer steps already taken, as HF's LambdaLR sees it: the first
// update uses step 0 (lr 0 when there is warmup), warmup ends at step w, and the decay
// reaches its floor at step total_steps, just after the last update.
#pragma once

#include <cstdint>

#include "engine/config/job.hpp"

namespace ft::engine {

// train.max_steps when set; otherwise enough steps of batch_size × grad_accum rows to
// visit epochs × rows rows, rounded up (the last step may run into the next epoch), at
// least 1.
std::int64_t total_steps(const TrainConfig& train, std::int64_t train_rows);

// The multiplier of the peak learning rate at `step` (0 <= step <= total_steps).
double schedule_factor(const ScheduleConfig& schedule, std::int64_t step, std::int64_t total_steps);

inline double learning_rate(const ScheduleConfig& schedule, double peak_lr, std::int64_t step,
                            std::int64_t total_steps) {
  return peak_lr * schedule_factor(schedule, step, total_steps);
}

}  // namespace ft::engine
