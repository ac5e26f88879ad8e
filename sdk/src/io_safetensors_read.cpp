// Reading one safetensors file: map it, validate the header as huggingface/safetensors
// does (tensor.rs: read_metadata + Metadata::validate), load tensors zero-copy or converted.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"
#include "io_safetensors_internal.hpp"

namespace ft::io {

namespace {

struct DTypeBits {
  std::string_view name;
  std::size_t bits;
};
// Every dtype of the format (safetensors' Dtype enum), with its width.
constexpr std::array<DTypeBits, 20> kDTypes{{
    {"BOOL", 8}, {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16},
    {"U16", 16}, {"F16", 16},    {"BF16", 16},   {"I32", 32},    {"U32", 32},
    {"F32", 32}, {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
}};

std::string known_dtype_list() {
  std::string out;
  for (const DTypeBits& d : kDTypes) {
    if (!out.empty()) out += ' ';
    out += d.name;
  }
  return out;
}

// The file, mapped private and writable: pages are copy-on-write, so tensors that point
// into the mapping can be updated in place (a full fine-tune's optimizer step) without
// touching the file.
struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (addr) munmap(addr, size);
  }
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::uint64_t read_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Non-negative integer that fits in 64 bits, from a JSON number.
bool as_u64(const nlohmann::json& j, std::uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    const std::int64_t v = j.get<std::int64_t>();
    if (v < 0) return false;
    out = static_cast<std::uint64_t>(v);
    return true;
  }
  return false;
}

}  // namespace

std::size_t safetensors_dtype_bits(std::string_view name) {
  for (const DTypeBits& d : kDTypes)
    if (d.name == name) return d.bits;
  return 0;
}

std::string_view safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::bf16:
      return "BF16";
    case DType::f16:
      return "F16";
    case DType::i32:
      return "I32";
    case DType::u8:
      return "U8";
  }
  throw InternalError("safetensors_dtype_name: unknown dtype");
}

std::optional<DType> dtype_from_safetensors(std::string_view name) {
  if (name == "F32") return DType::f32;
  if (name == "BF16") return DType::bf16;
  if (name == "F16") return DType::f16;
  if (name == "I32") return DType::i32;
  if (name == "U8") return DType::u8;
  return std::nullopt;
}

struct SafetensorsFile::Impl {
  std::filesystem::path path;
  std::string label;  // the path as messages show it
  std::shared_ptr<Mapping> mapping;
  std::uint64_t data_start = 0;  // 8 + header length
  std::vector<SafetensorsTensorInfo> tensors;
  std::map<std::string, std::size_t, std::less<>> index;
  std::map<std::string, std::string> metadata;
};

namespace {

// Header checks, in the order huggingface/safetensors makes them. `bytes` is the whole file.
void parse_header(SafetensorsFile::Impl& f, const unsigned char* bytes, std::uint64_t size) {
  const std::string& file = f.label;
  if (size < 8)
    throw Error(
        fmt::format("{}: not a safetensors file: {} bytes, shorter than the 8-byte header "
                    "length",
                    file, size));
  const std::uint64_t n = read_le64(bytes);
  if (n > kSafetensorsMaxHeaderBytes)
    throw Error(
        fmt::format("{}: header length {} exceeds the limit of {} bytes: a corrupt or "
                    "non-safetensors file",
                    file, n, kSafetensorsMaxHeaderBytes));
  if (8 + n > size)
    throw Error(
        fmt::format("{}: header length {} runs past the end of the file ({} bytes): the "
                    "file is truncated",
                    file, n, size));
  const std::string_view text(reinterpret_cast<const char*>(bytes + 8), n);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(
        fmt::format("{}: header is not valid JSON (error at byte {} of {})", file, e.byte, n));
  }
  if (!header.is_object())
    throw Error(
        fmt::format("{}: header must be a JSON object, found {}", file, header.type_name()));

  f.data_start = 8 + n;
  const std::uint64_t data_size = size - f.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object())
        throw Error(fmt::format("{}: __metadata__ must be an object of strings, found {}", file,
                                value.type_name()));
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string())
          throw Error(fmt::format("{}: __metadata__ must map strings to strings: \"{}\" holds a {}",
                                  file, m.key(), m.value().type_name()));
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto bad = [&](const std::string& what) {
      return Error(fmt::format("{}: tensor \"{}\": {}", file, name, what));
    };
    if (!value.is_object())
      throw bad(fmt::format("expected an object, found {}", value.type_name()));
    SafetensorsTensorInfo info;
    info.name = name;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) throw bad("\"dtype\" must be a string");
    info.dtype = dtype->get<std::string>();
    const std::size_t bits = safetensors_dtype_bits(info.dtype);
    if (bits == 0)
      throw bad(fmt::format("unknown dtype \"{}\" (known: {})", info.dtype, known_dtype_list()));
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array())
      throw bad("\"shape\" must be an array of non-negative integers");
    // numel * bits must fit in 64 bits (ValidationOverflow in the reference).
    unsigned __int128 numel = 1;
    for (const nlohmann::json& d : *shape) {
      std::uint64_t v = 0;
      if (!as_u64(d, v) || v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw bad("\"shape\" must be an array of non-negative integers");
      numel *= v;
      if (numel > std::numeric_limits<std::int64_t>::max()) throw bad("shape overflows 64 bits");
      info.shape.push_back(static_cast<std::int64_t>(v));
    }
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !as_u64((*offsets)[0], info.begin) || !as_u64((*offsets)[1], info.end))
      throw bad("\"data_offsets\" must be [begin, end], two non-negative integers");
    if (info.end < info.begin)
      throw bad(fmt::format("data_offsets [{}, {}] end before they begin", info.begin, info.end));
    if (info.end > data_size)
      throw bad(
          fmt::format("data_offsets [{}, {}] run past the end of the data section ({} bytes): "
                      "the file is truncated or the offsets are wrong",
                      info.begin, info.end, data_size));
    const unsigned __int128 total_bits = numel * bits;
    if (total_bits % 8 != 0)
      throw bad(fmt::format("{} elements of {} do not fill whole bytes",
                            static_cast<std::uint64_t>(numel), info.dtype));
    const std::uint64_t expected = static_cast<std::uint64_t>(total_bits / 8);
    if (info.nbytes() != expected)
      throw bad(fmt::format("data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}",
                            info.begin, info.end, info.nbytes(), shape_str(info.shape), info.dtype,
                            expected));
    f.tensors.push_back(std::move(info));
  }

  // Sorted by offsets, the tensors must tile the data section exactly: no gap, no overlap.
  std::sort(f.tensors.begin(), f.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t pos = 0;
  const SafetensorsTensorInfo* previous = nullptr;
  for (const SafetensorsTensorInfo& t : f.tensors) {
    if (t.begin < pos)
      throw Error(fmt::format(
          "{}: tensor \"{}\": data_offsets [{}, {}] overlap tensor \"{}\" [{}, {}]", file, t.name,
          t.begin, t.end, previous->name, previous->begin, previous->end));
    if (t.begin > pos) {
      if (previous)
        throw Error(
            fmt::format("{}: tensor \"{}\": data_offsets [{}, {}] leave a gap of {} bytes "
                        "after tensor \"{}\" [{}, {}]",
                        file, t.name, t.begin, t.end, t.begin - pos, previous->name,
                        previous->begin, previous->end));
      throw Error(
          fmt::format("{}: tensor \"{}\": data_offsets [{}, {}] leave a gap of {} bytes at "
                      "the start of the data section",
                      file, t.name, t.begin, t.end, t.begin));
    }
    pos = t.end;
    previous = &t;
  }
  if (pos != data_size)
    throw Error(
        fmt::format("{}: {} bytes after the last tensor: the data section ({} bytes) must "
                    "end where the tensors end ({})",
                    file, data_size - pos, data_size, pos));
  for (std::size_t i = 0; i < f.tensors.size(); ++i) f.index.emplace(f.tensors[i].name, i);
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->label = path.string();
  const std::string& file = impl->label;
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error(fmt::format("{}: cannot open: {}", file, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw Error(fmt::format("{}: cannot stat: {}", file, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw Error(fmt::format("{}: not a regular file", file));
  const auto size = static_cast<std::uint64_t>(st.st_size);

  impl->mapping = std::make_shared<Mapping>();
  if (size > 0) {
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
    if (addr == MAP_FAILED)
      throw Error(fmt::format("{}: cannot map {} bytes: {}", file, size, std::strerror(errno)));
    impl->mapping->addr = addr;
    impl->mapping->size = size;
  }
  const auto* bytes = static_cast<const unsigned char*>(impl->mapping->addr);
  try {
    parse_header(*impl, bytes, size);
  } catch (const Error&) {
    // A PyTorch checkpoint under a safetensors name: say what it is rather than how its
    // first bytes fail as a header. (Only for files that fail: a valid header wins.)
    if (detail::looks_like_pickle(bytes, size)) throw Error(detail::pickle_refusal(path));
    throw;
  }
  impl_ = std::move(impl);
}

const std::filesystem::path& SafetensorsFile::path() const { return impl_->path; }
const std::vector<SafetensorsTensorInfo>& SafetensorsFile::tensors() const {
  return impl_->tensors;
}
const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

const SafetensorsTensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const SafetensorsTensorInfo& SafetensorsFile::at(std::string_view name) const {
  const SafetensorsTensorInfo* info = find(name);
  if (!info) throw Error(fmt::format("{}: no tensor \"{}\"", impl_->label, name));
  return *info;
}

const std::byte* SafetensorsFile::mapping_data() const {
  return static_cast<const std::byte*>(impl_->mapping->addr);
}
std::size_t SafetensorsFile::mapping_size() const { return impl_->mapping->size; }

const std::byte* SafetensorsFile::data(const SafetensorsTensorInfo& info) const {
  return mapping_data() + impl_->data_start + info.begin;
}

Tensor SafetensorsFile::load(std::string_view name, Backend& backend,
                             std::optional<DType> dtype) const {
  return load(at(name), backend, dtype);
}

namespace {

// The whole pages inside [p, p + n) leave memory: a tensor copied (or converted) out of the
// mapping is not read there again, and a big model would otherwise keep both copies
// resident. Pages shared with a neighbour are kept. They come back from the file if read.
void drop_pages(const std::byte* p, std::size_t n) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + page - 1) / page * page;
  const std::uintptr_t last = (begin + n) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace

Tensor SafetensorsFile::load(const SafetensorsTensorInfo& info, Backend& backend,
                             std::optional<DType> dtype) const {
  const std::optional<DType> source = dtype_from_safetensors(info.dtype);
  if (!source)
    throw Error(
        fmt::format("{}: tensor \"{}\": dtype {} is not supported (ftengine loads F32, BF16, "
                    "F16, I32 and U8)",
                    impl_->label, info.name, info.dtype));
  const DType target = dtype.value_or(*source);
  const std::byte* src = data(info);
  Tensor out;
  if (target == *source) {
    const std::size_t align = dtype_size(target);
    if (backend.host_accessible() && reinterpret_cast<std::uintptr_t>(src) % align == 0) {
      // Zero-copy: the tensor's storage is the mapping itself, kept alive by the tensor.
      std::shared_ptr<const void> keep_alive(impl_->mapping, impl_->mapping->addr);
      out = Tensor::from_external(const_cast<std::byte*>(src), info.shape, target, backend,
                                  std::move(keep_alive));
    } else {
      out = Tensor::from_host(src, info.shape, target, backend);
      drop_pages(src, info.nbytes());
    }
  } else {
    if (!is_floating(*source) || !is_floating(target))
      throw Error(
          fmt::format("{}: tensor \"{}\": cannot load {} as {} (only F32, BF16 and F16 "
                      "convert among themselves)",
                      impl_->label, info.name, info.dtype, dtype_name(target)));
    if (backend.host_accessible()) {
      // Straight into the tensor, a slice at a time, each slice's source pages dropped
      // once read: converting a large table never holds it twice.
      out = Tensor::empty(info.shape, target, backend);
      auto* dst = static_cast<std::byte*>(out.data());
      constexpr std::int64_t kSlice = std::int64_t{1} << 20;  // elements
      const std::size_t in_size = dtype_size(*source), out_size = dtype_size(target);
      for (std::int64_t at = 0; at < info.numel(); at += kSlice) {
        const std::int64_t n = std::min(kSlice, info.numel() - at);
        const std::byte* from = src + static_cast<std::size_t>(at) * in_size;
        detail::convert_floats(from, *source, dst + static_cast<std::size_t>(at) * out_size,
                               target, n);
        drop_pages(from, static_cast<std::size_t>(n) * in_size);
      }
    } else {
      std::vector<std::byte> converted(static_cast<std::size_t>(info.numel()) *
                                       dtype_size(target));
      detail::convert_floats(src, *source, converted.data(), target, info.numel());
      out = Tensor::from_host(converted.data(), info.shape, target, backend);
      drop_pages(src, info.nbytes());
    }
  }
  out.set_name(info.name);
  return out;
}

namespace detail {

namespace {
float load_float(const std::byte* p, DType dtype, std::int64_t i) {
  switch (dtype) {
    case DType::f32: {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      return v;
    }
    case DType::bf16: {
      std::uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return bf16_to_f32(h);
    }
    case DType::f16: {
      std::uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      return f16_to_f32(h);
    }
    default:
      throw InternalError("convert_floats: not a floating-point dtype");
  }
}
}  // namespace

void convert_floats(const std::byte* src, DType src_dtype, std::byte* dst, DType dst_dtype,
                    std::int64_t n) {
  // memcpy per element: the source may be unaligned inside the mapping.
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = load_float(src, src_dtype, i);
    if (dst_dtype == DType::f32) {
      std::memcpy(dst + 4 * i, &v, 4);
    } else {
      const std::uint16_t h = dst_dtype == DType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  }
}

bool looks_like_pickle(const unsigned char* bytes, std::uint64_t size) {
  // torch.save since 1.6 writes a zip archive; older versions, a raw pickle (protocol 2-5).
  if (size >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4)
    return true;
  return size >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
}

}  // namespace detail

}  // namespace ft::io
