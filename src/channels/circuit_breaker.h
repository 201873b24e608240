#pragma once
// A circuit breaker for one channel API.
//
// closed    calls go through; each completion lands in a window of one-second slots. When the
//           window holds at least `calls_min` calls and either the failed share reaches
//           `error_rate_ppm_max`, or more than 1% of calls took longer than `latency_p99_max`
//           (which is exactly "p99 over the threshold"), the breaker opens.
// open      every call is refused for `open_duration`, with the time left as the retry hint.
// half_open after that, `half_open_probes` calls are let through as probes; the rest are refused.
//           A failed (or too slow) probe opens the breaker again for another `open_duration`;
//           once every probe has succeeded it closes with an empty window.
//
// "Failed" is a call that got no answer (timeout, error, overload): a decline is the bank
// working as intended. Completions of calls let through before the breaker opened still land in
// the window but never move the state. O(1) per call (the window advances at most window_s slots
// per call, and only after idle seconds); one tiny critical section; time comes from the caller.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "channels/latency_histogram.h"
#include "channels/limits.h"

namespace capillary::channels {

enum class BreakerState : std::uint8_t { closed, open, half_open };
std::string_view name(BreakerState state);

struct BreakerPolicy {
  std::uint32_t window_s = 10;  // 1..breaker_window_s_max
  std::uint32_t calls_min = 20;
  std::uint32_t error_rate_ppm_max = 500'000;
  std::chrono::microseconds latency_p99_max{2'000'000};
  std::chrono::seconds open_duration{5};
  std::uint32_t half_open_probes = 3;  // >= 1
};

// Which half-open round a call probes for; 0: not a probe.
using ProbeRound = std::uint64_t;

struct BreakerSnapshot {
  BreakerState state = BreakerState::closed;
  std::uint32_t window_calls = 0;
  std::uint32_t window_failures = 0;
  std::uint32_t window_slow = 0;
  std::chrono::microseconds latency_p50{0};
  std::chrono::microseconds latency_p99{0};
  std::uint64_t times_opened = 0;
};

class CircuitBreaker {
 public:
  CircuitBreaker(const BreakerPolicy& policy, std::uint64_t now_ns);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // Whether a call may start now. When it may, `*probe` is the half-open round the call probes
  // for, or 0 when it is not a probe; pass it back to record or cancel. A probe from an earlier
  // round (the breaker reopened meanwhile) counts as an ordinary late completion. When the call
  // may not start, `*retry_after_ns` is the time the breaker stays open, or 0 when it is
  // half-open and waiting for its probes.
  bool allow(std::uint64_t now_ns, ProbeRound* probe, std::uint64_t* retry_after_ns);

  // An allowed call that never started (another limit refused it): frees its probe slot.
  void cancel(ProbeRound probe);

  // The completion of an allowed call.
  void record(std::uint64_t now_ns, ProbeRound probe, bool failed,
              std::chrono::microseconds latency);

  BreakerSnapshot snapshot(std::uint64_t now_ns);

 private:
  struct Slot {
    std::uint32_t calls = 0;
    std::uint32_t failures = 0;
    std::uint32_t slow = 0;
    LatencyCounts latency{};
  };

  // All under mutex_.
  void advance(std::uint64_t now_ns);
  void trip(std::uint64_t now_ns);
  std::uint64_t probes_from_ns() const;  // when an open breaker starts probing
  void close();
  bool over_thresholds() const;

  const BreakerPolicy policy_;
  std::mutex mutex_;
  BreakerState state_ = BreakerState::closed;
  std::uint64_t opened_ns_ = 0;
  ProbeRound round_ = 0;  // the current (or last) half-open round
  std::uint32_t probes_started_ = 0;
  std::uint32_t probes_succeeded_ = 0;
  std::uint64_t times_opened_ = 0;
  std::uint64_t head_s_;  // the second the newest slot belongs to
  std::array<Slot, breaker_window_s_max> slots_{};
  Slot total_{};  // the sum of the window's slots
};

}  // namespace capillary::channels
