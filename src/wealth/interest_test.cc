#include "wealth/interest.h"

#include <gtest/gtest.h>

namespace capillary::wealth {
namespace {

struct Row {
  std::int64_t principal;
  std::uint32_t rate_ppm;
  std::uint32_t term_days;
  std::int64_t interest;  // worked out by hand: principal × rate × days / 365,000,000, half up
};

// Each row's exact value is in its comment.
constexpr Row table[] = {
    {1'000'000, 43'500, 365, 43'500},             // 43,500 exactly: a year at 4.35%
    {1'000'000, 43'500, 90, 10'726},              // 10,726.027 → down
    {50'000, 43'500, 30, 179},                    // 178.767 → up
    {100'000'000, 38'000, 180, 1'873'973},        // 1,873,972.603 → up
    {5, 100'000, 365, 1},                         // 0.5 exactly → up
    {1'010, 50'000, 365, 51},                     // 50.5 exactly → up
    {146, 10'000, 125, 1},                        // 0.5 exactly, over a part of a year → up
    {1'009, 50'000, 365, 50},                     // 50.45 → down
    {1'824, 100'000, 1, 0},                       // 0.49973 → down
    {1'825, 100'000, 1, 1},                       // 0.5 exactly → up
    {1, 240'000, 1, 0},                           // 0.00066 → down
    {0, 43'500, 30, 0},
    {1'000'000'000'000, 240'000, 3650, 2'400'000'000'000},  // the limits' extreme: exact
};

TEST(InterestTest, HalfUpAgainstAHandComputedTable) {
  for (const Row& row : table) {
    EXPECT_EQ(interest_half_up(row.principal, row.rate_ppm, row.term_days), row.interest)
        << row.principal << " fen at " << row.rate_ppm << " ppm for " << row.term_days << " days";
  }
}

TEST(InterestTest, GrowsWithPrincipalAndNeverBy2FenPerFen) {
  // One more fen of principal at most adds rate × days / 365 of a fen, under 1 fen at these rates,
  // so interest never jumps by more than 1 when the principal grows by 1.
  std::int64_t previous = 0;
  for (std::int64_t principal = 0; principal <= 20'000; ++principal) {
    const std::int64_t interest = interest_half_up(principal, 43'500, 365);
    ASSERT_GE(interest, previous) << principal;
    ASSERT_LE(interest - previous, 1) << principal;
    previous = interest;
  }
}

}  // namespace
}  // namespace capillary::wealth
