#include "credit/binning.h"

#include <algorithm>

#include "core/assert.h"

namespace capillary::credit {
namespace {

void merge_into_previous(Bins& bins, std::size_t i) {
  CAP_ASSERT(i > 0 && i < bins.size());
  bins.upper[i - 1] = bins.upper[i];
  bins.good[i - 1] += bins.good[i];
  bins.bad[i - 1] += bins.bad[i];
  bins.upper.erase(bins.upper.begin() + static_cast<std::ptrdiff_t>(i));
  bins.good.erase(bins.good.begin() + static_cast<std::ptrdiff_t>(i));
  bins.bad.erase(bins.bad.begin() + static_cast<std::ptrdiff_t>(i));
}

std::uint64_t users(const Bins& bins, std::size_t i) { return bins.good[i] + bins.bad[i]; }

// Compares the smoothed odds (good + 1/2) / (bad + 1/2) of two bins exactly, in integers:
// negative when bin a's odds are lower, zero when equal, positive when higher.
int compare_odds(const Bins& bins, std::size_t a, std::size_t b) {
  const unsigned __int128 left =
      static_cast<unsigned __int128>(2 * bins.good[a] + 1) * (2 * bins.bad[b] + 1);
  const unsigned __int128 right =
      static_cast<unsigned __int128>(2 * bins.good[b] + 1) * (2 * bins.bad[a] + 1);
  return left < right ? -1 : left > right ? 1 : 0;
}

}  // namespace

std::size_t bin_of(std::span<const std::int64_t> upper, std::int64_t value) noexcept {
  CAP_ASSERT(!upper.empty() && upper.back() == bin_upper_unbounded);
  return static_cast<std::size_t>(std::lower_bound(upper.begin(), upper.end(), value) -
                                  upper.begin());
}

Bins quantile_bins(std::span<const std::int64_t> values, std::span<const std::uint8_t> bad,
                   std::size_t bins_wanted, std::uint64_t bin_users_min) {
  CAP_ASSERT(!values.empty() && values.size() == bad.size());
  CAP_ASSERT(bins_wanted >= 1 && bins_wanted <= bins_max);
  std::vector<std::int64_t> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());

  Bins bins;
  for (std::size_t k = 1; k < bins_wanted; ++k) {
    const std::int64_t edge = sorted[k * sorted.size() / bins_wanted - 1];
    // Ties: the edge is a value, so all users with it fall in the same bin; skip repeated edges.
    if (edge == sorted.back() || (!bins.upper.empty() && edge <= bins.upper.back())) continue;
    bins.upper.push_back(edge);
  }
  bins.upper.push_back(bin_upper_unbounded);
  bins.good.assign(bins.size(), 0);
  bins.bad.assign(bins.size(), 0);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t bin = bin_of(bins.upper, values[i]);
    (bad[i] != 0 ? bins.bad : bins.good)[bin] += 1;
  }

  // Merge the smallest undersized bin into its smaller neighbour until none is undersized.
  while (bins.size() > 1) {
    std::size_t smallest = 0;
    for (std::size_t i = 1; i < bins.size(); ++i) {
      if (users(bins, i) < users(bins, smallest)) smallest = i;
    }
    if (users(bins, smallest) >= bin_users_min) break;
    const bool into_previous =
        smallest == bins.size() - 1 ||
        (smallest > 0 && users(bins, smallest - 1) <= users(bins, smallest + 1));
    merge_into_previous(bins, into_previous ? smallest : smallest + 1);
  }
  CAP_ASSERT(bins.upper.back() == bin_upper_unbounded);
  return bins;
}

void merge_monotonic(Bins& bins, Monotonic monotonic) {
  if (monotonic == Monotonic::free) return;
  const int wrong_way = monotonic == Monotonic::rising ? 1 : -1;
  // Pool adjacent violators: merge a bin into the previous one when the odds go the wrong way,
  // then look back, since the merged bin may now violate with its own predecessor.
  std::size_t i = 1;
  while (i < bins.size()) {
    if (compare_odds(bins, i - 1, i) == wrong_way) {
      merge_into_previous(bins, i);
      if (i > 1) --i;
    } else {
      ++i;
    }
  }
  for (std::size_t j = 1; j < bins.size(); ++j) CAP_ASSERT(compare_odds(bins, j - 1, j) != wrong_way);
}

}  // namespace capillary::credit
