#include "backends/common/caching_allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ftengine/error.hpp"

namespace ft::backends {

namespace {

std::string format_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, units[unit]);
  return buffer;
}

}  // namespace

CachingAllocator::~CachingAllocator() {
  release_cached_locked();
  // Blocks still live at destruction belong to tensors that outlived the backend; free them
  // anyway so the process does not leak (those tensors must not be used any more).
  for (auto& [ptr, size] : live_) system_.free(ptr, size);
}

std::size_t CachingAllocator::size_class(std::size_t bytes) {
  constexpr std::size_t kSmall = 4096;
  if (bytes <= kSmall) return std::max<std::size_t>(kAlignment, (bytes + 63) / 64 * 64);
  // Four classes per power of two: step = 2^(floor(log2(bytes)) - 2).
  const int log2 = std::bit_width(bytes) - 1;
  const std::size_t step = std::size_t{1} << (log2 - 2);
  if (bytes > ~std::size_t{0} - step) return bytes;  // absurd sizes: let the system refuse
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t block = size_class(bytes);
  std::lock_guard lock(mutex_);
  void* ptr = nullptr;
  auto it = free_lists_.find(block);
  if (it != free_lists_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    cached_ -= block;
  } else {
    ptr = system_.allocate(block);
    if (ptr == nullptr && cached_ > 0) {
      release_cached_locked();  // the cache may be what stands between us and the memory
      ptr = system_.allocate(block);
    }
    if (ptr == nullptr) {
      throw Error(system_.owner + ": out of memory allocating " + std::to_string(bytes) +
                  " bytes (" + format_bytes(bytes) + "; " + format_bytes(in_use_) +
                  " already in use): use a smaller batch or sequence length");
    }
  }
  live_.emplace(ptr, block);
  in_use_ += block;
  peak_ = std::max(peak_, in_use_);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t bytes) {
  if (ptr == nullptr) return;
  std::lock_guard lock(mutex_);
  auto it = live_.find(ptr);
  FT_CHECK(it != live_.end(), system_.owner + ": deallocate of a pointer it did not allocate");
  const std::size_t block = it->second;
  FT_CHECK(size_class(bytes) == block, system_.owner + ": deallocate with size " +
                                           std::to_string(bytes) +
                                           " that does not match the allocation");
  live_.erase(it);
  in_use_ -= block;
  free_lists_[block].push_back(ptr);
  cached_ += block;
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return MemoryStats{in_use_, peak_, cached_};
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mutex_);
  peak_ = in_use_;
}

void CachingAllocator::release_cached() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [size, blocks] : free_lists_) {
    for (void* ptr : blocks) system_.free(ptr, size);
  }
  free_lists_.clear();
  cached_ = 0;
}

}  // namespace ft::backends
