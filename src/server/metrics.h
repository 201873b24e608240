#pragma once
// Request metrics, rendered with the engine's Stats in the Prometheus text format for GET /metrics.
// Recording is a few relaxed atomic increments, safe from any thread; nothing is locked.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "ledger/result.h"

namespace capillary::server {

// Every route the server answers, plus `unmatched` for requests that match none.
#define CAPILLARY_ROUTES(X) \
  X(create_accounts)        \
  X(create_transfers)       \
  X(get_account)            \
  X(get_transfer)           \
  X(lookup_accounts)        \
  X(lookup_transfers)       \
  X(statement)              \
  X(balance)                \
  X(status)                 \
  X(healthz)                \
  X(readyz)                 \
  X(metrics)                \
  X(payments)               \
  X(unmatched)

#define CAPILLARY_ROUTE_VALUE(name) name,
enum class Route : std::uint8_t { CAPILLARY_ROUTES(CAPILLARY_ROUTE_VALUE) };
#undef CAPILLARY_ROUTE_VALUE
inline constexpr std::size_t route_count = static_cast<std::size_t>(Route::unmatched) + 1;

std::string_view name(Route route);

class Metrics {
 public:
  // Every status the server sends; anything else is counted as "other".
  static constexpr std::array<unsigned, 16> statuses{200, 202, 400, 401, 403, 404, 405, 409,
                                                     413, 415, 422, 429, 500, 503, 504, 0};
  // Upper bounds of the latency buckets, in microseconds (+Inf follows).
  static constexpr std::array<std::uint64_t, 12> latency_bounds_us{
      250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

  void record_request(Route route, unsigned status, std::chrono::nanoseconds latency);
  void record_results(std::span<const ledger::CreateAccountResult> results);
  void record_results(std::span<const ledger::CreateTransferResult> results);

  std::string render(const engine::Stats& stats) const;

 private:
  struct RouteCounters {
    std::array<std::atomic<std::uint64_t>, statuses.size()> requests{};
    std::array<std::atomic<std::uint64_t>, latency_bounds_us.size() + 1> latency_buckets{};
    std::atomic<std::uint64_t> latency_sum_us{0};
  };
  std::array<RouteCounters, route_count> routes_{};
  std::array<std::atomic<std::uint64_t>, ledger::create_account_result_count> account_results_{};
  std::array<std::atomic<std::uint64_t>, ledger::create_transfer_result_count> transfer_results_{};
};

}  // namespace capillary::server
