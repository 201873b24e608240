#pragma once
// The HTTP/JSON API in front of one engine (routes and wire formats: docs/api.md).
//
// Usage, as `capillary serve` does it:
//
//   std::atomic<bool> stop{false};            // set from the SIGINT/SIGTERM handler
//   server::ServerOptions options;
//   options.host = "127.0.0.1";
//   options.port = 8080;
//   Status status = server::run_server(*engine, options, stop);
//
// run_server blocks until `stop` becomes true (checked every stop_poll_interval), then stops
// accepting, closes idle connections, lets every request already handed to the engine finish
// and get its response, and returns. The engine must outlive the call; destroy it afterwards.
// The server prints nothing itself: one line when it listens and one per unexpected failure go
// to `options.log` (stderr when unset).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/limits.h"
#include "core/status.h"
#include "auth/auth.h"
#include "channels/gateway.h"
#include "engine/engine.h"
#include "notify/notifier.h"
#include "credit/scorecard.h"
#include "risk/engine.h"
#include "server/card_call_log.h"
#include "server/income_runs.h"

namespace capillary::server {

// Largest request body. A full batch of transfers with every field spelled out and 20-digit ids
// takes about 350 bytes per transfer, 2.9 MiB for batch_events_max of them; 8 MiB leaves room
// for whitespace and string-encoded numbers while bounding what one connection can make us hold.
inline constexpr std::size_t request_body_bytes_max = 8u << 20;
static_assert(request_body_bytes_max >= batch_events_max * 400,
              "a full batch of transfers must fit in one request body");

// Connections served at once; further clients wait in the listen backlog until one closes.
inline constexpr std::size_t connections_max = 1024;

// Requests one connection may have read and not yet answered. A client may pipeline (send the
// next requests before the answers come); the server reads ahead while earlier requests are with
// the engine, so one journal entry gathers many of them, and answers in order, several in one
// write. Past this depth it stops reading until answers drain: with connections_max, this bounds
// the requests handed to the engine and the blocking history reads queued behind them.
inline constexpr std::size_t pipelined_requests_max = 64;
static_assert(pipelined_requests_max >= 2, "a depth of one is no pipelining");

inline constexpr std::chrono::milliseconds stop_poll_interval{20};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port (the log line names it)
  int threads = 2;            // io threads: parse, route, format, write
  int blocking_threads = 2;   // history reads that wait for the history store
  std::size_t body_bytes_max = request_body_bytes_max;
  std::size_t connections_max = server::connections_max;
  // A connection idle this long between requests, or this slow to send one or to take its
  // response, is closed.
  std::chrono::seconds idle_timeout{60};
  std::function<void(std::string_view line)> log;
  // The product API (docs/payments-api.md) is served when a keyring is given; card operations
  // need a gateway to the bank channels, and answer 503 without one. Both outlive the server.
  const auth::Keyring* keyring = nullptr;
  channels::Gateway* gateway = nullptr;
  const channels::BanksConfig* banks = nullptr;
  // Card calls the bank has not answered, kept across restarts (card_call_log.h); with a gateway.
  CardCallLog* card_calls = nullptr;
  // Where merchants' callback URLs are registered (POST /v1/merchants "callback_url").
  notify::Notifier* notifier = nullptr;
  // Decides payments, transfers and withdrawals before they are journaled; with a keyring, its
  // decision log and rules are served under /v1/risk/.
  risk::Engine* risk = nullptr;
  // The credit model GET /v1/credit/users/{id} scores with (with a keyring); valid, see
  // credit::check_model.
  const credit::Model* credit_model = nullptr;
  // The engine's clock when the platform may advance it (POST /v1/platform/clock); null on a
  // production server, whose business time is the system's.
  PlatformClock* platform_clock = nullptr;
  // Holders each step of a fund income run pays (income_runs.h).
  std::uint32_t income_step_holders = IncomeRuns::step_holders_default;
};

// Serves until `stop` is set. An error Status when the address cannot be bound.
Status run_server(engine::Engine& engine, const ServerOptions& options,
                  const std::atomic<bool>& stop);

}  // namespace capillary::server
