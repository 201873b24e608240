#pragma once
// The wealth marketplace's limits and admission thresholds, each with its reason.

#include <cstdint>

#include "payments/limits.h"

namespace capillary::wealth {

// Admission (SPEC §8, the seeds' filters). A bank issuer needs total assets OVER 200 billion CNY:
// the threshold itself is rejected.
inline constexpr std::uint64_t bank_assets_fen_min_exclusive = 200'000'000'000ull * 100;
// An insurer issuer needs a solvency ratio of AT LEAST 150% (in basis points of 1%: 150% = 15000).
inline constexpr std::uint32_t insurer_solvency_bps_min = 15'000;

// A product's size, like any single movement, stays within the platform's single-amount maximum,
// so sums over one product's fills fit 64 bits with room to spare.
inline constexpr std::int64_t product_size_max = payments::amount_max;
// Fixed-term products run from a day to ten years: bank wealth products and insurers' savings
// products both stay well inside it, and it keeps maturity dates far from overflowing 64-bit ns.
inline constexpr std::uint32_t term_days_max = 3650;
// 24% a year: the rate above which Chinese courts stop protecting agreed interest, so no admitted
// issuer can promise more. It also bounds interest to 2.4 × 10 × principal, far inside 64 bits.
inline constexpr std::uint32_t rate_ppm_max = 240'000;
// A sale window must close within a year of its listing: a product is a promise with a date, and
// this keeps every deadline (close + term) a bounded distance from now.
inline constexpr std::uint64_t sale_horizon_ns_max = 366 * payments::ns_per_day;
// Fills one product takes. Its refund, or its maturity (two legs per holder), is one linked chain
// applied in one step of the state machine; this bounds that step at 200,000 transfers (~13 MiB),
// a few hundred milliseconds. A product that reached it takes no more fills, as if sold out.
inline constexpr std::uint32_t product_fills_max = 100'000;
// A standing order's amount, like any single movement.
inline constexpr std::int64_t standing_order_amount_max = payments::amount_max;

// Interest is annual and simple: principal × rate_ppm × days / (days_per_year × ppm_per_unit).
inline constexpr std::uint32_t days_per_year = 365;
inline constexpr std::uint32_t ppm_per_unit = 1'000'000;

static_assert(static_cast<unsigned __int128>(product_size_max) * rate_ppm_max * term_days_max <
                  static_cast<unsigned __int128>(1) << 100,
              "interest's numerator must stay far inside 128 bits");
static_assert(static_cast<unsigned __int128>(product_size_max) * rate_ppm_max * term_days_max /
                      (days_per_year * ppm_per_unit) <
                  static_cast<unsigned __int128>(INT64_MAX) / 2,
              "a product's whole interest must fit 64 bits alongside its principal");
static_assert(sale_horizon_ns_max + std::uint64_t{term_days_max} * payments::ns_per_day <
                  (1ull << 62),
              "maturity dates stay far from overflowing 64-bit nanoseconds");

}  // namespace capillary::wealth
