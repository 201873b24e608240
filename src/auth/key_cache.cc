#include "auth/key_cache.h"

#include <absl/hash/hash.h>

#include "core/assert.h"

namespace capillary::auth {
namespace {

// Kind in the top byte, id below: ids of tenants and users stay far below 2^56.
std::uint64_t packed(const Principal& principal) {
  return std::uint64_t{static_cast<std::uint8_t>(principal.kind)} << 56 | principal.id;
}

}  // namespace

KeyCache::KeyCache(std::size_t entries_max) : entries_per_shard_max_(entries_max / shards) {
  CAP_ASSERT(entries_per_shard_max_ > 0);
}

KeyCache::Shard& KeyCache::shard_of(std::uint64_t key) {
  return shards_[absl::Hash<std::uint64_t>{}(key) % shards];
}

std::shared_ptr<const HmacKey> KeyCache::get(
    const Principal& principal, const std::function<std::shared_ptr<const HmacKey>()>& build) {
  // Ids that would collide in the packing are derived every time instead of cached.
  if (principal.id >> 56 != 0) return build();
  const std::uint64_t key = packed(principal);
  Shard& shard = shard_of(key);
  {
    std::lock_guard lock(shard.mutex);
    if (const auto found = shard.keys.find(key); found != shard.keys.end()) return found->second;
  }
  // Built outside the lock: two threads may both build the same key; one copy wins, both correct.
  std::shared_ptr<const HmacKey> built = build();
  std::lock_guard lock(shard.mutex);
  if (shard.keys.size() >= entries_per_shard_max_) shard.keys.erase(shard.keys.begin());
  shard.keys.emplace(key, built);
  CAP_ASSERT(shard.keys.size() <= entries_per_shard_max_);
  return built;
}

std::size_t KeyCache::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.keys.size();
  }
  return total;
}

}  // namespace capillary::auth
