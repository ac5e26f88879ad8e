// The BPE merge loop shared by every vocabulary format.
//
// A word starts as a sequence of symbol ids (one per byte for byte-level vocabularies,
// one per character for SentencePiece-style ones). A merge table maps an adjacent pair
// (left id, right id) to (rank, merged id). The loop repeatedly merges the pair of lowest
// rank, the leftmost one on ties, until no adjacent pair has a merge. The sources differ
// only in where ranks come from:
//   - HF tokenizer.json / GGUF "gpt2": the position of the merge in the merges list;
//   - tiktoken: the rank of the merged token (a pair merges when its concatenation is a
//     token; tiktoken's _byte_pair_encode picks the lowest such rank);
//   - GGUF "llama" (SentencePiece): the merged token's score, higher first, ties to the
//     leftmost pair, as llama.cpp's llm_tokenizer_spm and SentencePiece's BPE do.
// A binary heap of (rank, position) with lazy invalidation makes it O(n log n), which
// matters for SentencePiece-style tokenizers, where a whole text is one word.
#pragma once

#include <cstdint>
#include <vector>

namespace ft::engine::tok {

struct Merge {
  std::int32_t rank = 0;
  std::int32_t id = 0;  // the merged token
};

// Open-addressing hash map (left, right) -> Merge; it is probed once per candidate pair,
// so it is the hottest lookup of encoding.
class MergeTable {
 public:
  // Keeps the existing entry when the pair is already present (the first, lowest rank,
  // wins, as in HF tokenizers).
  void insert(std::int32_t left, std::int32_t right, Merge merge);
  const Merge* find(std::int32_t left, std::int32_t right) const;
  std::size_t size() const { return size_; }
  // Every entry, in no particular order: fn(left, right, merge).
  template <typename Fn>
  void for_each(Fn fn) const {
    for (const Slot& s : slots_)
      if (s.key != kEmpty)
        fn(static_cast<std::int32_t>(s.key >> 32), static_cast<std::int32_t>(s.key & 0xffffffffu), s.merge);
  }

 private:
  struct Slot {
    std::uint64_t key = kEmpty;
    Merge merge;
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t key_of(std::int32_t left, std::int32_t right) {
    return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) |
           static_cast<std::uint32_t>(right);
  }
  static std::uint64_t hash(std::uint64_t key);
  void grow();

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

// Merges `symbols` in place.
void bpe_merge(const MergeTable& merges, std::vector<std::int32_t>& symbols);

}  // namespace ft::engine::tok
