// Helpers shared by the safetensors reader, checkpoint opener and writer (private to the SDK).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "ftengine/dtype.hpp"

namespace ft::io::detail {

// dst[i] = src[i] converted between f32, bf16 and f16 (narrowing rounds to nearest even).
// Either pointer may be unaligned.
void convert_floats(const std::byte* src, DType src_dtype, std::byte* dst, DType dst_dtype,
                    std::int64_t n);

// The first bytes of a torch.save file: a zip archive, or a raw pickle.
bool looks_like_pickle(const unsigned char* bytes, std::uint64_t size);

// Why a pickle checkpoint is refused, and the command that converts it.
std::string pickle_refusal(const std::filesystem::path& path);

}  // namespace ft::io::detail
