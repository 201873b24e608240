// `capillary bank-sim`: the bank simulator serving every channel of a config file over HTTP, and
// `capillary bench channels`: load through the gateway (routing, flow control, HTTP connector)
// against a running simulator.

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "banksim/server.h"
#include "channels/config.h"
#include "channels/gateway.h"
#include "channels/http_connector.h"
#include "cli/commands.h"
#include "core/clock.h"

namespace capillary::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds stop_poll_interval{50};
// Amounts drawn for bench calls: 0.01 to 1,000.00 CNY.
constexpr std::int64_t bench_amount_fen_max = 1000'00;
// Distinct cards per bench run; tokens only, the simulator keys nothing on them.
constexpr std::uint64_t bench_cards = 100'000;

std::atomic<bool> stop_requested{false};
void request_stop(int) { stop_requested = true; }

bool split_host_port(const std::string& text, std::string* host, std::uint16_t* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = text.substr(0, colon);
  const char* end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data() + colon + 1, end, *port);
  return error == std::errc() && rest == end;
}

struct BankSimCommandOptions {
  std::string config = "config/banks.json";
  std::string listen = "127.0.0.1:9090";
  int threads = 1;
};

int run_bank_sim(const BankSimCommandOptions& options) {
  banksim::BankSimOptions sim;
  if (!split_host_port(options.listen, &sim.host, &sim.port)) {
    fmt::print(stderr, "bank-sim: --listen wants HOST:PORT, got '{}'\n", options.listen);
    return 2;
  }
  sim.threads = options.threads;
  channels::BanksConfig config;
  try {
    config = channels::load_banks_config(options.config);
  } catch (const std::runtime_error& error) {
    fmt::print(stderr, "bank-sim: {}\n", error.what());
    return 2;
  }
  SystemClock clock;
  banksim::BankSimServer server(config, sim, clock);
  if (Status status = server.start(); !status.is_ok()) {
    fmt::print(stderr, "bank-sim: {}\n", status.message());
    return 1;
  }
  fmt::print(stderr, "bank-sim: {} channels, seed {}, listening on http://{}:{}\n",
             config.channels.size(), config.seed, sim.host, server.port());
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  while (!stop_requested.load()) std::this_thread::sleep_for(stop_poll_interval);
  server.stop();
  fmt::print(stderr, "bank-sim: stopped\n");
  return 0;
}

struct ChannelsBenchOptions {
  std::string config = "config/banks.json";
  std::string target = "127.0.0.1:9090";
  std::uint64_t calls = 100'000;
  std::size_t in_flight = 256;
  std::size_t connections = 256;
  int threads = 1;
  std::uint32_t timeout_ms = 2000;
  std::uint64_t seed = 1;
};

struct Tally {
  std::array<std::uint64_t, 4> outcomes{};  // indexed by GatewayOutcome
  std::array<std::uint64_t, channels::rejection_count> rejections{};
  std::vector<std::uint32_t> latencies_us;  // of calls that reached the bank
};

int run_channels_bench(const ChannelsBenchOptions& options) {
  channels::HttpConnectorOptions connector_options;
  if (!split_host_port(options.target, &connector_options.host, &connector_options.port)) {
    fmt::print(stderr, "bench channels: --target wants HOST:PORT, got '{}'\n", options.target);
    return 2;
  }
  if (options.in_flight < 1 || options.connections < 1 || options.threads < 1) {
    fmt::print(stderr, "bench channels: --in-flight, --connections and --threads must be >= 1\n");
    return 2;
  }
  connector_options.connections_max = options.connections;
  connector_options.timeout = std::chrono::milliseconds(options.timeout_ms);
  connector_options.threads = options.threads;
  channels::BanksConfig config;
  std::unique_ptr<channels::HttpConnector> connector;
  try {
    config = channels::load_banks_config(options.config);
    connector = std::make_unique<channels::HttpConnector>(connector_options);
  } catch (const std::runtime_error& error) {
    fmt::print(stderr, "bench channels: {}\n", error.what());
    return 2;
  }
  if (config.routes.empty()) {
    fmt::print(stderr, "bench channels: the config routes no bank code\n");
    return 2;
  }
  SystemClock clock;
  channels::Gateway gateway(config, *connector, clock);
  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<std::size_t> route(0, config.routes.size() - 1);
  std::uniform_int_distribution<std::uint64_t> card(1, bench_cards);
  std::uniform_int_distribution<std::int64_t> amount(1, bench_amount_fen_max);

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t outstanding = 0;
  std::uint64_t done = 0;
  Tally tally;
  tally.latencies_us.reserve(options.calls);
  const auto started = SteadyClock::now();
  for (std::uint64_t i = 0; i < options.calls; ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return outstanding < options.in_flight; });
      ++outstanding;
    }
    const channels::Card to_charge{fmt::format("card-{}", card(random)),
                                   config.routes[route(random)].bank_code};
    const auto api = i % 4 == 3 ? channels::BankApi::credit_card : channels::BankApi::debit_card;
    gateway.call(api, to_charge, amount(random), fmt::format("bench-{}-{}", options.seed, i),
                 [&](channels::GatewayResult result) {
                   std::lock_guard lock(mutex);
                   ++tally.outcomes[static_cast<std::size_t>(result.outcome)];
                   if (result.outcome == channels::GatewayOutcome::rejected) {
                     ++tally.rejections[static_cast<std::size_t>(result.rejection)];
                   } else {
                     tally.latencies_us.push_back(static_cast<std::uint32_t>(
                         std::min<std::int64_t>(result.latency.count(), UINT32_MAX)));
                   }
                   --outstanding;
                   ++done;
                   changed.notify_all();
                 });
  }
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return done == options.calls; });
  }
  const double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::sort(tally.latencies_us.begin(), tally.latencies_us.end());
  const auto percentile_ms = [&](std::size_t per_mille) {
    if (tally.latencies_us.empty()) return 0.0;
    return tally.latencies_us[(tally.latencies_us.size() - 1) * per_mille / 1000] / 1000.0;
  };
  for (std::size_t reason = 1; reason < channels::rejection_count; ++reason) {
    if (tally.rejections[reason] == 0) continue;
    fmt::print("rejected {}: {}\n", channels::name(static_cast<channels::Rejection>(reason)),
               tally.rejections[reason]);
  }
  const auto count = [&](channels::GatewayOutcome outcome) {
    return tally.outcomes[static_cast<std::size_t>(outcome)];
  };
  fmt::print(
      "calls_per_s={:.0f} approved={} declined={} failed={} rejected={} p50_ms={:.2f} "
      "p99_ms={:.2f}\n",
      static_cast<double>(options.calls) / elapsed_s, count(channels::GatewayOutcome::approved),
      count(channels::GatewayOutcome::declined), count(channels::GatewayOutcome::failed),
      count(channels::GatewayOutcome::rejected), percentile_ms(500), percentile_ms(990));
  return 0;
}

}  // namespace

void add_bank_sim_commands(const Commands& commands) {
  auto sim = std::make_shared<BankSimCommandOptions>();
  auto* command = commands.app.add_subcommand(
      "bank-sim", "Simulated banks for every channel of a config file, over HTTP");
  command->add_option("--config", sim->config, "Channels config (JSON)")->capture_default_str();
  command->add_option("--listen", sim->listen, "HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  command->add_option("--threads", sim->threads, "io threads")->capture_default_str();
  command->callback([=, &exit_code = commands.exit_code] { exit_code = run_bank_sim(*sim); });

  auto bench = std::make_shared<ChannelsBenchOptions>();
  auto* load = commands.bench.add_subcommand(
      "channels", "Card calls through routing, flow control and the HTTP connector to a bank-sim");
  load->add_option("--config", bench->config, "Channels config (JSON)")->capture_default_str();
  load->add_option("--target", bench->target, "The bank-sim's HOST:PORT")->capture_default_str();
  load->add_option("--calls", bench->calls, "Calls to make")->capture_default_str();
  load->add_option("--in-flight", bench->in_flight, "Calls outstanding at once")
      ->capture_default_str();
  load->add_option("--connections", bench->connections, "Connector keep-alive pool size")
      ->capture_default_str();
  load->add_option("--threads", bench->threads, "Connector io threads")->capture_default_str();
  load->add_option("--timeout-ms", bench->timeout_ms, "Per-call timeout")->capture_default_str();
  load->add_option("--seed", bench->seed, "Random seed (also names the references)")
      ->capture_default_str();
  load->callback([=, &exit_code = commands.exit_code] { exit_code = run_channels_bench(*bench); });
}

}  // namespace capillary::cli
