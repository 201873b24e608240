#pragma once
// Flow control for each channel API: a circuit breaker, a concurrency limit and a token bucket,
// checked in that order before a call is sent. A call that does not pass is rejected at once with
// a reason and a retry hint in seconds, so the HTTP layer answers 429 or 503 with Retry-After
// instead of queueing work the bank cannot take.
//
// Usage, per call:
//   Admission admission = flow.admit(clock.now_ns());
//   if (!admission.admitted()) return reject(admission.rejection, admission.retry_after_s);
//   ... send, and when the answer comes (exactly once per admitted call):
//   flow.complete(admission, clock.now_ns(), response);
//
// admit and complete are O(1) and thread-safe: the in-flight count is an atomic, the bucket and
// the breaker each hold a tiny critical section.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channels/circuit_breaker.h"
#include "channels/connector.h"
#include "channels/token_bucket.h"

namespace capillary::channels {

// Why a call was not sent, in order of precedence: the first that applies is reported.
enum class Rejection : std::uint8_t {
  none,
  no_route,             // no channel takes this card's bank code (HTTP 503, no retry hint helps)
  circuit_open,         // the channel's breaker is open or probing (HTTP 503)
  concurrency_limited,  // the channel has concurrency_max calls outstanding (HTTP 429)
  rate_limited,         // the channel's token bucket is empty (HTTP 429)
};
inline constexpr std::size_t rejection_count = 5;
std::string_view name(Rejection rejection);
// 429 for our own limits, 503 when the channel (or every channel) is unavailable.
unsigned http_status(Rejection rejection);

struct ApiLimits {
  std::uint32_t rate_per_s = 1000;
  std::uint32_t burst = 100;
  std::uint32_t concurrency_max = 256;
};

struct Admission {
  Rejection rejection = Rejection::none;
  std::uint32_t retry_after_s = 0;  // >= retry_after_s_min when rejected
  ProbeRound probe = 0;             // the half-open round it probes for; 0: not a probe
  bool admitted() const { return rejection == Rejection::none; }
};

struct ApiFlowSnapshot {
  ChannelId channel_id = 0;
  BankApi api = BankApi::debit_card;
  std::uint32_t rate_per_s = 0;
  std::uint64_t tokens_available = 0;
  std::uint32_t in_flight = 0;
  std::uint32_t concurrency_max = 0;
  BreakerSnapshot breaker;
  std::array<std::uint64_t, 3> outcomes{};                  // indexed by BankOutcome
  std::array<std::uint64_t, rejection_count> rejections{};  // indexed by Rejection; [none] is 0
};

// The flow control of one API of one channel.
class ApiFlow {
 public:
  ApiFlow(ChannelId channel_id, BankApi api, const ApiLimits& limits, const BreakerPolicy& breaker,
          std::uint64_t now_ns);
  ApiFlow(const ApiFlow&) = delete;
  ApiFlow& operator=(const ApiFlow&) = delete;

  Admission admit(std::uint64_t now_ns);
  // The answer to an admitted call; frees its concurrency slot and feeds the breaker.
  void complete(const Admission& admission, std::uint64_t now_ns, const BankResponse& response);
  // An admitted call its caller withdrew before sending it: frees its concurrency slot and its
  // probe, if it was one, and tells the breaker nothing. The rate token stays spent.
  void withdraw(const Admission& admission);
  // Counts a rejection decided elsewhere (the router reports only the one it returns).
  void count_rejection(Rejection rejection);

  ApiFlowSnapshot snapshot(std::uint64_t now_ns);

 private:
  const ChannelId channel_id_;
  const BankApi api_;
  const std::uint32_t concurrency_max_;
  TokenBucket bucket_;
  CircuitBreaker breaker_;
  std::atomic<std::uint32_t> in_flight_{0};
  std::array<std::atomic<std::uint64_t>, 3> outcomes_{};
  std::array<std::atomic<std::uint64_t>, rejection_count> rejections_{};
};

// Seconds to tell a client to wait, from a wait in nanoseconds: rounded up, never 0.
std::uint32_t retry_after_s(std::uint64_t wait_ns);

// Prometheus text lines (with HELP and TYPE) for a set of snapshots: the server's /metrics
// appends them. Metric names are listed in docs/channels.md.
std::string render_prometheus(std::span<const ApiFlowSnapshot> snapshots);

}  // namespace capillary::channels
