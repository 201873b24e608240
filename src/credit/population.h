#pragma once
// A synthetic population with a known default outcome, for training and measuring the scorecard.
//
// Each user has four hidden traits (conscientiousness, wealth, tenure, social standing) drawn from
// standard normals. The observable features are noisy integer functions of those traits. Whether the
// user defaults is drawn from a latent logistic model over the observed features, with interactions
// (an overdue history hurts more without assets; an unverified young account is riskier than
// either alone) and a hidden noise term the features cannot see, so no model can score perfectly.

#include <cstdint>
#include <vector>

#include "credit/features.h"

namespace capillary::credit {

struct SyntheticUser {
  Features features;
  // The latent model's log-odds of default from the features alone, before its hidden noise: the
  // best any score built on these features could rank users by.
  double default_log_odds = 0;
  bool defaulted = false;
};

// User `user` (0-based) of population `seed`; the same arguments always give the same user.
SyntheticUser generate_user(std::uint64_t seed, std::uint64_t user) noexcept;

// Users 0..count-1 of population `seed`.
std::vector<SyntheticUser> generate_population(std::uint64_t seed, std::uint64_t count);

// Held-out users: one in holdout_every, chosen by index so that train and test never overlap.
inline constexpr std::uint64_t holdout_every = 4;
inline constexpr bool held_out(std::uint64_t user) noexcept { return user % holdout_every == 0; }

}  // namespace capillary::credit
