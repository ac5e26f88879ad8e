#include "engine/train/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/train/micro_batch.hpp"
#include "ftengine/autograd.hpp"
#include "ftengine/error.hpp"
#include "ftengine/ops.hpp"

namespace ft::engine {

EvalFigures evaluate_rows(Model& model, Adapter& adapter, const TokenizedRows& rows,
                          std::int64_t batch_size) {
  NoGrad no_grad;
  adapter.set_forward_state({.training = false});
  Backend& backend = model.lm_head().backend();
  const auto count = static_cast<std::int64_t>(rows.rows.size());
  // Each batch's summed loss stays on the device; they are read back together at the end.
  const std::int64_t batches = (count + batch_size - 1) / std::max<std::int64_t>(batch_size, 1);
  const Tensor losses = Tensor::zeros({batches}, DType::f32, backend);
  EvalFigures out;
  for (std::int64_t first = 0; first < count; first += batch_size) {
    std::vector<std::int64_t> indices(
        static_cast<std::size_t>(std::min(batch_size, count - first)));
    std::iota(indices.begin(), indices.end(), first);
    const MicroBatch batch = make_micro_batch(rows.rows, indices, backend);
    if (batch.target_tokens == 0) continue;
    const Tensor hidden = model.forward(batch.input);
    const Tensor loss = ops::cross_entropy(hidden, model.lm_head(), batch.targets,
                                           {.reduction = ops::Reduction::sum});
    backend.copy(losses.f32() + first / batch_size, loss.data(), sizeof(float));
    out.tokens += batch.target_tokens;
  }
  double loss_sum = 0.0;
  for (const float loss : losses.to_vector()) loss_sum += loss;  // in batch order, as before
  if (out.tokens == 0) throw Error("nothing to evaluate: no eval row has a target token");
  out.loss = loss_sum / static_cast<double>(out.tokens);
  out.perplexity = std::exp(out.loss);
  return out;
}

}  // namespace ft::engine
