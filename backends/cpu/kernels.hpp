// The CPU kernels other than GEMM, as free functions on the backend's argument structs.
//
// CpuBackend's virtual functions forward here; each kernel's formula is in
// ftengine/backend.hpp and again on top of its definition. They run OpenMP parallel loops
// with the calling thread's team size (CpuBackend::set_threads sets it).
// The fused kernels the SDK would otherwise compose (backend_defaults.cpp) are here as one
// pass each: masked softmax, RMSNorm, SwiGLU, AdamW, SGD.
//
//   kernels_norm.cpp         embedding, rmsnorm, rope
//   attention.cpp            flash attention forward and backward
//   kernels_elementwise.cpp  swiglu, unary, binary, axpby, bias_add, sum_rows, reduce_rows,
//                            masked_softmax, cast, dropout
//   kernels_loss.cpp         cross-entropy
//   kernels_optim.cpp        AdamW, SGD, reduce
#pragma once

#include <cstdint>

#include "ftengine/backend.hpp"

namespace ft::backends::cpu::kernels {

void embedding_forward(const EmbeddingForwardArgs& args);
void embedding_backward(const EmbeddingBackwardArgs& args);
void rmsnorm_forward(const RmsNormForwardArgs& args);
void rmsnorm_backward(const RmsNormBackwardArgs& args);
void rope(const RopeArgs& args);

void attention_forward(const AttentionForwardArgs& args);
void attention_backward(const AttentionBackwardArgs& args);

void swiglu_forward(const SwigluForwardArgs& args);
void swiglu_backward(const SwigluBackwardArgs& args);
void unary(const UnaryArgs& args);
void binary(const BinaryArgs& args);
void reduce_rows(const ReduceRowsArgs& args);
void masked_softmax(const MaskedSoftmaxArgs& args);
void axpby(const AxpbyArgs& args);
void bias_add(const BiasAddArgs& args);
void sum_rows(const SumRowsArgs& args);
void cast(const CastArgs& args);
void dropout(const DropoutArgs& args);

void cross_entropy_forward(const CrossEntropyForwardArgs& args);
void cross_entropy_backward(const CrossEntropyBackwardArgs& args);

void adamw_step(const AdamWStepArgs& args);
void sgd_step(const SgdStepArgs& args);
void reduce(const ReduceArgs& args);

// Widens n elements of a f32/bf16/f16 array into f32 (a plain copy for f32).
void widen_to_f32(const void* src, DType src_dtype, float* dst, std::int64_t n);

// x[i] = exp(x[i]) through the vector exp the kernels use (for the tests).
void exp_inplace(float* x, std::int64_t n);

}  // namespace ft::backends::cpu::kernels
