// GGUF files (ggml's model format): the header, every metadata key/value and the tensor
// directory, without the tensor data. The tokenizer reads its tokenizer.ggml.* keys from
// here; model import and the GGUF export will reuse it (a writer comes with the export).
//
//   GgufFile f = read_gguf("model.gguf");
//   const GgufValue& tokens = f.require("tokenizer.ggml.tokens");   // array of strings
//   f.find("tokenizer.ggml.add_bos_token")                          // nullptr if absent
//
// Layout (ggml docs/gguf.md), little-endian: magic "GGUF", u32 version (2 or 3), u64
// tensor count, u64 key/value count; each key/value: string key, u32 type, value; strings
// are u64 length + bytes; arrays are u32 element type + u64 count + elements. Then each
// tensor: string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset into the
// data section, which starts at the next multiple of general.alignment (default 32).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ft::engine {

enum class GgufType : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

std::string_view gguf_type_name(GgufType type);

struct GgufValue {
  GgufType type = GgufType::u8;
  GgufType element_type = GgufType::u8;  // arrays only
  // Unsigned integers as uint64, signed as int64, floats as double.
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::vector<GgufValue>> data;

  bool is_integer() const;
  bool is_float() const;
  // Typed access; throw ft::Error naming `what` (the key) and the type found.
  std::int64_t as_int(std::string_view what) const;
  double as_float(std::string_view what) const;  // integers convert too
  bool as_bool(std::string_view what) const;
  const std::string& as_string(std::string_view what) const;
  const std::vector<GgufValue>& as_array(std::string_view what) const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<std::uint64_t> shape;  // as stored: innermost dimension first
  std::uint32_t ggml_type = 0;
  std::uint64_t offset = 0;  // from the start of the data section
};

struct GgufFile {
  std::filesystem::path path;
  std::uint32_t version = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // in file order
  std::vector<GgufTensorInfo> tensors;
  std::uint64_t alignment = 32;
  std::uint64_t data_offset = 0;  // where tensor data starts in the file

  const GgufValue* find(std::string_view key) const;
  // Throws ft::Error naming the file and the missing key.
  const GgufValue& require(std::string_view key) const;
};

// Throws ft::Error naming the file, the byte offset and what is wrong for anything that
// is not a well-formed GGUF v2/v3 header.
GgufFile read_gguf(const std::filesystem::path& path);

}  // namespace ft::engine
