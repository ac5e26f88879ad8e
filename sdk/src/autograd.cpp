#include "ftengine/autograd.hpp"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"

namespace ft {

namespace {
thread_local bool t_grad_enabled = true;

// Gradients are added into in place only when nobody else can see the memory: ops
// return views (reshape) and the same tensor for several inputs (add).
bool exclusively_owned(const Tensor& t) {
  return t.impl().use_count() == 1 && t.impl()->storage.use_count() == 1;
}

// Returns into + from (same shape); adopts `from` when there is nothing yet.
Tensor sum_gradients(const Tensor& into, const Tensor& from) {
  if (!into.defined()) return from;
  if (into.shape() != from.shape())
    throw InternalError(fmt::format("gradient shapes disagree: {} vs {}", shape_str(into.shape()),
                                    shape_str(from.shape())));
  Tensor total = exclusively_owned(into) ? into : into.clone();
  AxpbyArgs args;
  args.x = from.f32();
  args.y = total.f32();
  args.n = total.numel();
  args.alpha = 1.0f;
  args.beta = 1.0f;
  total.backend().axpby(args);
  return total;
}

// A leaf's .grad is added into in place by later backward passes (and by ops through
// Node::accumulate_target), so it must own its memory.
void accumulate_into_leaf(TensorImpl& leaf, const Tensor& grad) {
  if (grad.shape() != leaf.shape)
    throw InternalError(fmt::format("gradient of shape {} for a leaf of shape {}",
                                    shape_str(grad.shape()), shape_str(leaf.shape)));
  if (!leaf.grad.defined()) {
    leaf.grad = exclusively_owned(grad) ? grad : grad.clone();
    return;
  }
  AxpbyArgs args;
  args.x = grad.f32();
  args.y = leaf.grad.f32();
  args.n = grad.numel();
  args.alpha = 1.0f;
  args.beta = 1.0f;
  leaf.grad.backend().axpby(args);
}
}  // namespace

Tensor Node::accumulate_target(std::size_t input) const {
  if (input >= inputs.size() || !inputs[input].leaf) return Tensor();
  return inputs[input].leaf->grad;
}

bool grad_enabled() { return t_grad_enabled; }
NoGrad::NoGrad() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGrad::~NoGrad() { t_grad_enabled = previous_; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

Edge edge_to(const Tensor& input) {
  Edge edge;
  if (!input.defined() || !input.requires_grad()) return edge;
  if (input.grad_fn())
    edge.node = input.grad_fn();
  else
    edge.leaf = input.impl();
  return edge;
}

void attach_node(Tensor& output, std::shared_ptr<Node> node) {
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

void run_backward(const Tensor& root, const Tensor& grad) {
  if (!root.requires_grad())
    throw InternalError("backward() on a tensor that does not require a gradient");
  if (grad.shape() != root.shape() || grad.dtype() != DType::f32)
    throw InternalError("backward(): the gradient must be f32 with the root's shape " +
                        shape_str(root.shape()));
  if (!root.grad_fn()) {
    accumulate_into_leaf(*root.impl(), grad.clone());
    return;
  }
  NoGrad no_grad;  // the backward pass itself is not recorded

  // Count, for every node, how many edges lead into it, so a node runs only once all
  // gradients flowing into it have been summed (Kahn's algorithm).
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.grad_fn().get()};
  std::unordered_set<Node*> seen{root.grad_fn().get()};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const Edge& edge : node->inputs) {
      if (!edge.node) continue;
      ++pending[edge.node.get()];
      if (seen.insert(edge.node.get()).second) stack.push_back(edge.node.get());
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = grad;
  // Keep the root's node alive while we run (the caller may hold only a temporary).
  std::vector<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor grad_out = std::move(grads[node.get()]);
    grads.erase(node.get());
    // A node nothing flowed into (its consumers needed no gradient there) still passes
    // "no gradient" on, so the nodes before it get their counts right.
    std::vector<Tensor> input_grads(node->inputs.size());
    if (grad_out.defined()) {
      try {
        input_grads = node->backward(grad_out);
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        throw InternalError(fmt::format("backward of {}: {}", node->name(), e.what()));
      }
      grad_out = Tensor();
    }
    node->release();
    if (input_grads.size() != node->inputs.size())
      throw InternalError(fmt::format("backward of {} returned {} gradients for {} inputs",
                                      node->name(), input_grads.size(), node->inputs.size()));
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      const Edge& edge = node->inputs[i];
      const Tensor& g = input_grads[i];
      if (edge.node) {
        if (g.defined()) grads[edge.node.get()] = sum_gradients(grads[edge.node.get()], g);
        if (--pending[edge.node.get()] == 0) ready.push_back(edge.node);
      } else if (edge.leaf && g.defined()) {
        accumulate_into_leaf(*edge.leaf, g);
      }
    }
  }
}

namespace {

// Backward of a checkpointed block: replay the block with grad on, backprop through it.
class CheckpointNode : public Node {
 public:
  CheckpointNode(CheckpointFn fn, std::vector<Tensor> saved_inputs)
      : fn_(std::move(fn)), saved_inputs_(std::move(saved_inputs)) {}
  std::string_view name() const override { return "checkpoint"; }

  std::vector<Tensor> backward(const Tensor& grad_output) override {
    // Fresh leaves over the same storage, so the replay's gradients land in their .grad.
    std::vector<Tensor> replay_inputs;
    for (std::size_t i = 0; i < saved_inputs_.size(); ++i) {
      Tensor leaf = saved_inputs_[i].detach();
      if (needs_grad(i)) leaf.set_requires_grad(true);
      replay_inputs.push_back(leaf);
    }
    Tensor output;
    {
      GradModeOn on;
      output = fn_(replay_inputs);
    }
    if (output.requires_grad()) run_backward(output, grad_output);
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < replay_inputs.size(); ++i)
      grads.push_back(needs_grad(i) ? replay_inputs[i].grad() : Tensor());
    return grads;
  }
  void release() override { saved_inputs_.clear(); }

 private:
  struct GradModeOn {
    bool previous = t_grad_enabled;
    GradModeOn() { t_grad_enabled = true; }
    ~GradModeOn() { t_grad_enabled = previous; }
  };
  CheckpointFn fn_;
  std::vector<Tensor> saved_inputs_;
};

}  // namespace

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return fn(inputs);
  Tensor output;
  {
    NoGrad no_grad;
    output = fn(inputs);
  }
  // Parameters the block closes over need the replay too, even when no input requires a
  // gradient; so a checkpoint always records its node while grad mode is on.
  auto node = std::make_shared<CheckpointNode>(fn, inputs);
  for (const Tensor& input : inputs) node->inputs.push_back(edge_to(input));
  Tensor result = output.detach();
  attach_node(result, std::move(node));
  return result;
}

}  // namespace ft
