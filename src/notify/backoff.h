#pragma once
// How long an order waits after a failed delivery attempt: exponential back-off with "equal
// jitter". After n failed attempts the ceiling is d = min(cap, base * 2^(n-1)) and the delay is
// drawn uniformly from [d/2, d]. The jitter spreads the retries of many orders that failed
// together (a merchant's server came back) so they do not return as one burst; keeping the lower
// half fixed makes successive delays of one order never shrink while the ceiling doubles, unlike
// full jitter. At the cap, delays keep spreading over [cap/2, cap].

#include <chrono>
#include <cstdint>

namespace capillary::notify {

struct BackoffPolicy {
  std::chrono::milliseconds base{2000};
  std::chrono::milliseconds cap{30 * 60 * 1000};
};

// `failed_attempts` >= 1; `random` is any uniformly distributed 64-bit value.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, std::uint32_t failed_attempts,
                                        std::uint64_t random);

// The ceiling d above, for documentation and tests.
std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy,
                                          std::uint32_t failed_attempts);

}  // namespace capillary::notify
