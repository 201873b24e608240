#pragma once
// What a score unlocks elsewhere on the platform (SPEC §4): a deposit waiver for rentals, the 700+
// privileges flag, and the credit-line tier that lending (§6) sizes a Huabei line from.

#include <array>
#include <cstdint>

#include "credit/scorecard.h"

namespace capillary::credit {

// Rentals (power banks, bikes, flats) waive the deposit from this score up.
inline constexpr std::int32_t deposit_waiver_score_min = 650;
// The 700+ flag: priority service, visa-free travel partners, higher limits.
inline constexpr std::int32_t privileged_score_min = 700;

constexpr bool deposit_waiver(std::int32_t score) noexcept {
  return score >= deposit_waiver_score_min;
}
constexpr bool privileged(std::int32_t score) noexcept { return score >= privileged_score_min; }

struct CreditTier {
  std::uint8_t tier;              // 0: no credit line; higher tiers get larger lines
  std::int64_t credit_line_fen;   // the line lending opens for this tier
  bool operator==(const CreditTier&) const = default;
};

// Tier k starts at credit_tier_score_min[k - 1]; its line is credit_tier_line_fen[k]. Lines grow
// roughly with the odds of repaying, which double every 50 points at the default scaling; tier 0
// (below 550: odds of repaying under 5:1 at the default scaling) gets no line.
inline constexpr std::array<std::int32_t, 6> credit_tier_score_min{550, 600, 650, 700, 750, 800};
inline constexpr std::array<std::int64_t, 7> credit_tier_line_fen{
    0, 500'00, 2'000'00, 5'000'00, 10'000'00, 20'000'00, 50'000'00};

constexpr CreditTier credit_tier(std::int32_t score) noexcept {
  std::uint8_t tier = 0;
  while (tier < credit_tier_score_min.size() && score >= credit_tier_score_min[tier]) ++tier;
  return {tier, credit_tier_line_fen[tier]};
}

static_assert(credit_tier_line_fen.size() == credit_tier_score_min.size() + 1);
static_assert(credit_tier_score_min.front() > score_min && credit_tier_score_min.back() < score_max);
static_assert(deposit_waiver_score_min < privileged_score_min);
static_assert([] {
  for (std::size_t i = 1; i < credit_tier_score_min.size(); ++i) {
    if (credit_tier_score_min[i] <= credit_tier_score_min[i - 1]) return false;
    if (credit_tier_line_fen[i + 1] <= credit_tier_line_fen[i]) return false;
  }
  return true;
}(), "tiers and their lines must both increase");

}  // namespace capillary::credit
