// `capillary serve`: recover the data directory, then run the HTTP API on the engine until
// SIGINT or SIGTERM; on the way out the engine finishes every accepted request and checkpoints.

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <charconv>

#include "cli/operator.h"
#include "engine/engine.h"
#include "server/server.h"

namespace capillary::cli {
namespace {

std::atomic<bool> stop_requested{false};

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

  engine::Options engine_options;
  engine_options.data_dir = options.data_dir;
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::open(engine_options, &engine); !status.is_ok()) {
    fmt::print(stderr, "serve: cannot open {}: {}\n", options.data_dir.string(), status.message());
    return 1;
  }
  const engine::Stats stats = engine->stats();
  fmt::print(stderr, "capillary: data in {} (sequence {}, {} accounts, {} transfers, {} batches replayed)\n",
             std::filesystem::absolute(options.data_dir).string(), stats.last_sequence,
             stats.accounts, stats.transfers, stats.replayed_batches);

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
