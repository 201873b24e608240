#pragma once
// Precomputed HMAC keys of tenants' secrets, shared by the server's threads. Sharded so that
// threads verifying different tenants rarely meet on a lock; bounded (key_cache_entries_max).

#include <absl/container/flat_hash_map.h>

#include <array>
#include <functional>
#include <memory>
#include <mutex>

#include "auth/hmac.h"
#include "auth/principal.h"

namespace capillary::auth {

class KeyCache {
 public:
  explicit KeyCache(std::size_t entries_max);

  // The cached key of `principal`, or `build()` cached and returned. The key stays valid for as
  // long as the caller holds it, even if evicted meanwhile.
  std::shared_ptr<const HmacKey> get(const Principal& principal,
                                     const std::function<std::shared_ptr<const HmacKey>()>& build);

  std::size_t size() const;

 private:
  static constexpr std::size_t shards = 16;
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<std::uint64_t, std::shared_ptr<const HmacKey>> keys;
  };
  Shard& shard_of(std::uint64_t packed);

  std::size_t entries_per_shard_max_;
  std::array<Shard, shards> shards_;
};

}  // namespace capillary::auth
