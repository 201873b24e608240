#pragma once
// A key → slot index that grows without moving all its entries at once.
//
// A hash map that outgrows its table rehashes every entry inside one insert: at ten million
// entries that is a pause of a large fraction of a second on the engine thread. This one grows the
// way Redis's dict rehashes: a new index of about twice the capacity takes over, and every insert
// moves moves_per_insert entries of the old one across, so no insert pays for more than a few.
// Lookups try the new index, then the old.

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/assert.h"

namespace capillary {

template <typename Key>
class GrowingIndex {
 public:
  GrowingIndex() { reset(0); }
  GrowingIndex(const GrowingIndex&) = delete;
  GrowingIndex& operator=(const GrowingIndex&) = delete;

  std::size_t size() const noexcept { return size_; }

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
    old_ = Index();
    growing_ = false;
    size_ = 0;
    index_ = Index();
    make_room(entries);
  }

  // Room for `entries` without growing, made now in one rehash: for start-up, before a replay of
  // known length, not while serving.
  void reserve(std::size_t entries) {
    while (growing_) move_entries();
    if (entries > grow_at_) make_room(entries);
  }

 private:
  using Index = absl::flat_hash_map<Key, std::uint32_t>;

  // The new index is sized for twice the old one's entries (start_growing), so at 2 an insert the
  // move is done well before the new index itself fills: N entries move in N/2 inserts, which add
  // at most N/2.
  static constexpr std::size_t moves_per_insert = 2;
  // The smallest index: a few kilobytes, so small tables never grow in steps that matter.
  static constexpr std::size_t entries_min = 64;

  void make_room(std::size_t entries) {
    entries = std::max(entries, entries_min);
    // Growth starts at three quarters of the capacity, below absl's own 7/8 load factor, so ours
    // triggers first, always; a third more than `entries` keeps them all under it.
    index_.reserve(entries + entries / 3 + 1);
    grow_at_ = index_.capacity() - index_.capacity() / 4;
    CAP_ASSERT(grow_at_ >= entries);
  }

  void start_growing() {
    const std::size_t entries = size_;
    Index old = std::move(index_);
    reset(2 * entries);
    size_ = entries;
    old_ = std::move(old);
    old_next_ = old_.begin();
    growing_ = true;
    move_entries();
  }

  void move_entries() {
    for (std::size_t moved = 0; moved < moves_per_insert && old_next_ != old_.end();
         ++moved, ++old_next_) {
      const bool inserted = index_.insert(*old_next_).second;
      CAP_ASSERT(inserted);
    }
    if (old_next_ != old_.end()) return;
    old_ = Index();
    growing_ = false;
  }

  Index index_;
  std::size_t grow_at_ = 0;  // index_ entries at which it starts growing
  std::size_t size_ = 0;     // keys mapped, counted once while they sit in both indexes
  // While growing: the old index, and its next entry to move into index_.
  bool growing_ = false;
  Index old_;
  typename Index::const_iterator old_next_;
};

}  // namespace capillary
