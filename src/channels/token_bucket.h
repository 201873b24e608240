#pragma once
// A token bucket: `rate_per_s` tokens a second, holding at most `burst`. Exact integer refill:
// tokens are kept in units of 1/ns_per_s, so one nanosecond adds exactly `rate_per_s` units and
// no fraction of a token is ever lost or invented. O(1), one tiny critical section per call.
// Time comes from the caller (a Clock's now_ns), so tests drive it with a ManualClock.

#include <cstdint>
#include <mutex>

namespace capillary::channels {

class TokenBucket {
 public:
  // Starts full at `now_ns`. rate_per_s in 1..rate_per_s_max, burst in 1..burst_max.
  TokenBucket(std::uint32_t rate_per_s, std::uint32_t burst, std::uint64_t now_ns);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes one token if there is one. Otherwise takes nothing and, if `retry_after_ns` is set,
  // stores how long until a token will be there.
  bool try_take(std::uint64_t now_ns, std::uint64_t* retry_after_ns = nullptr);

  // Whole tokens available at `now_ns` (refills, takes nothing).
  std::uint64_t available(std::uint64_t now_ns);

  std::uint32_t rate_per_s() const { return rate_per_s_; }
  std::uint32_t burst() const { return burst_; }

 private:
  void refill(std::uint64_t now_ns);  // under mutex_

  const std::uint32_t rate_per_s_;
  const std::uint32_t burst_;
  const std::uint64_t capacity_units_;  // burst * ns_per_s
  const std::uint64_t refill_full_ns_;  // time to refill from empty; caps the elapsed time used
  std::mutex mutex_;
  std::uint64_t units_;    // tokens * ns_per_s, guarded by mutex_
  std::uint64_t last_ns_;  // guarded by mutex_
};

}  // namespace capillary::channels
