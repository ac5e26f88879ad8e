// A GEMM's operands as the bf16 paths copy them (rounded) into packed buffers: each operand
// as stored is `items` matrices of rows x cols (1 item where its batch stride is 0 and one
// matrix serves every batch item), and the product on the copies is the same GemmArgs with
// the packed strides. Shared by the CPU and GPU backends, which fill the copies their way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ftengine/backend.hpp"

namespace ft::backends {

struct PackedOperands {
  std::int64_t items_a = 1, rows_a = 0, cols_a = 0;
  std::int64_t items_b = 1, rows_b = 0, cols_b = 0;
  GemmArgs packed;  // the call's arguments with the packed copies' strides (pointers its own)

  std::size_t count_a() const { return static_cast<std::size_t>(items_a * rows_a * cols_a); }
  std::size_t count_b() const { return static_cast<std::size_t>(items_b * rows_b * cols_b); }
};

// For a call whose items write distinct C (a shared C runs item by item before this).
inline PackedOperands packed_operands(const GemmArgs& args) {
  PackedOperands p;
  const bool batched = args.batch > 1;
  p.items_a = batched && args.stride_a != 0 ? args.batch : 1;
  p.items_b = batched && args.stride_b != 0 ? args.batch : 1;
  p.rows_a = args.trans_a ? args.k : args.m;
  p.cols_a = args.trans_a ? args.m : args.k;
  p.rows_b = args.trans_b ? args.n : args.k;
  p.cols_b = args.trans_b ? args.k : args.n;
  p.packed = args;
  p.packed.stride_a = p.items_a > 1 ? p.rows_a * p.cols_a : 0;
  p.packed.stride_b = p.items_b > 1 ? p.rows_b * p.cols_b : 0;
  return p;
}

}  // namespace ft::backends
