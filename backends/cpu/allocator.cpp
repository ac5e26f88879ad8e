#include "backends/cpu/allocator.hpp"

#include <sys/mman.h>

#include <cstdlib>

namespace ft::backends::cpu {

namespace {

// Blocks of 1 MiB and more come straight from the kernel (mmap) and go straight back
// (munmap). Through malloc, glibc raises its mmap threshold as such blocks are freed, after
// which freed weights and activations stay in the heap and keep the process's resident
// memory up (QLoRA's released base weights, for one).
constexpr std::size_t kMapThreshold = std::size_t{1} << 20;

void* system_allocate(std::size_t block) {
  if (block % CachingAllocator::kAlignment != 0) return nullptr;
  if (block < kMapThreshold) return std::aligned_alloc(CachingAllocator::kAlignment, block);
  void* p = ::mmap(nullptr, block, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void system_free(void* ptr, std::size_t block) {
  if (block < kMapThreshold)
    std::free(ptr);
  else
    ::munmap(ptr, block);
}

}  // namespace

SystemMemory host_memory() { return {"cpu backend", &system_allocate, &system_free}; }

}  // namespace ft::backends::cpu
