// GEMMs on a 4-bit weight (QLoRA's frozen base): W is dequantised a tile of rows at a time
// into a small f32 buffer, and each tile goes through the f32 GEMM (oneDNN), so the f32
// weight is never whole in memory.
//
//   forward,  c[m, rows] = a[m, cols] · Wᵀ:  c[:, tile]   = a · tileᵀ
//   backward, c[m, cols] = a[m, rows] · W:   c          += a[:, tile] · tile
//
// A tile holds about kTileBytes of f32; a weight smaller than that is one tile and needs
// no copies of a or c.
#pragma once

#include <mutex>
#include <vector>

#include "backends/cpu/gemm.hpp"
#include "ftengine/backend.hpp"

namespace ft::backends::cpu {

inline constexpr std::size_t kTileBytes = 4u << 20;

// out[count] = W's flat elements [first, first + count), dequantised.
void dequantize_4bit_range(const Weight4bitView& w, std::int64_t first, std::int64_t count,
                           float* out);

class Gemm4bit {
 public:
  void run(const Gemm4bitArgs& args, GemmEngine& gemm, int threads);

 private:
  std::mutex mutex_;  // the buffers are shared
  std::vector<float> tile_, a_part_, c_part_;
};

}  // namespace ft::backends::cpu
