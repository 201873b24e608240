#pragma once
// A table of fixed-size records keyed by id, folded into a state hash: the hash is the sum of
// every record's XXH3 (seeded per table), so updating one record costs two hashes, and two
// states with the same records have the same hash whatever order they were written in.
//
// Laid out for tens of millions of records on the engine thread, where a stall of a second is a
// second of every client's latency:
// - Records sit in chunks of chunk_records slots, appended and never moved: growing the table
//   allocates a chunk and copies nothing, and a checkpoint copies a chunk out as it is.
// - An open-addressing index maps key → slot (16 bytes an entry for a u64 key, not the record's
//   160). It grows the way Redis's dict rehashes: a new index of about twice the capacity takes
//   over, and every put moves index_moves_per_put entries of the old one across, so no put pays
//   for moving millions of entries at once. Lookups try the new index, then the old.
// - Each chunk has a changed mark, set by put and cleared when a checkpoint takes the chunk
//   (take_changed): a checkpoint writes what changed since the previous one, not the table.
// Records are never erased: a key's slot is its for the table's life.

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/assert.h"
#include "core/checksum.h"

namespace capillary::payments {

// Checkpoint parts by key, written when they changed and kept until they change again.
using Parts = std::map<std::string, std::string>;

template <typename Key, typename Record>
class Table {
  static_assert(std::has_unique_object_representations_v<Record>);
  static_assert(std::is_trivially_copyable_v<Record>);

 public:
  // 65,536 records a chunk: 10 MiB of orders, 2 MiB of idempotency records. A checkpoint writes a
  // changed chunk whole, so larger chunks rewrite more around a few changes; smaller ones mean
  // more RocksDB values and more allocations as a table grows.
  static constexpr std::uint32_t chunk_records = 1u << 16;
  // Slots are 32-bit: four billion records is far past what a cell keeps resident (the ledger
  // holds at most 2^30 transfers).
  static constexpr std::uint64_t records_max = std::numeric_limits<std::uint32_t>::max();

  explicit Table(std::uint64_t seed) : seed_(seed) {}
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  const Record* find(const Key& key) const noexcept {
    const std::uint32_t* slot = find_slot(key);
    return slot == nullptr ? nullptr : &at(*slot);
  }
  std::size_t size() const noexcept { return size_; }
  std::uint64_t hash() const noexcept { return hash_; }

  // Inserts or replaces.
  void put(const Key& key, const Record& record) {
    if (growing_) {
      move_index_entries();
    } else if (index_.size() >= index_grow_at_) {
      start_growing();
    }
    if (growing_) {
      if (const auto found = old_index_.find(key); found != old_index_.end()) {
        replace(found->second, record);
        return;
      }
    }
    const auto [it, inserted] = index_.try_emplace(key, static_cast<std::uint32_t>(size_));
    if (!inserted) {
      replace(it->second, record);
      return;
    }
    append(record);
    // The index never grows by itself, which would move every entry in one put: growth starts at
    // index_grow_at_, below absl's own limit, and ends before the new index reaches it.
    CAP_ASSERT(index_.size() <= index_grow_at_);
  }

  // Visits every record, in the order they were first put.
  template <typename Visit>
  void for_each(Visit visit) const {
    for (std::size_t chunk = 0; chunk < chunks_.size(); ++chunk) {
      const Record* records = chunks_[chunk].get();
      const std::size_t count = chunk_size(chunk);
      for (std::size_t i = 0; i < count; ++i) visit(records[i]);
    }
  }

  // The hash recomputed from every record, for tests and invariant checks.
  std::uint64_t recompute_hash() const noexcept {
    std::uint64_t hash = 0;
    for_each([&](const Record& record) { hash += record_hash(record); });
    return hash;
  }

  // Appends every record's bytes inline; `key_of` rebuilds the key from a record on load.
  // Layout: count u64, then the records in slot order.
  void save(std::string* out) const {
    const std::uint64_t count = size_;
    out->append(reinterpret_cast<const char*>(&count), sizeof(count));
    for (std::size_t chunk = 0; chunk < chunks_.size(); ++chunk) {
      out->append(reinterpret_cast<const char*>(chunks_[chunk].get()),
                  chunk_size(chunk) * sizeof(Record));
    }
  }
  // Reads what save() wrote from the front of `in`, consuming it; false when it is truncated or
  // names a key twice. A table loaded inline counts every chunk as changed.
  template <typename KeyOf>
  bool load(std::string_view* in, KeyOf key_of) {
    std::uint64_t count = 0;
    if (in->size() < sizeof(count)) return false;
    std::memcpy(&count, in->data(), sizeof(count));
    in->remove_prefix(sizeof(count));
    if (count > records_max || count > in->size() / sizeof(Record)) return false;
    resize(count);
    for (std::size_t chunk = 0; chunk < chunks_.size(); ++chunk) {
      const std::size_t bytes = chunk_size(chunk) * sizeof(Record);
      std::memcpy(chunks_[chunk].get(), in->data(), bytes);
      in->remove_prefix(bytes);
    }
    return rebuild(key_of, true);
  }

  // The chunks changed since the last call, each under its part key (table_part_key), as the
  // bytes of its records. Taking them is the checkpoint's bookkeeping, not state: const.
  void take_changed(Parts* parts) const {
    for (std::uint32_t chunk = 0; chunk < changed_.size(); ++chunk) {
      if (changed_[chunk] == 0) continue;
      (*parts)[part_key(chunk)].assign(reinterpret_cast<const char*>(chunks_[chunk].get()),
                                       chunk_size(chunk) * sizeof(Record));
      changed_[chunk] = 0;
    }
  }
  // The table back from `count` records in the chunks of `parts` (as take_changed wrote them over
  // one or more checkpoints); false when one is missing, has the wrong size, or a key repeats.
  // No chunk counts as changed after.
  template <typename KeyOf>
  bool load_parts(std::uint64_t count, const Parts& parts, KeyOf key_of) {
    if (count > records_max) return false;
    resize(count);
    for (std::uint32_t chunk = 0; chunk < chunks_.size(); ++chunk) {
      const auto found = parts.find(part_key(chunk));
      const std::size_t bytes = chunk_size(chunk) * sizeof(Record);
      if (found == parts.end() || found->second.size() != bytes) return false;
      std::memcpy(chunks_[chunk].get(), found->second.data(), bytes);
    }
    return rebuild(key_of, false);
  }

  // Where a chunk goes among a checkpoint's parts: 't', the table's seed (unique per table) and
  // the chunk number, big-endian.
  std::string part_key(std::uint32_t chunk) const {
    std::string key = "t";
    for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(seed_ >> shift));
    for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(chunk >> shift));
    return key;
  }

 private:
  using Index = absl::flat_hash_map<Key, std::uint32_t>;

  // Entries of the old index moved into the new one per put while it grows. The new index is
  // sized for twice the old one's entries (start_growing), so at 2 a put the move is done well
  // before the new index itself fills: N entries move in N/2 puts, which add at most N/2.
  static constexpr std::size_t index_moves_per_put = 2;
  // The smallest index: a few kilobytes, so small tables never grow in steps that matter.
  static constexpr std::size_t index_entries_min = 64;

  std::uint64_t record_hash(const Record& record) const noexcept {
    return checksum(&record, sizeof(Record), seed_);
  }
  Record& at(std::uint32_t slot) noexcept {
    return chunks_[slot / chunk_records][slot % chunk_records];
  }
  const Record& at(std::uint32_t slot) const noexcept {
    return chunks_[slot / chunk_records][slot % chunk_records];
  }
  std::size_t chunk_size(std::size_t chunk) const noexcept {
    return std::min<std::size_t>(chunk_records, size_ - chunk * chunk_records);
  }

  const std::uint32_t* find_slot(const Key& key) const noexcept {
    if (const auto found = index_.find(key); found != index_.end()) return &found->second;
    if (growing_) {
      if (const auto found = old_index_.find(key); found != old_index_.end()) return &found->second;
    }
    return nullptr;
  }

  void replace(std::uint32_t slot, const Record& record) noexcept {
    Record& stored = at(slot);
    hash_ += record_hash(record) - record_hash(stored);
    stored = record;
    changed_[slot / chunk_records] = 1;
  }

  void append(const Record& record) {
    CAP_ASSERT(size_ < records_max);
    if (size_ % chunk_records == 0) add_chunk();
    at(static_cast<std::uint32_t>(size_)) = record;
    changed_[size_ / chunk_records] = 1;
    ++size_;
    hash_ += record_hash(record);
  }

  void add_chunk() {
    // Not value-initialized: a chunk is filled as records are put, and zeroing 10 MiB up front
    // would be its own stall.
    chunks_.push_back(std::make_unique_for_overwrite<Record[]>(chunk_records));
    changed_.push_back(0);
  }

  // An empty index sized so `entries` go in without reaching the point where it would grow.
  void reset_index(std::size_t entries) {
    index_ = Index();
    index_.reserve(std::max(entries, index_entries_min));
    // Three quarters, below absl's own 7/8 load factor: ours triggers first, always.
    index_grow_at_ = index_.capacity() - index_.capacity() / 4;
  }

  void start_growing() {
    old_index_ = std::move(index_);
    reset_index(2 * old_index_.size());
    old_next_ = old_index_.begin();
    growing_ = true;
    move_index_entries();
  }

  void move_index_entries() {
    for (std::size_t moved = 0; moved < index_moves_per_put && old_next_ != old_index_.end();
         ++moved, ++old_next_) {
      const bool inserted = index_.insert(*old_next_).second;
      CAP_ASSERT(inserted);
    }
    if (old_next_ != old_index_.end()) return;
    old_index_ = Index();
    growing_ = false;
  }

  // `count` records' worth of chunks, contents undefined, and nothing else.
  void resize(std::uint64_t count) {
    chunks_.clear();
    changed_.clear();
    for (std::uint64_t first = 0; first < count; first += chunk_records) add_chunk();
    size_ = count;
  }

  // The index, the hash and the changed marks from the records, after a load.
  template <typename KeyOf>
  bool rebuild(KeyOf key_of, bool changed) {
    old_index_ = Index();
    growing_ = false;
    reset_index(size_ + size_ / 2);
    hash_ = 0;
    for (std::uint32_t slot = 0; slot < size_; ++slot) {
      const Record& record = at(slot);
      if (!index_.try_emplace(key_of(record), slot).second) return false;
      hash_ += record_hash(record);
    }
    std::fill(changed_.begin(), changed_.end(), changed ? 1 : 0);
    return true;
  }

  std::uint64_t seed_;
  std::uint64_t hash_ = 0;
  std::size_t size_ = 0;
  std::vector<std::unique_ptr<Record[]>> chunks_;
  mutable std::vector<std::uint8_t> changed_;  // per chunk: 1 when not in the last checkpoint
  Index index_;
  std::size_t index_grow_at_ = 0;  // index_ entries at which it starts growing
  // While growing: the old index, and its next entry to move into index_.
  bool growing_ = false;
  Index old_index_;
  typename Index::const_iterator old_next_;
};

}  // namespace capillary::payments
