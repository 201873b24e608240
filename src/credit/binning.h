#pragma once
// Binning a feature for the scorecard: quantile bins over the training values, merged until every
// bin is large enough and, for a monotonic feature, until the good rate moves one way only.
//
// A bin holds the values up to and including its upper bound, above the previous bin's bound; the
// first bin starts at the lowest int64, the last ends at bin_upper_unbounded, so every value has a bin.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "credit/features.h"

namespace capillary::credit {

inline constexpr std::int64_t bin_upper_unbounded = std::numeric_limits<std::int64_t>::max();

// Bins per feature. Ten quantile bins give a scorecard enough resolution on this data; more only
// fit noise and make explanations harder to read.
inline constexpr std::size_t bins_max = 10;

struct Bins {
  std::vector<std::int64_t> upper;  // strictly increasing; the last is bin_upper_unbounded
  std::vector<std::uint64_t> good;  // per bin: users who repaid
  std::vector<std::uint64_t> bad;   // per bin: users who defaulted

  std::size_t size() const noexcept { return upper.size(); }
  bool operator==(const Bins&) const = default;
};

// The bin holding `value`: the first whose upper bound is >= value.
std::size_t bin_of(std::span<const std::int64_t> upper, std::int64_t value) noexcept;

// Up to `bins_wanted` bins with (about) equal counts; tied values never straddle a bin boundary,
// and a bin with fewer than `bin_users_min` users is merged into its smaller neighbour.
// `bad[i]` is 1 when user i defaulted. Needs at least one value.
Bins quantile_bins(std::span<const std::int64_t> values, std::span<const std::uint8_t> bad,
                   std::size_t bins_wanted, std::uint64_t bin_users_min);

// Merges adjacent bins (pool-adjacent-violators) until the smoothed good:bad odds of the bins rise
// (Monotonic::rising) or fall (Monotonic::falling) with the value; leaves free features alone.
// Afterwards the weights of evidence follow the same direction.
void merge_monotonic(Bins& bins, Monotonic monotonic);

}  // namespace capillary::credit
