#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace capillary::server {
namespace {

#define CAPILLARY_ROUTE_NAME(name) #name,
constexpr std::array<std::string_view, route_count> route_names{
    CAPILLARY_ROUTES(CAPILLARY_ROUTE_NAME)};
#undef CAPILLARY_ROUTE_NAME

constexpr std::size_t status_other = Metrics::statuses.size() - 1;

std::size_t status_slot(unsigned status) {
  for (std::size_t i = 0; i < status_other; ++i) {
    if (Metrics::statuses[i] == status) return i;
  }
  return status_other;
}

// Counts a batch's results locally first: one atomic add per distinct code instead of one per
// event.
template <typename Result, std::size_t count>
void add_results(std::array<std::atomic<std::uint64_t>, count>& totals,
                 std::span<const Result> results) {
  std::array<std::uint64_t, count> local{};
  for (Result result : results) ++local[static_cast<std::size_t>(result)];
  for (std::size_t i = 0; i < count; ++i) {
    if (local[i] != 0) totals[i].fetch_add(local[i], std::memory_order_relaxed);
  }
}

template <typename Result, std::size_t count>
void render_results(std::string& out, std::string_view metric, std::string_view help,
                    const std::array<std::atomic<std::uint64_t>, count>& totals) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "# HELP {} {}\n# TYPE {} counter\n", metric, help, metric);
  for (std::size_t i = 0; i < count; ++i) {
    fmt::format_to(it, "{}{{result=\"{}\"}} {}\n", metric, ledger::name(static_cast<Result>(i)),
                   totals[i].load(std::memory_order_relaxed));
  }
}

void render_value(std::string& out, std::string_view metric, std::string_view type,
                  std::string_view help, double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", metric, help,
                 metric, type, metric, value);
}

}  // namespace

std::string_view name(Route route) { return route_names[static_cast<std::size_t>(route)]; }

void Metrics::record_request(Route route, unsigned status, std::chrono::nanoseconds latency) {
  RouteCounters& counters = routes_[static_cast<std::size_t>(route)];
  counters.requests[status_slot(status)].fetch_add(1, std::memory_order_relaxed);
  const auto latency_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(latency_bounds_us.begin(), latency_bounds_us.end(), latency_us) -
      latency_bounds_us.begin());
  counters.latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  counters.latency_sum_us.fetch_add(latency_us, std::memory_order_relaxed);
}

void Metrics::record_results(std::span<const ledger::CreateAccountResult> results) {
  add_results(account_results_, results);
}

void Metrics::record_results(std::span<const ledger::CreateTransferResult> results) {
  add_results(transfer_results_, results);
}

std::string Metrics::render(const engine::Stats& stats) const {
  std::string out;
  auto it = std::back_inserter(out);

  out +=
      "# HELP capillary_http_requests_total HTTP requests answered, by route and status.\n"
      "# TYPE capillary_http_requests_total counter\n";
  for (std::size_t route = 0; route < route_count; ++route) {
    for (std::size_t slot = 0; slot < statuses.size(); ++slot) {
      const std::uint64_t count = routes_[route].requests[slot].load(std::memory_order_relaxed);
      if (count == 0) continue;
      const std::string status = slot == status_other ? "other" : fmt::format("{}", statuses[slot]);
      fmt::format_to(it, "capillary_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                     route_names[route], status, count);
    }
  }

  out +=
      "# HELP capillary_http_request_duration_seconds Time from a request's last byte read to "
      "its response handed to the socket.\n"
      "# TYPE capillary_http_request_duration_seconds histogram\n";
  for (std::size_t route = 0; route < route_count; ++route) {
    const RouteCounters& counters = routes_[route];
    std::uint64_t cumulative = 0;
    for (std::size_t bucket = 0; bucket <= latency_bounds_us.size(); ++bucket) {
      cumulative += counters.latency_buckets[bucket].load(std::memory_order_relaxed);
      const std::string le = bucket == latency_bounds_us.size()
                                 ? std::string("+Inf")
                                 : fmt::format("{}", latency_bounds_us[bucket] / 1e6);
      fmt::format_to(it,
                     "capillary_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} "
                     "{}\n",
                     route_names[route], le, cumulative);
    }
    fmt::format_to(it, "capillary_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n",
                   route_names[route],
                   counters.latency_sum_us.load(std::memory_order_relaxed) / 1e6);
    fmt::format_to(it, "capillary_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                   route_names[route], cumulative);
  }

  render_results<ledger::CreateAccountResult>(out, "capillary_account_results_total",
                                              "Account events answered, by result code.",
                                              account_results_);
  render_results<ledger::CreateTransferResult>(out, "capillary_transfer_results_total",
                                               "Transfer events answered, by result code.",
                                               transfer_results_);

  struct Value {
    std::string_view metric;
    std::string_view type;
    std::string_view help;
    double value;
  };
  const Value values[] = {
      {"capillary_engine_batches_total", "counter", "Batches committed since the engine opened.",
       static_cast<double>(stats.batches)},
      {"capillary_engine_events_total", "counter", "Events committed since the engine opened.",
       static_cast<double>(stats.events)},
      {"capillary_engine_journal_bytes_total", "counter",
       "Journal bytes appended since the engine opened.", static_cast<double>(stats.journal_bytes)},
      {"capillary_engine_rejected_overloaded_total", "counter",
       "Requests refused because the sequencer queue was full.",
       static_cast<double>(stats.rejected_overloaded)},
      {"capillary_engine_last_sequence", "gauge", "Sequence number of the last committed batch.",
       static_cast<double>(stats.last_sequence)},
      {"capillary_engine_history_sequence", "gauge", "Last batch written to the history store.",
       static_cast<double>(stats.history_sequence)},
      {"capillary_engine_checkpoint_sequence", "gauge", "Last batch in the latest checkpoint.",
       static_cast<double>(stats.checkpoint_sequence)},
      {"capillary_engine_replayed_batches", "gauge", "Journal batches replayed at open.",
       static_cast<double>(stats.replayed_batches)},
      {"capillary_engine_accounts", "gauge", "Accounts in the ledger.",
       static_cast<double>(stats.accounts)},
      {"capillary_engine_transfers", "gauge", "Transfers resident in the ledger.",
       static_cast<double>(stats.transfers)},
      {"capillary_engine_queue_depth", "gauge", "Requests waiting for the sequencer.",
       static_cast<double>(stats.queue_depth)},
      {"capillary_engine_batch_seconds_last", "gauge", "Time the last batch took.",
       stats.batch_ms_last / 1e3},
      {"capillary_engine_checkpoint_pause_seconds_last", "gauge",
       "The last checkpoint's longest engine pause: taking it, or one step of copying its chunks.",
       stats.checkpoint_pause_ms_last / 1e3},
      {"capillary_engine_checkpoint_pause_seconds_max", "gauge",
       "Longest engine pause for a checkpoint since open.",
       stats.checkpoint_pause_ms_max / 1e3},
      {"capillary_engine_journal_wait_seconds_total", "counter",
       "Time the engine spent waiting for the journal, two batches in flight or draining them.",
       stats.journal_wait_ms_total / 1e3},
      {"capillary_engine_journal_wait_seconds_max", "gauge",
       "Longest single wait for the journal since open.",
       stats.journal_wait_ms_max / 1e3},
  };
  for (const Value& value : values) {
    render_value(out, value.metric, value.type, value.help, value.value);
  }
  return out;
}

}  // namespace capillary::server
