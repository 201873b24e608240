#pragma once
// A key → slot index that grows without moving all its entries at once.
//
// A hash map that outgrows its table rehashes every entry inside one insert: at ten million
// entries that is a pause of a large fraction of a second on the engine thread. This one grows the
// way Redis's dict rehashes: a new index of about twice the capacity takes over, and every insert
// moves moves_per_insert entries of the old one across, so no insert pays for more than a few.
// Lookups try the new index, then the old. Each new index is twice the size of the one before,
// and its memory is mapped ahead while the current one fills (core/index_memory.h).

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "core/assert.h"
#include "core/index_memory.h"

namespace capillary {

// The hash of an index key. Ids the platform hands out (orders, red packets, its own transfers)
// run in sequence, and the newest are the ones written and read next; a hash that scattered
// neighbours across a table of hundreds of megabytes made nearly every such insert and lookup a
// cache miss, a TLB miss and, while the index grows, one more of each. Here a run of eight
// consecutive ids (the same key >> run_bits) shares a starting slot, so they land side by side and
// a burst of new ids touches a few cache lines. The low bits go to absl's 7-bit tag (H2), the mixed
// run number to the slot (H1): keys that do not run in sequence spread as well as before.
template <typename Key>
struct IndexHash : absl::Hash<Key> {};

template <>
struct IndexHash<std::uint64_t> {
  static constexpr unsigned run_bits = 3;
  std::size_t operator()(std::uint64_t key) const noexcept {
    const std::size_t run = absl::Hash<std::uint64_t>{}(key >> run_bits);
    return (run << run_bits) | (key & ((std::uint64_t{1} << run_bits) - 1));
  }
};

template <typename Key>
class GrowingIndex {
 public:
  GrowingIndex() { reset(0); }
  GrowingIndex(const GrowingIndex&) = delete;
  GrowingIndex& operator=(const GrowingIndex&) = delete;

  std::size_t size() const noexcept { return size_; }
  // Slots in the current index; entries it takes before it starts to grow.
  std::size_t capacity() const noexcept { return index_.capacity(); }
  std::size_t grow_at() const noexcept { return grow_at_; }
  // Bytes mapped ahead for the next index (core/index_memory.h).
  std::size_t ahead_bytes() const noexcept { return memory_->ahead_bytes(); }
  std::size_t tables_mapped_ahead() const noexcept { return memory_->tables_mapped_ahead(); }

  // The key's slot, or nullptr.
  const std::uint32_t* find(const Key& key) const noexcept {
    if (const auto found = index_.find(key); found != index_.end()) return &found->second;
    if (growing_) {
      if (const auto found = old_.find(key); found != old_.end()) return &found->second;
    }
    return nullptr;
  }

  void prefetch(const Key& key) const noexcept {
    index_.prefetch(key);
    if (growing_) old_.prefetch(key);
  }

  // Maps `key` to `slot` unless it is mapped already; returns its slot and whether it was added.
  std::pair<std::uint32_t, bool> try_emplace(const Key& key, std::uint32_t slot) {
    if (growing_) {
      move_entries();
    } else if (index_.size() >= grow_at_) {
      start_growing();
    }
    if (growing_) {
      if (const auto found = old_.find(key); found != old_.end()) return {found->second, false};
    }
    const auto [it, inserted] = index_.try_emplace(key, slot);
    if (!inserted) return {it->second, false};
    ++size_;
    // The index never grows by itself, which would move every entry in one insert: growth starts
    // at grow_at_, below absl's own limit, and ends before the new index reaches it.
    CAP_ASSERT(index_.size() <= grow_at_);
    return {slot, true};
  }

  // Unmaps `key`, if mapped.
  void erase(const Key& key) {
    bool erased = index_.erase(key) > 0;
    if (growing_) {
      if (const auto found = old_.find(key); found != old_.end()) {
        if (found == old_next_) ++old_next_;
        old_.erase(found);
        erased = true;
      }
    }
    if (erased) --size_;
  }

  // An empty index with room for `entries` before it first grows.
  void reset(std::size_t entries) {
    old_ = empty();
    growing_ = false;
    size_ = 0;
    index_ = empty();
    make_room(entries);
  }

  // Room for `entries` without growing, made now in one rehash: for start-up, before a replay of
  // known length, not while serving.
  void reserve(std::size_t entries) {
    while (growing_) move_entries();
    if (entries > grow_at_) make_room(entries);
  }

 private:
  using Index = absl::flat_hash_map<Key, std::uint32_t, IndexHash<Key>, std::equal_to<Key>,
                                    IndexAllocator<std::pair<const Key, std::uint32_t>>>;

  // The new index is sized for twice the old one's entries (start_growing), so the move is done
  // well before the new index itself fills: N entries move in N/16 inserts. While it lasts every
  // lookup may probe both indexes, a cache miss each in tables of hundreds of megabytes; at 2
  // moves an insert the indexes spent half their time growing, and the engine thread ~7% more CPU
  // per paid order at 12-12-6 (interleaved runs, docs/BENCHMARKS.md). The total moved is the same.
  static constexpr std::size_t moves_per_insert = 16;
  // The smallest index: a few kilobytes, so small tables never grow in steps that matter.
  static constexpr std::size_t entries_min = 64;

  Index empty() {
    return Index(0, IndexHash<Key>(), std::equal_to<Key>(),
                 typename Index::allocator_type(memory_.get()));
  }

  // Sizes index_ to the smallest capacity (2^k - 1, absl's) whose growth point is at least
  // `entries`, and starts mapping the next one.
  void make_room(std::size_t entries) {
    entries = std::max(entries, entries_min);
    // Growth starts at three quarters of the capacity, below absl's own 7/8 load factor, so ours
    // triggers first, always.
    std::size_t capacity = entries_min - 1;
    while (capacity - capacity / 4 < entries) capacity = 2 * capacity + 1;
    // absl sizes a table for `n` entries at its 7/8 load: asking for 7/8 of `capacity` gets
    // exactly `capacity`, where asking for more would get twice it.
    index_.reserve(capacity - capacity / 8);
    grow_at_ = index_.capacity() - index_.capacity() / 4;
    CAP_ASSERT(grow_at_ >= entries);
    if (!growing_) memory_->prepare_next();
  }

  void start_growing() {
    old_ = std::move(index_);
    old_next_ = old_.begin();
    growing_ = true;
    index_ = empty();
    // At growth the old index is 3/4 full: the new one, of twice the capacity, starts growing at
    // twice as many entries.
    make_room(2 * size_);
    move_entries();
  }

  void move_entries() {
    for (std::size_t moved = 0; moved < moves_per_insert && old_next_ != old_.end();
         ++moved, ++old_next_) {
      const bool inserted = index_.insert(*old_next_).second;
      CAP_ASSERT(inserted);
    }
    if (old_next_ != old_.end()) return;
    old_ = empty();
    growing_ = false;
    memory_->prepare_next();
  }

  // Declared first: the indexes' tables live in it.
  std::unique_ptr<IndexMemory> memory_ = std::make_unique<IndexMemory>();
  Index index_ = empty();
  std::size_t grow_at_ = 0;  // index_ entries at which it starts growing
  std::size_t size_ = 0;     // keys mapped, counted once while they sit in both indexes
  // While growing: the old index, and its next entry to move into index_.
  bool growing_ = false;
  Index old_ = empty();
  typename Index::const_iterator old_next_;
};

}  // namespace capillary
