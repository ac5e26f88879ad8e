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
  double loss_sum = 0.0;
  EvalFigures out;
  for (std::int64_t first = 0; first < count; first += batch_size) {
    std::vector<std::int64_t> indices(
        static_cast<std::size_t>(std::min(batch_size, count - first)));
    std::iota(indices.begin(), indices.end(), first);
    const MicroBatch batch = make_micro_batch(rows.rows, indices, backend);
    if (batch.target_tokens == 0) continue;
    const Tensor hidden = model.forward(batch.input);
    loss_sum += ops::cross_entropy(hidden, model.lm_head(), batch.targets,
                                   {.reduction = ops::Reduction::sum})
                    .item();
    out.tokens += batch.target_tokens;
  }
  if (out.tokens == 0) throw Error("nothing to evaluate: no eval row has a target token");
  out.loss = loss_sum / static_cast<double>(out.tokens);
  out.perplexity = std::exp(out.loss);
  return out;
}

}  // namespace ft::engine
