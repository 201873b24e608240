#pragma once
// The fund's business-day calendar. A day is a China-time day number (days since 1970-01-01 in
// UTC+8, payments::business_day). Weekends are never business days — the exchanges are closed,
// even on the Saturdays China works to make up for a holiday — and neither are the public
// holidays in the table (calendar.cc), which holds China's 2026 holidays as announced by the State
// Council; later years are added to the table as they are announced.

#include <cstdint>

namespace capillary::fund {

// The day number of a civil date (proleptic Gregorian), for tables and tests.
constexpr std::uint64_t day_number(int year, unsigned month, unsigned day) {
  // Howard Hinnant's days_from_civil.
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(y - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return static_cast<std::uint64_t>(era * 146097 + static_cast<int>(day_of_era) - 719468);
}

bool is_weekend(std::uint64_t day) noexcept;
bool is_holiday(std::uint64_t day) noexcept;
bool is_business_day(std::uint64_t day) noexcept;
// The first business day strictly after `day`.
std::uint64_t next_business_day(std::uint64_t day) noexcept;
// When China day `day` starts, in ns since the epoch.
std::uint64_t day_start_ns(std::uint64_t day) noexcept;

}  // namespace capillary::fund
