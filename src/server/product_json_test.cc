#include "server/product_json.h"

#include <gtest/gtest.h>

#include <random>

namespace capillary::server {
namespace {

TEST(FixedPoint, ReadsUpToItsDecimals) {
  std::uint64_t value = 0;
  ASSERT_TRUE(parse_fixed_point("0.6500", 4, 1'000'000, &value));
  EXPECT_EQ(value, 6500u);
  ASSERT_TRUE(parse_fixed_point("0.65", 4, 1'000'000, &value));
  EXPECT_EQ(value, 6500u);
  ASSERT_TRUE(parse_fixed_point("12", 4, 1'000'000, &value));
  EXPECT_EQ(value, 120'000u);
  ASSERT_TRUE(parse_fixed_point("0.0435", 6, 10'000'000, &value));
  EXPECT_EQ(value, 43'500u);
  ASSERT_TRUE(parse_fixed_point("100", 4, 1'000'000, &value));
  EXPECT_EQ(value, 1'000'000u);
}

TEST(FixedPoint, RefusesWhatIsNotOne) {
  std::uint64_t value = 7;
  for (const char* text : {"", ".", ".5", "5.", "1.2.3", "-1", "+1", "0.65001", "1e3", " 1", "100.0001",
                           "99999999999999999999", "0x10"}) {
    EXPECT_FALSE(parse_fixed_point(text, 4, 1'000'000, &value)) << text;
  }
  EXPECT_EQ(value, 7u);
}

TEST(FixedPoint, FormatsWhatItReads) {
  std::mt19937_64 random(20261122);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t value = random() % 10'000'000;
    std::uint64_t back = 0;
    ASSERT_TRUE(parse_fixed_point(format_fixed_point(value, 6), 6, 10'000'000, &back)) << value;
    ASSERT_EQ(back, value);
  }
  EXPECT_EQ(format_fixed_point(6500, 4), "0.6500");
}

TEST(Dates, CountDaysSince1970) {
  std::uint64_t day = 0;
  ASSERT_TRUE(parse_date("1970-01-01", &day));
  EXPECT_EQ(day, 0u);
  ASSERT_TRUE(parse_date("2026-11-22", &day));
  EXPECT_EQ(day, 20'779u);
  EXPECT_EQ(format_date(20'779), "2026-11-22");
  ASSERT_TRUE(parse_date("2024-02-29", &day));
  EXPECT_EQ(format_date(day), "2024-02-29");
  for (const char* text : {"2026-02-29", "2026-13-01", "2026-00-10", "1969-12-31", "2026-1-01", "20261122",
                           "2026/11/22", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_date(text, &day)) << text;
  }
}

}  // namespace
}  // namespace capillary::server
