#include "fund/register.h"

#include <algorithm>
#include <cstring>

#include "core/assert.h"
#include "core/checksum.h"
#include "fund/limits.h"

namespace capillary::fund {

std::optional<std::uint32_t> Register::find(std::uint64_t user) const noexcept {
  const auto it = slots_.find(user);
  if (it == slots_.end()) return std::nullopt;
  return it->second;
}

std::uint32_t Register::add(std::uint64_t user, const Holder& holder) {
  CAP_ASSERT(holders_.size() < holders_per_fund_max);
  const auto slot = static_cast<std::uint32_t>(holders_.size());
  const bool inserted = slots_.try_emplace(user, slot).second;
  CAP_ASSERT(inserted);
  holders_.push_back(holder);
  users_.push_back(user);
  hash_ += holder_hash(slot);
  if (slot % chunk_holders == 0) changed_.push_back(0);
  changed_[slot / chunk_holders] = 1;
  return slot;
}

void Register::reserve(std::size_t holders) {
  holders_.reserve(holders);
  users_.reserve(holders);
  slots_.reserve(holders);
}

void Register::put(std::uint32_t slot, const Holder& holder) noexcept {
  hash_ -= holder_hash(slot);
  holders_[slot] = holder;
  hash_ += holder_hash(slot);
  changed_[slot / chunk_holders] = 1;
}

std::uint64_t Register::record_hash(const Holder& holder, std::uint64_t user) noexcept {
  return checksum(&holder, sizeof(Holder), user);
}

std::uint64_t Register::recompute_hash() const noexcept {
  std::uint64_t hash = 0;
  for (std::uint32_t slot = 0; slot < holders_.size(); ++slot) hash += holder_hash(slot);
  return hash;
}

// Layout: count u64, then `count` user ids, then `count` Holder records.
void Register::save(std::string* out) const {
  const std::uint64_t count = holders_.size();
  out->append(reinterpret_cast<const char*>(&count), sizeof(count));
  out->append(reinterpret_cast<const char*>(users_.data()), count * sizeof(std::uint64_t));
  out->append(reinterpret_cast<const char*>(holders_.data()), count * sizeof(Holder));
}

bool Register::load(std::string_view* in) {
  std::uint64_t count = 0;
  if (in->size() < sizeof(count)) return false;
  std::memcpy(&count, in->data(), sizeof(count));
  in->remove_prefix(sizeof(count));
  if (count > holders_per_fund_max ||
      count > in->size() / (sizeof(std::uint64_t) + sizeof(Holder))) {
    return false;
  }
  users_.resize(count);
  holders_.resize(count);
  std::memcpy(users_.data(), in->data(), count * sizeof(std::uint64_t));
  in->remove_prefix(count * sizeof(std::uint64_t));
  std::memcpy(holders_.data(), in->data(), count * sizeof(Holder));
  in->remove_prefix(count * sizeof(Holder));
  return rebuild(true);
}

std::string Register::chunk_key(std::string_view prefix, std::uint32_t chunk) {
  std::string key(prefix);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(chunk >> shift));
  return key;
}

// A chunk's bytes: its user ids, then its records.
void Register::take_changed(std::string_view prefix, Parts* parts) const {
  for (std::uint32_t chunk = 0; chunk < changed_.size(); ++chunk) {
    if (changed_[chunk] == 0) continue;
    const std::size_t first = std::size_t{chunk} * chunk_holders;
    const std::size_t count = std::min<std::size_t>(chunk_holders, holders_.size() - first);
    std::string& bytes = (*parts)[chunk_key(prefix, chunk)];
    bytes.assign(reinterpret_cast<const char*>(users_.data() + first), count * sizeof(std::uint64_t));
    bytes.append(reinterpret_cast<const char*>(holders_.data() + first), count * sizeof(Holder));
    changed_[chunk] = 0;
  }
}

bool Register::load_parts(std::uint64_t count, std::string_view prefix, const Parts& parts) {
  if (count > holders_per_fund_max) return false;
  users_.resize(count);
  holders_.resize(count);
  for (std::size_t first = 0; first < count; first += chunk_holders) {
    const auto found = parts.find(chunk_key(prefix, static_cast<std::uint32_t>(first / chunk_holders)));
    const std::size_t holders = std::min<std::size_t>(chunk_holders, count - first);
    if (found == parts.end() || found->second.size() != holders * (sizeof(std::uint64_t) + sizeof(Holder))) {
      return false;
    }
    std::memcpy(users_.data() + first, found->second.data(), holders * sizeof(std::uint64_t));
    std::memcpy(holders_.data() + first, found->second.data() + holders * sizeof(std::uint64_t),
                holders * sizeof(Holder));
  }
  return rebuild(false);
}

bool Register::rebuild(bool changed) {
  slots_.clear();
  slots_.reserve(holders_.size());
  for (std::uint32_t slot = 0; slot < holders_.size(); ++slot) {
    if (!slots_.try_emplace(users_[slot], slot).second) return false;
  }
  hash_ = recompute_hash();
  changed_.assign((holders_.size() + chunk_holders - 1) / chunk_holders, changed ? 1 : 0);
  return true;
}

}  // namespace capillary::fund
