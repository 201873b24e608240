#include "fund/calendar.h"

#include <algorithm>
#include <array>

#include "core/assert.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {
namespace {

struct Holiday {
  std::uint64_t first;
  std::uint64_t last;  // inclusive
};

// China's public holidays of 2026 (State Council notice on the 2026 holiday arrangements), sorted.
constexpr std::array<Holiday, 7> holidays = {{
    {day_number(2026, 1, 1), day_number(2026, 1, 3)},    // New Year
    {day_number(2026, 2, 15), day_number(2026, 2, 23)},  // Spring Festival
    {day_number(2026, 4, 4), day_number(2026, 4, 6)},    // Qingming
    {day_number(2026, 5, 1), day_number(2026, 5, 5)},    // Labour Day
    {day_number(2026, 6, 19), day_number(2026, 6, 21)},  // Dragon Boat
    {day_number(2026, 9, 25), day_number(2026, 9, 27)},  // Mid-Autumn
    {day_number(2026, 10, 1), day_number(2026, 10, 7)},  // National Day
}};

static_assert(day_number(1970, 1, 1) == 0 && day_number(2026, 1, 1) == 20454);

}  // namespace

bool is_weekend(std::uint64_t day) noexcept {
  // Day 0, 1970-01-01, was a Thursday; (day + 4) % 7 counts from Sunday = 0.
  const std::uint64_t weekday = (day + 4) % 7;
  return weekday == 0 || weekday == 6;
}

bool is_holiday(std::uint64_t day) noexcept {
  const auto it = std::upper_bound(holidays.begin(), holidays.end(), day,
                                   [](std::uint64_t d, const Holiday& h) { return d < h.first; });
  return it != holidays.begin() && day <= std::prev(it)->last;
}

bool is_business_day(std::uint64_t day) noexcept { return !is_weekend(day) && !is_holiday(day); }

std::uint64_t next_business_day(std::uint64_t day) noexcept {
  for (std::uint32_t ahead = 1; ahead <= non_business_days_max; ++ahead) {
    if (is_business_day(day + ahead)) return day + ahead;
  }
  CAP_ASSERT(false && "the holiday table has a run longer than non_business_days_max");
  return 0;
}

std::uint64_t day_start_ns(std::uint64_t day) noexcept {
  return day * payments::ns_per_day - payments::business_day_offset_ns;
}

}  // namespace capillary::fund
