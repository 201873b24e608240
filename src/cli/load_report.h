#pragma once
// What a load run measured: a latency histogram cheap enough to record every answer in, the
// per-second series, the totals, and their three outputs — the summary line, a JSON report and an
// SVG plot of throughput and p99 latency over time (drawn like bench/plot.py's ledger plot).

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace capillary::cli::load {

// Latencies in microseconds, log-linear: exact below 2^sub_bucket_bits us, then 2^sub_bucket_bits
// buckets per power of two, so a percentile is within 1/64 (1.6%) of the true value. Values above
// latency_us_max (an answer after the server's own 60 s timeout cannot happen) count as the max.
class LatencyHistogram {
 public:
  static constexpr int sub_bucket_bits = 6;
  static constexpr std::uint64_t latency_us_max = 64'000'000;

  void record(std::chrono::nanoseconds latency);
  void merge(const LatencyHistogram& other);
  std::uint64_t count() const { return count_; }
  // The latency at `percent` (0..100) in milliseconds: the middle of its bucket; 0 when empty.
  double percentile_ms(double percent) const;

 private:
  static constexpr int powers = 27;  // 2^26 us > latency_us_max
  static constexpr std::size_t bucket_count = std::size_t{powers} << sub_bucket_bits;
  static std::size_t bucket_of(std::uint64_t us);
  static std::pair<std::uint64_t, std::uint64_t> bounds_of(std::size_t bucket);  // [low, high)

  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
};

// One second of the run, by the time the answers arrived.
struct Second {
  std::uint64_t paid = 0;       // payments answered ok
  std::uint64_t checkouts = 0;  // orders created ok
  std::uint64_t cashiers = 0;   // cashier answered ok
  std::uint64_t rejected = 0;   // steps refused with 429/503
  std::uint64_t errors = 0;     // anything else unexpected
  LatencyHistogram latency;
};

struct Totals {
  double paid_per_s = 0;
  double checkout_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t paid = 0;
  std::uint64_t checkouts = 0;
  std::uint64_t cashiers = 0;
  std::uint64_t rejected = 0;
  std::uint64_t errors = 0;
  std::uint64_t lost = 0;
  std::uint64_t unsent = 0;       // steps the generator could not send in time (its own limit)
  std::uint64_t reconciled = 0;   // acknowledged payments found in the ledger as they should be
};

// Rates over the first `seconds` of `series` (the timed run; later seconds are the drain), and
// latency percentiles over all of it.
Totals summarize(const std::vector<Second>& series, std::uint32_t seconds);

// paid_per_s=<n> checkout_per_s=<n> p50_ms=<x> p99_ms=<x> rejected=<n> errors=<n> lost=<n>
std::string summary_line(const Totals& totals);

// The options of the run, written into the report as strings.
using Options = std::vector<std::pair<std::string, std::string>>;

Status write_json_report(const std::string& path, const Options& options,
                         const std::vector<Second>& series, const Totals& totals);
Status write_svg_plot(const std::string& path, const std::string& title,
                      const std::vector<Second>& series, std::uint32_t seconds);

}  // namespace capillary::cli::load
