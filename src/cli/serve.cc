// `capillary serve`: recover the data directory, then run the HTTP API on the engine until
// SIGINT or SIGTERM; on the way out the engine finishes every accepted request and checkpoints.

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <charconv>

#include "cli/operator.h"
#include "auth/auth.h"
#include "channels/config.h"
#include "channels/gateway.h"
#include "channels/http_connector.h"
#include "core/clock.h"
#include "core/limits.h"
#include "credit/model_file.h"
#include "engine/engine.h"
#include "notify/notifier.h"
#include "risk/engine.h"
#include "server/payment_json.h"
#include "server/server.h"

namespace capillary::cli {
namespace {

// The model `capillary credit train` writes by default, relative to the working directory.
constexpr std::string_view shipped_credit_model = "models/credit-v1.model";

std::atomic<bool> stop_requested{false};
const SystemClock system_clock;

void request_stop(int) { stop_requested = true; }

bool parse_listen(const std::string& listen, std::string* host, std::uint16_t* port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = listen.substr(0, colon);
  const char* begin = listen.data() + colon + 1;
  const char* end = listen.data() + listen.size();
  const auto [rest, error] = std::from_chars(begin, end, *port);
  return error == std::errc() && rest == end;
}

// Hands committed order changes to the notifier. Merchants without a callback URL are skipped
// there; a storage error is logged and the events come back on the next replay.
void deliver_order_events(notify::Notifier& notifier, std::span<const payments::OrderEvent> changes) {
  thread_local std::vector<notify::Event> events;
  thread_local std::vector<notify::EnqueueResult> results;
  for (std::size_t start = 0; start < changes.size(); start += batch_events_max) {
    events.clear();
    for (std::size_t i = start; i < std::min(changes.size(), start + batch_events_max); ++i) {
      const payments::OrderEvent& change = changes[i];
      events.push_back({change.merchant, change.order, change.sequence,
                        std::string(server::name(change.state)), change.amount, change.timestamp});
    }
    if (Status status = notifier.enqueue(events, &results); !status.is_ok()) {
      fmt::print(stderr, "capillary: notifications not stored: {}\n", status.message());
    }
  }
}

}  // namespace

int run_serve(const ServeOptions& options) {
  server::ServerOptions server_options;
  if (!parse_listen(options.listen, &server_options.host, &server_options.port)) {
    fmt::print(stderr, "serve: --listen wants HOST:PORT, got '{}'\n", options.listen);
    return 2;
  }
  if (options.threads < 1 || options.threads > 64) {
    fmt::print(stderr, "serve: --threads must be 1..64\n");
    return 2;
  }
  server_options.threads = options.threads;

  // Credentials: the master key every tenant's secret derives from.
  std::unique_ptr<auth::Keyring> keyring;
  if (Status status = auth::Keyring::open(options.data_dir, &keyring); !status.is_ok()) {
    fmt::print(stderr, "serve: {}\n", status.message());
    return 1;
  }
  server_options.keyring = keyring.get();
  fmt::print(stderr, "capillary: tenant secrets derive from {}; the platform's: `capillary credentials --data {} platform:0`\n",
             (std::filesystem::absolute(options.data_dir) / "master.key").string(), options.data_dir.string());

  // Merchant notifications: every order change, from the engine's committed batches.
  std::unique_ptr<notify::Notifier> notifier;
  notify::NotifierOptions notify_options;
  notify_options.directory = options.data_dir / notify::notify_directory_name;
  notify_options.sync = false;  // the journal replays what a crash could lose (engine.h)
  if (Status status = notify::Notifier::open(notify_options, *keyring, &notifier); !status.is_ok()) {
    fmt::print(stderr, "serve: {}\n", status.message());
    return 1;
  }
  server_options.notifier = notifier.get();

  // Risk control with its built-in rules (docs/risk.md).
  risk::Engine risk;
  server_options.risk = &risk;

  // The credit score: a named model must load; without one, the shipped model when present.
  credit::Model credit_model;
  const std::filesystem::path credit_model_path =
      options.credit_model.empty() ? std::filesystem::path(shipped_credit_model) : options.credit_model;
  if (!options.credit_model.empty() || std::filesystem::exists(credit_model_path)) {
    if (Status status = credit::read_model_file(credit_model_path, &credit_model); !status.is_ok()) {
      fmt::print(stderr, "serve: {}\n", status.message());
      return 1;
    }
    server_options.credit_model = &credit_model;
  } else {
    fmt::print(stderr, "capillary: no {}; the credit score routes are off\n", shipped_credit_model);
  }

  // Business time: the system clock, which a test server may move forward.
  PlatformClock platform_clock;
  if (options.adjustable_clock) {
    server_options.platform_clock = &platform_clock;
    fmt::print(stderr, "capillary: the platform may advance business time (POST /v1/platform/clock)\n");
  }

  engine::Options engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.clock = &platform_clock;
  engine_options.checkpoint_journal_bytes = std::uint64_t{options.checkpoint_mib} << 20;
  server_options.income_step_holders = options.income_step_holders;
  engine_options.on_order_events = [&notifier](std::span<const payments::OrderEvent> changes) {
    deliver_order_events(*notifier, changes);
  };
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::open(engine_options, &engine); !status.is_ok()) {
    fmt::print(stderr, "serve: cannot open {}: {}\n", options.data_dir.string(), status.message());
    return 1;
  }
  const engine::Stats stats = engine->stats();
  platform_clock.catch_up(stats.last_timestamp);
  fmt::print(stderr, "capillary: data in {} (sequence {}, {} accounts, {} transfers, {} batches replayed)\n",
             std::filesystem::absolute(options.data_dir).string(), stats.last_sequence,
             stats.accounts, stats.transfers, stats.replayed_batches);

  // Bank channels, when configured: card top-ups, card-funded payments and withdrawals.
  std::unique_ptr<channels::BanksConfig> banks;
  std::unique_ptr<channels::HttpConnector> connector;
  std::unique_ptr<channels::Gateway> gateway;
  std::unique_ptr<server::CardCallLog> card_calls;
  if (!options.banks.empty() || !options.bank_sim.empty()) {
    channels::HttpConnectorOptions connector_options;
    if (options.banks.empty() ||
        !parse_listen(options.bank_sim, &connector_options.host, &connector_options.port)) {
      fmt::print(stderr, "serve: card operations need both --banks FILE and --bank-sim HOST:PORT\n");
      return 2;
    }
    try {
      banks = std::make_unique<channels::BanksConfig>(channels::load_banks_config(options.banks));
      connector = std::make_unique<channels::HttpConnector>(connector_options);
    } catch (const std::exception& error) {
      fmt::print(stderr, "serve: {}\n", error.what());
      return 2;
    }
    gateway = std::make_unique<channels::Gateway>(*banks, *connector, system_clock);
    if (Status status = server::CardCallLog::open(options.data_dir / server::card_calls_directory_name, &card_calls);
        !status.is_ok()) {
      fmt::print(stderr, "serve: {}\n", status.message());
      return 1;
    }
    server_options.card_calls = card_calls.get();
    server_options.gateway = gateway.get();
    server_options.banks = banks.get();
    fmt::print(stderr, "capillary: {} bank channels from {} at {}\n", banks->channels.size(),
               options.banks.string(), options.bank_sim);
  }

  struct sigaction action {};
  action.sa_handler = request_stop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const Status status = server::run_server(*engine, server_options, stop_requested);
  if (!status.is_ok()) {
    fmt::print(stderr, "serve: {}\n", status.message());
    return 1;
  }
  engine.reset();
  fmt::print(stderr, "capillary: stopped cleanly\n");
  return 0;
}

}  // namespace capillary::cli
