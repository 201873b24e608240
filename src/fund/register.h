#pragma once
// A fund's register of holders, laid out for the income run over 10^8 of them: holders in one
// dense vector of 64-byte records, the user of slot i in a parallel vector, and an open-addressing
// hash from user to slot. Slots are never freed, so a run can pay slots [0, n) in order while new
// holders are appended behind it.
//
// The register keeps its own part of the state hash up to date: the sum over holders of XXH3 of
// the record seeded with the user, so changing a holder costs two hashes, never a rescan.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fund/records.h"

namespace capillary::fund {

class Register {
 public:
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
      if (change(holder)) hash_ += holder_hash(slot) - record_hash(before, users_[slot]);
    }
  }

  std::uint64_t hash() const noexcept { return hash_; }
  // The hash recomputed from every record, for check_invariants.
  std::uint64_t recompute_hash() const noexcept;

  void save(std::string* out) const;
  bool load(std::string_view* in);

 private:
  static std::uint64_t record_hash(const Holder& holder, std::uint64_t user) noexcept;
  std::uint64_t holder_hash(std::uint32_t slot) const noexcept {
    return record_hash(holders_[slot], users_[slot]);
  }

  std::vector<Holder> holders_;
  std::vector<std::uint64_t> users_;
  absl::flat_hash_map<std::uint64_t, std::uint32_t> slots_;
  std::uint64_t hash_ = 0;
};

}  // namespace capillary::fund
