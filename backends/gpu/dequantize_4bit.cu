// 4-bit weights (bitsandbytes layout, ftengine/quant.hpp) to f32, a thread per element:
//   out[k] = code_table[code(i)] * absmax(block(i)),  i = first + k,  block(i) = i / block_size
// Codes are two per byte, the even element in the high nibble. With double quantisation the
// block's absmax is itself stored as an 8-bit code:
//   absmax = dynamic_map[absmax_codes[block]] * absmax_scales[block / 256] + absmax_offset
#include <cstdint>

#include "backends/gpu/device_common.cuh"

namespace ft::backends::gpu {

namespace {

__global__ void dequantize_4bit_kernel(Weight4bit w, std::int64_t first, std::int64_t count,
                                       float* out) {
  FT_GRID_LOOP(k, count) {
    const std::int64_t i = first + k, block = i / w.block_size;
    const float absmax =
        w.double_quant
            ? w.dynamic_map[w.absmax_codes[block]] * w.absmax_scales[block / 256] + w.absmax_offset
            : w.absmax[block];
    const std::uint8_t byte = w.packed[i >> 1];
    out[k] = w.code_table[(i & 1) ? (byte & 0x0f) : (byte >> 4)] * absmax;
  }
}

}  // namespace

void launch_dequantize_4bit(const Weight4bit& w, std::int64_t first, std::int64_t count, float* out,
                            Stream stream) {
  if (count > 0)
    dequantize_4bit_kernel<<<blocks_for(count), kThreads, 0, as_stream(stream)>>>(w, first, count,
                                                                                  out);
}

}  // namespace ft::backends::gpu
