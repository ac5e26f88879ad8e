#include "engine/train/flat_parameters.hpp"

#include <fmt/format.h>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace {
// Each slice starts on a 64-byte boundary, so kernels over one parameter see aligned rows.
constexpr std::int64_t kAlignFloats = 16;
}  // namespace

FlatParameters::FlatParameters(const std::vector<Parameter>& parameters, Backend& backend)
    : parameters_(parameters) {
  std::int64_t total = 0;
  for (const Parameter& p : parameters_) {
    const TensorImpl& impl = *p.tensor.impl();
    if (p.tensor.dtype() != DType::f32 || !p.tensor.is_leaf())
      throw InternalError(fmt::format("trainable parameter '{}' must be an f32 leaf, found {}",
                                      p.name, dtype_name(p.tensor.dtype())));
    if (impl.storage.use_count() != 1)
      throw InternalError(fmt::format(
          "trainable parameter '{}' shares its storage with another tensor (a view kept "
          "elsewhere); it cannot move into the flat parameter buffer",
          p.name));
    offsets_.push_back(total);
    total += (p.tensor.numel() + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  }
  values_ = Tensor::zeros({total}, DType::f32, backend);
  grads_ = Tensor::zeros({total}, DType::f32, backend);
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i].tensor;
    const Tensor slice = values_.view(offsets_[i], p.shape());
    if (p.nbytes()) backend.copy(slice.data(), p.data(), p.nbytes());
    TensorImpl& impl = *p.impl();
    impl.storage = slice.impl()->storage;
    impl.offset_bytes = slice.impl()->offset_bytes;
  }
  zero_grads();
}

void FlatParameters::zero_grads() const {
  if (!grads_.defined()) return;
  grads_.backend().fill_zero(grads_.data(), grads_.nbytes());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i].tensor;
    const Tensor& grad = p.grad();
    const bool is_view = grad.defined() && grad.impl()->storage == grads_.impl()->storage;
    if (!is_view) p.set_grad(grads_.view(offsets_[i], p.shape()));
  }
}

}  // namespace ft::engine
