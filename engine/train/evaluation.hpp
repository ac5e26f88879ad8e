// The eval loss of a run: mean next-token cross-entropy over rows, and its perplexity,
// with the adapter in inference mode (no dropout) and no gradients recorded.
//
//   EvalFigures e = evaluate_rows(model, adapter, *data.eval, job.train.batch_size);
#pragma once

#include <cstdint>

#include "engine/data/rows.hpp"
#include "ftengine/adapter.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

struct EvalFigures {
  double loss = 0.0;        // nats per predicted token
  double perplexity = 0.0;  // exp(loss)
  std::int64_t tokens = 0;  // predicted tokens
};

// Rows in stream order, batch_size at a time. ft::Error when no row predicts anything.
EvalFigures evaluate_rows(Model& model, Adapter& adapter, const TokenizedRows& rows,
                          std::int64_t batch_size);

}  // namespace ft::engine
