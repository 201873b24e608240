#pragma once
// `capillary bench ledger`: the engine with its real journal under a synthetic payment load.

#include <cstdint>
#include <filesystem>

namespace capillary::cli {

struct LedgerBenchOptions {
  std::uint64_t accounts = 1'000'000;
  std::uint64_t transfers = 10'000'000;
  std::uint32_t batch = 8190;
  std::uint32_t hot_percent = 0;     // share of transfers that credit one of 10 hot merchants
  std::filesystem::path data_dir;
  bool sync = true;
  bool history = true;
  std::uint64_t seed = 42;
  std::uint64_t checkpoint_mib = 256;  // journal MiB between checkpoints; 0: only at shutdown
  std::filesystem::path report;      // when set, a JSON report of every batch for bench/plot.py
};

// Runs the benchmark, printing progress to stderr and, as the last line on stdout,
// `transfers_per_s=<n> batch_p99_ms=<x> accounts=<N> hot_percent=<H>`. Returns an exit code.
int run_ledger_bench(const LedgerBenchOptions& options);

}  // namespace capillary::cli
