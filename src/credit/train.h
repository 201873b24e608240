#pragma once
// Training the scorecard on a synthetic population:
//   1. generate `users` users of population `seed`; one in holdout_every is held out for testing;
//   2. per feature, quantile bins on the training users, merged to at least bin_share_min of them
//      and, for monotonic features, until the odds move in the feature's direction (binning.h);
//   3. replace each value by its bin's weight of evidence (woe.h);
//   4. fit a logistic regression of default on the WoE columns (logistic.h); a feature whose weight
//      comes out negative (collinearity turning it against its own evidence) is left out and the
//      rest refitted, so every kept weight is positive and monotonic bins stay monotonic in points;
//   5. scale to points (scorecard.h) and measure AUC and KS of the integer scores on the held-out
//      users.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "credit/discrimination.h"
#include "credit/scorecard.h"

namespace capillary::credit {

// Bins hold at least this share of the training users (1/40 = 2.5%): enough defaults in each for a
// stable weight of evidence, while a 10-bin feature still has room to show its shape.
inline constexpr std::uint64_t bin_share_min_denominator = 40;

// Fewer users than this cannot fill bins_max bins with enough defaults in each.
inline constexpr std::uint64_t training_users_min = 2000;

struct TrainOptions {
  std::uint64_t users = 200'000;
  std::uint64_t seed = 1;
  std::string name = "credit-v1";
  Scaling scaling;
  std::function<void(std::string_view)> progress;  // a line of progress; may be empty
};

struct TrainResult {
  Model model;
  Discrimination held_out;     // of the integer scores on the held-out users
  Discrimination ceiling;      // of the generator's own noiseless log-odds on the same users
  std::uint64_t train_users = 0;
  std::uint64_t test_users = 0;
  std::uint64_t test_defaults = 0;
  std::size_t features_used = 0;
};

// options.users >= training_users_min.
TrainResult train(const TrainOptions& options);

}  // namespace capillary::credit
