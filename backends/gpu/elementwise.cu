// The elementwise ops, a thread per element (or per column for sum_rows):
//   binary:   out[i] = a[i] (+ - * /) b[j(i)], b broadcast along rows or columns
//             (ft::BinaryArgs)
//   axpby:    y[i] = alpha x[i] + beta y[i]; beta = 0 ignores y, even NaN (ft::AxpbyArgs)
//   bias_add: x[r, c] += bias[c], bias f32/bf16/f16                      (ft::BiasAddArgs)
//   sum_rows: out[c] (+)= sum_r x[r, c], the bias gradient              (ft::SumRowsArgs)
// sum_rows sums each column's rows in order in one thread, not with atomics, so the bias
// gradient repeats bit for bit.
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

// broadcast 0: b[i];  1 (row): b[i % b_n];  2 (column): b[i / (n / b_n)]
__global__ void binary_kernel(const float* a, const float* b, float* out, std::int64_t n, int op,
                              int broadcast, std::int64_t b_n) {
  const std::int64_t cols = broadcast == 2 ? n / b_n : 1;
  FT_GRID_LOOP(i, n) {
    const float x = a[i];
    const float y = b[broadcast == 0 ? i : broadcast == 1 ? i % b_n : i / cols];
    out[i] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
  }
}
__global__ void axpby_kernel(const float* x, float* y, std::int64_t n, float alpha, float beta) {
  FT_GRID_LOOP(i, n) y[i] = beta == 0.0f ? alpha * x[i] : alpha * x[i] + beta * y[i];
}
__global__ void bias_add_kernel(float* x, const void* bias, Stored type, std::int64_t rows,
                                std::int64_t cols) {
  FT_GRID_LOOP(i, rows * cols) x[i] += load(bias, type, i % cols);
}
__global__ void sum_rows_kernel(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                                bool accumulate) {
  FT_GRID_LOOP(c, cols) {
    float sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += x[r * cols + c];
    out[c] = accumulate ? out[c] + sum : sum;
  }
}

}  // namespace

void launch_binary(const float* a, const float* b, float* out, std::int64_t n, int op,
                   int broadcast, std::int64_t b_n, Stream stream) {
  if (n > 0)
    binary_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(a, b, out, n, op, broadcast,
                                                                     b_n);
}
void launch_axpby(const float* x, float* y, std::int64_t n, float alpha, float beta,
                  Stream stream) {
  if (n > 0) axpby_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(x, y, n, alpha, beta);
}
void launch_bias_add(float* x, const void* bias, Stored type, std::int64_t rows, std::int64_t cols,
                     Stream stream) {
  if (rows * cols > 0)
    bias_add_kernel<<<blocks_for(rows * cols), kThreads, 0, as_stream(stream)>>>(x, bias, type,
                                                                                 rows, cols);
}
void launch_sum_rows(const float* x, float* out, std::int64_t rows, std::int64_t cols,
                     bool accumulate, Stream stream) {
  if (cols > 0)
    sum_rows_kernel<<<blocks_for(cols), kThreads, 0, as_stream(stream)>>>(x, out, rows, cols,
                                                                          accumulate);
}

}  // namespace ft::backends::gpu
