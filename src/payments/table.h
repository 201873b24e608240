#pragma once
// A table of fixed-size records keyed by id, folded into a state hash: the hash is the sum of
// every record's XXH3 (seeded per table), so updating one record costs two hashes, and two
// states with the same records have the same hash whatever order they were written in.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/assert.h"
#include "core/checksum.h"

namespace capillary::payments {

template <typename Key, typename Record>
class Table {
  static_assert(std::has_unique_object_representations_v<Record>);

 public:
  explicit Table(std::uint64_t seed) : seed_(seed) {}

  const Record* find(const Key& key) const noexcept {
    const auto it = records_.find(key);
    return it == records_.end() ? nullptr : &it->second;
  }
  std::size_t size() const noexcept { return records_.size(); }
  std::uint64_t hash() const noexcept { return hash_; }

  // Inserts or replaces.
  void put(const Key& key, const Record& record) {
    auto [it, inserted] = records_.try_emplace(key, record);
    if (!inserted) {
      hash_ -= record_hash(it->second);
      it->second = record;
    }
    hash_ += record_hash(record);
  }

  template <typename Visit>
  void for_each(Visit visit) const {
    for (const auto& [key, record] : records_) visit(key, record);
  }

  // Appends every record's bytes; `key_of` rebuilds the key from a record on load.
  void save(std::string* out) const {
    const std::uint64_t count = records_.size();
    out->append(reinterpret_cast<const char*>(&count), sizeof(count));
    for (const auto& [key, record] : records_) {
      out->append(reinterpret_cast<const char*>(&record), sizeof(Record));
    }
  }
  // Reads what save() wrote from the front of `in`, consuming it; false when it is truncated.
  template <typename KeyOf>
  bool load(std::string_view* in, KeyOf key_of) {
    records_.clear();
    hash_ = 0;
    std::uint64_t count = 0;
    if (in->size() < sizeof(count)) return false;
    std::memcpy(&count, in->data(), sizeof(count));
    in->remove_prefix(sizeof(count));
    if (count > in->size() / sizeof(Record)) return false;
    records_.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      Record record;
      std::memcpy(&record, in->data(), sizeof(Record));
      in->remove_prefix(sizeof(Record));
      put(key_of(record), record);
    }
    return true;
  }

 private:
  std::uint64_t record_hash(const Record& record) const noexcept {
    return checksum(&record, sizeof(Record), seed_);
  }

  std::uint64_t seed_;
  std::uint64_t hash_ = 0;
  absl::flat_hash_map<Key, Record> records_;
};

}  // namespace capillary::payments
