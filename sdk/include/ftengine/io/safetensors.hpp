// Reading and writing safetensors files, the Hugging Face weight format.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}), then the tensors' bytes back to back. Reading maps
// the file (no unpickling, no code runs) and validates it as huggingface/safetensors does;
// every error names the file and, where there is one, the tensor.
//
//   ft::io::SafetensorsCheckpoint ckpt = ft::io::SafetensorsCheckpoint::open(model_dir);
//   ft::Tensor w = ckpt.load("model.embed_tokens.weight", backend, ft::DType::bf16);
//
//   ft::io::write_safetensors("out.safetensors",
//                             {ft::io::SafetensorsEntry::from_tensor("w", w)},
//                             {{"format", "pt"}});
//
// Loading is zero-copy when the backend can address host memory and the file already holds
// the requested dtype: the tensor then points into a private (copy-on-write) mapping that
// lives as long as the tensor. Otherwise the bytes are converted on the host (F32, BF16 and
// F16 among themselves, rounding to nearest even) and copied to the backend.
//
// Writing is atomic: a temporary file in the same directory, fsync, rename. Readers holding
// the old file (mapped tensors) keep seeing it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftengine/dtype.hpp"
#include "ftengine/tensor.hpp"

namespace ft {
class Backend;
}

namespace ft::io {

// The largest header the reader accepts, as in huggingface/safetensors (100 MB).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Bits per element of a safetensors dtype name ("F32" -> 32, "F4" -> 4); 0 when the name
// is not a safetensors dtype.
std::size_t safetensors_dtype_bits(std::string_view name);
// The safetensors name of an ftengine dtype (f32 -> "F32").
std::string_view safetensors_dtype_name(DType dtype);
// The ftengine dtype a safetensors dtype loads as: F32, BF16, F16, I32, U8. Other known
// dtypes (F64, I64, BOOL, F8_E4M3, ...) have none.
std::optional<DType> dtype_from_safetensors(std::string_view name);

struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype;  // as written in the file: "F32", "BF16", ...
  Shape shape;
  std::uint64_t begin = 0;  // byte offsets into the data section (after the header)
  std::uint64_t end = 0;

  std::int64_t numel() const { return shape_numel(shape); }
  std::uint64_t nbytes() const { return end - begin; }
};

// One validated, memory-mapped safetensors file. Copies share the mapping.
class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws ft::Error naming the file (and the tensor) when it
  // is not a well-formed safetensors file.
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const;
  // Every tensor, in the order of its bytes in the file.
  const std::vector<SafetensorsTensorInfo>& tensors() const;
  const SafetensorsTensorInfo* find(std::string_view name) const;
  // Like find(), but a missing name is an ft::Error naming the file.
  const SafetensorsTensorInfo& at(std::string_view name) const;
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const;

  // The tensor's bytes inside the mapping (valid while this object or a copy lives).
  const std::byte* data(const SafetensorsTensorInfo& info) const;
  // The whole mapping, for checking where zero-copy tensors point.
  const std::byte* mapping_data() const;
  std::size_t mapping_size() const;

  // The tensor on `backend`, stored as `dtype` (default: the file's own). F32/BF16/F16
  // convert among themselves; I32 and U8 load only as themselves; other dtypes are
  // refused by name.
  Tensor load(std::string_view name, Backend& backend,
              std::optional<DType> dtype = std::nullopt) const;
  Tensor load(const SafetensorsTensorInfo& info, Backend& backend,
              std::optional<DType> dtype = std::nullopt) const;

  struct Impl;  // opaque (io_safetensors_read.cpp)

 private:
  std::shared_ptr<const Impl> impl_;
};

// The weights of a model: one .safetensors file, or the shards a
// model.safetensors.index.json ("weight_map": {tensor: shard file}) lists.
class SafetensorsCheckpoint {
 public:
  // `path` is a model directory (model.safetensors.index.json, else model.safetensors,
  // else the one *.safetensors file there), a .safetensors file, or an index .json file.
  // Pickle checkpoints (pytorch_model.bin, *.pt, *.pth, *.bin) are refused with the reason
  // and the command that converts them.
  static SafetensorsCheckpoint open(const std::filesystem::path& path);

  // What was opened, for messages: the .safetensors file or the index file.
  const std::filesystem::path& source() const { return source_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  const SafetensorsTensorInfo* find(std::string_view name) const;
  // The file holding `name` (throws naming the checkpoint when there is none).
  const SafetensorsFile& file_of(std::string_view name) const;
  Tensor load(std::string_view name, Backend& backend,
              std::optional<DType> dtype = std::nullopt) const;

 private:
  std::filesystem::path source_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t, std::less<>> file_index_;  // tensor -> files_ index
};

// One tensor to write: a Tensor (copied to the host while writing), or host bytes with a
// safetensors dtype name and a shape (not owned; alive for the duration of the call).
struct SafetensorsEntry {
  std::string name;
  Tensor tensor;
  std::string dtype;
  Shape shape;
  const void* host = nullptr;

  static SafetensorsEntry from_tensor(std::string name, const Tensor& tensor);
  static SafetensorsEntry from_host(std::string name, std::string dtype, Shape shape,
                                    const void* data);
  // numel × element size.
  std::uint64_t nbytes() const;
};

// Writes `entries`, in order, to `path` (header padded with spaces to a multiple of 8,
// data offsets contiguous), atomically. Transformers expects metadata {"format": "pt"}.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<SafetensorsEntry>& entries,
                       const std::map<std::string, std::string>& metadata = {});

// Writes `entries` into `dir` as <prefix>.safetensors when they fit in max_shard_bytes,
// else as <prefix>-00001-of-0000N.safetensors ... (entries in order, a new shard when the
// next tensor would overflow the current one; a tensor larger than the limit gets a shard of
// its own) plus <prefix>.safetensors.index.json ({"metadata": {"total_size": bytes},
// "weight_map": {...}}), as transformers' save_pretrained does. Returns the files written,
// the index last.
std::vector<std::filesystem::path> write_sharded_safetensors(
    const std::filesystem::path& dir, const std::vector<SafetensorsEntry>& entries,
    std::uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata = {},
    std::string_view prefix = "model");

// Writes `contents` to `path` atomically (temporary file, fsync, rename, fsync of the
// directory). For small companion files (config.json, index.json).
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

}  // namespace ft::io
