// Writing safetensors files (single and sharded), atomically.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "ftengine/backend.hpp"
#include "ftengine/error.hpp"
#include "ftengine/io/safetensors.hpp"

namespace ft::io {

namespace fs = std::filesystem;

namespace {

// A file written under a temporary name next to its destination and renamed over it on
// commit(), after an fsync, so a crash leaves the old file or the new one, never half of
// one. Dropped without commit(), the temporary file is removed.
class AtomicFile {
 public:
  explicit AtomicFile(fs::path path) : path_(std::move(path)) {
    static std::atomic<unsigned> counter{0};
    const fs::path dir = path_.parent_path().empty() ? fs::path(".") : path_.parent_path();
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      temp_ = dir / fmt::format(".{}.tmp.{}.{}", path_.filename().string(), ::getpid(),
                                counter.fetch_add(1));
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0)
      throw Error(fmt::format("{}: cannot create {}: {}", path_.string(), temp_.string(),
                              std::strerror(errno)));
  }
  ~AtomicFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temp_.c_str());
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(fd_, p, bytes);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw Error(fmt::format("{}: write failed: {}", path_.string(), std::strerror(errno)));
      }
      p += n;
      bytes -= static_cast<std::size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0)
      throw Error(fmt::format("{}: fsync failed: {}", path_.string(), std::strerror(errno)));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      ::unlink(temp_.c_str());
      throw Error(fmt::format("{}: close failed: {}", path_.string(), std::strerror(errno)));
    }
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp_.c_str());
      throw Error(fmt::format("{}: cannot rename {} into place: {}", path_.string(), temp_.string(),
                              std::strerror(err)));
    }
    // The rename itself is durable once the directory is synced.
    const fs::path dir = path_.parent_path().empty() ? fs::path(".") : path_.parent_path();
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  fs::path path_;
  fs::path temp_;
  int fd_ = -1;
};

void check_entries(const fs::path& path, const std::vector<SafetensorsEntry>& entries) {
  std::set<std::string_view> seen;
  for (const SafetensorsEntry& e : entries) {
    const auto bad = [&](const std::string& what) {
      return Error(fmt::format("{}: cannot write tensor \"{}\": {}", path.string(), e.name, what));
    };
    if (e.name.empty()) throw bad("the name is empty");
    if (e.name == "__metadata__") throw bad("the name is reserved for metadata");
    if (!seen.insert(e.name).second) throw bad("the name appears twice");
    if (e.tensor.defined()) continue;
    const std::size_t bits = safetensors_dtype_bits(e.dtype);
    if (bits == 0) throw bad(fmt::format("unknown dtype \"{}\"", e.dtype));
    for (std::int64_t d : e.shape)
      if (d < 0) throw bad(fmt::format("bad shape {}", shape_str(e.shape)));
    if ((shape_numel(e.shape) * bits) % 8 != 0)
      throw bad(
          fmt::format("{} elements of {} do not fill whole bytes", shape_numel(e.shape), e.dtype));
    if (!e.host && e.nbytes() > 0) throw bad("no data (neither a tensor nor host bytes)");
  }
}

// The header JSON, in the entries' order, padded with spaces to a multiple of 8 so the data
// section starts aligned.
std::string make_header(const std::vector<SafetensorsEntry>& entries,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const SafetensorsEntry& e : entries) {
    const std::uint64_t bytes = e.nbytes();
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] =
        e.tensor.defined() ? std::string(safetensors_dtype_name(e.tensor.dtype())) : e.dtype;
    info["shape"] = e.tensor.defined() ? e.tensor.shape() : e.shape;
    info["data_offsets"] = {offset, offset + bytes};
    header[e.name] = std::move(info);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_entry_data(AtomicFile& out, const SafetensorsEntry& e) {
  if (!e.tensor.defined()) {
    if (e.nbytes() > 0) out.write(e.host, e.nbytes());
    return;
  }
  const Tensor& t = e.tensor;
  if (t.nbytes() == 0) return;
  if (t.backend().host_accessible()) {
    out.write(t.data(), t.nbytes());
    return;
  }
  std::vector<std::byte> host(t.nbytes());
  t.copy_to_host(host.data());
  out.write(host.data(), host.size());
}

}  // namespace

SafetensorsEntry SafetensorsEntry::from_tensor(std::string name, const Tensor& tensor) {
  SafetensorsEntry e;
  e.name = std::move(name);
  e.tensor = tensor;
  return e;
}

SafetensorsEntry SafetensorsEntry::from_host(std::string name, std::string dtype, Shape shape,
                                             const void* data) {
  SafetensorsEntry e;
  e.name = std::move(name);
  e.dtype = std::move(dtype);
  e.shape = std::move(shape);
  e.host = data;
  return e;
}

std::uint64_t SafetensorsEntry::nbytes() const {
  if (tensor.defined()) return tensor.nbytes();
  return static_cast<std::uint64_t>(shape_numel(shape)) * safetensors_dtype_bits(dtype) / 8;
}

void write_safetensors(const fs::path& path, const std::vector<SafetensorsEntry>& entries,
                       const std::map<std::string, std::string>& metadata) {
  check_entries(path, entries);
  const std::string header = make_header(entries, metadata);
  AtomicFile out(path);
  unsigned char length[8];
  std::uint64_t n = header.size();
  for (unsigned char& b : length) {
    b = static_cast<unsigned char>(n & 0xff);
    n >>= 8;
  }
  out.write(length, 8);
  out.write(header.data(), header.size());
  for (const SafetensorsEntry& e : entries) write_entry_data(out, e);
  out.commit();
}

std::vector<fs::path> write_sharded_safetensors(const fs::path& dir,
                                                const std::vector<SafetensorsEntry>& entries,
                                                std::uint64_t max_shard_bytes,
                                                const std::map<std::string, std::string>& metadata,
                                                std::string_view prefix) {
  if (max_shard_bytes == 0)
    throw Error(fmt::format("{}: the maximum shard size must be positive", dir.string()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
  check_entries(dir, entries);

  // Greedy, in order: a new shard when the next tensor would overflow the current one.
  std::vector<std::vector<SafetensorsEntry>> shards(1);
  std::uint64_t current = 0, total = 0;
  for (const SafetensorsEntry& e : entries) {
    const std::uint64_t bytes = e.nbytes();
    if (!shards.back().empty() && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(e);
    current += bytes;
    total += bytes;
  }

  const fs::path index_path = dir / fmt::format("{}.safetensors.index.json", prefix);
  if (shards.size() == 1) {
    const fs::path file = dir / fmt::format("{}.safetensors", prefix);
    write_safetensors(file, entries, metadata);
    // A stale index would win over the new file when the directory is opened.
    fs::remove(index_path, ec);
    return {file};
  }

  std::vector<fs::path> written;
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::string name =
        fmt::format("{}-{:05d}-of-{:05d}.safetensors", prefix, i + 1, shards.size());
    write_safetensors(dir / name, shards[i], metadata);
    written.push_back(dir / name);
    for (const SafetensorsEntry& e : shards[i]) weight_map[e.name] = name;
  }
  nlohmann::json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = std::move(weight_map);
  write_file_atomic(index_path, index.dump(2) + "\n");
  written.push_back(index_path);
  return written;
}

void write_file_atomic(const fs::path& path, std::string_view contents) {
  AtomicFile out(path);
  out.write(contents.data(), contents.size());
  out.commit();
}

}  // namespace ft::io
