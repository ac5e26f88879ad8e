// Per-parameter step counts, kept on the backend where checkpoints see them.
//
// PyTorch semantics: a parameter's count advances only on steps where it had a gradient
// (AdamW's bias corrections use it, SGD's first momentum step tests it). All counts live in
// one f32 tensor [P]; views() hands out one-element views of it, "step/<parameter name>",
// and resuming copies a checkpoint into those same views. So step() reads the counts from
// the backend at its start and writes them back at its end, one small copy each way, and
// never keeps a host copy that a restore would make stale.
//
// f32 like torch.optim's `step` tensors: whole numbers are exact up to 2^24 (16.7 million
// steps), and read() refuses anything else.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "plugins/optimizers/common/parameters.hpp"

namespace ft::plugins::optimizers {

class StepCounts {
 public:
  StepCounts() = default;
  // All zero.
  StepCounts(std::string_view optimizer, const std::vector<TrainableParameter>& parameters,
             Backend& backend);

  // "step/<parameter name>", f32 [1], live views of the counts.
  const std::vector<Parameter>& views() const { return views_; }
  // The counts as they are now, one per parameter. ft::Error naming the state tensor if one
  // is not a whole number in [0, 2^24) (a damaged or foreign checkpoint).
  std::vector<std::int64_t> read() const;
  void write(const std::vector<std::int64_t>& counts) const;

 private:
  std::string_view optimizer_;
  Tensor counts_;  // [P] f32
  std::vector<Parameter> views_;
};

}  // namespace ft::plugins::optimizers
