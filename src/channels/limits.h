#pragma once
// Every limit of the bank channels, in one place, with the reason for its value.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace capillary::channels {

// Channel ids run 1..channel_id_max so a channel is found by indexing, not hashing. The seeds
// had a little over a hundred banks; ten times that leaves room for a channel per bank product.
inline constexpr std::uint32_t channel_id_max = 1024;

// Channels one bank code may be routed to: its primary and the fallbacks tried in order. Each
// admission check is O(1), so this bounds the work of routing one card.
inline constexpr std::size_t route_channels_max = 8;

// A token bucket's rate and burst. Tokens are kept in units of 1/ns_per_s so refill is exact
// integer arithmetic; these caps keep burst * ns_per_s far below 2^63.
inline constexpr std::uint32_t rate_per_s_max = 10'000'000;
inline constexpr std::uint32_t burst_max = 1'000'000;

// Calls one channel API may have at the bank at once.
inline constexpr std::uint32_t concurrency_max_max = 1'000'000;

// The breaker's window is a ring of one-second slots. A minute is as long as a stale error
// should keep counting; longer would keep a recovered bank closed off after it came back.
inline constexpr std::uint32_t breaker_window_s_max = 60;

// Latency is bucketed two buckets per power of two of microseconds (within a third), up to 2^26 us
// (67 s): longer than any call timeout, so only a hung call could land in the last bucket.
inline constexpr std::size_t latency_buckets = 52;

// Card tokens, bank codes and references are short identifiers; bounding them bounds the
// request a connector sends and what the simulator keeps per operation.
inline constexpr std::size_t reference_bytes_max = 64;
inline constexpr std::size_t card_token_bytes_max = 64;
inline constexpr std::size_t bank_code_bytes_max = 16;
// References whose call timed out, each pinned to its channel until the bank's answer is known
// (gateway.h): about 100 bytes each.
inline constexpr std::size_t pinned_references_max = 1u << 20;

// A Retry-After hint is whole seconds (HTTP's unit); a rejection never says "retry now".
// The upper cap keeps a misconfigured open duration from telling clients to go away for hours.
inline constexpr std::uint32_t retry_after_s_min = 1;
inline constexpr std::uint32_t retry_after_s_max = 300;

}  // namespace capillary::channels
