// The caching allocator (alignment, reuse, statistics, release, out-of-memory message),
// host copies, probe() and the thread setting.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <string>

#include "backends/cpu/allocator.hpp"
#include "ftengine/error.hpp"
#include "test_util.hpp"

namespace ft::backends::cpu::test {
namespace {

TEST(CpuAllocator, SizeClassesCoverTheRequestWithLittleSlack) {
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{64}, std::size_t{65},
                            std::size_t{4096}, std::size_t{4097}, std::size_t{1} << 20,
                            (std::size_t{1} << 20) + 1, std::size_t{123456789}}) {
    const std::size_t block = CachingAllocator::size_class(bytes);
    EXPECT_GE(block, bytes);
    EXPECT_GE(block, CachingAllocator::kAlignment);
    EXPECT_EQ(block % CachingAllocator::kAlignment, 0u) << bytes;
    EXPECT_LE(block, bytes + bytes / 4 + 64) << bytes;
  }
  EXPECT_EQ(CachingAllocator::size_class(100), CachingAllocator::size_class(128));
  EXPECT_NE(CachingAllocator::size_class(100), CachingAllocator::size_class(129));
}

TEST(CpuAllocator, FreedBlocksAreReusedAndCounted) {
  CpuBackend be;  // a fresh one: exact statistics
  const std::size_t big = 1000000, block = CachingAllocator::size_class(big);
  void* a = be.allocate(big);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, big);  // writable
  EXPECT_EQ(be.memory_stats().in_use_bytes, block);
  EXPECT_EQ(be.memory_stats().cached_bytes, 0u);

  void* b = be.allocate(100);
  EXPECT_EQ(be.memory_stats().in_use_bytes, block + 128);
  be.deallocate(a, big);
  EXPECT_EQ(be.memory_stats().in_use_bytes, 128u);
  EXPECT_EQ(be.memory_stats().cached_bytes, block);
  EXPECT_EQ(be.memory_stats().peak_bytes, block + 128);

  void* c = be.allocate(big - 10);  // same size class: the cached block comes back
  EXPECT_EQ(c, a);
  EXPECT_EQ(be.memory_stats().cached_bytes, 0u);
  void* d = be.allocate(big * 2);  // another class: a new block
  EXPECT_NE(d, a);

  be.reset_peak_memory();
  EXPECT_EQ(be.memory_stats().peak_bytes, be.memory_stats().in_use_bytes);
  be.deallocate(c, big - 10);
  be.deallocate(d, big * 2);
  be.deallocate(b, 100);
  EXPECT_EQ(be.memory_stats().in_use_bytes, 0u);
  EXPECT_GT(be.memory_stats().cached_bytes, 0u);
  be.release_cached_memory();
  EXPECT_EQ(be.memory_stats().cached_bytes, 0u);

  void* zero = be.allocate(0);  // never nullptr, even for nothing
  EXPECT_NE(zero, nullptr);
  be.deallocate(zero, 0);
}

TEST(CpuAllocator, OutOfMemoryNamesTheSizeAndBadFreesAreCaught) {
  CpuBackend be;
  const std::size_t huge = std::size_t{1} << 60;
  try {
    be.allocate(huge);
    FAIL() << "allocating 2^60 bytes succeeded";
  } catch (const ft::Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(huge)), std::string::npos) << e.what();
  }
  int not_ours = 0;
  EXPECT_THROW(be.deallocate(&not_ours, sizeof not_ours), ft::InternalError);
  void* p = be.allocate(256);
  EXPECT_THROW(be.deallocate(p, 100000), ft::InternalError);  // wrong size
  be.deallocate(p, 256);
}

TEST(CpuBackendBasics, HostCopiesAndFill) {
  std::vector<float> src = random_values(1000, 61), dst(1000, 0.0f), back(1000, 0.0f);
  backend().copy_from_host(dst.data(), src.data(), 4000);
  EXPECT_EQ(dst, src);
  std::vector<float> other(1000);
  backend().copy(other.data(), dst.data(), 4000);
  backend().copy_to_host(back.data(), other.data(), 4000);
  EXPECT_EQ(back, src);
  backend().fill_zero(back.data() + 10, 40);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(back[i], i >= 10 && i < 20 ? 0.0f : src[i]) << i;
  backend().synchronize();
}

TEST(CpuBackendBasics, ProbeAndThreads) {
  ThreadsGuard guard;
  EXPECT_EQ(backend().name(), "cpu");
  backend().set_threads(0);
  EXPECT_EQ(backend().threads(), omp_get_num_procs());
  const DeviceInfo info = backend().probe();
  EXPECT_TRUE(info.available);
  EXPECT_EQ(info.device_count, 1);
  EXPECT_EQ(info.priority, 0);
  EXPECT_GT(info.memory_bytes, std::size_t{1} << 26);
  EXPECT_EQ(info.device_name.rfind(std::to_string(omp_get_num_procs()) + " threads", 0), 0u)
      << info.device_name;
  backend().set_threads(1);
  EXPECT_EQ(backend().threads(), 1);
  EXPECT_EQ(backend().probe().device_name.rfind("1 thread, ", 0), 0u);
  EXPECT_THROW(backend().set_threads(-2), ft::Error);
}

}  // namespace
}  // namespace ft::backends::cpu::test
