// A caching allocator over some system memory (host memory for the CPU backend, device
// memory for the GPU backends).
//
// Training repeats the same shapes every step, so freed blocks are kept in free lists keyed
// by size class and handed out again instead of going back to the system. Blocks are 64-byte
// aligned (a cache line, and enough for any vector load). Sizes round up to a size class:
// multiples of 64 bytes up to 4 KiB, then four classes per power of two (at most 25% slack),
// so a block freed by one tensor fits the next tensor of nearly the same size.
//
// Statistics count block bytes (the rounded size), which is what the process really holds.
// Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ftengine/backend.hpp"

namespace ft::backends {

// Where blocks come from: allocate returns nullptr when there is no memory.
struct SystemMemory {
  std::string owner;  // "cpu backend", "cuda backend": names the allocator in messages
  void* (*allocate)(std::size_t bytes) = nullptr;
  void (*free)(void* ptr, std::size_t bytes) = nullptr;
};

class CachingAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;

  explicit CachingAllocator(SystemMemory system) : system_(std::move(system)) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Never returns nullptr: throws ft::Error naming the size when the system has no memory.
  void* allocate(std::size_t bytes);
  // `bytes` must be what was asked of allocate(); a pointer not from here is an InternalError.
  void deallocate(void* ptr, std::size_t bytes);

  MemoryStats stats() const;
  void reset_peak();
  // Frees every cached (unused) block.
  void release_cached();

  // The block size a request of `bytes` gets.
  static std::size_t size_class(std::size_t bytes);

 private:
  void release_cached_locked();

  SystemMemory system_;
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists_;  // class size -> blocks
  std::unordered_map<void*, std::size_t> live_;                     // block -> class size
  std::size_t in_use_ = 0, peak_ = 0, cached_ = 0;
};

}  // namespace ft::backends
