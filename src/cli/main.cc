// The `capillary` command: one binary for operators — serve, verify, replay, status, bench.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>

#include "cli/bench_http.h"
#include "cli/bench_ledger.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace capillary::cli;
  CLI::App app{"Capillary: a durable, deterministic payment ledger"};
  app.require_subcommand(1);

  ServeOptions serve;
  auto* serve_command = app.add_subcommand("serve", "Run the HTTP API on the engine");
  serve_command->add_option("--listen", serve.listen, "HOST:PORT to listen on")
      ->default_val("127.0.0.1:8080");
  serve_command->add_option("--data", serve.data_dir, "Data directory")->default_val("./data");
  serve_command->add_option("--threads", serve.threads, "HTTP I/O threads")->default_val(2);

  std::filesystem::path data_dir = "./data";
  auto* verify_command = app.add_subcommand(
      "verify", "Rebuild the state from disk and check every invariant and the state hash");
  verify_command->add_option("--data", data_dir, "Data directory")->default_val("./data");
  auto* replay_command = app.add_subcommand(
      "replay", "Replay the whole journal from its first entry and report the state and speed");
  replay_command->add_option("--data", data_dir, "Data directory")->default_val("./data");
  auto* status_command =
      app.add_subcommand("status", "Show a data directory's journal, checkpoint and history");
  status_command->add_option("--data", data_dir, "Data directory")->default_val("./data");

  auto* bench_command = app.add_subcommand("bench", "Benchmarks");
  bench_command->require_subcommand(1);
  LedgerBenchOptions ledger_bench;
  bool no_sync = false, no_history = false;
  auto* bench_ledger = bench_command->add_subcommand(
      "ledger", "Durable transfers through the engine with its real journal");
  bench_ledger->add_option("--accounts", ledger_bench.accounts, "User accounts")->default_val(1'000'000);
  bench_ledger->add_option("--transfers", ledger_bench.transfers, "Transfers to run")
      ->default_val(10'000'000);
  bench_ledger->add_option("--batch", ledger_bench.batch, "Transfers per request")->default_val(8190);
  bench_ledger->add_option("--hot-percent", ledger_bench.hot_percent,
                           "Percent of transfers crediting one of 10 hot merchants")
      ->default_val(0);
  bench_ledger->add_option("--data", ledger_bench.data_dir, "An empty directory for the run")
      ->required();
  bench_ledger->add_option("--seed", ledger_bench.seed, "Random seed")->default_val(42);
  bench_ledger->add_option("--checkpoint-mib", ledger_bench.checkpoint_mib,
                           "Journal MiB between checkpoints (0: only at shutdown, keeping the "
                           "whole journal for `replay`)")
      ->default_val(256);
  bench_ledger->add_option("--report", ledger_bench.report,
                           "Write every batch's timing as JSON (plot it with bench/plot.py)");
  bench_ledger->add_flag("--no-sync", no_sync, "Skip fdatasync (measures the engine, not the disk)");
  bench_ledger->add_flag("--no-history", no_history, "Do not feed the history store");

  HttpBenchOptions http_bench;
  auto* bench_http = bench_command->add_subcommand(
      "http", "Transfer batches over HTTP against a running `capillary serve`");
  bench_http->add_option("--target", http_bench.target, "HOST:PORT of the server")
      ->default_val("127.0.0.1:8080");
  bench_http->add_option("--accounts", http_bench.accounts, "User accounts")->default_val(100'000);
  bench_http->add_option("--transfers", http_bench.transfers, "Transfers to run")
      ->default_val(2'000'000);
  bench_http->add_option("--batch", http_bench.batch, "Transfers per request")->default_val(8190);
  bench_http
      ->add_option("--connections", http_bench.connections,
                   "Client threads, one keep-alive connection each")
      ->default_val(4);
  bench_http
      ->add_option("--hot-percent", http_bench.hot_percent,
                   "Percent of transfers crediting one of 10 hot merchants")
      ->default_val(0);
  bench_http
      ->add_option("--id-base", http_bench.id_base,
                   "Added to every account and transfer id; runs on one server need bases "
                   "at least accounts + transfers + 11 apart")
      ->default_val(1'000'000'000);
  bench_http->add_option("--seed", http_bench.seed, "Random seed")->default_val(42);

  CLI11_PARSE(app, argc, argv);

  if (*serve_command) return run_serve(serve);
  if (*verify_command) return run_verify(data_dir);
  if (*replay_command) return run_replay(data_dir);
  if (*status_command) return run_status(data_dir);
  if (*bench_ledger) {
    ledger_bench.sync = !no_sync;
    ledger_bench.history = !no_history;
    return run_ledger_bench(ledger_bench);
  }
  if (*bench_http) return run_http_bench(http_bench);
  return 2;
}
