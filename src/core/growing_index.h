#pragma once
// A key → slot index that grows without pausing the thread that writes it.
//
// A hash map that outgrows its table rehashes every entry inside one insert: at ten million
// entries that is a pause of a large fraction of a second on the engine thread. Moving a few
// entries an insert instead, as Redis's dict rehashes, spreads the pause but not the work, and
// while the move lasts every lookup probes two tables of hundreds of megabytes, a cache miss
// each: at 12-12-6 the second in which the 6-million-entry idempotency index grew that way paid
// half the orders of the seconds around it (docs/BENCHMARKS.md).
//
// So a large index grows in two phases:
// - building: the full table is frozen and a thread of its own copies it into one of twice the
//   capacity. Meanwhile inserts go to a small table of their own, the delta, and lookups try the
//   delta, then the frozen table: what a lookup in a steady index costs, plus a probe of a table
//   small enough to stay in cache. Keys erased from the frozen table are remembered, and dropped
//   from the copy when it takes over.
// - draining: the copy takes over, and the delta's entries move into it a few each insert.
// An index under background_min entries rehashes inside one insert, in well under a millisecond.
// Each new table is twice the size of the one before, and its memory is mapped ahead while the
// current one fills (core/index_memory.h).

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "core/assert.h"
#include "core/index_memory.h"
#include "core/this_thread.h"

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
  // Indexes from this many entries grow on a thread of their own; smaller ones in one insert.
  static constexpr std::size_t background_min_default = std::size_t{1} << 16;

  explicit GrowingIndex(std::size_t background_min = background_min_default)
      : background_min_(background_min) {
    reset(0);
  }
  GrowingIndex(const GrowingIndex&) = delete;
  GrowingIndex& operator=(const GrowingIndex&) = delete;
  ~GrowingIndex() {
    if (builder_.joinable()) builder_.join();
    if (retiring_.joinable()) retiring_.join();
  }

  std::size_t size() const noexcept { return size_; }
  // Slots in the table that holds most entries (while building, the frozen one).
  std::size_t capacity() const noexcept {
    return phase_ == Phase::building ? old_.capacity() : index_.capacity();
  }
  // Bytes mapped ahead for the next index (core/index_memory.h).
  std::size_t ahead_bytes() const noexcept { return memory_->ahead_bytes(); }
  std::size_t tables_mapped_ahead() const noexcept { return memory_->tables_mapped_ahead(); }
  // Growths done on a thread of their own.
  std::size_t built_in_background() const noexcept { return built_in_background_; }

  // The key's slot, or nullptr.
  const std::uint32_t* find(const Key& key) const noexcept {
    if (const auto found = index_.find(key); found != index_.end()) return &found->second;
    return find_old(key);
  }

  void prefetch(const Key& key) const noexcept {
    index_.prefetch(key);
    if (phase_ != Phase::steady) old_.prefetch(key);
  }

  // Maps `key` to `slot` unless it is mapped already; returns its slot and whether it was added.
  std::pair<std::uint32_t, bool> try_emplace(const Key& key, std::uint32_t slot) {
    switch (phase_) {
      case Phase::steady:
        if (index_.size() >= grow_at_) start_growing();
        break;
      case Phase::building:
        // Done, or the delta full: then this insert waits for the copy rather than let the
        // delta rehash.
        if (built_.load(std::memory_order_acquire) || index_.size() >= grow_at_) finish_building();
        break;
      case Phase::draining:
        move_entries();
        break;
    }
    if (const std::uint32_t* found = find_old(key)) return {*found, false};
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
    switch (phase_) {
      case Phase::steady:
        break;
      case Phase::building:
        // A key erased from the frozen table and inserted again lives in the delta, found first.
        if (!erased && old_.contains(key)) erased = erased_.insert(key).second;
        break;
      case Phase::draining:
        if (const auto found = old_.find(key); found != old_.end()) {
          if (found == old_next_) ++old_next_;
          old_.erase(found);
          erased = true;
        }
        break;
    }
    if (erased) --size_;
  }

  // An empty index with room for `entries` before it first grows.
  void reset(std::size_t entries) {
    finish_growing();
    size_ = 0;
    index_ = empty();
    grow_at_ = size_for(&index_, entries);
    memory_->prepare_next();
  }

  // Room for `entries` without growing, made now in one rehash: for start-up, before a replay of
  // known length, not while serving.
  void reserve(std::size_t entries) {
    finish_growing();
    if (entries > grow_at_) grow_at_ = size_for(&index_, entries);
    memory_->prepare_next();
  }

 private:
  using Index = absl::flat_hash_map<Key, std::uint32_t, IndexHash<Key>, std::equal_to<Key>,
                                    IndexAllocator<std::pair<const Key, std::uint32_t>>>;

  // steady: index_ alone. building: index_ is the delta, old_ the frozen table builder_ copies.
  // draining: index_ is the copy, old_ the delta whose entries move into it.
  enum class Phase : std::uint8_t { steady, building, draining };

  // The delta's entries move 16 an insert: the delta holds at most an eighth of the copy's
  // entries, so it is drained long before the copy fills.
  static constexpr std::size_t moves_per_insert = 16;
  // The smallest index: a few kilobytes, so small tables never grow in steps that matter.
  static constexpr std::size_t entries_min = 64;

  Index empty() {
    return Index(0, IndexHash<Key>(), std::equal_to<Key>(),
                 typename Index::allocator_type(memory_.get()));
  }

  // Sizes `table` to the smallest capacity (2^k - 1, absl's) whose growth point is at least
  // `entries`; returns that growth point. Growth starts at three quarters of the capacity, below
  // absl's own 7/8 load factor, so ours triggers first, always.
  static std::size_t size_for(Index* table, std::size_t entries) {
    entries = std::max(entries, entries_min);
    std::size_t capacity = entries_min - 1;
    while (capacity - capacity / 4 < entries) capacity = 2 * capacity + 1;
    // absl sizes a table for `n` entries at its 7/8 load: asking for 7/8 of `capacity` gets
    // exactly `capacity`, where asking for more would get twice it.
    table->reserve(capacity - capacity / 8);
    const std::size_t grow_at = table->capacity() - table->capacity() / 4;
    CAP_ASSERT(grow_at >= entries);
    return grow_at;
  }

  const std::uint32_t* find_old(const Key& key) const noexcept {
    if (phase_ == Phase::steady) return nullptr;
    if (phase_ == Phase::building && !erased_.empty() && erased_.contains(key)) return nullptr;
    if (const auto found = old_.find(key); found != old_.end()) return &found->second;
    return nullptr;
  }

  // At growth the index is 3/4 full: the new one, of twice the capacity, grows at twice as many
  // entries.
  void start_growing() {
    const std::size_t entries = 2 * size_;
    if (size_ < background_min_) {
      Index grown = empty();
      grow_at_ = size_for(&grown, entries);
      grown.insert(index_.begin(), index_.end());
      index_ = std::move(grown);
      memory_->prepare_next();
      return;
    }
    old_ = std::move(index_);
    phase_ = Phase::building;
    built_.store(false, std::memory_order_relaxed);
    index_ = empty();
    grow_at_ = size_for(&index_, size_ / 8);
    builder_ = std::thread([this, entries] {
      name_this_thread("index-build");
      // Below the threads answering clients, a little: inserts wait on it once the delta fills.
      lower_this_thread_priority(5);
      Index grown = empty();
      grown_grow_at_ = size_for(&grown, entries);
      grown.insert(old_.begin(), old_.end());
      grown_ = std::move(grown);
      built_.store(true, std::memory_order_release);
    });
  }

  void finish_building() {
    builder_.join();
    ++built_in_background_;
    for (const Key& key : erased_) grown_.erase(key);
    erased_.clear();
    retire(std::move(old_));
    old_ = std::move(index_);
    index_ = std::move(grown_);
    grown_ = empty();
    grow_at_ = grown_grow_at_;
    phase_ = Phase::draining;
    old_next_ = old_.begin();
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
    phase_ = Phase::steady;
    memory_->prepare_next();
  }

  // Whatever growth is under way, done now.
  void finish_growing() {
    if (phase_ == Phase::building) finish_building();
    while (phase_ == Phase::draining) move_entries();
  }

  // Unmapping a table of hundreds of megabytes takes milliseconds: done on a thread of its own.
  void retire(Index&& table) {
    if (retiring_.joinable()) retiring_.join();
    retiring_ = std::thread([table = std::make_unique<Index>(std::move(table))]() mutable {
      name_this_thread("index-retire");
      table.reset();
    });
  }

  const std::size_t background_min_;
  // Declared first among the tables: they live in it.
  std::unique_ptr<IndexMemory> memory_ = std::make_unique<IndexMemory>();
  Index index_ = empty();
  std::size_t grow_at_ = 0;  // index_ entries at which it grows (building: the delta is full)
  std::size_t size_ = 0;     // keys mapped, counted once while they sit in two tables
  Phase phase_ = Phase::steady;
  Index old_ = empty();
  typename Index::const_iterator old_next_;  // draining: the delta's next entry to move
  absl::flat_hash_set<Key, IndexHash<Key>> erased_;  // building: keys erased from the frozen table
  // building: the copy and its growth point, written by builder_ before it sets built_.
  std::thread builder_;
  std::atomic<bool> built_ = false;
  Index grown_ = empty();
  std::size_t grown_grow_at_ = 0;
  std::thread retiring_;  // the last frozen table, being unmapped
  std::size_t built_in_background_ = 0;
};

}  // namespace capillary
