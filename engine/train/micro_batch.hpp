// Training rows turned into the tensors of one forward pass.
//
//   MicroBatch mb = make_micro_batch(data.rows, {4, 17, 2, 9}, backend);
//   Tensor hidden = model.forward(mb.input);      // tokens, positions, doc_ids: [B, L]
//   Tensor loss = ops::cross_entropy(hidden, model.lm_head(), mb.targets, {.reduction = sum});
#pragma once

#include <cstdint>
#include <vector>

#include "engine/data/rows.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/model.hpp"

namespace ft::engine {

struct MicroBatch {
  ModelInput input;
  Tensor targets;                  // [B, L] i32, kIgnoreTarget where nothing is predicted
  std::int64_t tokens = 0;         // real (not padding) input tokens
  std::int64_t target_tokens = 0;  // targets that carry loss
};

// The length a micro-batch whose longest row holds `longest` tokens (not padding) is cut to:
// rounded up to a multiple of 8, or of an eighth of the power of two at or below `longest`,
// so that few lengths occur (each is new GEMM shapes to plan), the GEMMs get row counts they
// run well (oneDNN: 4 x 96 rows in less time than 4 x 93) and little is computed past the
// tokens (at most 7 slots, or 1/8 from 128 tokens on); never past `seq_len`.
std::int64_t trimmed_length(std::int64_t longest, std::int64_t seq_len);

// Rows `indices` of `rows`, in that order.
MicroBatch make_micro_batch(const std::vector<TokenRow>& rows,
                            const std::vector<std::int64_t>& indices, Backend& backend);

// A step's micro-batches of `batch_size` rows each, from `indices` in order, uploaded in one
// copy (each micro-batch's tensors are views of it), so a step's host-to-device traffic
// does not grow with grad_accum. Each micro-batch is cut to trimmed_length() of its longest
// row: the slots past it are padding (doc id -1, no target), which attends to nothing and
// nothing attends to, so the loss and gradients are those of the padded batch with none of
// its work.
std::vector<MicroBatch> make_micro_batches(const std::vector<TokenRow>& rows,
                                           const std::vector<std::int64_t>& indices,
                                           std::size_t batch_size, Backend& backend);

}  // namespace ft::engine
