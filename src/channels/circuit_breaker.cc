#include "channels/circuit_breaker.h"

#include <algorithm>

#include "core/assert.h"
#include "core/clock.h"

namespace capillary::channels {

std::string_view name(BreakerState state) {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(const BreakerPolicy& policy, std::uint64_t now_ns)
    : policy_(policy), head_s_(now_ns / ns_per_s) {
  CAP_ASSERT(policy.window_s >= 1 && policy.window_s <= breaker_window_s_max);
  CAP_ASSERT(policy.half_open_probes >= 1);
  CAP_ASSERT(policy.calls_min >= 1);  // an empty window must never open the breaker
  CAP_ASSERT(policy.error_rate_ppm_max <= 1'000'000);
  CAP_ASSERT(policy.open_duration.count() > 0);
}

// Expires the slots of seconds that left the window. Bounded by window_s whatever the gap.
void CircuitBreaker::advance(std::uint64_t now_ns) {
  const std::uint64_t now_s = now_ns / ns_per_s;
  if (now_s <= head_s_) return;
  const std::uint64_t steps = std::min<std::uint64_t>(now_s - head_s_, policy_.window_s);
  for (std::uint64_t step = 1; step <= steps; ++step) {
    Slot& slot = slots_[(head_s_ + step) % policy_.window_s];
    total_.calls -= slot.calls;
    total_.failures -= slot.failures;
    total_.slow -= slot.slow;
    for (std::size_t bucket = 0; bucket < latency_buckets; ++bucket) {
      total_.latency[bucket] -= slot.latency[bucket];
    }
    slot = Slot{};
  }
  head_s_ = now_s;
  CAP_ASSERT(total_.failures <= total_.calls && total_.slow <= total_.calls);
}

bool CircuitBreaker::over_thresholds() const {
  if (total_.calls < policy_.calls_min) return false;
  const std::uint64_t calls = total_.calls;
  const bool errors = std::uint64_t{total_.failures} * 1'000'000 >=
                      std::uint64_t{policy_.error_rate_ppm_max} * calls;
  const bool slow = std::uint64_t{total_.slow} * 100 > calls;
  return errors || slow;
}

void CircuitBreaker::trip(std::uint64_t now_ns) {
  state_ = BreakerState::open;
  opened_ns_ = now_ns;
  probes_started_ = 0;
  probes_succeeded_ = 0;
  ++times_opened_;
}

// A closed breaker starts from an empty window: the failures that opened it are history.
void CircuitBreaker::close() {
  state_ = BreakerState::closed;
  probes_started_ = 0;
  probes_succeeded_ = 0;
  slots_.fill(Slot{});
  total_ = Slot{};
}

bool CircuitBreaker::allow(std::uint64_t now_ns, ProbeRound* probe, std::uint64_t* retry_after_ns) {
  std::lock_guard lock(mutex_);
  *probe = 0;
  *retry_after_ns = 0;
  if (state_ == BreakerState::closed) return true;
  if (state_ == BreakerState::open) {
    if (now_ns < probes_from_ns()) {
      *retry_after_ns = probes_from_ns() - now_ns;
      return false;
    }
    state_ = BreakerState::half_open;
    ++round_;
  }
  CAP_ASSERT(state_ == BreakerState::half_open);
  if (probes_started_ >= policy_.half_open_probes) return false;
  ++probes_started_;
  *probe = round_;
  return true;
}

void CircuitBreaker::cancel(ProbeRound probe) {
  if (probe == 0) return;
  std::lock_guard lock(mutex_);
  // The breaker may have moved on (a sibling probe failed); only a live round's slot is returned.
  if (state_ == BreakerState::half_open && probe == round_) {
    CAP_ASSERT(probes_started_ > 0);
    --probes_started_;
  }
}

void CircuitBreaker::record(std::uint64_t now_ns, ProbeRound probe, bool failed,
                            std::chrono::microseconds latency) {
  CAP_ASSERT(latency.count() >= 0);
  std::lock_guard lock(mutex_);
  advance(now_ns);
  const bool slow = latency > policy_.latency_p99_max;
  Slot& slot = slots_[head_s_ % policy_.window_s];
  const std::size_t bucket = latency_bucket(static_cast<std::uint64_t>(latency.count()));
  for (Slot* counts : {&slot, &total_}) {
    ++counts->calls;
    counts->failures += failed ? 1 : 0;
    counts->slow += slow ? 1 : 0;
    ++counts->latency[bucket];
  }
  switch (state_) {
    case BreakerState::closed:
      if (over_thresholds()) trip(now_ns);
      break;
    case BreakerState::open:
      break;  // a call from before the breaker opened: counted, nothing more
    case BreakerState::half_open:
      if (probe != round_) break;  // not a probe of this round
      if (failed || slow) {
        trip(now_ns);
      } else if (++probes_succeeded_ >= policy_.half_open_probes) {
        close();
      }
      break;
  }
}

std::uint64_t CircuitBreaker::probes_from_ns() const {
  return opened_ns_ +
         static_cast<std::uint64_t>(
             std::chrono::duration_cast<std::chrono::nanoseconds>(policy_.open_duration).count());
}

BreakerSnapshot CircuitBreaker::snapshot(std::uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  advance(now_ns);
  BreakerSnapshot snapshot;
  // An open breaker whose time is up is half-open, even before a call comes to probe it.
  const bool probing = state_ == BreakerState::open && now_ns >= probes_from_ns();
  snapshot.state = probing ? BreakerState::half_open : state_;
  snapshot.window_calls = total_.calls;
  snapshot.window_failures = total_.failures;
  snapshot.window_slow = total_.slow;
  snapshot.latency_p50 = latency_quantile(total_.latency, 500'000);
  snapshot.latency_p99 = latency_quantile(total_.latency, 990'000);
  snapshot.times_opened = times_opened_;
  return snapshot;
}

}  // namespace capillary::channels
