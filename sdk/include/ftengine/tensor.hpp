// ft::Tensor: an n-dimensional array in memory owned by a backend.
//
// A Tensor is a cheap handle (shared_ptr) to a TensorImpl: storage, byte offset, shape,
// dtype, and the autograd fields (requires_grad, grad, grad_fn) as in PyTorch. Tensors
// are always row-major and contiguous; reshape() shares storage. Data reaches the host
// only through explicit copies (to_vector, copy_to_host), because storage may live on a
// GPU.
//
//   ft::Tensor w = ft::Tensor::from_vector({1, 2, 3, 4}, {2, 2}, backend);
//   w.set_requires_grad(true);
//   ft::Tensor y = ft::ops::linear(x, w);
//   loss.backward();  // w.grad() now holds dloss/dw
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ftengine/dtype.hpp"

namespace ft {

class Backend;
class Node;
struct TensorImpl;

using Shape = std::vector<std::int64_t>;
std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

// A block of backend memory, freed through its backend when the last tensor lets go.
//
// External storage is memory the backend did not allocate but can use as its own (a
// host-accessible backend reading a memory-mapped file): `keep_alive` owns whatever keeps
// it valid (the mapping) and is released with the Storage; the backend never frees it.
class Storage {
 public:
  Storage(Backend& backend, std::size_t bytes);
  Storage(Backend& backend, void* data, std::size_t bytes, std::shared_ptr<const void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  // Gives the memory back now (external memory on the host: its pages, to the OS); data()
  // is null from then on. For what is no longer read, such as QLoRA's f32 base weights.
  void release();
  bool released() const { return released_; }
  Backend& backend() const { return *backend_; }
  bool external() const { return external_; }

 private:
  Backend* backend_;
  void* data_;
  std::size_t bytes_;
  bool external_ = false;
  bool released_ = false;
  std::shared_ptr<const void> keep_alive_;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  static Tensor empty(const Shape& shape, DType dtype, Backend& backend);
  static Tensor zeros(const Shape& shape, DType dtype, Backend& backend);
  // Copies host bytes laid out as `dtype`.
  static Tensor from_host(const void* data, const Shape& shape, DType dtype, Backend& backend);
  // f32 values, stored as `dtype` (narrowing rounds to nearest even).
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Backend& backend,
                            DType dtype = DType::f32);
  static Tensor from_ints(const std::vector<std::int32_t>& values, const Shape& shape,
                          Backend& backend);
  // Zero-copy: a tensor over `data`, memory the backend can address directly (only when
  // backend.host_accessible(); throws otherwise). `keep_alive` keeps it valid as long as
  // the tensor, or any view of it, lives. The memory must be writable (copy-on-write
  // mappings are): optimizers update weights in place.
  static Tensor from_external(void* data, const Shape& shape, DType dtype, Backend& backend,
                              std::shared_ptr<const void> keep_alive);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  std::int64_t dim(int axis) const;  // negative axis counts from the end
  int ndim() const;
  std::int64_t numel() const;
  DType dtype() const;
  std::size_t nbytes() const;
  Backend& backend() const;

  void* data() const;
  float* f32() const;         // throws unless dtype is f32
  std::int32_t* i32() const;  // throws unless dtype is i32

  void copy_to_host(void* dst) const;  // nbytes() bytes
  void copy_from_host(const void* src) const;
  std::vector<float> to_vector() const;       // f32/bf16/f16 widened to f32
  std::vector<std::int32_t> to_ints() const;  // i32 only
  float item() const;                         // the single value of a one-element tensor

  // Autograd (see autograd.hpp).
  bool requires_grad() const;
  // Marks a leaf as a parameter to differentiate. Only floating-point leaves.
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops the gradient (the next backward starts it afresh)
  const std::shared_ptr<Node>& grad_fn() const;
  // Runs backpropagation from this tensor. A one-element tensor may omit `grad` (1.0).
  void backward(const Tensor& grad = Tensor()) const;
  // Same storage, no history: a new leaf.
  Tensor detach() const;
  // A copy in new storage, no history.
  Tensor clone() const;
  // `shape` over this tensor's storage, `offset` elements in, no history: a parameter's
  // slice of a flat buffer, a micro-batch's slice of a step's upload.
  Tensor view(std::int64_t offset, const Shape& shape) const;
  // Frees the memory behind this tensor, and so behind every tensor sharing its storage,
  // keeping shape and dtype: QLoRA drops a base weight it now holds in 4 bits. A later
  // data() is an ft::InternalError.
  void release_data() const;

  const std::string& name() const;
  Tensor& set_name(std::string name);

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  bool same_as(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::size_t offset_bytes = 0;
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::string name;
};

}  // namespace ft
