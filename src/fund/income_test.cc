#include "fund/income.h"

#include <gtest/gtest.h>

#include <vector>

namespace capillary::fund {
namespace {

TEST(FundIncome, FloorToTheFen) {
  // 10,000.00 CNY at 0.6500 CNY per 10,000 shares earns 0.65 CNY.
  EXPECT_EQ(income_floor(1'000'000, 6500), 65);
  // 10,000.01 CNY: 65.0000065 fen, floored.
  EXPECT_EQ(income_floor(1'000'001, 6500), 65);
  // 15,384.62 CNY earns 1.00000030 CNY → 100 fen; one fen less falls just below.
  EXPECT_EQ(income_floor(1'538'462, 6500), 100);
  EXPECT_EQ(income_floor(1'538'461, 6500), 99);
  // Zero and one-fen holdings earn nothing at any allowed rate.
  EXPECT_EQ(income_floor(0, 6500), 0);
  EXPECT_EQ(income_floor(1, income_per_10k_shares_e4_max), 0);
  EXPECT_EQ(income_floor(123'456, 0), 0);
}

TEST(FundIncome, LargeTotalsUse128Bits) {
  // A fund of 2 trillion CNY (2e14 fen) at the maximum rate: 2e14 × 1e5 overflows 64 bits.
  const std::int64_t shares = 200'000'000'000'000;
  ASSERT_GT(shares, income_64_bit_shares_max);
  EXPECT_EQ(income_floor(shares, income_per_10k_shares_e4_max), 200'000'000'000);
  // Both paths agree at the boundary.
  const std::int64_t edge = income_64_bit_shares_max;
  const __int128 exact = static_cast<__int128>(edge) * 99'999 / 100'000'000;
  EXPECT_EQ(income_floor(edge, 99'999), static_cast<std::int64_t>(exact));
  EXPECT_EQ(income_floor(edge + 1, 99'999),
            static_cast<std::int64_t>(static_cast<__int128>(edge + 1) * 99'999 / 100'000'000));
}

TEST(FundIncome, SevenDayYield) {
  EXPECT_FALSE(yield_7d_ppm(std::vector<std::uint64_t>(6, 6500)).has_value());
  // 0.6500 CNY per 10,000 a day for 7 days: (1.000065^7)^(365/7) − 1 = 1.000065^365 − 1
  // = 2.4008...%.
  const auto yield = yield_7d_ppm(std::vector<std::uint64_t>(7, 6500));
  ASSERT_TRUE(yield.has_value());
  EXPECT_EQ(*yield, 24'008);
  // Only the last seven count.
  std::vector<std::uint64_t> incomes(3, 90'000);
  incomes.insert(incomes.end(), 7, 6500);
  EXPECT_EQ(yield_7d_ppm(incomes), yield);
  EXPECT_EQ(yield_7d_ppm(std::vector<std::uint64_t>(7, 0)), 0);
}

}  // namespace
}  // namespace capillary::fund
