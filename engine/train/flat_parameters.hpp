// The trainable parameters in one f32 buffer and their gradients in another, each parameter
// a view of its slice of both (same offset, same shape). Whatever holds a parameter (the
// model, the adapter, the optimizer) keeps its handle: gathering re-points the tensor's
// storage, it does not replace the tensor.
//
// So the step's work over all gradients is one call each, whatever the number of
// parameters: zeroing, the squared norm, the non-finite count, clipping, and (with data
// parallelism) the all-reduce over one buffer. Gradients accumulate into the views in place
// (autograd adds into a leaf's .grad), and stay allocated between steps, as in DDP's and
// FSDP's flat buffers: every trainable parameter has a gradient each step (zero where
// nothing flowed).
//
//   FlatParameters flat(setup.trainable, backend);
//   flat.zero_grads();  ...backward...;  reduce over flat.grads()
#pragma once

#include <cstdint>
#include <vector>

#include "ftengine/backend.hpp"
#include "ftengine/module.hpp"
#include "ftengine/tensor.hpp"

namespace ft::engine {

class FlatParameters {
 public:
  FlatParameters() = default;
  // ft::InternalError for a parameter that is not an f32 leaf, or whose storage another
  // tensor shares (a view kept elsewhere would go on reading the old memory).
  FlatParameters(const std::vector<Parameter>& parameters, Backend& backend);

  const Tensor& values() const { return values_; }  // [numel()]
  const Tensor& grads() const { return grads_; }    // [numel()]
  std::int64_t numel() const { return values_.defined() ? values_.numel() : 0; }

  // Gradients to zero (one fill), each parameter's .grad its view again.
  void zero_grads() const;

 private:
  std::vector<Parameter> parameters_;
  std::vector<std::int64_t> offsets_;
  Tensor values_, grads_;
};

}  // namespace ft::engine
