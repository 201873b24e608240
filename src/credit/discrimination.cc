#include "credit/discrimination.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/assert.h"

namespace capillary::credit {

Discrimination measure_discrimination(std::span<const std::int32_t> scores,
                                      std::span<const std::uint8_t> bad) {
  CAP_ASSERT(scores.size() == bad.size());
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  const auto bad_total = static_cast<std::uint64_t>(std::count(bad.begin(), bad.end(), 1));
  const std::uint64_t good_total = scores.size() - bad_total;
  CAP_ASSERT(bad_total > 0 && good_total > 0);

  // One pass over groups of tied scores, lowest first. Each good user beats every bad user below
  // its group and ties with the bad users inside it; counting twice-wins keeps it in integers.
  unsigned __int128 twice_wins = 0;
  std::uint64_t bad_below = 0, good_below = 0;
  double ks = 0;
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    std::uint64_t bad_here = 0, good_here = 0;
    for (; end < order.size() && scores[order[end]] == scores[order[start]]; ++end) {
      (bad[order[end]] != 0 ? bad_here : good_here) += 1;
    }
    twice_wins += static_cast<unsigned __int128>(good_here) * (2 * bad_below + bad_here);
    bad_below += bad_here;
    good_below += good_here;
    ks = std::max(ks, std::abs(static_cast<double>(bad_below) / static_cast<double>(bad_total) -
                               static_cast<double>(good_below) / static_cast<double>(good_total)));
    start = end;
  }
  CAP_ASSERT(bad_below == bad_total && good_below == good_total);
  const double pairs = static_cast<double>(good_total) * static_cast<double>(bad_total);
  return {static_cast<double>(twice_wins) / (2.0 * pairs), ks};
}

}  // namespace capillary::credit
