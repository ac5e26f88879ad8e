// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// A random number is a pure function of (key, counter): no state to carry, so dropout
// masks are the same on every backend, in any thread order, and after a resume. Element
// e of a stream keyed by `seed` is word e % 4 of philox(seed, e / 4).
// Written host+device so the GPU kernels include the same code.
#pragma once

#include <cstdint>

#include "ftengine/host_device.hpp"

namespace ft {

struct Philox4x32 {
  std::uint32_t v[4];
};

// The full generator: 4 counter words, 2 key words, 10 rounds.
FT_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0,
                                               std::uint32_t key1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32),
                        lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32),
                        lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ key0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ key1;
    c3 = lo0;
    key0 += kW0;
    key1 += kW1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// The 64-bit counter in the low two words, the 64-bit seed as the key.
FT_HOST_DEVICE inline Philox4x32 philox4x32(std::uint64_t counter, std::uint64_t seed) {
  const Philox4x32 c{
      {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10(c, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits, for element `index` of the stream `seed`.
FT_HOST_DEVICE inline float philox_uniform(std::uint64_t seed, std::uint64_t index) {
  const Philox4x32 r = philox4x32(index >> 2, seed);
  return static_cast<float>(r.v[index & 3] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace ft
