#include "engine/train/train_step.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/train/data_parallel.hpp"
#include "engine/train/gradients.hpp"
#include "engine/train/micro_batch.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

TrainingDiverged::~TrainingDiverged() = default;

namespace {

void drop_gradients(const std::vector<Parameter>& parameters) {
  for (const Parameter& p : parameters) p.tensor.zero_grad();
}

}  // namespace

StepOutcome train_step(TrainingSetup& setup, const Job& job, const std::vector<TokenRow>& rows,
                       const std::vector<std::int64_t>& step_rows, std::int64_t step, double lr,
                       std::uint64_t& micro_batch) {
  const std::vector<std::int64_t> mine = rows_for_this_rank(step_rows);
  const auto batch_size = static_cast<std::size_t>(job.train.batch_size);
  StepOutcome out;
  out.target_tokens = count_target_tokens(rows, mine);
  const float loss_scale = 1.0f / static_cast<float>(std::max<std::int64_t>(1, out.target_tokens));

  drop_gradients(setup.trainable);
  double loss_sum = 0.0;
  const std::size_t micro_batches = mine.size() / batch_size;
  for (std::size_t m = 0; m < micro_batches; ++m) {
    const std::vector<std::int64_t> indices(
        mine.begin() + static_cast<std::ptrdiff_t>(m * batch_size),
        mine.begin() + static_cast<std::ptrdiff_t>((m + 1) * batch_size));
    const MicroBatch batch = make_micro_batch(rows, indices, *setup.backend);
    setup.adapter->set_forward_state({.training = true,
                                      .seed = static_cast<std::uint64_t>(job.train.seed),
                                      .micro_batch = micro_batch++});
    const Tensor hidden = setup.model->forward(batch.input);
    const Tensor loss = ops::cross_entropy(hidden, setup.model->lm_head(), batch.targets,
                                           {.reduction = ops::Reduction::sum});
    const double value = loss.item();
    if (!std::isfinite(value)) {
      drop_gradients(setup.trainable);
      throw TrainingDiverged(fmt::format("step {}: the loss is {} (micro-batch {} of {})", step,
                                         value, m + 1, micro_batches));
    }
    ops::scale(loss, loss_scale).backward();
    loss_sum += value;
    out.tokens += batch.tokens;
  }
  out.loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, out.target_tokens));

  all_reduce_gradients(setup.trainable);
  out.grad_norm = global_grad_norm(setup.trainable, *setup.backend);
  if (!std::isfinite(out.grad_norm)) {
    const Parameter* bad = first_nonfinite_gradient(setup.trainable, *setup.backend);
    const std::string what =
        bad ? fmt::format(
                  "the gradient of {} holds NaN or Inf (the first such tensor, in "
                  "parameter order)",
                  bad->name)
            : fmt::format(
                  "the gradient norm overflowed to {} (every gradient is finite, but "
                  "their squares are not)",
                  out.grad_norm);
    drop_gradients(setup.trainable);
    throw TrainingDiverged(fmt::format("step {}: {}; the loss was {}", step, what, out.loss));
  }
  clip_gradients(setup.trainable, job.train.grad_clip, out.grad_norm);
  setup.optimizer->step(static_cast<float>(lr));
  drop_gradients(setup.trainable);  // frees them for evaluation; the next step starts afresh
  return out;
}

}  // namespace ft::engine
