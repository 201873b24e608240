// The thresholds other modules rely on, at and around each boundary.

#include <gtest/gtest.h>

#include "credit/uses.h"

namespace capillary::credit {
namespace {

TEST(Uses, DepositWaiverFrom650) {
  EXPECT_FALSE(deposit_waiver(score_min));
  EXPECT_FALSE(deposit_waiver(649));
  EXPECT_TRUE(deposit_waiver(650));
  EXPECT_TRUE(deposit_waiver(score_max));
}

TEST(Uses, PrivilegedFrom700) {
  EXPECT_FALSE(privileged(649));
  EXPECT_FALSE(privileged(650));
  EXPECT_FALSE(privileged(699));
  EXPECT_TRUE(privileged(700));
  EXPECT_TRUE(privileged(score_max));
}

TEST(Uses, CreditTiers) {
  EXPECT_EQ(credit_tier(score_min), (CreditTier{0, 0}));
  EXPECT_EQ(credit_tier(549), (CreditTier{0, 0}));
  EXPECT_EQ(credit_tier(550), (CreditTier{1, 500'00}));
  EXPECT_EQ(credit_tier(649), (CreditTier{2, 2'000'00}));
  EXPECT_EQ(credit_tier(650), (CreditTier{3, 5'000'00}));
  EXPECT_EQ(credit_tier(699), (CreditTier{3, 5'000'00}));
  EXPECT_EQ(credit_tier(700), (CreditTier{4, 10'000'00}));
  EXPECT_EQ(credit_tier(799), (CreditTier{5, 20'000'00}));
  EXPECT_EQ(credit_tier(800), (CreditTier{6, 50'000'00}));
  EXPECT_EQ(credit_tier(score_max), (CreditTier{6, 50'000'00}));
  // A higher score never gets a smaller line.
  for (std::int32_t score = score_min; score < score_max; ++score) {
    EXPECT_LE(credit_tier(score).credit_line_fen, credit_tier(score + 1).credit_line_fen);
  }
}

}  // namespace
}  // namespace capillary::credit
