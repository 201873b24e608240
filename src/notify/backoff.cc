#include "notify/backoff.h"

#include "core/assert.h"

namespace capillary::notify {

std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy,
                                          std::uint32_t failed_attempts) {
  CAP_ASSERT(failed_attempts >= 1);
  CAP_ASSERT(policy.base.count() > 0 && policy.cap >= policy.base);
  // Doubling stops at the cap, so the product never overflows however many attempts failed.
  std::chrono::milliseconds ceiling = policy.base;
  for (std::uint32_t i = 1; i < failed_attempts && ceiling < policy.cap; ++i) ceiling *= 2;
  return std::min(ceiling, policy.cap);
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, std::uint32_t failed_attempts,
                                        std::uint64_t random) {
  const std::chrono::milliseconds ceiling = backoff_ceiling(policy, failed_attempts);
  const auto floor = ceiling.count() / 2;
  const auto span = static_cast<std::uint64_t>(ceiling.count() - floor) + 1;
  const std::chrono::milliseconds delay{floor + static_cast<std::int64_t>(random % span)};
  CAP_ASSERT(delay >= ceiling / 2 && delay <= ceiling);
  return delay;
}

}  // namespace capillary::notify
