#include "cli/bench_http.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/limits.h"
#include "core/status.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The same layout and amounts as `bench ledger`, so the two benchmarks are comparable. Relative to
// --id-base: wallets 1..N, merchants N+1..N+10, the funding account N+11.
constexpr std::uint32_t ledger_cny = 156;
constexpr std::uint16_t code_wallet = 1, code_merchant = 2, code_funding = 3, code_payment = 10;
constexpr std::uint64_t hot_merchants = 10;
constexpr std::int64_t user_funding = 1'000'000'000;  // 10 million CNY in fen: never runs dry
constexpr std::int64_t payment_amount_max = 100'00;

// The server's connection limit (docs/api.md); more would only wait in its listen backlog.
constexpr std::uint32_t connections_max = 1024;
// A 503 says `Retry-After: 1`, but the engine drains its queue in milliseconds; sleeping the full
// second would idle the connection and measure the back-off instead of the server.
constexpr milliseconds retry_backoff_min{10};
constexpr milliseconds retry_backoff_max{100};
// About a minute of back-off: a server still refusing by then is stopping, not busy.
constexpr std::uint32_t retries_max = 600;
constexpr std::chrono::seconds progress_interval{1};
constexpr milliseconds progress_poll{10};

std::string make_request(const Target& target, std::string_view path, std::string_view body) {
  return format_request(target, "POST", path, "", body);
}

// One request ready to send and the number of events in it.
struct PreparedBatch {
  std::string request;
  std::uint32_t events = 0;
};

// Rough size of one event's JSON, to reserve a body once.
constexpr std::size_t event_json_bytes = 128;

std::vector<PreparedBatch> make_account_batches(const HttpBenchOptions& options,
                                                const Target& target) {
  const std::uint64_t last = options.id_base + options.accounts + hot_merchants + 1;
  std::vector<PreparedBatch> batches;
  std::string body;
  std::uint32_t events = 0;
  for (std::uint64_t id = options.id_base + 1; id <= last; ++id) {
    if (events == 0) body = R"({"accounts":[)";
    const bool wallet = id <= options.id_base + options.accounts;
    const std::uint16_t code = wallet ? code_wallet : id == last ? code_funding : code_merchant;
    fmt::format_to(std::back_inserter(body), R"({}{{"id":{},"owner":{},"ledger":{},"code":{}{}}})",
                   events == 0 ? "" : ",", id, id, ledger_cny, code,
                   wallet ? R"(,"flags":["debits_must_not_exceed_credits"])" : "");
    ++events;
    if (events == batch_events_max || id == last) {
      body += "]}";
      batches.push_back({make_request(target, "/v1/accounts", body), events});
      events = 0;
    }
  }
  return batches;
}

void append_transfer(std::string* body, bool first, std::uint64_t id, std::uint64_t debit,
                     std::uint64_t credit, std::int64_t amount, std::uint16_t code) {
  fmt::format_to(std::back_inserter(*body),
                 R"({}{{"id":{},"debit_account_id":{},"credit_account_id":{},"amount":{},)"
                 R"("ledger":{},"code":{}}})",
                 first ? "" : ",", id, debit, credit, amount, ledger_cny, code);
}

// Funding transfers take ids base+1..base+N: one per wallet, from the funding account.
std::vector<PreparedBatch> make_funding_batches(const HttpBenchOptions& options,
                                                const Target& target) {
  const std::uint64_t funding_id = options.id_base + options.accounts + hot_merchants + 1;
  std::vector<PreparedBatch> batches;
  std::string body;
  std::uint32_t events = 0;
  for (std::uint64_t id = options.id_base + 1; id <= options.id_base + options.accounts; ++id) {
    if (events == 0) body = R"({"transfers":[)";
    append_transfer(&body, events == 0, id, funding_id, id, user_funding, code_funding);
    ++events;
    if (events == batch_events_max || id == options.id_base + options.accounts) {
      body += "]}";
      batches.push_back({make_request(target, "/v1/transfers", body), events});
      events = 0;
    }
  }
  return batches;
}

// Payments take ids after the funding transfers, drawn as in `bench ledger`.
std::vector<PreparedBatch> make_payment_batches(const HttpBenchOptions& options,
                                                const Target& target) {
  const std::uint64_t base = options.id_base;
  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<std::uint64_t> user(base + 1, base + options.accounts);
  std::uniform_int_distribution<std::uint64_t> merchant(base + options.accounts + 1,
                                                        base + options.accounts + hot_merchants);
  std::uniform_int_distribution<std::uint32_t> percent(0, 99);
  std::uniform_int_distribution<std::int64_t> amount(1, payment_amount_max);
  std::vector<PreparedBatch> batches;
  std::uint64_t id = base + options.accounts + 1;
  std::string body;
  for (std::uint64_t done = 0; done < options.transfers;) {
    const auto size = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(options.batch, options.transfers - done));
    body = R"({"transfers":[)";
    body.reserve(size * event_json_bytes);
    for (std::uint32_t i = 0; i < size; ++i) {
      const std::uint64_t debit = user(random);
      const bool hot = percent(random) < options.hot_percent;
      std::uint64_t credit;
      do {
        credit = hot ? merchant(random) : user(random);
      } while (credit == debit);
      append_transfer(&body, i == 0, id++, debit, credit, amount(random), code_payment);
    }
    body += "]}";
    batches.push_back({make_request(target, "/v1/transfers", body), size});
    done += size;
  }
  return batches;
}

// Per-event results of a 200 answer. A scan for `"result":"` is enough: the server writes compact
// JSON and no other field of a result holds that text.
struct ResultCount {
  std::uint32_t results = 0;
  std::uint32_t not_ok = 0;
  std::string first_not_ok;  // its result code, for messages
};

ResultCount count_results(std::string_view body) {
  constexpr std::string_view key = R"("result":")";
  constexpr std::string_view ok = R"(ok")";
  ResultCount count;
  for (std::size_t at = body.find(key); at != std::string_view::npos; at = body.find(key, at)) {
    at += key.size();
    ++count.results;
    if (body.substr(at, ok.size()) == ok) continue;
    if (count.not_ok++ == 0) count.first_not_ok = body.substr(at, body.find('"', at) - at);
  }
  return count;
}

struct BatchOutcome {
  std::uint32_t rejected = 0;  // 503 answers before the batch went through
  double latency_ms = 0;       // of the request that was answered 200
  ResultCount results;
};

// Sends one batch until it is answered 200, backing off on 503. Any other answer is an error:
// the bodies are well-formed, so a 4xx means client and server disagree about the API.
Status send_batch(HttpConnection& connection, const PreparedBatch& batch, HttpResponse* response,
                  BatchOutcome* outcome) {
  for (std::uint32_t attempt = 0; attempt <= retries_max; ++attempt) {
    const auto sent = Clock::now();
    if (Status status = connection.round_trip(batch.request, response); !status.is_ok()) {
      return status;
    }
    if (response->status == 503) {
      ++outcome->rejected;
      std::this_thread::sleep_for(
          std::clamp<milliseconds>(response->retry_after, retry_backoff_min, retry_backoff_max));
      continue;
    }
    if (response->status != 200) {
      return Status::io_error(fmt::format("HTTP {}: {:.300}", response->status, response->body));
    }
    outcome->latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    outcome->results = count_results(response->body);
    if (outcome->results.results != batch.events) {
      return Status::corruption(fmt::format("{} results for {} events: {:.300}",
                                            outcome->results.results, batch.events,
                                            response->body));
    }
    return Status::ok();
  }
  return Status::io_error(
      fmt::format("still 503 after {} retries: {:.300}", retries_max, response->body));
}

// Setup must succeed event by event: an id already taken means another run (or a dataset) owns
// this id range, and measuring on top of it would mix the two.
bool run_setup_batches(HttpConnection& connection, const std::vector<PreparedBatch>& batches,
                       std::string_view what, const HttpBenchOptions& options) {
  HttpResponse response;
  for (const PreparedBatch& batch : batches) {
    BatchOutcome outcome;
    if (Status status = send_batch(connection, batch, &response, &outcome); !status.is_ok()) {
      fmt::print(stderr, "bench http: {}: {}\n", what, status.message());
      return false;
    }
    if (outcome.results.not_ok != 0) {
      fmt::print(stderr,
                 "bench http: {}: {} of {} events answered `{}`, not ok; ids from {} may be taken "
                 "on this server: pass another --id-base\n",
                 what, outcome.results.not_ok, batch.events, outcome.results.first_not_ok,
                 options.id_base + 1);
      return false;
    }
  }
  return true;
}

// What the client threads share while the clock runs.
struct Run {
  const std::vector<PreparedBatch>* batches = nullptr;
  std::atomic<std::size_t> next_batch = 0;
  std::atomic<std::uint64_t> transfers_done = 0;
  std::atomic<std::uint64_t> rejected = 0;
  std::atomic<std::uint64_t> failed_events = 0;
  std::atomic<std::uint32_t> workers_running = 0;
  std::atomic<bool> stop = false;
  std::mutex error_mutex;
  std::string first_error;
};

// One client thread: takes the next unsent batch until none is left, so a slow connection never
// leaves the others idle at the end.
void run_client(Run* run, HttpConnection* connection, std::vector<double>* latencies_ms,
                Clock::time_point* finished) {
  HttpResponse response;
  while (!run->stop.load(std::memory_order_relaxed)) {
    const std::size_t index = run->next_batch.fetch_add(1);
    if (index >= run->batches->size()) break;
    const PreparedBatch& batch = (*run->batches)[index];
    BatchOutcome outcome;
    const Status status = send_batch(*connection, batch, &response, &outcome);
    run->rejected += outcome.rejected;
    if (!status.is_ok()) {
      std::lock_guard lock(run->error_mutex);
      if (run->first_error.empty()) run->first_error = status.message();
      run->stop = true;
      break;
    }
    latencies_ms->push_back(outcome.latency_ms);
    run->failed_events += outcome.results.not_ok;
    run->transfers_done += batch.events;
  }
  *finished = Clock::now();
  --run->workers_running;
}

double percentile(const std::vector<double>& sorted, std::size_t percent) {
  return sorted[std::min(sorted.size() - 1, sorted.size() * percent / 100)];
}

}  // namespace

int run_http_bench(const HttpBenchOptions& options) {
  Target target;
  if (!parse_target(options.target, &target)) {
    fmt::print(stderr, "bench http: --target must be HOST:PORT, not '{}'\n", options.target);
    return 2;
  }
  if (options.accounts < 2 || options.accounts > accounts_max - hot_merchants - 1 ||
      options.transfers == 0 || options.transfers > transfers_max || options.batch == 0 ||
      options.batch > batch_events_max || options.hot_percent > 100 || options.connections == 0 ||
      options.connections > connections_max) {
    fmt::print(
        stderr,
        "bench http: need 2 <= --accounts <= {}, 1 <= --transfers <= {}, 1 <= --batch <= {}, "
        "--hot-percent 0..100, 1 <= --connections <= {}\n",
        accounts_max - hot_merchants - 1, transfers_max, batch_events_max, connections_max);
    return 2;
  }
  // Ids 0 and 2^64-1 are reserved; the limits above keep this sum from overflowing.
  const std::uint64_t ids_used = options.accounts + hot_merchants + 1 + options.transfers;
  if (options.id_base > UINT64_MAX - 1 - ids_used) {
    fmt::print(stderr, "bench http: --id-base {} leaves no room for {} ids below 2^64-1\n",
               options.id_base, ids_used);
    return 2;
  }

  // Every connection opens before setup, so an unreachable server is reported at once.
  std::vector<std::unique_ptr<HttpConnection>> connections;
  for (std::uint32_t i = 0; i < options.connections; ++i) {
    connections.push_back(std::make_unique<HttpConnection>(target));
    if (Status status = connections.back()->connect(); !status.is_ok()) {
      fmt::print(stderr, "bench http: {} (is `capillary serve` running there?)\n",
                 status.message());
      return 1;
    }
  }

  fmt::print(stderr, "setting up {} accounts from id {} on {} and funding them...\n",
             options.accounts, options.id_base + 1, options.target);
  if (!run_setup_batches(*connections[0], make_account_batches(options, target),
                         "creating accounts", options) ||
      !run_setup_batches(*connections[0], make_funding_batches(options, target), "funding wallets",
                         options)) {
    return 1;
  }

  fmt::print(stderr, "generating {} transfers ({}% to {} hot merchants)...\n", options.transfers,
             options.hot_percent, hot_merchants);
  const std::vector<PreparedBatch> batches = make_payment_batches(options, target);
  fmt::print(stderr, "running: {} requests of up to {} transfers over {} connections\n",
             batches.size(), options.batch, options.connections);

  Run run;
  run.batches = &batches;
  run.workers_running = options.connections;
  std::vector<std::vector<double>> latencies_ms(options.connections);
  std::vector<Clock::time_point> finished(options.connections);
  std::vector<std::thread> clients;
  const auto started = Clock::now();
  for (std::uint32_t i = 0; i < options.connections; ++i) {
    latencies_ms[i].reserve(batches.size());
    clients.emplace_back(run_client, &run, connections[i].get(), &latencies_ms[i], &finished[i]);
  }
  auto last_report = started;
  std::uint64_t last_done = 0;
  while (run.workers_running.load() > 0) {
    std::this_thread::sleep_for(progress_poll);
    const auto now = Clock::now();
    if (now - last_report < progress_interval) continue;
    const std::uint64_t done = run.transfers_done.load();
    fmt::print(stderr, "  {:>5.1f}s  {:>6.1f}%  {:>10.0f} transfers/s  rejected {}\n",
               std::chrono::duration<double>(now - started).count(),
               100.0 * static_cast<double>(done) / static_cast<double>(options.transfers),
               static_cast<double>(done - last_done) /
                   std::chrono::duration<double>(now - last_report).count(),
               run.rejected.load());
    last_report = now;
    last_done = done;
  }
  for (std::thread& client : clients) client.join();
  if (run.stop) {
    fmt::print(stderr, "bench http: {}\n", run.first_error);
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(*std::max_element(finished.begin(), finished.end()) - started)
          .count();

  std::vector<double> all_latencies_ms;
  for (const auto& per_client : latencies_ms) {
    all_latencies_ms.insert(all_latencies_ms.end(), per_client.begin(), per_client.end());
  }
  std::sort(all_latencies_ms.begin(), all_latencies_ms.end());
  const double p50 = percentile(all_latencies_ms, 50), p99 = percentile(all_latencies_ms, 99);
  const double per_second = static_cast<double>(options.transfers) / seconds;
  fmt::print(stderr,
             "{} transfers in {:.2f} s over {} connections ({} events not ok, {} requests "
             "answered 503), request latency p50 {:.2f} ms, p99 {:.2f} ms\n",
             options.transfers, seconds, options.connections, run.failed_events.load(),
             run.rejected.load(), p50, p99);
  fmt::print(
      "http_transfers_per_s={:.0f} request_p50_ms={:.2f} request_p99_ms={:.2f} connections={} "
      "batch={} rejected={} failed_events={}\n",
      per_second, p50, p99, options.connections, options.batch, run.rejected.load(),
      run.failed_events.load());
  return 0;
}

void add_http_bench(const Commands& commands) {
  auto options = std::make_shared<HttpBenchOptions>();
  auto* bench = commands.bench.add_subcommand(
      "http", "Transfer batches over HTTP against a running `capillary serve`");
  bench->add_option("--target", options->target, "HOST:PORT of the server")->capture_default_str();
  bench->add_option("--accounts", options->accounts, "User accounts")->capture_default_str();
  bench->add_option("--transfers", options->transfers, "Transfers to run")->capture_default_str();
  bench->add_option("--batch", options->batch, "Transfers per request")->capture_default_str();
  bench->add_option("--connections", options->connections,
                    "Client threads, one keep-alive connection each")
      ->capture_default_str();
  bench->add_option("--hot-percent", options->hot_percent,
                    "Percent of transfers crediting one of 10 hot merchants")
      ->capture_default_str();
  bench->add_option("--id-base", options->id_base,
                    "Added to every account and transfer id; runs on one server need bases "
                    "at least accounts + transfers + 11 apart")
      ->capture_default_str();
  bench->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  bench->callback([options, &exit_code = commands.exit_code] { exit_code = run_http_bench(*options); });
}

}  // namespace capillary::cli
