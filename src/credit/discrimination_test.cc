// AUC and KS on examples small enough to work out by hand.

#include <gtest/gtest.h>

#include <vector>

#include "credit/discrimination.h"

namespace capillary::credit {
namespace {

TEST(Discrimination, HandExample) {
  // Good users score 2 and 4, bad users 1 and 3. Of the 4 good/bad pairs the good one is higher
  // in 3 (2>1, 4>1, 4>3): AUC 3/4. Cumulative shares at cut-offs 1, 2, 3, 4: bad 1/2, 1/2, 1, 1;
  // good 0, 1/2, 1/2, 1; the largest gap is 1/2.
  const std::vector<std::int32_t> scores{1, 2, 3, 4};
  const std::vector<std::uint8_t> bad{1, 0, 1, 0};
  const Discrimination d = measure_discrimination(scores, bad);
  EXPECT_DOUBLE_EQ(d.auc, 0.75);
  EXPECT_DOUBLE_EQ(d.ks, 0.5);
}

TEST(Discrimination, TiesCountHalf) {
  // Good: 5, 5, 7. Bad: 5, 3. Pairs: (5 vs 5) half twice, (5 vs 3) win twice, (7 vs 5), (7 vs 3)
  // wins: 5 wins of 6 pairs = 5/6. Cut-off 3: bad 1/2, good 0 -> 1/2; 5: bad 1, good 2/3 -> 1/3.
  const std::vector<std::int32_t> scores{5, 5, 7, 5, 3};
  const std::vector<std::uint8_t> bad{0, 0, 0, 1, 1};
  const Discrimination d = measure_discrimination(scores, bad);
  EXPECT_DOUBLE_EQ(d.auc, 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(d.ks, 0.5);
}

TEST(Discrimination, PerfectAndReversedAndUninformative) {
  const std::vector<std::uint8_t> bad{1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(measure_discrimination(std::vector<std::int32_t>{1, 2, 3, 4}, bad).auc, 1.0);
  EXPECT_DOUBLE_EQ(measure_discrimination(std::vector<std::int32_t>{1, 2, 3, 4}, bad).ks, 1.0);
  EXPECT_DOUBLE_EQ(measure_discrimination(std::vector<std::int32_t>{4, 3, 2, 1}, bad).auc, 0.0);
  EXPECT_DOUBLE_EQ(measure_discrimination(std::vector<std::int32_t>{9, 9, 9, 9}, bad).auc, 0.5);
  EXPECT_DOUBLE_EQ(measure_discrimination(std::vector<std::int32_t>{9, 9, 9, 9}, bad).ks, 0.0);
}

}  // namespace
}  // namespace capillary::credit
