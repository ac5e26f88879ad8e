// Seeded permutations, the same on every machine: the training-row shuffle (each epoch),
// the examples `data.val_split` holds out, and the fraction of a file a `weights` entry
// takes.
#pragma once

#include <cstdint>
#include <vector>

namespace ft::engine {

// What a permutation is for: counter word 2 of its random numbers, so no two uses (nor
// dropout or initialisation, keyed by the same seed) share any.
enum class PermutationUse : std::uint32_t {
  shuffle_rows = 0x5348'5546,  // "SHUF"; instance: the epoch
  hold_out = 0x484F'4C44,      // "HOLD"; instance: 0
  mix_file = 0x4D49'5846,      // "MIXF"; instance: the file's index
};

// A permutation of 0..n-1 (Fisher-Yates from the last position down); the partner of
// position i is 64 random bits modulo i + 1 from Philox4x32-10 with counter
// (i, instance, use, 0) and key seed. Bias below 2^-30 for any n that fits in memory.
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, PermutationUse use,
                                             std::uint32_t instance);

}  // namespace ft::engine
