// GEMMs on a 4-bit weight (QLoRA's frozen base): W is dequantised a tile of rows at a time
// (gemm_tiles.hpp) and each tile goes through the GEMM (oneDNN, at the call's compute
// precision), so the f32 weight is never whole in memory.
#pragma once

#include <mutex>
#include <vector>

#include "backends/cpu/gemm.hpp"
#include "backends/common/gemm_tiles.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::cpu {

// out[count] = W's flat elements [first, first + count), dequantised.
void dequantize_4bit_range(const Weight4bitView& w, std::int64_t first, std::int64_t count,
                           float* out);

class Gemm4bit {
 public:
  void run(const Gemm4bitArgs& args, GemmEngine& gemm, int threads);

 private:
  std::mutex mutex_;  // the tile buffer is shared
  std::vector<float> tile_;
};

}  // namespace ft::backends::cpu
