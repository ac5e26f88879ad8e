#include <string>

#include "ops_common.hpp"

namespace ft::ops {

namespace {
thread_local DType t_gemm_precision = DType::f32;
}  // namespace

DType gemm_precision() { return t_gemm_precision; }

GemmPrecision::GemmPrecision(DType compute) : previous_(t_gemm_precision) {
  if (!is_gemm_precision(compute)) {
    throw Error("GEMM precision must be f32 or bf16, found " + std::string(dtype_name(compute)));
  }
  t_gemm_precision = compute;
}

GemmPrecision::~GemmPrecision() { t_gemm_precision = previous_; }

}  // namespace ft::ops
