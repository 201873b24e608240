#pragma once
// Every limit of the risk engine, in one place, with the reason for its value.

#include <cstddef>
#include <cstdint>

#include "core/clock.h"

namespace capillary::risk {

// The three sliding windows of every velocity feature. A window at time t holds the events with
// timestamps in (t - length, t]: an event exactly one window length old is OUT.
inline constexpr std::uint64_t window_1m_ns = 60 * ns_per_s;
inline constexpr std::uint64_t window_1h_ns = 3600 * ns_per_s;
inline constexpr std::uint64_t window_24h_ns = 24 * 3600 * ns_per_s;

// Entries one velocity key (a user, device, IP or merchant) keeps exactly. Past this many events
// in 24 h, the two oldest entries merge into one stamped with the later time: the merged events
// stay in their windows slightly longer, so velocity is over-counted, never under-counted. 1,024
// is far above any person's daily activity; only hot merchants and carrier IPs reach it.
inline constexpr std::uint32_t velocity_entries_max = 1024;

// Devices, cities and payees remembered per user (least recently used evicted). Eight devices and
// cities cover a household's phones and a frequent traveller's cities; 16 payees cover the usual
// circle of a wallet user. A payee forgotten after 16 others is treated as new again.
inline constexpr std::uint32_t known_devices_max = 8;
inline constexpr std::uint32_t known_cities_max = 8;
inline constexpr std::uint32_t known_payees_max = 16;
// Counterparties (in and out) remembered per account for the one-hop flagged-account check.
inline constexpr std::uint32_t counterparties_max = 16;
// Distinct users remembered per device for the "one device, many accounts" signal.
inline constexpr std::uint32_t device_users_max = 8;

// Geography: faster than this between two activities of one account is impossible travel (above
// any airliner's door-to-door speed), but only over more than the distance below (two cells of
// one metropolitan area are not travel).
inline constexpr std::uint32_t travel_speed_kmh_max = 900;
inline constexpr std::uint32_t travel_km_min = 100;

// Tracked keys per table before idle keys (no event for 24 h: every window is empty) are swept.
// Bounds memory by the keys active in the last day; a sweep runs at most once per
// `sweep_interval_ns` of event time so its cost is amortised over the events in between.
inline constexpr std::size_t tracked_keys_sweep_min = 1u << 16;
inline constexpr std::uint64_t sweep_interval_ns = 3600 * ns_per_s;

// Decisions kept for audit: one global ring; older decisions are in the journaled commands.
// 2^20 decisions x 80 B = 80 MiB.
inline constexpr std::size_t decision_log_capacity = 1u << 20;
inline constexpr std::size_t decisions_per_query_max = 1000;

// Rule language limits: they keep a rules file reviewable and evaluation bounded.
inline constexpr std::size_t rules_per_set_max = 256;
inline constexpr std::size_t rule_name_bytes_max = 64;
inline constexpr std::size_t rule_reason_bytes_max = 200;
inline constexpr std::size_t rules_file_bytes_max = 1u << 20;
inline constexpr std::size_t expression_depth_max = 16;  // nesting of parentheses and `not`
inline constexpr std::size_t expression_terms_max = 64;  // compiled instructions per rule
// Compiled rule sets kept for `activate`, newest first; older versions are dropped.
inline constexpr std::size_t rule_versions_kept_max = 16;

// Reasons a compact decision carries (the rest is in the full explanation of the log).
inline constexpr std::size_t decision_rules_max = 4;
inline constexpr std::size_t decision_models_max = 4;

static_assert(window_1m_ns < window_1h_ns && window_1h_ns < window_24h_ns);
static_assert(velocity_entries_max >= 2, "merging needs two entries");
static_assert(rules_per_set_max <= 0xFFFF, "rule indexes are 16-bit in a compact decision");
static_assert(sweep_interval_ns <= window_24h_ns);

}  // namespace capillary::risk
