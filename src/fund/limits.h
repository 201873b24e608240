#pragma once
// The money-market fund's limits, each with its reason (SPEC §3).

#include <cstddef>
#include <cstdint>

namespace capillary::fund {

// A user may redeem this much per China day instantly (T+0), advanced from the fund company's
// float: the seeds' 10,000 CNY. Spending fund shares at checkout counts against the same limit.
inline constexpr std::int64_t instant_redeem_fen_per_day_max = 1'000'000;

// The highest daily income a fund may declare per 10,000 shares, in 1/10,000 CNY: 10 CNY per
// 10,000 shares a day is 0.1% a day, about 44% a year, far above any money-market fund, so a
// typo (an extra digit) is caught while every real rate fits.
inline constexpr std::uint64_t income_per_10k_shares_e4_max = 100'000;

// Holders one income step may pay: a step is one journaled command that the state machine
// applies without pausing, so it must stay short (about 30 ms per million holders).
inline constexpr std::uint64_t income_step_holders_max = 4'000'000;

// Normal redemptions one advance() pays out: each is its own chain, and advance runs before a
// batch, so a day with millions of them is paid over several batches instead of stalling one;
// next_deadline() stays due until the queue is drained.
inline constexpr std::size_t redemption_payouts_per_advance_max = 8192;

// Holders one fund may have: slots in the register are 32-bit.
inline constexpr std::uint64_t holders_per_fund_max = (1ull << 32) - 1;

// Fund income days averaged into the 7-day annualised yield.
inline constexpr std::uint32_t yield_days = 7;

// The longest run of days that are not business days (a 9-day Spring Festival plus the weekends
// on either side): next_business_day never looks further.
inline constexpr std::uint32_t non_business_days_max = 16;

static_assert(instant_redeem_fen_per_day_max < (1ll << 32),
              "a holder's instant use of the day is kept in 32 bits");

}  // namespace capillary::fund
