#pragma once
// Latency buckets: two per power of two of microseconds, so a percentile read from them (the top
// of its bucket) is at most a third over the true value at any scale. O(1) to record.

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>

#include "channels/limits.h"
#include "core/assert.h"

namespace capillary::channels {

using LatencyCounts = std::array<std::uint32_t, latency_buckets>;

// 0..3 us get a bucket each; from 4 us on, bucket 2k holds [2^k, 1.5 * 2^k) and bucket 2k+1
// holds [1.5 * 2^k, 2^(k+1)). The last bucket also holds everything longer.
constexpr std::size_t latency_bucket(std::uint64_t latency_us) {
  if (latency_us < 4) return static_cast<std::size_t>(latency_us);
  const auto octave = static_cast<std::size_t>(std::bit_width(latency_us) - 1);
  const std::size_t half = (latency_us >> (octave - 1)) & 1;
  const std::size_t bucket = 2 * octave + half;
  return bucket < latency_buckets ? bucket : latency_buckets - 1;
}

// The largest latency a bucket holds (its exclusive upper bound minus one).
constexpr std::uint64_t latency_bucket_max_us(std::size_t bucket) {
  if (bucket < 4) return bucket;
  const std::size_t octave = bucket / 2;
  const std::uint64_t step = 1ull << (octave - 1);
  return ((2 + bucket % 2) * step) + step - 1;
}

static_assert(latency_bucket(4) == 4 && latency_bucket(5) == 4 && latency_bucket(6) == 5);
static_assert(latency_bucket(7) == 5 && latency_bucket(8) == 6);
static_assert(latency_bucket_max_us(4) == 5 && latency_bucket_max_us(5) == 7);
static_assert(latency_bucket(latency_bucket_max_us(41)) == 41 &&
              latency_bucket(latency_bucket_max_us(41) + 1) == 42);

// The latency at `quantile_ppm` (990'000 for p99): the top of the first bucket by which that share
// of the calls is counted. 0 when nothing was counted.
inline std::chrono::microseconds latency_quantile(const LatencyCounts& counts,
                                                  std::uint32_t quantile_ppm) {
  std::uint64_t total = 0;
  for (const std::uint32_t count : counts) total += count;
  if (total == 0) return std::chrono::microseconds{0};
  const std::uint64_t rank = (total * quantile_ppm + 999'999) / 1'000'000;  // ceiling, >= 1 share
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < counts.size(); ++bucket) {
    seen += counts[bucket];
    if (seen >= rank) {
      return std::chrono::microseconds{static_cast<std::int64_t>(latency_bucket_max_us(bucket))};
    }
  }
  CAP_ASSERT(false);  // the loop reaches rank: rank <= total
  return std::chrono::microseconds{0};
}

}  // namespace capillary::channels
