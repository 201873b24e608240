#pragma once
// The payments module's limits and defaults, each with its reason.

#include <cstdint>

namespace capillary::payments {

// Largest single payment, top-up or refund: 10 billion CNY. Far above any retail payment, and
// small enough that a batch's sums of amounts cannot overflow 64 bits.
inline constexpr std::int64_t amount_max = 1'000'000'000'000;

// A merchant's default fee: the seeds' 6 CNY per 1,000 CNY.
inline constexpr std::uint32_t fee_bps_default = 60;
inline constexpr std::uint32_t fee_bps_max = 10'000;

// An escrow order confirms itself this long after payment unless the merchant set its own period.
inline constexpr std::uint32_t auto_confirm_s_default = 10 * 24 * 3600;

// Unclaimed red packets go back to the sender after a day.
inline constexpr std::uint64_t red_packet_lifetime_s = 24 * 3600;
// Packets in one red packet: large group chats, and a bound on one claim's work.
inline constexpr std::uint32_t red_packet_count_max = 10'000;

// A withdrawal's hold expires (and the money returns to the wallet) if no bank answer settles it
// within a day, so a crash between journaling the hold and hearing from the bank loses nothing.
inline constexpr std::uint32_t withdrawal_hold_timeout_s = 24 * 3600;

// Business days (settlement) follow China Standard Time.
inline constexpr std::uint64_t business_day_offset_ns = 8ull * 3600 * 1'000'000'000;
inline constexpr std::uint64_t ns_per_day = 86'400ull * 1'000'000'000;
inline constexpr std::uint64_t ns_per_s = 1'000'000'000;

constexpr std::uint64_t business_day(std::uint64_t timestamp_ns) {
  return (timestamp_ns + business_day_offset_ns) / ns_per_day;
}

}  // namespace capillary::payments
