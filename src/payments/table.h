#pragma once
// A table of fixed-size records keyed by id, folded into a state hash: the hash is the sum of
// every record's XXH3 (seeded per table), so updating one record costs two hashes, and two
// states with the same records have the same hash whatever order they were written in.
//
// Laid out for tens of millions of records on the engine thread, where a stall of a second is a
// second of every client's latency:
// - Records sit in chunks of chunk_records slots that never move (core/chunked.h): growing the
//   table copies nothing, and a checkpoint copies a chunk out as it is.
// - The key → slot index (16 bytes an entry for a u64 key, not the record's 160) grows a few
//   entries per put (core/growing_index.h), never all at once.
// - Each chunk has a changed mark, set by put and cleared when a checkpoint takes the chunk
//   (take_changed): a checkpoint writes what changed since the previous one, not the table.
//   It may copy those chunks later, between batches (core/chunk_copies.h).
// Records are never erased: a key's slot is its for the table's life.

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
#include "core/chunk_copies.h"
#include "core/chunked.h"
#include "core/growing_index.h"

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
    return slot == nullptr ? nullptr : &records_[*slot];
  }
  std::size_t size() const noexcept { return records_.size(); }
  std::uint64_t hash() const noexcept { return hash_; }

  // Hints that `key` will be looked up soon, in two stages for a caller that knows its keys some
  // way ahead: first the index entry, then (once that has arrived) the record. No effect on state.
  void prefetch_index(const Key& key) const noexcept { index_.prefetch(key); }
  void prefetch_record(const Key& key) const noexcept {
    if (const std::uint32_t* slot = index_.find(key)) {
      const char* record = reinterpret_cast<const char*>(&records_[*slot]);
      for (std::size_t line = 0; line < sizeof(Record); line += 64) __builtin_prefetch(record + line);
    }
  }

  // Inserts or replaces.
  void put(const Key& key, const Record& record) {
    const auto [slot, inserted] = index_.try_emplace(key, static_cast<std::uint32_t>(size()));
    if (inserted) {
      append(record);
    } else {
      replace(slot, record);
    }
  }

  // Visits every record, in the order they were first put.
  template <typename Visit>
  void for_each(Visit visit) const {
    for (const Record& record : records_) visit(record);
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
    const std::uint64_t count = size();
    out->append(reinterpret_cast<const char*>(&count), sizeof(count));
    for (std::size_t chunk = 0; chunk < changed_.size(); ++chunk) {
      const std::span<const Record> records = chunk_records_of(chunk);
      out->append(reinterpret_cast<const char*>(records.data()), records.size_bytes());
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
    for (std::size_t chunk = 0; chunk < changed_.size(); ++chunk) {
      const std::span<Record> records = chunk_records_of(chunk);
      std::memcpy(records.data(), in->data(), records.size_bytes());
      in->remove_prefix(records.size_bytes());
    }
    return rebuild(key_of, true);
  }

  // Bytes take_changed would copy now, counting each changed chunk full (it may fill until then).
  std::size_t changed_bytes() const noexcept {
    std::size_t chunks = 0;
    for (const std::uint8_t changed : changed_) chunks += changed;
    return chunks * chunk_records * sizeof(Record);
  }

  // The chunks changed since the last call, each under its part key (table_part_key), as the
  // bytes of its records now: copied at once, or by `later` (core/chunk_copies.h). Taking them is
  // the checkpoint's bookkeeping, not state: const.
  void take_changed(Parts* parts, CopyLater* later = nullptr) const {
    for (std::uint32_t chunk = 0; chunk < changed_.size(); ++chunk) {
      if (changed_[chunk] == 0) continue;
      const std::span<const Record> records = chunk_records_of(chunk);
      copies_.take(later, chunk, records.data(), records.size_bytes(), &(*parts)[part_key(chunk)]);
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
    for (std::uint32_t chunk = 0; chunk < changed_.size(); ++chunk) {
      const auto found = parts.find(part_key(chunk));
      const std::span<Record> records = chunk_records_of(chunk);
      if (found == parts.end() || found->second.size() != records.size_bytes()) return false;
      std::memcpy(records.data(), found->second.data(), records.size_bytes());
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
  std::uint64_t record_hash(const Record& record) const noexcept {
    return checksum(&record, sizeof(Record), seed_);
  }
  // The records of one chunk: chunk_records of them, fewer in the last.
  std::span<const Record> chunk_records_of(std::size_t chunk) const noexcept {
    const std::size_t first = chunk * chunk_records;
    return records_.run(first, std::min<std::size_t>(chunk_records, size() - first));
  }
  std::span<Record> chunk_records_of(std::size_t chunk) noexcept {
    const std::size_t first = chunk * chunk_records;
    return records_.run(first, std::min<std::size_t>(chunk_records, size() - first));
  }

  const std::uint32_t* find_slot(const Key& key) const noexcept { return index_.find(key); }

  // Appends need no copy first: a chunk taken holds only the records there were then.
  void replace(std::uint32_t slot, const Record& record) noexcept {
    copies_.before_write(slot / chunk_records);
    Record& stored = records_[slot];
    hash_ += record_hash(record) - record_hash(stored);
    stored = record;
    changed_[slot / chunk_records] = 1;
  }

  void append(const Record& record) {
    CAP_ASSERT(size() < records_max);
    if (size() % chunk_records == 0) changed_.push_back(0);
    changed_[size() / chunk_records] = 1;
    records_.push_back(record);
    hash_ += record_hash(record);
  }

  // `count` records, contents undefined, and nothing else.
  void resize(std::uint64_t count) {
    CAP_ASSERT(copies_.waiting() == 0);
    records_.resize_for_overwrite(count);
    changed_.assign((count + chunk_records - 1) / chunk_records, 0);
  }

  // The index, the hash and the changed marks from the records, after a load.
  template <typename KeyOf>
  bool rebuild(KeyOf key_of, bool changed) {
    index_.reset(size());
    hash_ = 0;
    for (std::uint32_t slot = 0; slot < size(); ++slot) {
      const Record& record = records_[slot];
      if (!index_.try_emplace(key_of(record), slot).second) return false;
      hash_ += record_hash(record);
    }
    std::fill(changed_.begin(), changed_.end(), changed ? 1 : 0);
    return true;
  }

  std::uint64_t seed_;
  std::uint64_t hash_ = 0;
  Chunked<Record, chunk_records> records_;
  mutable std::vector<std::uint8_t> changed_;  // per chunk: 1 when not in the last checkpoint
  mutable ChunkCopies copies_;                 // chunks taken by a checkpoint, not yet copied
  GrowingIndex<Key> index_;
};

}  // namespace capillary::payments
