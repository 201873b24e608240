#pragma once
// Interest of a fixed-term product, named by its rounding (SPEC §0: every rounding is named).

#include <cstdint>

#include "core/assert.h"
#include "wealth/limits.h"

namespace capillary::wealth {

// Simple interest over the term: principal × rate_ppm × term_days / (365 × 1,000,000), rounded
// half up to the fen (a remainder of exactly half a fen rounds up). The product is taken in 128
// bits; the limits bound the result far inside 64 bits.
inline std::int64_t interest_half_up(std::int64_t principal, std::uint32_t rate_ppm,
                                     std::uint32_t term_days) noexcept {
  CAP_ASSERT(principal >= 0 && principal <= product_size_max);
  CAP_ASSERT(rate_ppm <= rate_ppm_max && term_days <= term_days_max);
  constexpr __int128 divisor = static_cast<__int128>(days_per_year) * ppm_per_unit;
  static_assert(divisor % 2 == 0, "half of the divisor must be exact for half-up");
  const __int128 numerator = static_cast<__int128>(principal) * rate_ppm * term_days;
  const std::int64_t interest = static_cast<std::int64_t>((numerator + divisor / 2) / divisor);
  CAP_ASSERT(interest >= 0);
  return interest;
}

}  // namespace capillary::wealth
