#include "fund/calendar.h"

#include <gtest/gtest.h>

#include "payments/limits.h"

namespace capillary::fund {
namespace {

TEST(FundCalendar, WeekendsAreNotBusinessDays) {
  // 2026-03-06 is a Friday.
  const std::uint64_t friday = day_number(2026, 3, 6);
  EXPECT_TRUE(is_business_day(friday));
  EXPECT_FALSE(is_business_day(friday + 1));
  EXPECT_FALSE(is_business_day(friday + 2));
  EXPECT_TRUE(is_business_day(friday + 3));
  EXPECT_EQ(next_business_day(friday), friday + 3);
  EXPECT_EQ(next_business_day(friday + 1), friday + 3);
  EXPECT_EQ(next_business_day(friday + 2), friday + 3);
  EXPECT_EQ(next_business_day(friday + 3), friday + 4);
}

TEST(FundCalendar, HolidaysOf2026) {
  // National Day: Thursday 1 October to Wednesday 7 October; Thursday 8 is the next business day.
  for (unsigned d = 1; d <= 7; ++d) EXPECT_TRUE(is_holiday(day_number(2026, 10, d))) << d;
  EXPECT_FALSE(is_holiday(day_number(2026, 10, 8)));
  EXPECT_FALSE(is_holiday(day_number(2026, 9, 30)));
  EXPECT_EQ(next_business_day(day_number(2026, 9, 30)), day_number(2026, 10, 8));
  // Spring Festival: 15 to 23 February; a subscription on Friday 13 confirms on Tuesday 24.
  EXPECT_EQ(next_business_day(day_number(2026, 2, 13)), day_number(2026, 2, 24));
  // Labour Day: 1 to 5 May (Friday to Tuesday).
  EXPECT_EQ(next_business_day(day_number(2026, 4, 30)), day_number(2026, 5, 6));
  // New Year's Day is a holiday, 31 December 2025 was a business day (Wednesday).
  EXPECT_TRUE(is_business_day(day_number(2025, 12, 31)));
  EXPECT_EQ(next_business_day(day_number(2025, 12, 31)), day_number(2026, 1, 5));
  // A weekday outside the table.
  EXPECT_TRUE(is_business_day(day_number(2026, 11, 20)));
}

TEST(FundCalendar, DayStartIsMidnightChinaTime) {
  const std::uint64_t day = day_number(2026, 11, 20);
  const std::uint64_t start = day_start_ns(day);
  EXPECT_EQ(payments::business_day(start), day);
  EXPECT_EQ(payments::business_day(start - 1), day - 1);
  // Midnight in Beijing is 16:00 UTC the day before.
  EXPECT_EQ(start % payments::ns_per_day, 16ull * 3600 * payments::ns_per_s);
}

TEST(FundCalendar, EveryDayOf2026HasANextBusinessDayWithinTheBound) {
  for (std::uint64_t day = day_number(2025, 12, 1); day < day_number(2027, 1, 1); ++day) {
    const std::uint64_t next = next_business_day(day);
    ASSERT_GT(next, day);
    ASSERT_TRUE(is_business_day(next));
    for (std::uint64_t between = day + 1; between < next; ++between) {
      ASSERT_FALSE(is_business_day(between)) << between;
    }
  }
}

}  // namespace
}  // namespace capillary::fund
