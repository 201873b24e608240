#pragma once
// A fund's register of holders, laid out for the income run over 10^8 of them: holders in one
// dense vector of 64-byte records, the user of slot i in a parallel vector, and an open-addressing
// hash from user to slot. Slots are never freed, so a run can pay slots [0, n) in order while new
// holders are appended behind it.
//
// The register keeps its own part of the state hash up to date: the sum over holders of XXH3 of
// the record seeded with the user, so changing a holder costs two hashes, never a rescan.
//
// Checkpoints take it in chunks of chunk_holders slots, and only the chunks changed since the
// previous checkpoint (take_changed), as the ledger does with its tables: a day's income changes
// every holder, but most checkpoints between two income runs write a few chunks, not gigabytes.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fund/records.h"

namespace capillary::fund {

// Checkpoint parts by key: a register's chunks under "<prefix><chunk, 4 bytes big-endian>".
using Parts = std::map<std::string, std::string>;

class Register {
 public:
  // 65,536 holders: 4 MiB of records and 0.5 MiB of user ids a chunk.
  static constexpr std::uint32_t chunk_holders = 1u << 16;

  Register() = default;
  Register(const Register&) = delete;
  Register& operator=(const Register&) = delete;
  Register(Register&&) = default;
  Register& operator=(Register&&) = default;

  std::optional<std::uint32_t> find(std::uint64_t user) const noexcept;
  // Appends a holder; the user must not be in the register.
  std::uint32_t add(std::uint64_t user, const Holder& holder = Holder{});
  void reserve(std::size_t holders);

  std::size_t size() const noexcept { return holders_.size(); }
  const Holder& at(std::uint32_t slot) const noexcept { return holders_[slot]; }
  std::uint64_t user(std::uint32_t slot) const noexcept { return users_[slot]; }
  // Replaces slot's record, keeping the hash.
  void put(std::uint32_t slot, const Holder& holder) noexcept;

  // The income step's loop: calls `change(Holder&)` on slots [first, last); it returns true when
  // it changed the record, whose hash is then updated.
  template <typename Change>
  void update(std::uint32_t first, std::uint32_t last, Change change) noexcept {
    for (std::uint32_t slot = first; slot < last; ++slot) {
      Holder& holder = holders_[slot];
      const Holder before = holder;
      if (change(holder)) {
        hash_ += holder_hash(slot) - record_hash(before, users_[slot]);
        changed_[slot / chunk_holders] = 1;
      }
    }
  }

  std::uint64_t hash() const noexcept { return hash_; }
  // The hash recomputed from every record, for check_invariants.
  std::uint64_t recompute_hash() const noexcept;

  // The whole register inline, and back; a loaded register counts every chunk as changed.
  void save(std::string* out) const;
  bool load(std::string_view* in);
  // The chunks changed since the last call, into `parts`, and the register back from all of its
  // chunks (none then counts as changed). The bookkeeping of what a checkpoint holds is not
  // state, so taking it is const.
  void take_changed(std::string_view prefix, Parts* parts) const;
  bool load_parts(std::uint64_t count, std::string_view prefix, const Parts& parts);

 private:
  static std::uint64_t record_hash(const Holder& holder, std::uint64_t user) noexcept;
  static std::string chunk_key(std::string_view prefix, std::uint32_t chunk);
  // The user index, the hash and the changed chunks (all or none) after a load.
  bool rebuild(bool changed);
  std::uint64_t holder_hash(std::uint32_t slot) const noexcept {
    return record_hash(holders_[slot], users_[slot]);
  }

  std::vector<Holder> holders_;
  std::vector<std::uint64_t> users_;
  absl::flat_hash_map<std::uint64_t, std::uint32_t> slots_;
  std::uint64_t hash_ = 0;
  mutable std::vector<std::uint8_t> changed_;  // per chunk: 1 when not in the last checkpoint
};

}  // namespace capillary::fund
