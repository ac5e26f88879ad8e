// The learning-rate schedule against values computed by hand from Hugging Face's formulas
// (get_cosine_schedule_with_warmup and friends, with a floor), and the run's length.
#include "engine/train/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace ft::engine {
namespace {

ScheduleConfig schedule(ScheduleKind kind, std::int64_t warmup, double floor = 0.0) {
  ScheduleConfig s;
  s.kind = kind;
  s.warmup_steps = warmup;
  s.min_lr_ratio = floor;
  return s;
}

TEST(Schedule, CosineWithWarmupMatchesHuggingFace) {
  // total 10, warmup 2: steps 0, 1 warm up; then 0.5 (1 + cos(pi (s - 2) / 8)).
  const ScheduleConfig s = schedule(ScheduleKind::cosine, 2);
  const double expected[] = {0.0, 0.5,      1.0,      0.961940, 0.853553, 0.691342,
                             0.5, 0.308658, 0.146447, 0.038060, 0.0};
  for (int step = 0; step <= 10; ++step)
    EXPECT_NEAR(learning_rate(s, 1e-3, step, 10), 1e-3 * expected[step], 1e-9) << step;
}

TEST(Schedule, CosineFloorLiftsTheDecay) {
  // min_lr_ratio 0.1: 0.1 + 0.9 * 0.5 (1 + cos(pi p)).
  const ScheduleConfig s = schedule(ScheduleKind::cosine, 0, 0.1);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 0, 4), 1.0);
  EXPECT_NEAR(schedule_factor(s, 1, 4), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4)),
              1e-12);
  EXPECT_NEAR(schedule_factor(s, 2, 4), 0.55, 1e-12);
  EXPECT_NEAR(schedule_factor(s, 4, 4), 0.1, 1e-12);
}

TEST(Schedule, LinearDecaysToItsFloor) {
  const ScheduleConfig s = schedule(ScheduleKind::linear, 1, 0.2);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 0, 5), 0.0);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 1, 5), 1.0);
  EXPECT_NEAR(schedule_factor(s, 3, 5), 0.2 + 0.8 * 0.5, 1e-12);  // (5 - 3) / (5 - 1)
  EXPECT_NEAR(schedule_factor(s, 5, 5), 0.2, 1e-12);
}

TEST(Schedule, ConstantHoldsAfterWarmupAndIgnoresTheFloor) {
  const ScheduleConfig s = schedule(ScheduleKind::constant, 4, 0.5);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 1, 100), 0.25);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 4, 100), 1.0);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 99, 100), 1.0);
}

TEST(Schedule, WarmupRatioIsAFractionOfTheRun) {
  ScheduleConfig s = schedule(ScheduleKind::linear, 0);
  s.warmup_ratio = 0.25;  // 2 of 8 steps
  EXPECT_DOUBLE_EQ(schedule_factor(s, 1, 8), 0.5);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 2, 8), 1.0);
  EXPECT_DOUBLE_EQ(schedule_factor(s, 5, 8), 0.5);
}

TEST(Schedule, NoWarmupStartsAtThePeak) {
  EXPECT_DOUBLE_EQ(learning_rate(schedule(ScheduleKind::cosine, 0), 2e-4, 0, 50), 2e-4);
}

TEST(TotalSteps, MaxStepsWinsOverEpochs) {
  TrainConfig t;
  t.batch_size = 4;
  t.grad_accum = 2;
  t.epochs = 3;
  t.max_steps = 7;
  EXPECT_EQ(total_steps(t, 1000), 7);
}

TEST(TotalSteps, EpochsRoundUpToWholeSteps) {
  TrainConfig t;
  t.batch_size = 4;
  t.grad_accum = 2;  // 8 rows a step
  t.epochs = 1;
  EXPECT_EQ(total_steps(t, 80), 10);
  EXPECT_EQ(total_steps(t, 81), 11);
  t.epochs = 0.5;
  EXPECT_EQ(total_steps(t, 80), 5);
  t.epochs = 0.001;
  EXPECT_EQ(total_steps(t, 80), 1);  // at least one
}

}  // namespace
}  // namespace ft::engine
