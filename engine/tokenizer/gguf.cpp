#include "engine/tokenizer/gguf.hpp"

#include <fmt/format.h>

#include <cstring>
#include <fstream>

#include "ftengine/error.hpp"

namespace ft::engine {

std::string_view gguf_type_name(GgufType type) {
  static constexpr std::string_view kNames[] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                "i32", "f32", "bool", "string", "array",
                                                "u64", "i64", "f64"};
  const auto index = static_cast<std::uint32_t>(type);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

namespace {

// Sequential reads with bounds checks. Sizes read from the file are checked against
// what is left of it before anything is allocated, so a corrupt count cannot ask for
// terabytes.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) throw Error(fmt::format("{}: cannot open the GGUF file", path.string()));
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(in_.tellg());
    in_.seekg(0);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: not a valid GGUF file: {} (at byte {} of {})", path_.string(),
                            what, offset_, size_));
  }

  void bytes(void* dst, std::uint64_t n, std::string_view what) {
    if (n > size_ - offset_) fail(fmt::format("{} runs past the end of the file", what));
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (!in_) fail(fmt::format("read error in {}", what));
    offset_ += n;
  }

  template <typename T>
  T scalar(std::string_view what) {
    T value;
    bytes(&value, sizeof(T), what);
    return value;  // GGUF is little-endian, as are the hosts ftengine runs on
  }

  std::string string(std::string_view what) {
    const auto n = scalar<std::uint64_t>(what);
    if (n > size_ - offset_)
      fail(fmt::format("{}: string of {} bytes runs past the end of the file", what, n));
    std::string s(n, '\0');
    bytes(s.data(), n, what);
    return s;
  }

  GgufValue value(GgufType type, std::string_view what, int depth) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufType::u8:
        v.data = std::uint64_t{scalar<std::uint8_t>(what)};
        break;
      case GgufType::i8:
        v.data = std::int64_t{scalar<std::int8_t>(what)};
        break;
      case GgufType::u16:
        v.data = std::uint64_t{scalar<std::uint16_t>(what)};
        break;
      case GgufType::i16:
        v.data = std::int64_t{scalar<std::int16_t>(what)};
        break;
      case GgufType::u32:
        v.data = std::uint64_t{scalar<std::uint32_t>(what)};
        break;
      case GgufType::i32:
        v.data = std::int64_t{scalar<std::int32_t>(what)};
        break;
      case GgufType::u64:
        v.data = scalar<std::uint64_t>(what);
        break;
      case GgufType::i64:
        v.data = scalar<std::int64_t>(what);
        break;
      case GgufType::f32:
        v.data = double{scalar<float>(what)};
        break;
      case GgufType::f64:
        v.data = scalar<double>(what);
        break;
      case GgufType::boolean: {
        const auto b = scalar<std::uint8_t>(what);
        if (b > 1) fail(fmt::format("{}: bool value {} is not 0 or 1", what, b));
        v.data = b == 1;
        break;
      }
      case GgufType::string:
        v.data = string(what);
        break;
      case GgufType::array: {
        if (depth > 8) fail(fmt::format("{}: arrays nested too deep", what));
        v.element_type = type_code(what);
        const auto count = scalar<std::uint64_t>(what);
        if (count > size_ - offset_)  // every element takes at least one byte
          fail(fmt::format("{}: array of {} elements runs past the end of the file", what, count));
        std::vector<GgufValue> items;
        items.reserve(count);
        for (std::uint64_t i = 0; i < count; ++i)
          items.push_back(value(v.element_type, what, depth + 1));
        v.data = std::move(items);
        break;
      }
    }
    return v;
  }

  GgufType type_code(std::string_view what) {
    const auto code = scalar<std::uint32_t>(what);
    if (code > static_cast<std::uint32_t>(GgufType::f64))
      fail(fmt::format("{}: unknown value type {}", what, code));
    return static_cast<GgufType>(code);
  }

  std::uint64_t offset() const { return offset_; }
  std::uint64_t size() const { return size_; }

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;
};

[[noreturn]] void wrong_type(const GgufValue& v, std::string_view what, std::string_view expected) {
  throw Error(
      fmt::format("GGUF key {}: expected {}, found {}", what, expected, gguf_type_name(v.type)));
}

}  // namespace

bool GgufValue::is_integer() const {
  return std::holds_alternative<std::uint64_t>(data) || std::holds_alternative<std::int64_t>(data);
}
bool GgufValue::is_float() const { return std::holds_alternative<double>(data); }

std::int64_t GgufValue::as_int(std::string_view what) const {
  if (const auto* u = std::get_if<std::uint64_t>(&data)) return static_cast<std::int64_t>(*u);
  if (const auto* i = std::get_if<std::int64_t>(&data)) return *i;
  wrong_type(*this, what, "an integer");
}

double GgufValue::as_float(std::string_view what) const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (is_integer()) return static_cast<double>(as_int(what));
  wrong_type(*this, what, "a number");
}

bool GgufValue::as_bool(std::string_view what) const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  wrong_type(*this, what, "a bool");
}

const std::string& GgufValue::as_string(std::string_view what) const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  wrong_type(*this, what, "a string");
}

const std::vector<GgufValue>& GgufValue::as_array(std::string_view what) const {
  if (const auto* a = std::get_if<std::vector<GgufValue>>(&data)) return *a;
  wrong_type(*this, what, "an array");
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

const GgufValue& GgufFile::require(std::string_view key) const {
  if (const GgufValue* v = find(key)) return *v;
  throw Error(fmt::format("{}: the GGUF file has no key {}", path.string(), key));
}

GgufFile read_gguf(const std::filesystem::path& path) {
  Reader r(path);
  GgufFile f;
  f.path = path;
  char magic[4];
  r.bytes(magic, 4, "magic");
  if (std::memcmp(magic, "GGUF", 4) != 0) r.fail("the file does not start with \"GGUF\"");
  f.version = r.scalar<std::uint32_t>("version");
  if (f.version != 2 && f.version != 3)
    r.fail(fmt::format("version {} is not supported (2 and 3 are)", f.version));
  const auto n_tensors = r.scalar<std::uint64_t>("tensor count");
  const auto n_kv = r.scalar<std::uint64_t>("key/value count");
  if (n_kv > r.size() || n_tensors > r.size()) r.fail("impossible key/value or tensor count");

  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.string(fmt::format("key #{}", i));
    const GgufType type = r.type_code(key);
    GgufValue value = r.value(type, key, 0);
    f.metadata.emplace_back(std::move(key), std::move(value));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    const std::int64_t alignment = a->as_int("general.alignment");
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
      r.fail(fmt::format("general.alignment {} is not a power of two", alignment));
    f.alignment = static_cast<std::uint64_t>(alignment);
  }
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.string(fmt::format("tensor #{} name", i));
    const auto n_dims = r.scalar<std::uint32_t>(t.name);
    if (n_dims > 8) r.fail(fmt::format("tensor {}: {} dimensions", t.name, n_dims));
    t.shape.resize(n_dims);
    for (auto& d : t.shape) d = r.scalar<std::uint64_t>(t.name);
    t.ggml_type = r.scalar<std::uint32_t>(t.name);
    t.offset = r.scalar<std::uint64_t>(t.name);
    f.tensors.push_back(std::move(t));
  }
  f.data_offset = (r.offset() + f.alignment - 1) / f.alignment * f.alignment;
  return f;
}

}  // namespace ft::engine
