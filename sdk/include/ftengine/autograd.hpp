// Reverse-mode automatic differentiation on ft::Tensor.
//
// Each differentiable op that sees an input requiring a gradient (while grad mode is on)
// records a Node: its vector-Jacobian product and the edges to where its inputs came from
// (another Node, or a leaf tensor whose .grad collects the result). Tensor::backward()
// runs the nodes in reverse topological order, summing gradients that meet at a tensor
// used more than once, and frees each node's saved tensors once it has run.
//
// Work nobody needs is pruned: an input with no requires_grad and no history (a frozen
// weight, token ids) has an empty edge, and ops skip its gradient entirely (for linear,
// the weight-gradient GEMM).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "ftengine/tensor.hpp"

namespace ft {

// Where an input's gradient goes: into `node` (an op output) or into `leaf->grad`.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool needs_grad() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  virtual ~Node();
  virtual std::string_view name() const = 0;
  // One gradient per input edge, in order; an undefined Tensor where the edge needs none,
  // or where the node accumulated straight into the leaf's existing .grad itself
  // (see accumulate_target()).
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Drops saved tensors; called once backward has run.
  virtual void release() {}

  bool needs_grad(std::size_t input) const {
    return input < inputs.size() && inputs[input].needs_grad();
  }
  // The leaf gradient a node may add into in place (`+=` inside its kernel, e.g. the
  // GEMM's sum post-op), or an undefined Tensor when the input is not a leaf or has no
  // gradient yet.
  Tensor accumulate_target(std::size_t input) const;

  std::vector<Edge> inputs;
};

// Grad mode (thread-local): when off, ops record nothing.
bool grad_enabled();
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// True when an op with these inputs must record a Node.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
Edge edge_to(const Tensor& input);
// Makes `output` the result of `node` (sets grad_fn and requires_grad).
void attach_node(Tensor& output, std::shared_ptr<Node> node);

// Backpropagates `grad` (same shape as `root`) from root through its history.
void run_backward(const Tensor& root, const Tensor& grad);

// Runs fn(inputs) without keeping its intermediate activations; during backward, runs it
// again with grad on and backpropagates through that copy. fn must be deterministic
// (dropout keyed by explicit seeds is). Parameters fn reads from its closure receive
// their gradients as usual.
using CheckpointFn = std::function<Tensor(const std::vector<Tensor>&)>;
Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs);

}  // namespace ft
