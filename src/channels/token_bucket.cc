#include "channels/token_bucket.h"

#include <algorithm>

#include "channels/limits.h"
#include "core/assert.h"
#include "core/clock.h"

namespace capillary::channels {

static_assert(static_cast<std::uint64_t>(burst_max) * ns_per_s < (1ull << 62),
              "a full bucket in units must not overflow");

TokenBucket::TokenBucket(std::uint32_t rate_per_s, std::uint32_t burst, std::uint64_t now_ns)
    : rate_per_s_(rate_per_s),
      burst_(burst),
      capacity_units_(static_cast<std::uint64_t>(burst) * ns_per_s),
      refill_full_ns_(rate_per_s == 0 ? 0 : (capacity_units_ + rate_per_s - 1) / rate_per_s),
      units_(capacity_units_),
      last_ns_(now_ns) {
  CAP_ASSERT(rate_per_s >= 1 && rate_per_s <= rate_per_s_max);
  CAP_ASSERT(burst >= 1 && burst <= burst_max);
}

void TokenBucket::refill(std::uint64_t now_ns) {
  // A clock read on another thread may be a little behind the last one seen: no time passed.
  if (now_ns <= last_ns_) return;
  // Past refill_full_ns_ the bucket is full whatever came before; capping the elapsed time
  // there keeps elapsed * rate below capacity_units_ and so free of overflow.
  const std::uint64_t elapsed_ns = std::min(now_ns - last_ns_, refill_full_ns_);
  units_ = std::min(capacity_units_, units_ + elapsed_ns * rate_per_s_);
  last_ns_ = now_ns;
  CAP_ASSERT(units_ <= capacity_units_);
}

bool TokenBucket::try_take(std::uint64_t now_ns, std::uint64_t* retry_after_ns) {
  std::lock_guard lock(mutex_);
  refill(now_ns);
  if (units_ >= ns_per_s) {
    units_ -= ns_per_s;
    return true;
  }
  if (retry_after_ns != nullptr) {
    // Ceiling: the token is whole only once the last unit has arrived.
    *retry_after_ns = (ns_per_s - units_ + rate_per_s_ - 1) / rate_per_s_;
  }
  return false;
}

std::uint64_t TokenBucket::available(std::uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  refill(now_ns);
  return units_ / ns_per_s;
}

}  // namespace capillary::channels
