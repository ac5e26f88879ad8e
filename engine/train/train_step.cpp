#include "engine/train/train_step.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/train/data_parallel.hpp"
#include "engine/train/gradients.hpp"
#include "engine/train/micro_batch.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

TrainingDiverged::~TrainingDiverged() = default;

StepOutcome train_step(TrainingSetup& setup, const Job& job, const std::vector<TokenRow>& rows,
                       const std::vector<std::int64_t>& step_rows, std::int64_t step, double lr,
                       std::uint64_t& micro_batch) {
  Backend& be = *setup.backend;
  const std::vector<std::int64_t> mine = rows_for_this_rank(step_rows);
  const std::vector<MicroBatch> batches =
      make_micro_batches(rows, mine, static_cast<std::size_t>(job.train.batch_size), be);
  StepOutcome out;
  for (const MicroBatch& batch : batches) out.target_tokens += batch.target_tokens;
  const float loss_scale = 1.0f / static_cast<float>(std::max<std::int64_t>(1, out.target_tokens));

  setup.flat.zero_grads();
  const auto micro_batches = static_cast<std::int64_t>(batches.size());
  // The step's numbers stay on the device until they are read back together, once:
  // [0, 2): the gradients' squared norm (a double), then each micro-batch's summed loss (f32).
  const Tensor numbers = Tensor::zeros({2 + micro_batches}, DType::f32, be);
  auto* device_squared_norm = static_cast<double*>(numbers.data());
  // d(step loss)/d(micro-batch loss): every micro-batch's sum is divided by the step's
  // target tokens.
  const Tensor seed = Tensor::from_vector({loss_scale}, {}, be);
  for (std::int64_t m = 0; m < micro_batches; ++m) {
    const MicroBatch& batch = batches[static_cast<std::size_t>(m)];
    setup.adapter->set_forward_state({.training = true,
                                      .seed = static_cast<std::uint64_t>(job.train.seed),
                                      .micro_batch = micro_batch++});
    const Tensor hidden = setup.model->forward(batch.input);
    const Tensor loss = ops::cross_entropy(hidden, setup.model->lm_head(), batch.targets,
                                           {.reduction = ops::Reduction::sum});
    be.copy(numbers.f32() + 2 + m, loss.data(), sizeof(float));
    loss.backward(seed);
    out.tokens += batch.tokens;
  }
  all_reduce_gradients(setup.flat);
  measure_gradients(setup.flat, device_squared_norm);

  std::vector<float> host(static_cast<std::size_t>(2 + micro_batches));
  numbers.copy_to_host(host.data());
  double squared_norm = 0.0;
  std::memcpy(&squared_norm, host.data(), sizeof(squared_norm));
  double loss_sum = 0.0;
  for (std::int64_t m = 0; m < micro_batches; ++m) {
    const double value = host[static_cast<std::size_t>(2 + m)];
    if (!std::isfinite(value)) {
      setup.flat.zero_grads();
      throw TrainingDiverged(fmt::format("step {}: the loss is {} (micro-batch {} of {})", step,
                                         value, m + 1, micro_batches));
    }
    loss_sum += value;
  }
  out.loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, out.target_tokens));

  out.grad_norm = std::sqrt(squared_norm);
  if (!std::isfinite(out.grad_norm)) {
    const Parameter* bad = first_nonfinite_gradient(setup.trainable, be);
    const std::string what =
        bad ? fmt::format(
                  "the gradient of {} holds NaN or Inf (the first such tensor, in "
                  "parameter order)",
                  bad->name)
            : fmt::format(
                  "the gradient norm overflowed to {} (every gradient is finite, but "
                  "their squares are not)",
                  out.grad_norm);
    setup.flat.zero_grads();
    throw TrainingDiverged(fmt::format("step {}: {}; the loss was {}", step, what, out.loss));
  }
  clip_gradients(setup.flat, clip_coefficient(job.train.grad_clip, out.grad_norm));
  setup.optimizer->step(static_cast<float>(lr));
  return out;
}

}  // namespace ft::engine
