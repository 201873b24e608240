#pragma once
// How well a score separates users who defaulted from users who did not, measured on held-out users.
// Higher scores are meant to be safer.
//   AUC: the probability that a random good user scores above a random bad one (ties count half);
//        0.5 is a coin, 1.0 a perfect ranking.
//   KS:  the largest gap, over all cut-offs, between the share of bad users and the share of good
//        users scoring at or below the cut-off.

#include <cstdint>
#include <span>

namespace capillary::credit {

struct Discrimination {
  double auc = 0;
  double ks = 0;
};

// `bad[i]` is 1 when user i defaulted. Needs at least one good and one bad user.
Discrimination measure_discrimination(std::span<const std::int32_t> scores,
                                      std::span<const std::uint8_t> bad);

}  // namespace capillary::credit
