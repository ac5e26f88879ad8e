// Writes GGUF v3 files (ggml's model format, what llama.cpp loads); the layout is the one
// engine/tokenizer/gguf.hpp reads:
//
//   GgufWriter w;
//   w.add("general.architecture", std::string("llama"));
//   w.add("llama.block_count", std::uint32_t{22});
//   w.add_tensor("token_embd.weight", GgmlType::f16, {2048, 32000},   // ne0 first
//                [&] { return to_f16(embeddings); });                 // bytes, when written
//   w.write("model.gguf");                                             // atomically
//
// Tensor data is aligned to 32 bytes (general.alignment's default). Each tensor's bytes are
// made while the file is written and dropped after, so a model is never twice in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace ft::engine {

// ggml tensor types the export writes (ggml.h's enum ggml_type).
enum class GgmlType : std::uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8, bf16 = 30 };

// Bytes of n values of `type` (n a multiple of 32 for q4_0 and q8_0).
std::uint64_t ggml_nbytes(GgmlType type, std::uint64_t n);

class GgufWriter {
 public:
  using Value =
      std::variant<std::uint32_t, std::int32_t, float, bool, std::string, std::vector<std::string>,
                   std::vector<std::int32_t>, std::vector<float>>;

  // Keys keep the order they were added in; adding a key twice is an ft::Error.
  void add(std::string key, Value value);
  // shape: ggml order, innermost (contiguous) dimension first. `bytes` makes the data,
  // ggml_nbytes(type, elements) of it, when the file is written.
  using Bytes = std::function<std::vector<std::uint8_t>()>;
  void add_tensor(std::string name, GgmlType type, std::vector<std::uint64_t> shape, Bytes bytes);
  std::size_t tensor_count() const { return tensors_.size(); }

  void write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<std::uint64_t> shape;
    std::uint64_t nbytes;
    Bytes bytes;
  };
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace ft::engine
