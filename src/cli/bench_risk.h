#pragma once
// `capillary bench risk`: the risk engine on a labelled synthetic event stream, one thread.

#include <cstdint>
#include <filesystem>

namespace capillary::cli {

struct RiskBenchOptions {
  std::uint64_t events = 2'000'000;
  std::uint64_t seed = 42;
  std::filesystem::path rules;  // a rules file to activate instead of the built-in rules
};

// Generates the stream (untimed, in chunks), decides every event on this thread, prints progress
// and the per-fraud-kind figures to stderr and, as the last line on stdout,
// `decisions_per_s=<n> p99_us=<x> catch_rate=<r> false_positive_rate=<r>`, where decisions_per_s
// is decisions per second of the deciding thread's CPU time (one core; the wall-clock rate is on
// stderr), p99_us the wall-clock latency of one decide() call, catch_rate fraud events challenged
// or denied / fraud events and false_positive_rate normal events challenged or denied / normal
// events. Returns 0, or 2 for bad options or a bad rules file.
int run_risk_bench(const RiskBenchOptions& options);

}  // namespace capillary::cli
