#pragma once
// Rounding of money, named: every division of an amount says how it rounds.

#include <cstdint>

#include "core/assert.h"

namespace capillary::payments {

// amount × bps / 10,000, rounded half up to the fen (amount >= 0). The product is taken in 128
// bits, so no amount the ledger can hold overflows it.
inline std::int64_t fee_half_up(std::int64_t amount, std::uint32_t bps) noexcept {
  CAP_ASSERT(amount >= 0 && bps <= 10'000);
  const __int128 product = static_cast<__int128>(amount) * bps;
  const std::int64_t fee = static_cast<std::int64_t>((product + 5'000) / 10'000);
  CAP_ASSERT(fee >= 0 && fee <= amount);
  return fee;
}

}  // namespace capillary::payments
