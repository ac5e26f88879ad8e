#include "ftengine/tensor.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "ftengine/autograd.hpp"
#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"

namespace ft {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Storage::Storage(Backend& backend, std::size_t bytes)
    : backend_(&backend), data_(bytes ? backend.allocate(bytes) : nullptr), bytes_(bytes) {}

Storage::Storage(Backend& backend, void* data, std::size_t bytes,
                 std::shared_ptr<const void> keep_alive)
    : backend_(&backend),
      data_(data),
      bytes_(bytes),
      external_(true),
      keep_alive_(std::move(keep_alive)) {}

void Storage::release() {
  if (released_) return;
  if (data_ && !external_) {
    backend_->deallocate(data_, bytes_);
  } else if (data_ && backend_->host_accessible() && bytes_ > 0) {
    // A view of a mapped file: drop its whole pages from memory (they are re-read from the
    // file if ever touched, which nothing does once data() is null).
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(data_);
    const std::uintptr_t first = (begin + page - 1) / page * page;
    const std::uintptr_t last = (begin + bytes_) / page * page;
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }
  data_ = nullptr;
  released_ = true;
}

Storage::~Storage() {
  if (data_ && !external_) backend_->deallocate(data_, bytes_);
}

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw InternalError("use of an undefined ft::Tensor");
  return *impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Backend& backend) {
  for (std::int64_t d : shape)
    if (d < 0) throw Error("cannot create a tensor of shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(backend, shape_numel(shape) * dtype_size(dtype));
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Backend& backend) {
  Tensor t = empty(shape, dtype, backend);
  if (t.nbytes()) backend.fill_zero(t.data(), t.nbytes());
  return t;
}

Tensor Tensor::from_host(const void* data, const Shape& shape, DType dtype, Backend& backend) {
  Tensor t = empty(shape, dtype, backend);
  t.copy_from_host(data);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Backend& backend,
                           DType dtype) {
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
    throw Error(fmt::format("from_vector: {} values do not fill shape {}", values.size(),
                            shape_str(shape)));
  if (dtype == DType::f32) return from_host(values.data(), shape, dtype, backend);
  std::vector<std::uint16_t> narrow(values.size());
  if (dtype == DType::bf16) {
    for (std::size_t i = 0; i < values.size(); ++i) narrow[i] = f32_to_bf16(values[i]);
  } else if (dtype == DType::f16) {
    for (std::size_t i = 0; i < values.size(); ++i) narrow[i] = f32_to_f16(values[i]);
  } else {
    throw Error("from_vector: dtype must be f32, bf16 or f16, not " +
                std::string(dtype_name(dtype)));
  }
  return from_host(narrow.data(), shape, dtype, backend);
}

Tensor Tensor::from_ints(const std::vector<std::int32_t>& values, const Shape& shape,
                         Backend& backend) {
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
    throw Error(
        fmt::format("from_ints: {} values do not fill shape {}", values.size(), shape_str(shape)));
  return from_host(values.data(), shape, DType::i32, backend);
}

Tensor Tensor::from_external(void* data, const Shape& shape, DType dtype, Backend& backend,
                             std::shared_ptr<const void> keep_alive) {
  for (std::int64_t d : shape)
    if (d < 0) throw Error("cannot create a tensor of shape " + shape_str(shape));
  if (!backend.host_accessible())
    throw InternalError("from_external: backend " + backend.name() +
                        " cannot address host memory; copy with from_host instead");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(backend, data, shape_numel(shape) * dtype_size(dtype),
                                            std::move(keep_alive));
  return Tensor(std::move(impl));
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
int Tensor::ndim() const { return static_cast<int>(shape().size()); }
std::int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
std::size_t Tensor::nbytes() const { return numel() * dtype_size(dtype()); }
Backend& Tensor::backend() const { return checked(impl_).storage->backend(); }

std::int64_t Tensor::dim(int axis) const {
  const int n = ndim();
  const int a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n)
    throw InternalError(fmt::format("axis {} out of range for shape {}", axis, shape_str(shape())));
  return shape()[a];
}

void* Tensor::data() const {
  const TensorImpl& impl = checked(impl_);
  if (impl.storage->released())
    throw InternalError(fmt::format("tensor {} {}: its data was released (release_data)", impl.name,
                                    shape_str(impl.shape)));
  return static_cast<char*>(impl.storage->data()) + impl.offset_bytes;
}

float* Tensor::f32() const {
  if (dtype() != DType::f32)
    throw InternalError("expected an f32 tensor, found " + std::string(dtype_name(dtype())));
  return static_cast<float*>(data());
}

std::int32_t* Tensor::i32() const {
  if (dtype() != DType::i32)
    throw InternalError("expected an i32 tensor, found " + std::string(dtype_name(dtype())));
  return static_cast<std::int32_t*>(data());
}

void Tensor::copy_to_host(void* dst) const {
  if (nbytes()) backend().copy_to_host(dst, data(), nbytes());
}
void Tensor::copy_from_host(const void* src) const {
  if (nbytes()) backend().copy_from_host(data(), src, nbytes());
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(numel());
  if (dtype() == DType::f32) {
    copy_to_host(out.data());
    return out;
  }
  std::vector<std::uint16_t> narrow(numel());
  if (dtype() == DType::bf16) {
    copy_to_host(narrow.data());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(narrow[i]);
  } else if (dtype() == DType::f16) {
    copy_to_host(narrow.data());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = f16_to_f32(narrow[i]);
  } else {
    throw InternalError("to_vector: not a floating-point tensor (" +
                        std::string(dtype_name(dtype())) + ")");
  }
  return out;
}

std::vector<std::int32_t> Tensor::to_ints() const {
  std::vector<std::int32_t> out(numel());
  i32();  // checks the dtype
  copy_to_host(out.data());
  return out;
}

float Tensor::item() const {
  if (numel() != 1) throw InternalError("item() of a tensor with shape " + shape_str(shape()));
  return to_vector()[0];
}

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  TensorImpl& impl = const_cast<TensorImpl&>(checked(impl_));
  if (impl.grad_fn)
    throw InternalError("set_requires_grad on a tensor computed by an op: call it on leaves");
  if (requires_grad && !is_floating(impl.dtype))
    throw InternalError("only floating-point tensors can require gradients");
  impl.requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
Tensor Tensor::grad() const { return checked(impl_).grad; }
void Tensor::set_grad(const Tensor& grad) const { impl_->grad = grad; }
void Tensor::zero_grad() const { impl_->grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }

void Tensor::backward(const Tensor& grad) const {
  if (grad.defined()) {
    run_backward(*this, grad);
    return;
  }
  if (numel() != 1)
    throw InternalError("backward() without a gradient needs a one-element tensor, not " +
                        shape_str(shape()));
  run_backward(*this, Tensor::from_vector({1.0f}, shape(), backend()));
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  const TensorImpl& self = checked(impl_);
  impl->storage = self.storage;
  impl->offset_bytes = self.offset_bytes;
  impl->shape = self.shape;
  impl->dtype = self.dtype;
  impl->name = self.name;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(std::int64_t offset, const Shape& shape) const {
  const TensorImpl& self = checked(impl_);
  const std::int64_t n = shape_numel(shape);
  if (offset < 0 || n < 0 || offset + n > numel())
    throw InternalError(
        fmt::format("view of {} elements at {} of a tensor of {}", n, offset, numel()));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = self.storage;
  impl->offset_bytes =
      self.offset_bytes + static_cast<std::size_t>(offset) * dtype_size(self.dtype);
  impl->shape = shape;
  impl->dtype = self.dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const {
  Tensor copy = empty(shape(), dtype(), backend());
  if (nbytes()) backend().copy(copy.data(), data(), nbytes());
  copy.impl_->name = name();
  return copy;
}

const std::string& Tensor::name() const { return checked(impl_).name; }
Tensor& Tensor::set_name(std::string name) {
  const_cast<TensorImpl&>(checked(impl_)).name = std::move(name);
  return *this;
}

void Tensor::release_data() const { checked(impl_).storage->release(); }

}  // namespace ft
