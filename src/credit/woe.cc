#include "credit/woe.h"

#include <cmath>

#include "core/assert.h"

namespace capillary::credit {

std::vector<double> weights_of_evidence(const Bins& bins) {
  CAP_ASSERT(bins.size() > 0 && bins.good.size() == bins.size() && bins.bad.size() == bins.size());
  constexpr double smoothing = 0.5;
  double good_total = 0, bad_total = 0;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    good_total += static_cast<double>(bins.good[i]) + smoothing;
    bad_total += static_cast<double>(bins.bad[i]) + smoothing;
  }
  // ln(odds of the bin) - ln(odds of everyone): one rounded division and one logarithm per bin,
  // both monotone, so bins ordered by odds (binning.h) get weights in the same order.
  const double log_odds_all = std::log(good_total / bad_total);
  std::vector<double> woe(bins.size());
  for (std::size_t i = 0; i < bins.size(); ++i) {
    const double odds = (static_cast<double>(bins.good[i]) + smoothing) /
                        (static_cast<double>(bins.bad[i]) + smoothing);
    woe[i] = std::log(odds) - log_odds_all;
  }
  return woe;
}

}  // namespace capillary::credit
