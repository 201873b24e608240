#include "channels/flow_control.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "channels/limits.h"
#include "core/assert.h"
#include "core/clock.h"

namespace capillary::channels {

std::string_view name(Rejection rejection) {
  switch (rejection) {
    case Rejection::none:
      return "none";
    case Rejection::no_route:
      return "no_route";
    case Rejection::circuit_open:
      return "circuit_open";
    case Rejection::concurrency_limited:
      return "concurrency_limited";
    case Rejection::rate_limited:
      return "rate_limited";
  }
  return "unknown";
}

unsigned http_status(Rejection rejection) {
  switch (rejection) {
    case Rejection::none:
      return 200;
    case Rejection::concurrency_limited:
    case Rejection::rate_limited:
      return 429;
    case Rejection::no_route:
    case Rejection::circuit_open:
      return 503;
  }
  return 503;
}

std::uint32_t retry_after_s(std::uint64_t wait_ns) {
  const std::uint64_t seconds = (wait_ns + ns_per_s - 1) / ns_per_s;
  return static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(seconds, retry_after_s_min, retry_after_s_max));
}

ApiFlow::ApiFlow(ChannelId channel_id, BankApi api, const ApiLimits& limits,
                 const BreakerPolicy& breaker, std::uint64_t now_ns)
    : channel_id_(channel_id),
      api_(api),
      concurrency_max_(limits.concurrency_max),
      bucket_(limits.rate_per_s, limits.burst, now_ns),
      breaker_(breaker, now_ns) {
  CAP_ASSERT(limits.concurrency_max >= 1 && limits.concurrency_max <= concurrency_max_max);
}

Admission ApiFlow::admit(std::uint64_t now_ns) {
  Admission admission;
  std::uint64_t wait_ns = 0;
  if (!breaker_.allow(now_ns, &admission.probe, &wait_ns)) {
    admission.rejection = Rejection::circuit_open;
  } else if (in_flight_.fetch_add(1, std::memory_order_acq_rel) >= concurrency_max_) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    breaker_.cancel(admission.probe);
    admission.rejection = Rejection::concurrency_limited;
  } else if (!bucket_.try_take(now_ns, &wait_ns)) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    breaker_.cancel(admission.probe);
    admission.rejection = Rejection::rate_limited;
  }
  if (!admission.admitted()) {
    admission.probe = 0;
    admission.retry_after_s = retry_after_s(wait_ns);
    count_rejection(admission.rejection);
  }
  return admission;
}

void ApiFlow::complete(const Admission& admission, std::uint64_t now_ns,
                       const BankResponse& response) {
  CAP_ASSERT(admission.admitted());
  CAP_ASSERT((response.outcome == BankOutcome::failed) == (response.failure != FailureKind::none));
  const std::uint32_t before = in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  CAP_ASSERT(before >= 1);  // exactly one completion per admitted call
  outcomes_[static_cast<std::size_t>(response.outcome)].fetch_add(1, std::memory_order_relaxed);
  breaker_.record(now_ns, admission.probe, response.outcome == BankOutcome::failed,
                  response.latency);
}

void ApiFlow::withdraw(const Admission& admission) {
  CAP_ASSERT(admission.admitted());
  const std::uint32_t before = in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  CAP_ASSERT(before >= 1);
  breaker_.cancel(admission.probe);
}

void ApiFlow::count_rejection(Rejection rejection) {
  CAP_ASSERT(rejection != Rejection::none);
  rejections_[static_cast<std::size_t>(rejection)].fetch_add(1, std::memory_order_relaxed);
}

ApiFlowSnapshot ApiFlow::snapshot(std::uint64_t now_ns) {
  ApiFlowSnapshot snapshot;
  snapshot.channel_id = channel_id_;
  snapshot.api = api_;
  snapshot.rate_per_s = bucket_.rate_per_s();
  snapshot.tokens_available = bucket_.available(now_ns);
  snapshot.in_flight = in_flight_.load(std::memory_order_relaxed);
  snapshot.concurrency_max = concurrency_max_;
  snapshot.breaker = breaker_.snapshot(now_ns);
  for (std::size_t i = 0; i < outcomes_.size(); ++i) snapshot.outcomes[i] = outcomes_[i].load();
  for (std::size_t i = 0; i < rejections_.size(); ++i) {
    snapshot.rejections[i] = rejections_[i].load();
  }
  return snapshot;
}

namespace {

// One gauge or counter with a value per channel API; `value` reads it from a snapshot.
template <typename Value>
void render_family(std::string* out, std::span<const ApiFlowSnapshot> snapshots,
                   std::string_view metric, std::string_view type, std::string_view help,
                   Value value) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", metric, help, metric,
                 type);
  for (const ApiFlowSnapshot& s : snapshots) {
    fmt::format_to(std::back_inserter(*out), "{}{{channel=\"{}\",api=\"{}\"}} {}\n", metric,
                   s.channel_id, name(s.api), value(s));
  }
}

}  // namespace

std::string render_prometheus(std::span<const ApiFlowSnapshot> snapshots) {
  std::string out;
  auto labels = [](const ApiFlowSnapshot& s) {
    return fmt::format("channel=\"{}\",api=\"{}\"", s.channel_id, name(s.api));
  };
  out += "# HELP capillary_channel_calls_total Bank calls answered, by outcome.\n";
  out += "# TYPE capillary_channel_calls_total counter\n";
  for (const ApiFlowSnapshot& s : snapshots) {
    for (const BankOutcome outcome :
         {BankOutcome::approved, BankOutcome::declined, BankOutcome::failed}) {
      fmt::format_to(std::back_inserter(out),
                     "capillary_channel_calls_total{{{},outcome=\"{}\"}} {}\n", labels(s),
                     name(outcome), s.outcomes[static_cast<std::size_t>(outcome)]);
    }
  }
  out += "# HELP capillary_channel_rejections_total Calls refused by flow control, by reason.\n";
  out += "# TYPE capillary_channel_rejections_total counter\n";
  for (const ApiFlowSnapshot& s : snapshots) {
    for (std::size_t reason = 1; reason < rejection_count; ++reason) {
      fmt::format_to(std::back_inserter(out),
                     "capillary_channel_rejections_total{{{},reason=\"{}\"}} {}\n", labels(s),
                     name(static_cast<Rejection>(reason)), s.rejections[reason]);
    }
  }
  out += "# HELP capillary_channel_latency_us Bank call latency over the breaker window.\n";
  out += "# TYPE capillary_channel_latency_us gauge\n";
  for (const ApiFlowSnapshot& s : snapshots) {
    fmt::format_to(std::back_inserter(out),
                   "capillary_channel_latency_us{{{},quantile=\"0.5\"}} {}\n"
                   "capillary_channel_latency_us{{{},quantile=\"0.99\"}} {}\n",
                   labels(s), s.breaker.latency_p50.count(), labels(s),
                   s.breaker.latency_p99.count());
  }
  render_family(&out, snapshots, "capillary_channel_in_flight", "gauge", "Calls at the bank now.",
                [](const auto& s) { return s.in_flight; });
  render_family(&out, snapshots, "capillary_channel_concurrency_max", "gauge",
                "Calls allowed at the bank at once.",
                [](const auto& s) { return s.concurrency_max; });
  render_family(&out, snapshots, "capillary_channel_rate_limit_per_s", "gauge",
                "Token bucket refill rate.", [](const auto& s) { return s.rate_per_s; });
  render_family(&out, snapshots, "capillary_channel_tokens_available", "gauge",
                "Whole tokens in the bucket.", [](const auto& s) { return s.tokens_available; });
  render_family(&out, snapshots, "capillary_channel_breaker_state", "gauge",
                "Circuit breaker: 0 closed, 1 open, 2 half-open.",
                [](const auto& s) { return static_cast<unsigned>(s.breaker.state); });
  render_family(&out, snapshots, "capillary_channel_breaker_opened_total", "counter",
                "Times the breaker opened.", [](const auto& s) { return s.breaker.times_opened; });
  render_family(&out, snapshots, "capillary_channel_window_calls", "gauge",
                "Calls answered in the breaker window.",
                [](const auto& s) { return s.breaker.window_calls; });
  render_family(&out, snapshots, "capillary_channel_window_failures", "gauge",
                "Failed calls in the breaker window.",
                [](const auto& s) { return s.breaker.window_failures; });
  return out;
}

}  // namespace capillary::channels
