// Host memory for the CPU backend's caching allocator (backends/common/caching_allocator.hpp).
#pragma once

#include "backends/common/caching_allocator.hpp"

namespace ft::backends::cpu {

using backends::CachingAllocator;

// 64-byte aligned blocks: below 1 MiB from aligned_alloc, from 1 MiB straight from mmap.
SystemMemory host_memory();

}  // namespace ft::backends::cpu
