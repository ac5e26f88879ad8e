#include "engine/export/gguf_writer.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ftengine/error.hpp"

namespace ft::engine {

namespace {

constexpr std::uint64_t kAlignment = 32;

// GGUF value type codes (gguf.hpp's GgufType).
constexpr std::uint32_t kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9;

class Buffer {
 public:
  template <typename T>
  void put(T value) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<std::uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void pad_to(std::uint64_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(0);
  }
  std::vector<std::uint8_t>& data() { return out_; }

 private:
  std::vector<std::uint8_t> out_;
};

void put_value(Buffer& b, const GgufWriter::Value& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::uint32_t>) {
          b.put(kU32), b.put(v);
        } else if constexpr (std::is_same_v<T, std::int32_t>) {
          b.put(kI32), b.put(v);
        } else if constexpr (std::is_same_v<T, float>) {
          b.put(kF32), b.put(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          b.put(kBool), b.put<std::uint8_t>(v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, std::string>) {
          b.put(kString), b.put_string(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          b.put(kArray), b.put(kString), b.put<std::uint64_t>(v.size());
          for (const std::string& s : v) b.put_string(s);
        } else if constexpr (std::is_same_v<T, std::vector<std::int32_t>>) {
          b.put(kArray), b.put(kI32), b.put<std::uint64_t>(v.size());
          for (const std::int32_t x : v) b.put(x);
        } else {
          b.put(kArray), b.put(kF32), b.put<std::uint64_t>(v.size());
          for (const float x : v) b.put(x);
        }
      },
      value);
}

}  // namespace

std::uint64_t ggml_nbytes(GgmlType type, std::uint64_t n) {
  switch (type) {
    case GgmlType::f32:
      return 4 * n;
    case GgmlType::f16:
    case GgmlType::bf16:
      return 2 * n;
    case GgmlType::q4_0:
      return n / 32 * 18;  // f16 scale + 32 4-bit codes per block
    case GgmlType::q8_0:
      return n / 32 * 34;  // f16 scale + 32 int8 per block
  }
  return 0;
}

void GgufWriter::add(std::string key, Value value) {
  for (const auto& [k, v] : kv_)
    if (k == key) throw Error(fmt::format("gguf: metadata key \"{}\" added twice", key));
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<std::uint64_t> shape,
                            Bytes bytes) {
  std::uint64_t n = 1;
  for (const std::uint64_t d : shape) n *= d;
  if ((type == GgmlType::q8_0 || type == GgmlType::q4_0) && (shape.empty() || shape[0] % 32 != 0))
    throw Error(
        fmt::format("gguf: tensor {}: block types need rows of a multiple of 32 values", name));
  for (const Tensor& t : tensors_)
    if (t.name == name) throw Error(fmt::format("gguf: tensor \"{}\" added twice", name));
  const std::uint64_t nbytes = ggml_nbytes(type, n);
  tensors_.push_back({std::move(name), type, std::move(shape), nbytes, std::move(bytes)});
}

void GgufWriter::write(const std::filesystem::path& path) const {
  Buffer header;
  header.put<std::uint32_t>(0x46554747);  // "GGUF"
  header.put<std::uint32_t>(3);
  header.put<std::uint64_t>(tensors_.size());
  header.put<std::uint64_t>(kv_.size());
  for (const auto& [key, value] : kv_) {
    header.put_string(key);
    put_value(header, value);
  }
  std::uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    header.put_string(t.name);
    header.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
    for (const std::uint64_t d : t.shape) header.put(d);
    header.put(static_cast<std::uint32_t>(t.type));
    header.put(offset);
    offset += (t.nbytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  header.pad_to(kAlignment);

  // Into a temporary file beside the target, renamed over it once complete: a failure
  // (including one making a tensor's bytes) leaves any earlier file as it was.
  struct PartialFile {
    std::filesystem::path path;
    std::FILE* f = nullptr;
    bool complete = false;
    ~PartialFile() {
      if (f != nullptr) std::fclose(f);
      std::error_code ignored;
      if (!complete) std::filesystem::remove(path, ignored);
    }
  } out{path.string() + ".partial"};
  out.f = std::fopen(out.path.c_str(), "wb");
  if (out.f == nullptr)
    throw Error(fmt::format("{}: cannot create: {}", out.path.string(), std::strerror(errno)));
  const auto put = [&](const void* data, std::size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, out.f) != n)
      throw Error(fmt::format("{}: write failed: {}", out.path.string(), std::strerror(errno)));
  };
  put(header.data().data(), header.data().size());
  const char zeros[kAlignment] = {};
  for (const Tensor& t : tensors_) {
    const std::vector<std::uint8_t> data = t.bytes();
    if (data.size() != t.nbytes)
      throw Error(fmt::format("gguf: tensor {}: {} bytes made, {} expected", t.name, data.size(),
                              t.nbytes));
    put(data.data(), data.size());
    put(zeros, (kAlignment - data.size() % kAlignment) % kAlignment);
  }
  if (std::fflush(out.f) != 0 || ::fsync(fileno(out.f)) != 0)
    throw Error(fmt::format("{}: write failed: {}", out.path.string(), std::strerror(errno)));
  std::fclose(out.f);
  out.f = nullptr;
  std::filesystem::rename(out.path, path);
  out.complete = true;
}

}  // namespace ft::engine
