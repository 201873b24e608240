#pragma once
// The arithmetic of a fund's daily income (SPEC §3), named and rounded on purpose.
//
// A fund declares, for a day, its income per 10,000 shares R in 1/10,000 CNY (0.6500 CNY per
// 10,000 shares → R = 6500). Shares are kept in fen (1 share = 1.00 CNY = 100 fen), so a holding
// of S fen is S/100 shares, each earning R/10,000 CNY / 10,000 = R/10^8 CNY. The income in CNY is
// (S/100) × R/10^8, and in fen 100 times that:
//
//     income_fen = S × R / 10^8, floored to the fen.
//
// The fund's declared income is the same formula on its eligible shares; each holder's is the
// formula on the holder's shares, so Σ floor(S_i × R / 10^8) <= floor(Σ S_i × R / 10^8) and the
// residue (declared − credited) is never negative and below one fen per holder.

#include <climits>
#include <cstdint>
#include <optional>
#include <span>

#include "core/assert.h"
#include "fund/limits.h"

namespace capillary::fund {

inline constexpr std::int64_t income_divisor = 100'000'000;

// Holdings up to this many fen times any allowed rate fit in 64 bits (922 billion CNY): the
// income step divides in 64 bits, a division by a constant the compiler turns into a multiply.
inline constexpr std::int64_t income_64_bit_shares_max =
    INT64_MAX / static_cast<std::int64_t>(income_per_10k_shares_e4_max);

// floor(shares_fen × income_per_10k_e4 / 10^8); in 128 bits above income_64_bit_shares_max, so
// no holding or fund total can overflow.
inline std::int64_t income_floor(std::int64_t shares_fen,
                                 std::uint64_t income_per_10k_e4) noexcept {
  CAP_ASSERT(shares_fen >= 0 && income_per_10k_e4 <= income_per_10k_shares_e4_max);
  const std::int64_t income =
      shares_fen <= income_64_bit_shares_max
          ? static_cast<std::int64_t>(static_cast<std::uint64_t>(shares_fen) * income_per_10k_e4 /
                                      income_divisor)
          : static_cast<std::int64_t>(static_cast<__int128>(shares_fen) * income_per_10k_e4 /
                                      income_divisor);
  CAP_ASSERT(income >= 0 && income <= shares_fen);
  return income;
}

// The 7-day annualised yield in millionths: (∏ (1 + income_i / 10,000))^(365/7) − 1 with income_i
// in CNY per 10,000 shares, i.e. each day's return per share is R_i / 10^8. A display figure, so
// double arithmetic is fine here and only here: no amount of money is ever derived from it.
// nullopt with fewer than yield_days incomes.
std::optional<std::int64_t> yield_7d_ppm(std::span<const std::uint64_t> incomes_per_10k_e4);

}  // namespace capillary::fund
