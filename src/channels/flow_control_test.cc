#include "channels/flow_control.h"

#include <gtest/gtest.h>

#include <chrono>

#include "channels/circuit_breaker.h"
#include "channels/latency_histogram.h"
#include "channels/token_bucket.h"
#include "core/clock.h"

namespace capillary::channels {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t start_ns = 1'700'000'000ull * ns_per_s;

std::uint64_t ns(std::chrono::nanoseconds duration) {
  return static_cast<std::uint64_t>(duration.count());
}

TEST(TokenBucket, StartsFullThenRefillsExactlyAtTheRate) {
  ManualClock clock(start_ns);
  TokenBucket bucket(/*rate_per_s=*/3, /*burst=*/2, clock.now_ns());
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  std::uint64_t wait_ns = 0;
  EXPECT_FALSE(bucket.try_take(clock.now_ns(), &wait_ns));
  // 3 tokens a second: one every 333,333,333.33 ns, so the first is whole after the ceiling.
  EXPECT_EQ(wait_ns, 333'333'334u);
  clock.advance(std::chrono::nanoseconds(333'333'333));
  EXPECT_FALSE(bucket.try_take(clock.now_ns(), &wait_ns));
  EXPECT_EQ(wait_ns, 1u);
  clock.advance(1ns);
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  // A full second brings exactly three tokens, capped at the burst of two.
  clock.advance(1s);
  EXPECT_EQ(bucket.available(clock.now_ns()), 2u);
  // No fraction is lost across many small steps: 3,000 steps of 1/3000 s bring 3 tokens.
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  for (int step = 0; step < 3000; ++step) clock.advance(std::chrono::nanoseconds(333'333));
  clock.advance(std::chrono::nanoseconds(1000));  // 3000 * 333,333 + 1000 = 1 s exactly
  EXPECT_EQ(bucket.available(clock.now_ns()), 2u);
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  EXPECT_TRUE(bucket.try_take(clock.now_ns()));
  EXPECT_FALSE(bucket.try_take(clock.now_ns()));
}

TEST(TokenBucket, LongIdleFillsToBurstWithoutOverflow) {
  ManualClock clock(start_ns);
  TokenBucket bucket(rate_per_s_max, burst_max, clock.now_ns());
  for (std::uint32_t i = 0; i < burst_max; ++i) ASSERT_TRUE(bucket.try_take(clock.now_ns()));
  EXPECT_FALSE(bucket.try_take(clock.now_ns()));
  clock.advance(std::chrono::hours(24 * 365 * 100));
  EXPECT_EQ(bucket.available(clock.now_ns()), burst_max);
  // A clock read that is behind the last one adds nothing.
  EXPECT_EQ(bucket.available(start_ns), burst_max);
}

TEST(LatencyHistogram, QuantilesAreTheTopOfTheirBucket) {
  LatencyCounts counts{};
  for (int i = 0; i < 98; ++i) ++counts[latency_bucket(1000)];  // the bucket of 768..1023 us
  ++counts[latency_bucket(50'000)];
  ++counts[latency_bucket(200'000)];
  EXPECT_EQ(latency_quantile(counts, 500'000), 1023us);
  EXPECT_EQ(latency_quantile(counts, 990'000),
            std::chrono::microseconds(latency_bucket_max_us(latency_bucket(50'000))));
  EXPECT_EQ(latency_quantile(counts, 1'000'000),
            std::chrono::microseconds(latency_bucket_max_us(latency_bucket(200'000))));
  EXPECT_GE(latency_bucket_max_us(latency_bucket(50'000)), 50'000u);
  EXPECT_LE(latency_bucket_max_us(latency_bucket(50'000)), 50'000u * 4 / 3);
  EXPECT_EQ(latency_quantile(LatencyCounts{}, 990'000), 0us);
}

BreakerPolicy test_policy() {
  BreakerPolicy policy;
  policy.window_s = 10;
  policy.calls_min = 10;
  policy.error_rate_ppm_max = 500'000;
  policy.latency_p99_max = 100ms;
  policy.open_duration = 5s;
  policy.half_open_probes = 2;
  return policy;
}

// Records `calls` completions, the first `failures` of them failed, each `latency` long.
void record(CircuitBreaker& breaker, std::uint64_t now_ns, int calls, int failures,
            std::chrono::microseconds latency = 1ms) {
  for (int i = 0; i < calls; ++i) {
    ProbeRound probe = 0;
    std::uint64_t wait_ns = 0;
    ASSERT_TRUE(breaker.allow(now_ns, &probe, &wait_ns));
    breaker.record(now_ns, probe, i < failures, latency);
  }
}

TEST(CircuitBreaker, OpensWhenTheErrorRateReachesTheThreshold) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 9, 9);  // under calls_min: no verdict yet
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::closed);
  record(breaker, clock.now_ns(), 1, 0);  // 9 of 10 failed
  const BreakerSnapshot snapshot = breaker.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.state, BreakerState::open);
  EXPECT_EQ(snapshot.times_opened, 1u);
  ProbeRound probe = 0;
  std::uint64_t wait_ns = 0;
  EXPECT_FALSE(breaker.allow(clock.now_ns(), &probe, &wait_ns));
  EXPECT_EQ(wait_ns, ns(5s));
  clock.advance(2s);
  EXPECT_FALSE(breaker.allow(clock.now_ns(), &probe, &wait_ns));
  EXPECT_EQ(wait_ns, ns(3s));
  EXPECT_EQ(retry_after_s(wait_ns), 3u);
}

TEST(CircuitBreaker, StaysClosedJustUnderTheErrorRate) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 11, 0);
  record(breaker, clock.now_ns(), 9, 9);  // 45%
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::closed);
  // Old failures leave the window: 10 s later they no longer count.
  clock.advance(10s);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).window_calls, 0u);
  record(breaker, clock.now_ns(), 10, 5);  // 50% of a fresh window
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::open);
}

TEST(CircuitBreaker, OpensWhenLatencyP99IsOverTheThreshold) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 99, 0, 10ms);
  record(breaker, clock.now_ns(), 1, 0, 150ms);  // 1 slow in 100: p99 is still 10 ms
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::closed);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).window_slow, 1u);
  record(breaker, clock.now_ns(), 1, 0, 150ms);  // 2 in 101: p99 is now 150 ms
  const BreakerSnapshot snapshot = breaker.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.state, BreakerState::open);
  EXPECT_GE(snapshot.latency_p99, 150ms);
  EXPECT_LT(snapshot.latency_p50, 15ms);
}

TEST(CircuitBreaker, HalfOpenProbesCloseOnSuccessAndReopenOnFailure) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 10, 10);
  ASSERT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::open);

  clock.advance(std::chrono::nanoseconds(5s) - 1ns);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::open);
  clock.advance(1ns);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::half_open);
  ProbeRound probe_a = 0, probe_b = 0, probe_c = 0;
  std::uint64_t wait_ns = 0;
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &probe_a, &wait_ns));
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &probe_b, &wait_ns));
  EXPECT_EQ(probe_a, 1u);
  EXPECT_EQ(probe_b, 1u);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::half_open);
  EXPECT_FALSE(breaker.allow(clock.now_ns(), &probe_c, &wait_ns));  // two probes at a time
  breaker.cancel(probe_b);                                          // one never went out
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &probe_b, &wait_ns));
  breaker.record(clock.now_ns(), probe_a, false, 1ms);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::half_open);
  breaker.record(clock.now_ns(), probe_b, true, 1ms);  // a failed probe: open again
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::open);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).times_opened, 2u);
  EXPECT_FALSE(breaker.allow(clock.now_ns(), &probe_c, &wait_ns));
  EXPECT_EQ(wait_ns, ns(5s));

  clock.advance(5s);
  record(breaker, clock.now_ns(), 2, 0);  // both probes succeed
  const BreakerSnapshot closed = breaker.snapshot(clock.now_ns());
  EXPECT_EQ(closed.state, BreakerState::closed);
  EXPECT_EQ(closed.window_calls, 0u);  // closing starts a fresh window
  record(breaker, clock.now_ns(), 9, 9);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::closed);
}

TEST(CircuitBreaker, AProbeFromAnEarlierRoundDoesNotCount) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 10, 10);
  clock.advance(5s);
  ProbeRound late = 0, failing = 0, fresh = 0;
  std::uint64_t wait_ns = 0;
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &late, &wait_ns));
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &failing, &wait_ns));
  breaker.record(clock.now_ns(), failing, true, 1ms);  // round 1 fails: open again
  clock.advance(5s);
  ASSERT_TRUE(breaker.allow(clock.now_ns(), &fresh, &wait_ns));
  EXPECT_EQ(fresh, 2u);
  breaker.record(clock.now_ns(), late, false, 1ms);  // round 1's other probe, answered late
  breaker.record(clock.now_ns(), fresh, false, 1ms);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::half_open);  // 1 of 2 probes
  record(breaker, clock.now_ns(), 1, 0);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::closed);
}

TEST(CircuitBreaker, ASlowProbeReopens) {
  ManualClock clock(start_ns);
  CircuitBreaker breaker(test_policy(), clock.now_ns());
  record(breaker, clock.now_ns(), 10, 10);
  clock.advance(5s);
  record(breaker, clock.now_ns(), 1, 0, 200ms);
  EXPECT_EQ(breaker.snapshot(clock.now_ns()).state, BreakerState::open);
}

BankResponse answer(BankOutcome outcome, std::chrono::microseconds latency = 1ms) {
  BankResponse response;
  response.outcome = outcome;
  response.failure = outcome == BankOutcome::failed ? FailureKind::error : FailureKind::none;
  response.latency = latency;
  return response;
}

// Admits `calls` calls and answers each as failed: enough of them open the breaker.
void fail_calls(ApiFlow& flow, std::uint64_t now_ns, int calls) {
  for (int i = 0; i < calls; ++i) {
    const Admission admission = flow.admit(now_ns);
    ASSERT_TRUE(admission.admitted());
    flow.complete(admission, now_ns, answer(BankOutcome::failed));
  }
}

TEST(ApiFlow, ConcurrencyLimitRejectsAtOnceAndFreesOnCompletion) {
  ManualClock clock(start_ns);
  ApiFlow flow(7, BankApi::debit_card, {.rate_per_s = 1000, .burst = 1000, .concurrency_max = 2},
               test_policy(), clock.now_ns());
  const Admission first = flow.admit(clock.now_ns());
  const Admission second = flow.admit(clock.now_ns());
  ASSERT_TRUE(first.admitted() && second.admitted());
  const Admission third = flow.admit(clock.now_ns());
  EXPECT_EQ(third.rejection, Rejection::concurrency_limited);
  EXPECT_EQ(third.retry_after_s, retry_after_s_min);
  EXPECT_EQ(http_status(third.rejection), 429u);
  flow.complete(first, clock.now_ns(), answer(BankOutcome::approved));
  const Admission fourth = flow.admit(clock.now_ns());
  EXPECT_TRUE(fourth.admitted());
  const ApiFlowSnapshot snapshot = flow.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.in_flight, 2u);
  EXPECT_EQ(snapshot.rejections[static_cast<std::size_t>(Rejection::concurrency_limited)], 1u);
  EXPECT_EQ(snapshot.outcomes[static_cast<std::size_t>(BankOutcome::approved)], 1u);
  // A rejected call took no token: 1000 - 3 admitted.
  EXPECT_EQ(snapshot.tokens_available, 997u);
}

TEST(ApiFlow, RateLimitRejectsWithTheTimeToTheNextToken) {
  ManualClock clock(start_ns);
  ApiFlow flow(7, BankApi::credit_card, {.rate_per_s = 2, .burst = 1, .concurrency_max = 10},
               test_policy(), clock.now_ns());
  const Admission first = flow.admit(clock.now_ns());
  ASSERT_TRUE(first.admitted());
  const Admission second = flow.admit(clock.now_ns());
  EXPECT_EQ(second.rejection, Rejection::rate_limited);
  EXPECT_EQ(second.retry_after_s, 1u);  // half a second, rounded up to HTTP's whole seconds
  EXPECT_EQ(flow.snapshot(clock.now_ns()).in_flight, 1u);  // the rejected call let its slot go
  clock.advance(500ms);
  EXPECT_TRUE(flow.admit(clock.now_ns()).admitted());
}

TEST(ApiFlow, OpenBreakerRejectsBeforeTakingATokenOrSlot) {
  ManualClock clock(start_ns);
  ApiFlow flow(7, BankApi::debit_card, {.rate_per_s = 100, .burst = 100, .concurrency_max = 100},
               test_policy(), clock.now_ns());
  fail_calls(flow, clock.now_ns(), 10);
  const Admission rejected = flow.admit(clock.now_ns());
  EXPECT_EQ(rejected.rejection, Rejection::circuit_open);
  EXPECT_EQ(rejected.retry_after_s, 5u);
  EXPECT_EQ(http_status(rejected.rejection), 503u);
  const ApiFlowSnapshot snapshot = flow.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.tokens_available, 90u);
  EXPECT_EQ(snapshot.in_flight, 0u);
  EXPECT_EQ(snapshot.breaker.state, BreakerState::open);

  // Declines are answers, not failures: a window of declines keeps the breaker closed.
  clock.advance(5s);
  for (int i = 0; i < 2; ++i) {
    const Admission probe = flow.admit(clock.now_ns());
    ASSERT_TRUE(probe.admitted() && probe.probe != 0);
    flow.complete(probe, clock.now_ns(), answer(BankOutcome::declined));
  }
  EXPECT_EQ(flow.snapshot(clock.now_ns()).breaker.state, BreakerState::closed);
}

// A call withdrawn before it was sent gives its slot and its probe back, and the breaker learns
// nothing from it: the probe it held is taken by the next call, and counted when that one answers.
TEST(ApiFlow, AWithdrawnCallFreesItsSlotAndProbeAndTellsTheBreakerNothing) {
  ManualClock clock(start_ns);
  ApiFlow flow(7, BankApi::debit_card, {.rate_per_s = 100, .burst = 100, .concurrency_max = 1},
               test_policy(), clock.now_ns());
  const Admission withdrawn = flow.admit(clock.now_ns());
  ASSERT_TRUE(withdrawn.admitted());
  EXPECT_EQ(flow.admit(clock.now_ns()).rejection, Rejection::concurrency_limited);
  flow.withdraw(withdrawn);
  ApiFlowSnapshot snapshot = flow.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.in_flight, 0u);
  EXPECT_EQ(snapshot.outcomes[static_cast<std::size_t>(BankOutcome::failed)], 0u);

  // Open the breaker, then withdraw both half-open probes: the next two calls probe in their place.
  fail_calls(flow, clock.now_ns(), 10);
  ASSERT_EQ(flow.snapshot(clock.now_ns()).breaker.state, BreakerState::open);
  clock.advance(5s);
  for (int i = 0; i < 2; ++i) {
    const Admission probe = flow.admit(clock.now_ns());
    ASSERT_TRUE(probe.admitted() && probe.probe != 0);
    flow.withdraw(probe);
  }
  for (int i = 0; i < 2; ++i) {
    const Admission probe = flow.admit(clock.now_ns());
    ASSERT_TRUE(probe.admitted() && probe.probe != 0) << "a withdrawn probe's place is free again";
    flow.complete(probe, clock.now_ns(), answer(BankOutcome::approved));
  }
  snapshot = flow.snapshot(clock.now_ns());
  EXPECT_EQ(snapshot.breaker.state, BreakerState::closed);
  EXPECT_EQ(snapshot.in_flight, 0u);
}

TEST(ApiFlow, MetricsRenderEveryChannelApi) {
  ManualClock clock(start_ns);
  ApiFlow flow(42, BankApi::credit_card, {.rate_per_s = 5, .burst = 5, .concurrency_max = 3},
               test_policy(), clock.now_ns());
  const Admission admission = flow.admit(clock.now_ns());
  flow.complete(admission, clock.now_ns(), answer(BankOutcome::declined, 3ms));
  const ApiFlowSnapshot snapshots[] = {flow.snapshot(clock.now_ns())};
  const std::string text = render_prometheus(snapshots);
  EXPECT_NE(text.find("capillary_channel_calls_total{channel=\"42\",api=\"credit_card\","
                      "outcome=\"declined\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("capillary_channel_rate_limit_per_s{channel=\"42\",api=\"credit_card\"} 5\n"),
            std::string::npos);
  EXPECT_NE(text.find("capillary_channel_tokens_available{channel=\"42\",api=\"credit_card\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("capillary_channel_breaker_state{channel=\"42\",api=\"credit_card\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE capillary_channel_rejections_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace capillary::channels
