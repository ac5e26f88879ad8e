#include "engine/train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ft::engine {

std::int64_t total_steps(const TrainConfig& train, std::int64_t train_rows) {
  if (train.max_steps) return *train.max_steps;
  const double rows_per_step = static_cast<double>(train.batch_size * train.grad_accum);
  const double steps = std::ceil(train.epochs * static_cast<double>(train_rows) / rows_per_step);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(steps));
}

double schedule_factor(const ScheduleConfig& schedule, std::int64_t step,
                       std::int64_t total_steps) {
  const std::int64_t warmup = schedule.warmup_for(total_steps);
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  if (schedule.kind == ScheduleKind::constant) return 1.0;

  // Decay from 1 at the end of warmup to 0 at total_steps, then lifted onto the floor.
  const double progress = static_cast<double>(step - warmup) /
                          static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup));
  const double decay = schedule.kind == ScheduleKind::linear
                           ? std::max(0.0, 1.0 - progress)
                           : std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
  return schedule.min_lr_ratio + (1.0 - schedule.min_lr_ratio) * decay;
}

}  // namespace ft::engine
