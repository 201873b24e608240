#pragma once
// Merchant notifications: the contract between the payments engine, the server and merchants.
//
// The engine hands over each order state change once its batch is durable (enqueue). The notifier
// stores it in an outbox (RocksDB, its own directory) and POSTs it as JSON (event.h) to the
// merchant's callback URL, signed with the merchant's secret exactly as requests to the API are
// (auth.h: X-Capillary-Key "merchant:<id>", X-Capillary-Timestamp, X-Capillary-Signature over
// "POST\n<path?query>\n<timestamp>\n<body>").
//
// Delivery contract:
// - At least once. An event is removed from the outbox when the merchant answers 2xx. A crash or
//   close between the merchant's answer and that removal re-sends it after reopening, so the
//   merchant deduplicates on (order_id, sequence), which is in every body.
// - In order per order. Event n+1 of an order is not sent before event n is acknowledged; orders
//   are independent and delivered in parallel over at most connections_max connections.
// - Retried until acknowledged: after a failure (no answer within delivery_timeout, a connection
//   error, any non-2xx status) the order waits per backoff.h; there is no last attempt. The wait
//   is stored, so it survives a restart.
// - Idempotent enqueue: an event whose (merchant, order, sequence) is pending or acknowledged is
//   a `duplicate` and is not sent again, so the engine may hand over events again after recovery.
// - Bounded memory: at most window_orders_max orders are held in memory, each with its first
//   event only; everything else waits on disk, and so do orders waiting to retry.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "auth/auth.h"
#include "core/status.h"
#include "notify/backoff.h"
#include "notify/event.h"

namespace capillary::notify {

// The outbox's directory under the server's data directory.
inline constexpr std::string_view notify_directory_name = "notify";

// Deliveries in flight at once. Each holds one connection; 64 keeps a slow merchant from taking
// every connection while staying far below the process's descriptor limit.
inline constexpr std::size_t default_connections_max = 64;
// Orders held in memory. 4096 is far more than 64 connections can keep busy, so the window never
// starves delivery, and costs under 1 MiB.
inline constexpr std::size_t default_window_orders_max = 4096;
// How long a merchant has to answer one attempt. Generous: a merchant's handler may write to its
// own database before it answers.
inline constexpr std::chrono::milliseconds default_delivery_timeout{10'000};

static_assert(default_window_orders_max >= default_connections_max,
              "a window smaller than the connections would leave connections idle");

struct NotifierOptions {
  std::filesystem::path directory;  // e.g. <data dir>/notify
  std::size_t connections_max = default_connections_max;
  std::size_t window_orders_max = default_window_orders_max;
  BackoffPolicy backoff;
  std::chrono::milliseconds delivery_timeout = default_delivery_timeout;
  bool sync = true;        // enqueue returns once its events are on disk
  std::uint64_t seed = 0;  // jitter; 0 draws one from the system
};

// For /metrics. Since open, except `pending`.
struct NotifierCounters {
  std::uint64_t pending = 0;        // events stored and not yet acknowledged
  std::uint64_t delivered = 0;      // events acknowledged with 2xx
  std::uint64_t retries = 0;        // attempts that repeated a failed one
  std::uint64_t failures = 0;       // attempts that failed
  std::uint64_t io_errors = 0;      // outbox reads or writes that failed (delivery pauses 1 s)
  std::uint64_t in_flight = 0;      // attempts under way now
  std::uint64_t window_orders = 0;  // orders in memory now
};

class Notifier {
 public:
  // Opens the outbox and starts delivering whatever it holds. `keyring` must outlive the notifier.
  static Status open(const NotifierOptions& options, const auth::Keyring& keyring,
                     std::unique_ptr<Notifier>* out);
  // Stops delivery; attempts under way are abandoned (not acknowledged, so sent again after the
  // next open). No other call may run concurrently with the destructor.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Stores the events (one write; synced with options.sync) and schedules their delivery.
  // Fills one result per event. Thread-safe. At most batch_events_max events per call. On an
  // error nothing is stored, and the same events may be handed over again.
  Status enqueue(std::span<const Event> events, std::vector<EnqueueResult>* results);

  // Registers or replaces the merchant's callback URL (callback_url.h); `invalid_argument` when
  // the URL is not one. Later attempts, including retries of pending events, use the new URL.
  Status set_callback_url(std::uint64_t merchant_id, std::string_view url);
  // Empty when the merchant has none.
  Status callback_url(std::uint64_t merchant_id, std::string* url) const;

  NotifierCounters counters() const;

  class Dispatcher;

 private:
  Notifier() = default;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace capillary::notify
