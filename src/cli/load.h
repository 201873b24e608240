#pragma once
// `capillary load 12-12-6`: the seeds' peak-day load test against a running `capillary serve`.
// Per second, 120,000 x scale buyers open checkout, as many choose a payment channel, and half of
// them pay, from a mix of wallet, coupon, red-packet balance and bank card (load_plan.h). Paced by
// the clock (open loop); every acknowledged payment is reconciled against the ledger afterwards.

#include <chrono>
#include <cstdint>
#include <string>

namespace capillary::cli::load {

enum class Mode { requests, batch };

struct LoadOptions {
  std::string target = "127.0.0.1:8080";  // HOST:PORT of the server
  std::string data_dir;                   // the server's data directory: its master.key signs
  std::chrono::milliseconds duration{30'000};
  double scale = 1.0;
  Mode mode = Mode::batch;
  std::uint32_t connections = 0;  // 0: by mode
  std::uint32_t users = 0;        // 0: by scale
  std::uint32_t merchants = 0;    // 0: by scale
  std::uint64_t seed = 42;
  // Users, merchants and the red-packet sender take ids from id_base + 1; 0 derives a base from
  // the clock, so runs against one server never collide.
  std::uint64_t id_base = 0;
  std::string report;  // JSON report path, optional
  std::string plot;    // SVG plot path, optional
};

// Sets up (not timed), runs, drains, reconciles. Progress on stderr once a second; the last line
// on stdout is `paid_per_s=<n> checkout_per_s=<n> p50_ms=<x> p99_ms=<x> rejected=<n> errors=<n>
// lost=<n>`. Returns 0 when nothing was lost and nothing unexpected answered, 1 otherwise (setup
// failures included), 2 for bad options.
int run_load(const LoadOptions& options);

}  // namespace capillary::cli::load
