// 4-bit weights as bitsandbytes stores them for QLoRA, so the numbers agree with what
// QLoRA users know: NF4 (or FP4) codes in blocks with an absmax each, the absmaxes
// optionally double-quantised to 8 bits.
//
//   Quantized4bit q = quantize_4bit(w.data(), rows, cols, {.type = QuantType::nf4});
//   std::vector<float> back(rows * cols);
//   dequantize_4bit(q, back.data());          // back[i] = code(q, i) * absmax(block of i)
//
// Layout: the weight is flattened row-major and cut into blocks of `block_size` (32 to
// 256, a multiple of 2) consecutive values; each value divided by its block's absmax goes
// to the nearest code of the table (ties to the lower code). Element 2j is the high nibble
// of byte j, element 2j+1 the low nibble. An all-zero block has absmax 0 and dequantises
// to zeros.
//
// Double quantisation (bitsandbytes' compress_statistics): the mean of all absmaxes is
// subtracted, and the centred values are quantised in blocks of 256 with the signed 8-bit
// dynamic map and one f32 scale (the block's absmax) each:
//   absmax[b] = dynamic_map()[absmax_codes[b]] * absmax_scales[b / 256] + absmax_offset
// About 4.127 bits per weight with block_size 64.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ft {

enum class QuantType : std::uint8_t { nf4, fp4 };
std::string_view quant_type_name(QuantType type);  // "nf4", "fp4"

// The 16 values a code stands for (index = code): bitsandbytes' NF4 table
// (create_normal_map) and its FP4 table (sign bit, then 2 exponent and 1 mantissa bits).
const std::array<float, 16>& quant_code_table(QuantType type);

// bitsandbytes' create_dynamic_map(signed=True): 256 sorted values in [-1, 1], 0 and 1
// among them; the codes of double-quantised absmaxes.
const std::array<float, 256>& dynamic_map();

inline constexpr std::int64_t kDoubleQuantBlock = 256;

struct Quant4bitOptions {
  QuantType type = QuantType::nf4;
  std::int64_t block_size = 64;
  bool double_quant = true;
};

struct Quantized4bit {
  QuantType type = QuantType::nf4;
  std::int64_t rows = 0, cols = 0;
  std::int64_t block_size = 64;
  std::vector<std::uint8_t> packed;  // (rows * cols + 1) / 2 bytes
  bool double_quant = false;
  std::vector<float> absmax;               // per block, without double quantisation
  std::vector<std::uint8_t> absmax_codes;  // per block, with it
  std::vector<float> absmax_scales;        // per 256 blocks, with it
  float absmax_offset = 0.0f;              // with it

  std::int64_t numel() const { return rows * cols; }
  std::int64_t blocks() const { return (numel() + block_size - 1) / block_size; }
  // The absmax each block dequantises with (the double-quantised value when compressed).
  float block_absmax(std::int64_t block) const;
  // Bytes as stored: codes, absmaxes (or their codes, scales and offset).
  std::size_t stored_bytes() const;
};

// ft::Error for a block size outside 32..256 or odd, or an empty weight. A NaN or Inf in
// `w` is an ft::Error naming the flat index.
Quantized4bit quantize_4bit(const float* w, std::int64_t rows, std::int64_t cols,
                            const Quant4bitOptions& options);

// out[rows * cols] = code * block absmax.
void dequantize_4bit(const Quantized4bit& q, float* out);

}  // namespace ft
