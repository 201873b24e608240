#include "cli/bench_ledger.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "core/limits.h"
#include "engine/engine.h"

namespace capillary::cli {
namespace {

using ledger::AccountSpec;
using ledger::Transfer;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t ledger_cny = 156;
constexpr std::uint16_t code_wallet = 1, code_merchant = 2, code_funding = 3, code_payment = 10;
constexpr std::uint64_t hot_merchants = 10;
// Account ids: users 1..N, merchants N+1..N+10, the funding account N+11.
constexpr std::int64_t user_funding = 1'000'000'000;  // 10 million CNY in fen: never runs dry
// Batches in flight at once: enough to keep the engine busy while callbacks run.
constexpr std::size_t in_flight_max = 4;

std::vector<std::vector<Transfer>> make_batches(const LedgerBenchOptions& options,
                                                std::uint64_t first_id) {
  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<std::uint64_t> user(1, options.accounts);
  std::uniform_int_distribution<std::uint64_t> merchant(options.accounts + 1,
                                                        options.accounts + hot_merchants);
  std::uniform_int_distribution<std::uint32_t> percent(0, 99);
  std::uniform_int_distribution<std::int64_t> amount(1, 100'00);
  std::vector<std::vector<Transfer>> batches;
  std::uint64_t id = first_id;
  for (std::uint64_t done = 0; done < options.transfers;) {
    const std::uint64_t size = std::min<std::uint64_t>(options.batch, options.transfers - done);
    std::vector<Transfer> batch(size);
    for (Transfer& t : batch) {
      t = Transfer{};
      t.id = id++;
      t.debit_account_id = user(random);
      const bool hot = percent(random) < options.hot_percent;
      do {
        t.credit_account_id = hot ? merchant(random) : user(random);
      } while (t.credit_account_id == t.debit_account_id);
      t.amount = amount(random);
      t.ledger = ledger_cny;
      t.code = code_payment;
    }
    batches.push_back(std::move(batch));
    done += size;
  }
  return batches;
}

// When a batch came back, in seconds since the run started, and how long it took.
struct BatchTiming {
  double done_s;
  double latency_ms;
};

// Submits batches with at most in_flight_max outstanding; returns each batch's timing.
std::vector<BatchTiming> drive(engine::Engine& engine, std::vector<std::vector<Transfer>>& batches,
                               std::atomic<std::uint64_t>* failed, bool progress) {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t in_flight = 0, completed = 0;
  std::vector<BatchTiming> timings(batches.size());
  auto last_report = Clock::now();
  const auto started = Clock::now();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return in_flight < in_flight_max; });
      ++in_flight;
    }
    const auto submitted = Clock::now();
    const auto on_done = [&, i, submitted](std::span<const ledger::CreateTransferResult> results) {
      const auto now = Clock::now();
      timings[i] = {std::chrono::duration<double>(now - started).count(),
                    std::chrono::duration<double, std::milli>(now - submitted).count()};
      for (const auto result : results) {
        if (result != ledger::CreateTransferResult::ok) ++*failed;
      }
      std::lock_guard lock(mutex);
      --in_flight;
      ++completed;
      changed.notify_all();
    };
    while (engine.submit_transfers(batches[i], on_done) != engine::Submit::accepted) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (progress && Clock::now() - last_report > std::chrono::seconds(1)) {
      last_report = Clock::now();
      const double seconds = std::chrono::duration<double>(last_report - started).count();
      fmt::print(stderr, "  {:>5.1f}s  {:>6.1f}%  {:>12.0f} transfers/s\n", seconds,
                 100.0 * static_cast<double>(i) / static_cast<double>(batches.size()),
                 static_cast<double>(i * batches[0].size()) / seconds);
    }
  }
  std::unique_lock lock(mutex);
  changed.wait(lock, [&] { return completed == batches.size(); });
  return timings;
}

// The run as JSON, for bench/plot.py: the configuration and every batch's timing.
bool write_report(const LedgerBenchOptions& options, const std::vector<BatchTiming>& timings,
                  double transfers_per_s) {
  std::FILE* file = std::fopen(options.report.c_str(), "w");
  if (file == nullptr) {
    fmt::print(stderr, "bench ledger: cannot write {}\n", options.report.string());
    return false;
  }
  fmt::print(file,
             "{{\"bench\":\"ledger\",\"accounts\":{},\"transfers\":{},\"batch\":{},"
             "\"hot_percent\":{},\"sync\":{},\"history\":{},\"transfers_per_s\":{:.0f},"
             "\"batches\":[",
             options.accounts, options.transfers, options.batch, options.hot_percent, options.sync,
             options.history, transfers_per_s);
  for (std::size_t i = 0; i < timings.size(); ++i) {
    fmt::print(file, "{}[{:.4f},{:.3f}]", i == 0 ? "" : ",", timings[i].done_s,
               timings[i].latency_ms);
  }
  fmt::print(file, "]}}\n");
  return std::fclose(file) == 0;
}

}  // namespace

int run_ledger_bench(const LedgerBenchOptions& options) {
  if (options.accounts < 2 || options.transfers == 0 || options.batch == 0 ||
      options.batch > batch_events_max || options.hot_percent > 100) {
    fmt::print(stderr, "bench ledger: need --accounts >= 2, --transfers >= 1, 1 <= --batch <= {}, "
                       "--hot-percent 0..100\n", batch_events_max);
    return 2;
  }
  std::error_code error;
  if (std::filesystem::exists(options.data_dir / "journal", error)) {
    fmt::print(stderr, "bench ledger: {} already holds a journal; give an empty directory\n",
               options.data_dir.string());
    return 2;
  }
  engine::Options engine_options;
  engine_options.data_dir = options.data_dir;
  engine_options.sync = options.sync;
  engine_options.history = options.history;
  engine_options.checkpoint_journal_bytes =
      options.checkpoint_mib == 0 ? UINT64_MAX : options.checkpoint_mib << 20;
  engine_options.accounts_reserve = static_cast<std::uint32_t>(options.accounts + hot_merchants + 1);
  engine_options.transfers_reserve = static_cast<std::uint32_t>(options.transfers + options.accounts);
  std::unique_ptr<engine::Engine> engine;
  if (Status status = engine::Engine::open(engine_options, &engine); !status.is_ok()) {
    fmt::print(stderr, "bench ledger: {}\n", status.message());
    return 1;
  }

  fmt::print(stderr, "setting up {} accounts and funding them...\n", options.accounts);
  const std::uint64_t funding_id = options.accounts + hot_merchants + 1;
  std::vector<AccountSpec> accounts;
  for (std::uint64_t id = 1; id <= funding_id; ++id) {
    const bool user = id <= options.accounts;
    accounts.push_back({.id = id, .owner = id, .user_data = 0, .credit_limit = 0,
                        .ledger = ledger_cny,
                        .code = user ? code_wallet : id == funding_id ? code_funding : code_merchant,
                        .flags = user ? ledger::account_debits_must_not_exceed_credits : std::uint16_t{0}});
    if (accounts.size() == batch_events_max || id == funding_id) {
      for (auto result : engine->create_accounts(std::move(accounts))) {
        if (result != ledger::CreateAccountResult::ok) {
          fmt::print(stderr, "bench ledger: account setup failed: {}\n", ledger::name(result));
          return 1;
        }
      }
      accounts.clear();
    }
  }
  std::vector<std::vector<Transfer>> funding;
  for (std::uint64_t id = 1; id <= options.accounts; ++id) {
    if (funding.empty() || funding.back().size() == batch_events_max) funding.emplace_back();
    funding.back().push_back({.id = id, .debit_account_id = funding_id, .credit_account_id = id,
                              .amount = user_funding, .pending_id = 0, .user_data = 0,
                              .timeout_s = 0, .ledger = ledger_cny, .code = code_funding,
                              .flags = 0, .reserved = 0});
  }
  std::atomic<std::uint64_t> failed = 0;
  drive(*engine, funding, &failed, false);
  if (failed != 0) {
    fmt::print(stderr, "bench ledger: funding failed for {} accounts\n", failed.load());
    return 1;
  }

  fmt::print(stderr, "generating {} transfers ({}% to {} hot merchants)...\n", options.transfers,
             options.hot_percent, hot_merchants);
  auto batches = make_batches(options, options.accounts + 1);
  fmt::print(stderr, "running: batches of {}, journal fdatasync {}, history {}\n", options.batch,
             options.sync ? "on" : "OFF", options.history ? "on" : "off");
  const auto started = Clock::now();
  const std::vector<BatchTiming> timings = drive(*engine, batches, &failed, true);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (options.history) engine->wait_for_history();
  const double seconds_with_history =
      std::chrono::duration<double>(Clock::now() - started).count();

  std::vector<double> latencies;
  for (const BatchTiming& timing : timings) latencies.push_back(timing.latency_ms);
  std::sort(latencies.begin(), latencies.end());
  const double p99 = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
  const double p50 = latencies[latencies.size() / 2];
  const engine::Stats stats = engine->stats();
  fmt::print(stderr,
             "{} transfers in {:.2f} s ({} rejected: overdrawn), batch latency p50 {:.2f} ms, "
             "p99 {:.2f} ms; history caught up after {:.2f} s; journal {:.0f} MiB\n",
             options.transfers, seconds, failed.load(), p50, p99, seconds_with_history,
             static_cast<double>(stats.journal_bytes) / (1 << 20));
  const double transfers_per_s = static_cast<double>(options.transfers) / seconds;
  if (!options.report.empty() && !write_report(options, timings, transfers_per_s)) return 1;
  fmt::print("transfers_per_s={:.0f} batch_p99_ms={:.2f} accounts={} hot_percent={}\n",
             transfers_per_s, p99, options.accounts, options.hot_percent);
  return 0;
}

void add_ledger_bench(const Commands& commands) {
  auto options = std::make_shared<LedgerBenchOptions>();
  auto no_sync = std::make_shared<bool>(false);
  auto no_history = std::make_shared<bool>(false);
  auto* bench = commands.bench.add_subcommand(
      "ledger", "Durable transfers through the engine with its real journal");
  bench->add_option("--accounts", options->accounts, "User accounts")->capture_default_str();
  bench->add_option("--transfers", options->transfers, "Transfers to run")->capture_default_str();
  bench->add_option("--batch", options->batch, "Transfers per request")->capture_default_str();
  bench->add_option("--hot-percent", options->hot_percent,
                    "Percent of transfers crediting one of 10 hot merchants")
      ->capture_default_str();
  bench->add_option("--data", options->data_dir, "An empty directory for the run")->required();
  bench->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  bench->add_option("--checkpoint-mib", options->checkpoint_mib,
                    "Journal MiB between checkpoints (0: only at shutdown, keeping the "
                    "whole journal for `replay`)")
      ->capture_default_str();
  bench->add_option("--report", options->report,
                    "Write every batch's timing as JSON (plot it with bench/plot.py)");
  bench->add_flag("--no-sync", *no_sync, "Skip fdatasync (measures the engine, not the disk)");
  bench->add_flag("--no-history", *no_history, "Do not feed the history store");
  bench->callback([=, &exit_code = commands.exit_code] {
    options->sync = !*no_sync;
    options->history = !*no_history;
    exit_code = run_ledger_bench(*options);
  });
}

}  // namespace capillary::cli
