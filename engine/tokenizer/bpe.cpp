#include "engine/tokenizer/bpe.hpp"

#include <algorithm>
#include <functional>
#include <queue>

namespace ft::engine::tok {

std::uint64_t MergeTable::hash(std::uint64_t key) {
  // splitmix64 finaliser: ids are small and dense, so mix them before masking.
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9ULL;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebULL;
  key ^= key >> 31;
  return key;
}

void MergeTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty)
      insert(static_cast<std::int32_t>(s.key >> 32), static_cast<std::int32_t>(s.key), s.merge);
}

void MergeTable::insert(std::int32_t left, std::int32_t right, Merge merge) {
  if ((size_ + 1) * 2 > slots_.size()) grow();  // load factor <= 1/2
  const std::uint64_t key = key_of(left, right);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
    if (slots_[i].key == key) return;
    if (slots_[i].key == kEmpty) {
      slots_[i] = {key, merge};
      ++size_;
      return;
    }
  }
}

const Merge* MergeTable::find(std::int32_t left, std::int32_t right) const {
  if (slots_.empty()) return nullptr;
  const std::uint64_t key = key_of(left, right);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
    if (slots_[i].key == key) return &slots_[i].merge;
    if (slots_[i].key == kEmpty) return nullptr;
  }
}

namespace {

// Symbols live in a doubly linked list over their original positions; a merged-away
// symbol is marked dead. A heap entry packs (rank, position of the left symbol) so that
// the smallest value is the pair to merge next.
struct Scratch {
  std::vector<std::int32_t> prev, next;
  std::vector<std::uint64_t> heap;
};

std::uint64_t pack(std::int32_t rank, std::size_t pos) {
  return (std::uint64_t{static_cast<std::uint32_t>(rank)} << 32) | pos;
}

}  // namespace

void bpe_merge(const MergeTable& merges, std::vector<std::int32_t>& symbols) {
  const std::size_t n = symbols.size();
  if (n < 2) return;
  thread_local Scratch s;
  s.prev.resize(n);
  s.next.resize(n);
  s.heap.clear();
  constexpr std::int32_t kDead = -1;
  const auto end = static_cast<std::int32_t>(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.prev[i] = static_cast<std::int32_t>(i) - 1;
    s.next[i] = static_cast<std::int32_t>(i) + 1;
    if (i + 1 < n)
      if (const Merge* m = merges.find(symbols[i], symbols[i + 1]))
        s.heap.push_back(pack(m->rank, i));
  }
  const auto later = std::greater<std::uint64_t>();
  std::make_heap(s.heap.begin(), s.heap.end(), later);

  auto push = [&](std::int32_t left) {
    if (left < 0 || s.next[left] >= end) return;
    if (const Merge* m = merges.find(symbols[left], symbols[s.next[left]])) {
      s.heap.push_back(pack(m->rank, static_cast<std::size_t>(left)));
      std::push_heap(s.heap.begin(), s.heap.end(), later);
    }
  };

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), later);
    const std::uint64_t top = s.heap.back();
    s.heap.pop_back();
    const auto rank = static_cast<std::int32_t>(top >> 32);
    const auto left = static_cast<std::int32_t>(top & 0xffffffffu);
    // Stale entries: the left symbol was merged away, or it or its neighbour changed.
    if (symbols[left] == kDead) continue;
    const std::int32_t right = s.next[left];
    if (right >= end) continue;
    const Merge* m = merges.find(symbols[left], symbols[right]);
    if (m == nullptr || m->rank != rank) continue;

    symbols[left] = m->id;
    symbols[right] = kDead;
    s.next[left] = s.next[right];
    if (s.next[left] < end) s.prev[s.next[left]] = left;
    push(s.prev[left]);
    push(left);
  }
  symbols.erase(std::remove(symbols.begin(), symbols.end(), kDead), symbols.end());
}

}  // namespace ft::engine::tok
